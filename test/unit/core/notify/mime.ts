/** Reading back the RFC 5322 / MIME messages the email channel renders, for the tests. */
import { expect } from "vitest";

/** Headers (names lower-cased, folded lines joined) and body of a CRLF message or MIME part. */
export function parseMessage(raw: string): { headers: Map<string, string>; body: string } {
  const [head = "", ...rest] = raw.split("\r\n\r\n");
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n /g, " ").split("\r\n")) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  return { headers, body: rest.join("\r\n\r\n") };
}

/**
 * Checks a multipart/alternative message is an empty preamble, a text/plain and a text/html
 * part (base64 UTF-8 in lines of at most 76 characters) and the closing delimiter; returns
 * the two parts decoded.
 */
export function alternativeParts(message: { headers: Map<string, string>; body: string }): [string, string] {
  const boundary = /^multipart\/alternative; boundary="([^"]+)"$/.exec(message.headers.get("content-type") ?? "")?.[1];
  expect(boundary).toBeTruthy();
  const sections = message.body.split(`--${boundary}`);
  expect(sections).toHaveLength(4);
  expect(sections[3]).toBe("--\r\n");
  const parts = sections.slice(1, 3).map((s) => parseMessage(s.replace(/^\r\n/, "")));
  expect(parts.map((p) => p.headers.get("content-type"))).toEqual([
    "text/plain; charset=utf-8",
    "text/html; charset=utf-8",
  ]);
  for (const p of parts) {
    expect(p.headers.get("content-transfer-encoding")).toBe("base64");
    for (const line of p.body.trimEnd().split("\r\n")) expect(line.length).toBeLessThanOrEqual(76);
  }
  const [text = "", html = ""] = parts.map((p) => Buffer.from(p.body.replace(/\r\n/g, ""), "base64").toString("utf8"));
  return [text, html];
}

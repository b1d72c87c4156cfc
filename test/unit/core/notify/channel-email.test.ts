import { describe, expect, it } from "vitest";
import type { NotifyEvent } from "../../../../worker/core/alerts/jobs";
import { encodeHeaderWord, postmark, renderMime, resend } from "../../../../worker/core/notify/email";
import { RenderError } from "../../../../worker/core/notify/types";
import { ada, job, NOW } from "./fixtures";
import { alternativeParts, parseMessage } from "./mime";

const RESEND = { baseUrl: "http://sink/resend", apiKey: "re_live_SECRET", from: "alerts@example.com" };
const POSTMARK = { baseUrl: "http://sink/postmark", serverToken: "pm-SECRET", from: "alerts@example.com" };

const row = (k: string, v: string) => `<tr><th align="left">${k}</th><td>${v}</td></tr>\n`;

/** The expected subject, text and HTML per event (the fixture: acknowledged by Ada at 10:05, resolved at 10:10). */
const GOLDEN: Record<"firing" | "acknowledged" | "resolved", { subject: string; text: string; html: string }> = {
  firing: {
    subject: "[CRITICAL] FIRING: High latency on api (#12)",
    text: [
      "p95 latency 812.5 ms > 500 ms",
      "",
      "State: FIRING",
      "Rule: High latency",
      "Severity: critical",
      "Service: api",
      "Value: 812.5",
      "Peak: 900",
      "Since: 2026-11-26T10:00:00.000Z",
      'Labels: region="eu"',
      "Alert: #12",
    ].join("\n"),
    html:
      "<h2>[CRITICAL] FIRING: High latency on api (#12)</h2>\n<p>p95 latency 812.5 ms &gt; 500 ms</p>\n<table>\n" +
      row("State", "FIRING") +
      row("Rule", "High latency") +
      row("Severity", "critical") +
      row("Service", "api") +
      row("Value", "812.5") +
      row("Peak", "900") +
      row("Since", "2026-11-26T10:00:00.000Z") +
      row("Labels", "region=&quot;eu&quot;") +
      row("Alert", "#12") +
      "</table>",
  },
  acknowledged: {
    subject: "[CRITICAL] ACKNOWLEDGED: High latency on api (#12)",
    text: [
      "p95 latency 812.5 ms > 500 ms",
      "",
      "State: ACKNOWLEDGED",
      "Rule: High latency",
      "Severity: critical",
      "Service: api",
      "Value: 812.5",
      "Peak: 900",
      "Since: 2026-11-26T10:00:00.000Z",
      "Acknowledged: 2026-11-26T10:05:00.000Z by Ada",
      'Labels: region="eu"',
      "Alert: #12",
    ].join("\n"),
    html:
      "<h2>[CRITICAL] ACKNOWLEDGED: High latency on api (#12)</h2>\n<p>p95 latency 812.5 ms &gt; 500 ms</p>\n<table>\n" +
      row("State", "ACKNOWLEDGED") +
      row("Rule", "High latency") +
      row("Severity", "critical") +
      row("Service", "api") +
      row("Value", "812.5") +
      row("Peak", "900") +
      row("Since", "2026-11-26T10:00:00.000Z") +
      row("Acknowledged", "2026-11-26T10:05:00.000Z by Ada") +
      row("Labels", "region=&quot;eu&quot;") +
      row("Alert", "#12") +
      "</table>",
  },
  resolved: {
    subject: "[CRITICAL] RESOLVED: High latency on api (#12)",
    text: [
      "p95 latency 812.5 ms > 500 ms",
      "",
      "State: RESOLVED",
      "Rule: High latency",
      "Severity: critical",
      "Service: api",
      "Value: 120",
      "Peak: 900",
      "Since: 2026-11-26T10:00:00.000Z",
      "Resolved: 2026-11-26T10:10:00.000Z",
      'Labels: region="eu"',
      "Alert: #12",
    ].join("\n"),
    html:
      "<h2>[CRITICAL] RESOLVED: High latency on api (#12)</h2>\n<p>p95 latency 812.5 ms &gt; 500 ms</p>\n<table>\n" +
      row("State", "RESOLVED") +
      row("Rule", "High latency") +
      row("Severity", "critical") +
      row("Service", "api") +
      row("Value", "120") +
      row("Peak", "900") +
      row("Since", "2026-11-26T10:00:00.000Z") +
      row("Resolved", "2026-11-26T10:10:00.000Z") +
      row("Labels", "region=&quot;eu&quot;") +
      row("Alert", "#12") +
      "</table>",
  },
};

const EVENTS = Object.keys(GOLDEN) as (keyof typeof GOLDEN)[];

describe("Resend", () => {
  it.each(EVENTS)("%s: exact request", (event) => {
    const { subject, text, html } = GOLDEN[event];
    const req = resend.render(job(event), ada, RESEND, NOW);
    expect(req.url).toBe("http://sink/resend/emails");
    expect(req.method).toBe("POST");
    expect(req.headers).toEqual({
      authorization: "Bearer re_live_SECRET",
      "content-type": "application/json",
      "idempotency-key": `alert:12|${event}|step:0|admin:4|test`,
    });
    expect(JSON.parse(req.body)).toEqual({ from: "alerts@example.com", to: ["ada@example.com"], subject, text, html });
  });

  it("sends the same key and body on a retry, and no key Resend would refuse as too long", () => {
    const j = job("firing");
    const first = resend.render(j, ada, RESEND, NOW);
    const later = resend.render(j, ada, RESEND, NOW + 600_000);
    expect(later.headers["idempotency-key"]).toBe(first.headers["idempotency-key"]);
    expect(later.body).toBe(first.body);
    expect(resend.render(job("resolved"), ada, RESEND, NOW).headers["idempotency-key"]).not.toBe(
      first.headers["idempotency-key"],
    );
    const long = { ...j, idempotencyKey: `${j.idempotencyKey}|${"x".repeat(256)}` };
    expect(resend.render(long, ada, RESEND, NOW).headers).not.toHaveProperty("idempotency-key");
  });

  it("reads the message id from the answer", () => {
    expect(resend.classify(200, {}, '{"id":"49a3999c"}', RESEND, NOW)).toEqual({
      outcome: "delivered",
      providerId: "49a3999c",
    });
  });
});

describe("Postmark", () => {
  it.each(EVENTS)("%s: exact request", (event) => {
    const { subject, text, html } = GOLDEN[event];
    const req = postmark.render(job(event), ada, POSTMARK, NOW);
    expect(req.url).toBe("http://sink/postmark/email");
    expect(req.headers).toEqual({
      "x-postmark-server-token": "pm-SECRET",
      accept: "application/json",
      "content-type": "application/json",
    });
    expect(JSON.parse(req.body)).toEqual({
      From: "alerts@example.com",
      To: "ada@example.com",
      Subject: subject,
      TextBody: text,
      HtmlBody: html,
    });
  });

  it("reads the MessageID from the answer", () => {
    const body = '{"ErrorCode":0,"Message":"OK","MessageID":"b7bc2f4a"}';
    expect(postmark.classify(200, {}, body, POSTMARK, NOW)).toEqual({ outcome: "delivered", providerId: "b7bc2f4a" });
  });
});

describe("email rendering", () => {
  it("escapes alert text in the HTML part", () => {
    const j = job("firing", { ruleName: "<script>x</script>", message: 'a & "b" <img>' });
    const html = JSON.parse(resend.render(j, ada, RESEND, NOW).body).html as string;
    expect(html).not.toMatch(/<script>|<img>/);
    expect(html).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(html).toContain("<p>a &amp; &quot;b&quot; &lt;img&gt;</p>");
  });

  it("refuses a recipient without an email address", () => {
    expect(() => resend.render(job("firing"), { ...ada, email: null }, RESEND, NOW)).toThrow(RenderError);
    expect(() => postmark.render(job("firing"), { ...ada, email: null }, POSTMARK, NOW)).toThrow(RenderError);
  });
});

/** Decodes RFC 2047 B-encoded words (adjacent words join without the space between them). */
const decodeWords = (value: string) =>
  value
    .replace(/\?= =\?/g, "?==?")
    .replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_, b64: string) => Buffer.from(b64, "base64").toString("utf8"));

describe("renderMime", () => {
  const FROM = "Edge Monitor <alerts@example.com>";

  it("builds multipart/alternative with a text and an HTML part, Message-ID and Date", () => {
    const raw = renderMime(job("firing"), ada, FROM, NOW, "<abc123@edge.example>");
    expect(raw).not.toMatch(/[^\r]\n/);
    const { headers, body } = parseMessage(raw);
    expect(headers.get("from")).toBe(FROM);
    expect(headers.get("to")).toBe('"Ada Lovelace" <ada@example.com>');
    expect(headers.get("subject")).toBe("[CRITICAL] FIRING: High latency on api (#12)");
    expect(headers.get("date")).toBe("Thu, 26 Nov 2026 10:11:40 +0000");
    expect(headers.get("message-id")).toBe("<abc123@edge.example>");
    expect(headers.get("mime-version")).toBe("1.0");
    const decoded = alternativeParts({ headers, body });
    expect(decoded[0]).toBe(GOLDEN.firing.text);
    expect(decoded[1]).toBe(GOLDEN.firing.html);
  });

  it("encodes a non-ASCII subject and display name as RFC 2047 words of at most 75 characters", () => {
    const ruleName = "Latenz über Grenzwert — Überwachung des Zahlungsdienstes in Europa 支付服务";
    const raw = renderMime(job("firing", { ruleName }), { ...ada, name: "Zoë Ünal" }, FROM, NOW, "m1@edge");
    const { headers } = parseMessage(raw);
    const subjectLines = (/\r\nSubject: (.*?)\r\n(?! )/s.exec(raw)?.[1] ?? "").split("\r\n ");
    expect(subjectLines.length).toBeGreaterThan(1);
    for (const word of subjectLines) {
      expect(word).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
      expect(word.length).toBeLessThanOrEqual(75);
    }
    expect(raw).toMatch(/^[\x20-\x7e\r\n]*$/);
    expect(decodeWords(headers.get("subject") ?? "")).toBe(`[CRITICAL] FIRING: ${ruleName} on api (#12)`);
    expect(decodeWords(headers.get("to") ?? "")).toBe("Zoë Ünal <ada@example.com>");
  });

  it("keeps line breaks in alert text out of the headers", () => {
    const raw = renderMime(job("firing", { ruleName: "x\r\nBcc: evil@example.com" }), ada, FROM, NOW, "m2@edge");
    const { headers } = parseMessage(raw);
    expect(headers.has("bcc")).toBe(false);
    expect(headers.get("subject")).toBe("[CRITICAL] FIRING: x Bcc: evil@example.com on api (#12)");
    expect(() => renderMime(job("firing"), { ...ada, email: "a@b.c\r\nBcc: x@y" }, FROM, NOW, "m3@edge")).toThrow(
      RenderError,
    );
  });

  it("renders the same bytes for the same message id, another boundary for another", () => {
    const a = renderMime(job("firing"), ada, FROM, NOW, "same@edge");
    expect(renderMime(job("firing"), ada, FROM, NOW, "same@edge")).toBe(a);
    expect(renderMime(job("firing"), ada, FROM, NOW, "other@edge").match(/boundary="[^"]+"/)?.[0]).not.toBe(
      a.match(/boundary="[^"]+"/)?.[0],
    );
  });

  it.each<[NotifyEvent, string]>([
    ["acknowledged", "[CRITICAL] ACKNOWLEDGED: High latency on api (#12)"],
    ["resolved", "[CRITICAL] RESOLVED: High latency on api (#12)"],
  ])("%s: subject", (event, subject) => {
    expect(parseMessage(renderMime(job(event), ada, FROM, NOW, "m@edge")).headers.get("subject")).toBe(subject);
  });

  it("leaves ASCII subjects unencoded", () => {
    expect(encodeHeaderWord("plain subject")).toBe("plain subject");
  });
});

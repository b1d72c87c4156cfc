/**
 * Verifies that a request came from Slack: `v0=` + hex HMAC-SHA256 of the signed
 * base string under the app's signing secret, compared in constant time, with a
 * fresh timestamp. Shared by the /slack routes and their tests.
 */
import { baseString, constantTimeEqual, isFresh } from "../core/slack/signature";

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

/** The `X-Slack-Signature` value Slack would send for this timestamp and raw body. */
export async function slackSignature(secret: string, timestamp: string, rawBody: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return `v0=${toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(baseString(timestamp, rawBody))))}`;
}

/** Whether the signature matches and the timestamp is within five minutes of `now` (epoch ms). */
export async function verifySlackRequest(
  secret: string,
  timestamp: string | null | undefined,
  signature: string | null | undefined,
  rawBody: string,
  now: number,
): Promise<boolean> {
  if (!timestamp || !signature || !isFresh(timestamp, now)) return false;
  return constantTimeEqual(await slackSignature(secret, timestamp, rawBody), signature);
}

/**
 * Verifies that a request came from Slack: `v0=` + hex HMAC-SHA256 of the signed
 * base string under the app's signing secret, compared in constant time, with a
 * fresh timestamp. Shared by the /slack routes and their tests.
 */
import { baseString, constantTimeEqual, isFresh } from "../core/slack/signature";
import { hmacSha256Hex } from "./secrets";

/** The `X-Slack-Signature` value Slack would send for this timestamp and raw body. */
export async function slackSignature(secret: string, timestamp: string, rawBody: string): Promise<string> {
  return `v0=${await hmacSha256Hex(secret, baseString(timestamp, rawBody))}`;
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

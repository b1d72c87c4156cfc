/**
 * The pure parts of Slack's v0 request signing: the signed base string, the
 * replay window, and a comparison whose time does not depend on where the
 * strings differ. The HMAC itself needs WebCrypto and lives in worker/lib/slack.ts.
 */

/** Requests older (or newer) than this are refused, against replays. */
export const MAX_SKEW_SECONDS = 5 * 60;

/** What Slack signs: `v0:<timestamp>:<raw body>`. */
export function baseString(timestamp: string, rawBody: string): string {
  return `v0:${timestamp}:${rawBody}`;
}

/** Whether the `X-Slack-Request-Timestamp` (epoch seconds) is within five minutes of `now` (epoch ms). */
export function isFresh(timestamp: string | null | undefined, now: number): boolean {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  return Math.abs(now / 1000 - Number(timestamp)) <= MAX_SKEW_SECONDS;
}

/** Equality of two signature strings in time independent of their contents (only their lengths leak). */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

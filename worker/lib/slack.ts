/**
 * Slack's side of the /slack routes: the v0 request signature (`v0=` + hex HMAC-SHA256
 * of the signed base string under the app's signing secret, compared in constant time,
 * with a fresh timestamp), answering within Slack's three seconds with the rest sent
 * later through the request's `response_url`, and the `users.info` lookup of a member's
 * email. Shared by the /slack routes and their tests.
 */
import { FAILED_TEXT, WORKING_TEXT, ephemeral } from "../core/slack/messages";
import { baseString, constantTimeEqual, isFresh } from "../core/slack/signature";
import { emailFromUsersInfo } from "../core/slack/users";
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

/**
 * How long a request may work before answering "Working on it…": Slack shows an error
 * after three seconds, and the answer still has to travel back.
 */
export const ANSWER_BUDGET_MS = 2000;

/** Calls to Slack give up after this; a response_url stays valid for 30 minutes anyway. */
const SLACK_CALL_TIMEOUT_MS = 10_000;

/** A `response_url` as Slack sends it (https://hooks.slack.com/…); null when absent or not a URL. */
export function responseUrlOf(value: unknown): string | null {
  if (typeof value !== "string") return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Posts a message (Slack's response_url format: `{response_type, text}` or
 * `{replace_original, text, blocks}`) to a response_url. Never throws: a failure is
 * logged without the URL, which is itself a credential for the conversation.
 */
export async function postToResponseUrl(url: string, message: Record<string, unknown>): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(SLACK_CALL_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.ok) return true;
    console.error(`Slack response_url answered HTTP ${res.status}`);
  } catch (err) {
    console.error("Slack response_url not reached", err instanceof Error ? err.name : "error");
  }
  return false;
}

/**
 * The text to answer a Slack request with: the work's own when it finishes within
 * `budgetMs`; otherwise "Working on it…" at once, and the work's text (or a failure
 * notice) posted to `responseUrl` once it is done, kept alive by `waitUntil`. Without a
 * response_url there is nowhere to send it later, so the answer waits for the work. A
 * failure within the budget is thrown as before.
 */
export async function answerInTime(
  work: Promise<string>,
  budgetMs: number,
  responseUrl: string | null,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<string> {
  if (!responseUrl) return work;
  const late = Symbol("late");
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<typeof late>((resolve) => {
    timer = setTimeout(() => resolve(late), budgetMs);
  });
  try {
    const first = await Promise.race([work, deadline]);
    if (first !== late) return first;
  } finally {
    clearTimeout(timer);
  }
  waitUntil(
    work
      .catch((err: unknown) => {
        console.error("Slack request failed after answering", err);
        return FAILED_TEXT;
      })
      .then((text) => postToResponseUrl(responseUrl, ephemeral(text))),
  );
  return WORKING_TEXT;
}

/**
 * The email of a Slack member, from `users.info` with the bot token (needs the
 * users:read.email scope); null when Slack does not give one. The token is never logged.
 */
export async function slackMemberEmail(baseUrl: string, botToken: string, memberId: string): Promise<string | null> {
  let status: number;
  let body: string;
  try {
    const res = await fetch(`${baseUrl}/api/users.info?user=${encodeURIComponent(memberId)}`, {
      headers: { authorization: `Bearer ${botToken}` },
      signal: AbortSignal.timeout(SLACK_CALL_TIMEOUT_MS),
    });
    status = res.status;
    body = await res.text();
  } catch (err) {
    console.warn("Slack users.info not reached", err instanceof Error ? err.name : "error");
    return null;
  }
  const result = emailFromUsersInfo(status, body);
  if (result.ok) return result.email;
  console.warn(`Slack users.info gave no email for ${memberId}: ${result.reason}`);
  return null;
}

/**
 * Reading Slack's `users.info` answer: the member's profile email, which maps a Slack
 * user without a linked member id to the admin with that email. The email is only
 * present with the app's `users:read.email` scope.
 */
import { parseJson } from "../notify/classify";

export type UsersInfoResult = { ok: true; email: string } | { ok: false; reason: string };

/** The email in a `users.info` answer (HTTP `status`, raw `body`), or why there is none. */
export function emailFromUsersInfo(status: number, body: string): UsersInfoResult {
  if (status < 200 || status >= 300) return { ok: false, reason: `HTTP ${status}` };
  const j = parseJson(body) as { ok?: unknown; error?: unknown; user?: { profile?: { email?: unknown } } } | null;
  if (typeof j !== "object" || j === null || typeof j.ok !== "boolean") {
    return { ok: false, reason: "unreadable answer" };
  }
  // Slack's error codes are fixed words (user_not_found, missing_scope…); anything else is not repeated.
  if (!j.ok) {
    const known = typeof j.error === "string" && /^\w{1,64}$/.test(j.error);
    return { ok: false, reason: `Slack error: ${known ? j.error : "unknown"}` };
  }
  const email = j.user?.profile?.email;
  if (typeof email !== "string" || !email.includes("@")) {
    return { ok: false, reason: "no email in the profile (is the users:read.email scope granted?)" };
  }
  return { ok: true, email: email.trim() };
}

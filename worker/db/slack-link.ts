/**
 * Which admin a Slack member id belongs to: one-time link codes (hashed, one per admin)
 * and the write that stores a member id, refused when another admin holds it (the
 * unique index decides, so two admins racing for one id cannot both get it).
 */
import { LINK_CODE_TTL_MS, linkCode, LINK_CODE_LENGTH } from "../core/slack/link";
import { hashSecret } from "../lib/secrets";

/** A new code for the admin, replacing any earlier one; the code itself is shown once. */
export async function issueLinkCode(db: D1Database, adminId: number, now: number) {
  const code = linkCode(crypto.getRandomValues(new Uint8Array(LINK_CODE_LENGTH)));
  const expiresAt = now + LINK_CODE_TTL_MS;
  await db
    .prepare(
      `INSERT INTO slack_link_codes (admin_id, code_hash, expires_at, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (admin_id) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
         created_at = excluded.created_at`,
    )
    .bind(adminId, await hashSecret(code.replace("-", "")), expiresAt, now)
    .run();
  return { code, expiresAt };
}

/**
 * Consumes a code (normalized, see normalizeLinkCode): the admin it was issued to, or
 * null when it is wrong or expired. One statement, so a code works once.
 */
export async function redeemLinkCode(db: D1Database, code: string, now: number): Promise<number | null> {
  const row = await db
    .prepare("DELETE FROM slack_link_codes WHERE code_hash = ? AND expires_at > ? RETURNING admin_id")
    .bind(await hashSecret(code), now)
    .first<{ admin_id: number }>();
  return row?.admin_id ?? null;
}

export type SetMemberResult = "ok" | "taken" | "no_admin";

/**
 * Stores `memberId` (or null to unlink) as the admin's Slack member id, creating their
 * preferences from the defaults (their own email and time zone) when none are saved.
 * "taken" when another admin holds that id.
 */
export async function setSlackMember(
  db: D1Database,
  adminId: number,
  memberId: string | null,
  now: number,
): Promise<SetMemberResult> {
  try {
    const row = await db
      .prepare(
        `INSERT INTO admin_notification_preferences (admin_id, email, timezone, slack_member_id, updated_at)
         SELECT id, email, timezone, ?, ? FROM admin_users WHERE id = ?
         ON CONFLICT (admin_id) DO UPDATE SET slack_member_id = excluded.slack_member_id,
           slack_enabled = CASE WHEN excluded.slack_member_id IS NULL THEN 0 ELSE slack_enabled END,
           updated_at = excluded.updated_at
         RETURNING admin_id`,
      )
      .bind(memberId, now, adminId)
      .first<{ admin_id: number }>();
    return row ? "ok" : "no_admin";
  } catch (err) {
    if (isUniqueViolation(err)) return "taken";
    throw err;
  }
}

/** The admin holding `memberId`, other than `exceptAdminId`; null when none does. */
export async function slackMemberHolder(db: D1Database, memberId: string, exceptAdminId: number) {
  const row = await db
    .prepare("SELECT admin_id FROM admin_notification_preferences WHERE slack_member_id = ? AND admin_id != ?")
    .bind(memberId, exceptAdminId)
    .first<{ admin_id: number }>();
  return row?.admin_id ?? null;
}

export const isUniqueViolation = (err: unknown): boolean => {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (/UNIQUE constraint failed/.test(e.message)) return true;
  return false;
};

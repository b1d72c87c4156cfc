/**
 * What escalation reads: a rule's escalation policy as stored, and the admins its steps'
 * targets name (by id or role).
 */
import type { RawRow } from "./rows";
import type { escalationPolicies } from "./schema";

type PolicyRow = RawRow<typeof escalationPolicies>;

/** The policy's steps (JSON text) and repeat and acknowledgement settings; null for none or a deleted one. */
export async function loadPolicy(
  env: Pick<Env, "DB">,
  policyId: number | null,
): Promise<Pick<PolicyRow, "steps" | "repeat_count" | "repeat_interval_minutes" | "ack_timeout_minutes"> | null> {
  if (policyId === null) return null;
  return env.DB.prepare(
    "SELECT steps, repeat_count, repeat_interval_minutes, ack_timeout_minutes FROM escalation_policies WHERE id = ?",
  )
    .bind(policyId)
    .first<Pick<PolicyRow, "steps" | "repeat_count" | "repeat_interval_minutes" | "ack_timeout_minutes">>();
}

/** Admin ids for escalation targets, ascending; without targets, every admin and owner. */
export async function recipientIds(
  env: Pick<Env, "DB">,
  targets: { adminIds?: number[]; roles?: string[] } | null,
): Promise<number[]> {
  if (!targets) {
    const rows = await env.DB.prepare("SELECT id FROM admin_users WHERE role IN ('admin', 'owner') ORDER BY id").all<{
      id: number;
    }>();
    return rows.results.map((r) => r.id);
  }
  const ids = new Set<number>();
  const roles = targets.roles ?? [];
  if (roles.length) {
    const rows = await env.DB.prepare(
      `SELECT id FROM admin_users WHERE role IN (${roles.map(() => "?").join(", ")}) ORDER BY id`,
    )
      .bind(...roles)
      .all<{ id: number }>();
    for (const r of rows.results) ids.add(r.id);
  }
  const named = targets.adminIds ?? [];
  if (named.length) {
    const rows = await env.DB.prepare(`SELECT id FROM admin_users WHERE id IN (${named.map(() => "?").join(", ")})`)
      .bind(...named)
      .all<{ id: number }>();
    for (const r of rows.results) ids.add(r.id);
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * Recording the audit trail. Every configuration change and alert action goes through here:
 * the entry's before/after are redacted (core/audit.ts) before they are written.
 *
 * Where the change is one D1 write, `withAudit` puts the entry in the same batch (one
 * transaction): a change is never stored without its entry. Changes made elsewhere (an
 * alert's Durable Object) are recorded right after with `recordAudit`. Neither ever fails
 * the user's request because of the audit write: a failed entry is logged instead.
 */
import { sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { redact } from "../core/audit";
import type { Db } from "../db/client";
import { getDb } from "../db/client";
import { type AUDIT_VIA, auditLog } from "../db/schema";
import type { Actor } from "../middleware/auth";

export type AuditVia = (typeof AUDIT_VIA)[number];

/** Who made a change and through which door. */
export interface AuditActor {
  adminId: number | null;
  /** The admin's email, "slack:U123" or "system". */
  label: string;
  via: AuditVia;
}

export interface AuditEntry {
  /** "<target type>.<verb>", e.g. "rule.update". */
  action: string;
  targetType: string;
  /** The object's id; an SQL expression inside a batch (the id the batch's insert got). */
  targetId?: string | number | SQL | null;
  before?: unknown;
  after?: unknown;
  note?: string | null;
}

/**
 * An authenticated admin as an audit actor. The dashboard sends the session cookie and API
 * clients a bearer token, so the credential tells the door; Cloudflare Access signs browsers
 * in front of the dashboard, so it counts as the dashboard too.
 */
export function auditActorOf(actor: Actor): AuditActor {
  return { adminId: actor.adminId, label: actor.email, via: actor.via === "token" ? "api" : "dashboard" };
}

export const SYSTEM_ACTOR: AuditActor = { adminId: null, label: "system", via: "system" };

/** The id of the row the batch's previous insert created, for an entry batched with a create. */
export const insertedId = (): SQL => sql`CAST(last_insert_rowid() AS TEXT)`;

const asObject = (v: unknown): Record<string, unknown> | null =>
  v === null || v === undefined
    ? null
    : typeof v === "object" && !Array.isArray(v)
      ? (redact(v) as never)
      : { value: redact(v) };

/** The insert of one entry, to run alone or inside a batch. */
export function auditInsert(db: Db, who: AuditActor, entry: AuditEntry, at: number) {
  const id = entry.targetId;
  return db.insert(auditLog).values({
    at,
    actorAdminId: who.adminId,
    actorLabel: who.label,
    via: who.via,
    action: entry.action,
    targetType: entry.targetType,
    targetId: id === undefined || id === null ? null : typeof id === "object" ? id : String(id),
    before: asObject(entry.before),
    after: asObject(entry.after),
    note: entry.note ?? null,
  });
}

/** Records entries now; a failure is logged, never thrown. */
export async function recordAudit(
  d1: D1Database,
  who: AuditActor,
  entries: AuditEntry | AuditEntry[],
  at = Date.now(),
): Promise<void> {
  const list = Array.isArray(entries) ? entries : [entries];
  const db = getDb(d1);
  const [first, ...rest] = list.map((e) => auditInsert(db, who, e, at));
  if (!first) return;
  try {
    await db.batch([first, ...rest]);
  } catch (err) {
    console.error("audit: could not record", list.map((e) => e.action).join(", "), err);
  }
}

/**
 * Runs `changes` and their audit entry in one batch (one transaction) and returns the changes'
 * results. Should the batch fail, the changes run alone: their own error (a conflict) is then
 * the answer, and if they succeed the audit write was the failure, logged.
 */
export async function batchWithAudit(
  db: Db,
  changes: readonly BatchItem<"sqlite">[],
  who: AuditActor,
  entry: AuditEntry,
  at = Date.now(),
): Promise<unknown[]> {
  const [first, ...rest] = changes;
  if (!first) return [];
  try {
    const results = await db.batch([first, ...rest, auditInsert(db, who, entry, at)]);
    return results.slice(0, changes.length);
  } catch (batchError) {
    const results = await db.batch([first, ...rest]);
    console.error("audit: could not record", entry.action, batchError);
    return results;
  }
}

/** One change and its audit entry in one batch (see batchWithAudit); the change's result. */
export async function withAudit<T>(
  db: Db,
  change: BatchItem<"sqlite"> & PromiseLike<T>,
  who: AuditActor,
  entry: AuditEntry,
  at = Date.now(),
): Promise<T> {
  const [result] = await batchWithAudit(db, [change], who, entry, at);
  return result as T;
}

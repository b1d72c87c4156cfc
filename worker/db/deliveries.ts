/**
 * The store of `notification_deliveries`: every statement on the table (the alert counters
 * recomputed from it are db/alerts' statements, put in the same batches). A row is a job's
 * outbox entry and its delivery record at once, keyed by the job's idempotency key
 * (core/notify/outbox.ts tells how its deadline is kept).
 */
import { type NotificationJob, SHARED_RECIPIENT } from "../core/alerts/jobs";
import { dueAfterEnqueue, type OverdueRow } from "../core/notify/outbox";
import { recountDigestedStatement, recountStatement } from "./alerts";
import type { DELIVERY_STATUSES } from "./schema";

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Statuses after which a redelivered message has nothing left to do. */
export const TERMINAL: ReadonlySet<DeliveryStatus> = new Set<DeliveryStatus>([
  "sent",
  "failed",
  "dead",
  "skipped",
  "outbox",
  "digested",
]);
/** Statuses of a delivery given up: counted as the alert's notifications_failed. */
export const GIVEN_UP: ReadonlySet<DeliveryStatus> = new Set<DeliveryStatus>(["failed", "dead"]);

/** Who a job's row names: one admin, or a shared channel. */
export const recipientName = (job: NotificationJob): string =>
  job.recipient.adminId === SHARED_RECIPIENT ? `shared:${job.channel}` : `admin:${job.recipient.adminId}`;

export interface DeliveryRow {
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
}

/**
 * The statements writing jobs to the outbox, `queued` with their first deadline, for a
 * batch of the caller's (the alert's timeline entry goes in the same one). A job already
 * written (an idempotency key seen before) is left as it is; a job of an alert that no
 * longer exists is not written (a notice, alert id 0, always is).
 */
export function outboxStatements(db: D1Database, jobs: readonly NotificationJob[], now: number): D1PreparedStatement[] {
  return jobs.map((job) =>
    db
      .prepare(
        `INSERT INTO notification_deliveries
           (alert_id, recipient, channel, event, idempotency_key, status, enqueued_at, payload, due_at)
         SELECT NULLIF(?, 0), ?, ?, ?, ?, 'queued', ?, ?, ?
         WHERE ? = 0 OR EXISTS (SELECT 1 FROM alert_history WHERE id = ?)
         ON CONFLICT (idempotency_key) DO NOTHING`,
      )
      .bind(
        job.alertId,
        recipientName(job),
        job.channel,
        job.event,
        job.idempotencyKey,
        job.enqueuedAt,
        JSON.stringify(job),
        dueAfterEnqueue(now),
        job.alertId,
        job.alertId,
      ),
  );
}

/**
 * Records jobs decided against before they were ever enqueued (an on-call admin a shared
 * channel's fallback cannot reach), as `skipped` with the reason, so the delivery log shows
 * who was not paged and why. A key seen before is left as it is.
 */
export async function recordSkipped(
  db: D1Database,
  skipped: readonly { job: NotificationJob; reason: string }[],
  now: number,
): Promise<void> {
  if (!skipped.length) return;
  await db.batch(
    skipped.map(({ job, reason }) =>
      db
        .prepare(
          `INSERT INTO notification_deliveries
             (alert_id, recipient, channel, event, idempotency_key, status, last_error, enqueued_at, payload)
           SELECT NULLIF(?, 0), ?, ?, ?, ?, 'skipped', ?, ?, ?
           WHERE ? = 0 OR EXISTS (SELECT 1 FROM alert_history WHERE id = ?)
           ON CONFLICT (idempotency_key) DO NOTHING`,
        )
        .bind(
          job.alertId,
          recipientName(job),
          job.channel,
          job.event,
          job.idempotencyKey,
          reason,
          now,
          JSON.stringify(job),
          job.alertId,
          job.alertId,
        ),
    ),
  );
}

/** Messages per Queue sendBatch, its limit. */
const SEND_BATCH = 100;

/** Puts jobs on a queue, in batches the platform accepts. */
export async function sendJobs(queue: Queue, jobs: readonly NotificationJob[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += SEND_BATCH) {
    await queue.sendBatch(jobs.slice(i, i + SEND_BATCH).map((body) => ({ body })));
  }
}

/**
 * Writes jobs to the outbox, with `also` in the same batch, then enqueues them. Should the
 * send fail or never happen, the sweeper enqueues them once their deadline passes.
 */
export async function enqueueDurably(
  env: Pick<Env, "DB" | "NOTIFY_QUEUE">,
  jobs: readonly NotificationJob[],
  now: number,
  also: readonly D1PreparedStatement[] = [],
): Promise<void> {
  const statements = [...also, ...outboxStatements(env.DB, jobs, now)];
  if (statements.length) await env.DB.batch(statements);
  if (jobs.length) await sendJobs(env.NOTIFY_QUEUE, jobs);
}

/** The rows of these jobs (absent when never written, e.g. the alert was deleted). */
export async function rowsOf(db: D1Database, jobs: readonly NotificationJob[]): Promise<Map<string, DeliveryRow>> {
  const rows = await db
    .prepare(
      `SELECT idempotency_key, status, attempts, last_error FROM notification_deliveries
       WHERE idempotency_key IN (SELECT value FROM json_each(?))`,
    )
    .bind(JSON.stringify(jobs.map((j) => j.idempotencyKey)))
    .all<{ idempotency_key: string; status: DeliveryStatus; attempts: number; last_error: string | null }>();
  return new Map(
    rows.results.map((r) => [r.idempotency_key, { status: r.status, attempts: r.attempts, lastError: r.last_error }]),
  );
}

/**
 * Claims a try: counts it and moves the deadline past it, if the row is still as `seen`
 * (another consumer carrying a copy of the job has not claimed it meanwhile). Returns the
 * attempts now counted, or null when the claim went to someone else.
 */
export async function claimAttempt(
  db: D1Database,
  key: string,
  seen: DeliveryRow,
  dueAt: number,
): Promise<number | null> {
  const counted = await db
    .prepare(
      `UPDATE notification_deliveries SET attempts = attempts + 1, due_at = ?
       WHERE idempotency_key = ? AND attempts = ? AND status = ? RETURNING attempts`,
    )
    .bind(dueAt, key, seen.attempts, seen.status)
    .first<{ attempts: number }>();
  return counted?.attempts ?? null;
}

export interface RowFields {
  lastError?: string | null;
  providerResponse?: string | null;
  providerMessageId?: string | null;
  deliveredAt?: number | null;
  heldUntil?: number | null;
  /** While queued: the new deadline (kept when absent). */
  dueAt?: number | null;
}

/** The row's new status, and the alert's counters recomputed from its rows, in one batch. */
export async function setStatus(
  db: D1Database,
  job: NotificationJob,
  status: DeliveryStatus,
  fields: RowFields = {},
): Promise<void> {
  const update = db
    .prepare(
      `UPDATE notification_deliveries
       SET status = ?, last_error = COALESCE(?, last_error), provider_response = COALESCE(?, provider_response),
           provider_message_id = COALESCE(?, provider_message_id), delivered_at = COALESCE(?, delivered_at),
           held_until = ?, due_at = COALESCE(?, due_at)
       WHERE idempotency_key = ?`,
    )
    .bind(
      status,
      fields.lastError ?? null,
      fields.providerResponse ?? null,
      fields.providerMessageId ?? null,
      fields.deliveredAt ?? null,
      fields.heldUntil ?? null,
      fields.dueAt ?? null,
      job.idempotencyKey,
    );
  const statements = [update];
  if (job.alertId) statements.push(recountStatement(db, job.alertId));
  if (job.event === "digest" && status === "sent") {
    // The held deliveries the digest carried are delivered with it, and count for their alerts.
    statements.push(
      db
        .prepare(
          "UPDATE notification_deliveries SET delivered_at = ? WHERE status = 'digested' AND provider_response = ?",
        )
        .bind(fields.deliveredAt ?? Date.now(), job.idempotencyKey),
      recountDigestedStatement(db, job.idempotencyKey),
    );
  }
  await db.batch(statements);
}

/** Moves a queued job's deadline on (it was handed to the dead-letter queue, or enqueued again). */
export async function setDue(db: D1Database, keys: readonly string[], dueAt: number): Promise<void> {
  if (!keys.length) return;
  await db
    .prepare(
      `UPDATE notification_deliveries SET due_at = ?
       WHERE status = 'queued' AND idempotency_key IN (SELECT value FROM json_each(?))`,
    )
    .bind(dueAt, JSON.stringify(keys))
    .run();
}

/** A delivery as the API lists it under its alert; `reason` is its last error. */
export interface AlertDelivery {
  event: string;
  channel: string;
  recipient: string;
  status: DeliveryStatus;
  attempts: number;
  reason: string | null;
  idempotency_key: string;
  enqueued_at: number;
  delivered_at: number | null;
}

/** Every delivery of the alert, in the order they were enqueued. */
export async function alertDeliveries(db: D1Database, alertId: number): Promise<AlertDelivery[]> {
  const rows = await db
    .prepare(
      `SELECT event, channel, recipient, status, attempts, last_error AS reason, idempotency_key, enqueued_at,
         delivered_at
       FROM notification_deliveries WHERE alert_id = ? ORDER BY enqueued_at, id`,
    )
    .bind(alertId)
    .all<AlertDelivery>();
  return rows.results;
}

/** The alert's deliveries that reached an admin on a personal channel: their keys and admins. */
export async function sentToAdmins(db: D1Database, alertId: number): Promise<{ key: string; adminId: number }[]> {
  const rows = await db
    .prepare(
      `SELECT idempotency_key, recipient FROM notification_deliveries
       WHERE alert_id = ? AND status = 'sent' AND recipient LIKE 'admin:%'`,
    )
    .bind(alertId)
    .all<{ idempotency_key: string; recipient: string }>();
  return rows.results.map((r) => ({ key: r.idempotency_key, adminId: Number(r.recipient.slice("admin:".length)) }));
}

/** Ids of the messages sent earlier for this alert to this recipient on this channel, for an update in place. */
export async function earlierMessages(db: D1Database, job: NotificationJob): Promise<string[]> {
  const rows = await db
    .prepare(
      `SELECT provider_message_id FROM notification_deliveries
       WHERE alert_id = ? AND recipient = ? AND channel = ? AND status = 'sent' AND provider_message_id IS NOT NULL
         AND idempotency_key != ?
       ORDER BY id`,
    )
    .bind(job.alertId, recipientName(job), job.channel, job.idempotencyKey)
    .all<{ provider_message_id: string }>();
  return rows.results.map((r) => r.provider_message_id);
}

/** Queued jobs whose deadline passed by `now`, oldest deadline first, with the job each row holds. */
export async function overdue(
  db: D1Database,
  now: number,
  limit: number,
): Promise<(OverdueRow & { job: NotificationJob })[]> {
  const rows = await db
    .prepare(
      `SELECT idempotency_key, attempts, due_at, payload FROM notification_deliveries
       WHERE status = 'queued' AND due_at <= ? ORDER BY due_at LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ idempotency_key: string; attempts: number; due_at: number; payload: string }>();
  return rows.results.map((r) => ({
    idempotencyKey: r.idempotency_key,
    attempts: r.attempts,
    dueAt: r.due_at,
    job: JSON.parse(r.payload) as NotificationJob,
  }));
}

/** Deliveries held for quiet hours that ended by `now`, oldest first. */
export async function heldUntil(
  db: D1Database,
  now: number,
  limit: number,
): Promise<{ id: number; recipient: string; channel: string; job: NotificationJob }[]> {
  const rows = await db
    .prepare(
      `SELECT id, recipient, channel, payload FROM notification_deliveries
       WHERE status = 'held' AND held_until <= ? ORDER BY id LIMIT ?`,
    )
    .bind(now, limit)
    .all<{ id: number; recipient: string; channel: string; payload: string }>();
  return rows.results.map((r) => ({
    id: r.id,
    recipient: r.recipient,
    channel: r.channel,
    job: JSON.parse(r.payload) as NotificationJob,
  }));
}

/** Marks held rows as carried by a digest job (its key kept in provider_response until it is sent). */
export const markDigested = (db: D1Database, digestKey: string, rowIds: readonly number[]): D1PreparedStatement =>
  db
    .prepare(
      `UPDATE notification_deliveries SET status = 'digested', provider_response = ?
       WHERE status = 'held' AND id IN (SELECT value FROM json_each(?))`,
    )
    .bind(digestKey, JSON.stringify(rowIds));

/** When the admin's last test notification was recorded (epoch ms); null when never. */
export async function lastTestAt(db: D1Database, adminId: number): Promise<number | null> {
  // A range on the unique idempotency key index: `test|admin:<id>|…` ('}' sorts after '|').
  const last = await db
    .prepare(
      "SELECT MAX(enqueued_at) AS at FROM notification_deliveries WHERE idempotency_key >= ? AND idempotency_key < ?",
    )
    .bind(`test|admin:${adminId}|`, `test|admin:${adminId}}`)
    .first<{ at: number | null }>();
  return last?.at ?? null;
}

/** A test notification as sent (not queued), for the delivery log. */
export interface TestRecord {
  job: NotificationJob;
  attempts: number;
  status: DeliveryStatus;
  providerResponse: string | null;
  providerMessageId: string | null;
  lastError: string | null;
  enqueuedAt: number;
  deliveredAt: number | null;
}

/** Records test notifications in the delivery log (each once: a key seen before is left as it is). */
export async function recordTests(db: D1Database, tests: readonly TestRecord[]): Promise<void> {
  await db.batch(
    tests.map((t) =>
      db
        .prepare(
          `INSERT INTO notification_deliveries
             (alert_id, recipient, channel, event, idempotency_key, payload, attempts, status, provider_response,
              provider_message_id, last_error, enqueued_at, delivered_at)
           VALUES (NULL, ?, ?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (idempotency_key) DO NOTHING`,
        )
        .bind(
          recipientName(t.job),
          t.job.channel,
          t.job.idempotencyKey,
          JSON.stringify(t.job),
          t.attempts,
          t.status,
          t.providerResponse,
          t.providerMessageId,
          t.lastError,
          t.enqueuedAt,
          t.deliveredAt,
        ),
    ),
  );
}

/** Filters of the delivery log; every one optional. */
export interface DeliveryLogFilters {
  alertId?: number;
  ruleId?: number;
  channel?: string;
  status?: DeliveryStatus;
  event?: string;
  /** The row's recipient as stored: `admin:<id>` or `shared:<channel>`. */
  recipient?: string;
  /** Enqueued at or after / before (epoch ms). */
  since?: number;
  until?: number;
  /** Rows after this one in the log's order (the last row of the previous page). */
  after?: { enqueuedAt: number; id: number };
}

/** One row of the delivery log, with its alert, rule and recipient admin where there are ones. */
export interface DeliveryLogRow {
  id: number;
  alert_id: number | null;
  rule_id: number | null;
  rule_name: string | null;
  service: string | null;
  severity: string | null;
  event: string;
  channel: string;
  recipient: string;
  admin_id: number | null;
  admin_name: string | null;
  admin_email: string | null;
  status: DeliveryStatus;
  attempts: number;
  reason: string | null;
  enqueued_at: number;
  delivered_at: number | null;
  /** When the alert's breaching sample was taken: the start of its latency from breach. */
  observed_at: number | null;
}

/**
 * A page of the delivery log, newest enqueued first (then newest id), at most `limit` rows.
 * Walked down notification_deliveries_enqueued_idx (within since/until), so a page reads as
 * many rows as it returns plus those the filters pass over; an alert's or a rule's rows
 * come by the alert index instead, then sorted.
 */
export async function deliveryLog(db: D1Database, f: DeliveryLogFilters, limit: number): Promise<DeliveryLogRow[]> {
  const where: string[] = [];
  const binds: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    binds.push(...values);
  };
  if (f.alertId !== undefined) add("d.alert_id = ?", f.alertId);
  if (f.ruleId !== undefined) add("d.alert_id IN (SELECT id FROM alert_history WHERE alert_rule_id = ?)", f.ruleId);
  // `+` keeps these off the status indexes: the log is walked newest first down the enqueued
  // index and the page ends after `limit` matches, rather than every row of a status (all
  // the `sent` ones) being read and sorted.
  if (f.channel !== undefined) add("+d.channel = ?", f.channel);
  if (f.status !== undefined) add("+d.status = ?", f.status);
  if (f.event !== undefined) add("+d.event = ?", f.event);
  if (f.recipient !== undefined) add("+d.recipient = ?", f.recipient);
  if (f.since !== undefined) add("d.enqueued_at >= ?", f.since);
  if (f.until !== undefined) add("d.enqueued_at < ?", f.until);
  if (f.after) {
    add("(d.enqueued_at < ? OR (d.enqueued_at = ? AND d.id < ?))", f.after.enqueuedAt, f.after.enqueuedAt, f.after.id);
  }
  const rows = await db
    .prepare(
      `SELECT d.id, d.alert_id, h.alert_rule_id AS rule_id, r.rule_name, h.service, h.alert_severity AS severity,
         d.event, d.channel, d.recipient, u.id AS admin_id, u.name AS admin_name, u.email AS admin_email, d.status,
         d.attempts, d.last_error AS reason, d.enqueued_at, d.delivered_at, h.observed_at
       FROM notification_deliveries d
       LEFT JOIN alert_history h ON h.id = d.alert_id
       LEFT JOIN alert_rules r ON r.id = h.alert_rule_id
       LEFT JOIN admin_users u
         ON d.recipient LIKE 'admin:%' AND u.id = CAST(substr(d.recipient, 7) AS INTEGER)
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY d.enqueued_at DESC, d.id DESC
       LIMIT ?`,
    )
    .bind(...binds, limit)
    .all<DeliveryLogRow>();
  return rows.results;
}

/**
 * The store of alerts: every statement on `alert_history` (the alert rows, and their
 * notification counters recomputed from `notification_deliveries`) and on `alert_events`
 * (each alert's timeline). Row types come from the schema (db/rows.ts); what the rows mean
 * to the API and the notifications is decided in lib/alerts.
 */
import type { ReplayedAlert } from "../core/demo-history";
import type { RawRow } from "./rows";
import type { ALERT_STATUSES, alertEvents, alertHistory } from "./schema";

export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** An alert row as `SELECT *` reads it (booleans 0/1, labels as JSON text). */
export type AlertRow = RawRow<typeof alertHistory>;

/** An alert row with its rule's name and metric (null once the rule is deleted). */
export type AlertWithRule = AlertRow & { rule_name: string | null; metric_name: string | null };

type AlertEventRow = RawRow<typeof alertEvents>;

/** A timeline entry to write (`actor` defaults to "engine") and the columns the engine sets: the engine's (core/alerts/step). */
export type { AlertChanges, TimelineEntry } from "../core/alerts/step";
import type { AlertChanges, TimelineEntry } from "../core/alerts/step";

/** A timeline entry as read back, its details parsed. */
export type StoredTimelineEntry = Pick<AlertEventRow, "type" | "at" | "actor" | "value" | "note"> & {
  details: Record<string, unknown> | null;
};

/** An alert to open, with its first timeline entries. */
export interface AlertToOpen {
  ruleId: number;
  service: string | null;
  fingerprint: string;
  labels: Record<string, string>;
  value: number | null;
  severity: string;
  message: string;
  observedAt: number;
  triggeredAt: number;
  timeline: readonly TimelineEntry[];
}

export interface OpenedAlert {
  id: number;
  /** The row was open already (see openAlerts). */
  adopted: boolean;
  /** The new row (null when adopted). */
  row: AlertRow | null;
}

/** A value of a `json_each` item of openAlerts' arguments. */
const field = (name: string) => `json_extract(e.value, '$.${name}')`;

/**
 * Opens alerts of one rule, each a new row, or the one already open for its fingerprint,
 * which the rule adopts. Only a rule that lost its state after writing the row (a crash or
 * eviction between the insert and saving its state) finds one: it then carries on with that
 * alert, and its notifications keep their idempotency keys, so those already sent are not
 * sent again. Each new row's first timeline entries go with it. One round trip of three
 * statements however many alerts (a storm opens hundreds in one evaluation), keyed by
 * fingerprint.
 */
export async function openAlerts(
  env: Pick<Env, "DB">,
  ruleId: number,
  alerts: readonly AlertToOpen[],
): Promise<Map<string, OpenedAlert>> {
  if (!alerts.length) return new Map();
  const items = JSON.stringify(
    alerts.map((a) => ({
      service: a.service,
      fingerprint: a.fingerprint,
      labels: JSON.stringify(a.labels),
      value: a.value,
      severity: a.severity,
      message: a.message,
      observedAt: a.observedAt,
      triggeredAt: a.triggeredAt,
    })),
  );
  const entries = JSON.stringify(
    alerts.flatMap((a) =>
      a.timeline.map((t) => ({
        fingerprint: a.fingerprint,
        triggeredAt: a.triggeredAt,
        at: t.at,
        type: t.type,
        value: t.value ?? null,
        note: t.note ?? null,
        details: t.details ? JSON.stringify(t.details) : null,
      })),
    ),
  );
  const [inserted, , open] = await env.DB.batch<AlertRow & { fingerprint: string }>([
    env.DB.prepare(
      `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, metric_value, peak_value, alert_severity,
         status, message, observed_at, triggered_at)
       SELECT ?1, ${field("service")}, ${field("fingerprint")}, ${field("labels")}, ${field("value")}, ${field("value")},
         ${field("severity")}, 'firing', ${field("message")}, ${field("observedAt")}, ${field("triggeredAt")}
       FROM json_each(?2) e
       WHERE NOT EXISTS (SELECT 1 FROM alert_history h
         WHERE h.alert_rule_id = ?1 AND h.fingerprint = ${field("fingerprint")} AND h.resolved_at IS NULL)
       RETURNING *`,
    ).bind(ruleId, items),
    // Onto the rows just inserted (an adopted row, opened at another instant, has its start already);
    // CROSS JOIN keeps json_each the outer loop, so each entry is one index lookup of its alert.
    env.DB.prepare(
      `INSERT INTO alert_events (alert_id, at, type, actor, value, note, details)
       SELECT h.id, ${field("at")}, ${field("type")}, 'engine', ${field("value")}, ${field("note")}, ${field("details")}
       FROM json_each(?2) e
       CROSS JOIN alert_history h ON h.alert_rule_id = ?1 AND h.fingerprint = ${field("fingerprint")}
         AND h.triggered_at = ${field("triggeredAt")} AND h.resolved_at IS NULL
       ORDER BY e.key`,
    ).bind(ruleId, entries),
    env.DB.prepare(
      `SELECT max(id) AS id, fingerprint FROM alert_history
       WHERE alert_rule_id = ? AND resolved_at IS NULL AND fingerprint IN (SELECT value FROM json_each(?))
       GROUP BY fingerprint`,
    ).bind(ruleId, JSON.stringify(alerts.map((a) => a.fingerprint))),
  ]);
  const fresh = new Map((inserted?.results ?? []).map((r) => [r.fingerprint, r as AlertRow]));
  const opened = new Map<string, OpenedAlert>();
  for (const r of open?.results ?? []) {
    const row = fresh.get(r.fingerprint) ?? null;
    opened.set(r.fingerprint, { id: row?.id ?? r.id, adopted: row === null, row });
  }
  for (const a of alerts) if (!opened.has(a.fingerprint)) throw new Error(`alert for ${a.fingerprint} not opened`);
  return opened;
}

/** The statement writing one timeline entry. */
const timelineStatement = (db: D1Database, alertId: number, e: TimelineEntry) =>
  db
    .prepare("INSERT INTO alert_events (alert_id, at, type, actor, value, note, details) VALUES (?, ?, ?, ?, ?, ?, ?)")
    .bind(
      alertId,
      e.at,
      e.type,
      e.actor ?? "engine",
      e.value ?? null,
      e.note ?? null,
      e.details ? JSON.stringify(e.details) : null,
    );

/** The statement updating an alert, plus its timeline entries, for one D1 batch. */
export function alertStatements(
  env: Pick<Env, "DB">,
  alertId: number,
  changes: AlertChanges,
  timeline: readonly TimelineEntry[],
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  const columns = Object.keys(changes) as (keyof AlertChanges)[];
  const sets = columns.map((c) => `${c} = ?`);
  const values: (string | number | null)[] = columns.map((c) => changes[c] ?? null);
  if (sets.length) {
    statements.push(
      env.DB.prepare(`UPDATE alert_history SET ${sets.join(", ")} WHERE id = ?`).bind(...values, alertId),
    );
  }
  for (const e of timeline) statements.push(timelineStatement(env.DB, alertId, e));
  return statements;
}

export async function getAlert(env: Pick<Env, "DB">, alertId: number): Promise<AlertRow | null> {
  return env.DB.prepare("SELECT * FROM alert_history WHERE id = ?").bind(alertId).first<AlertRow>();
}

/** Alert rows by id (those that exist), e.g. the members of a grouped notification. */
export async function alertsByIds(env: Pick<Env, "DB">, ids: readonly number[]): Promise<AlertRow[]> {
  if (!ids.length) return [];
  const rows = await env.DB.prepare("SELECT * FROM alert_history WHERE id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(ids))
    .all<AlertRow>();
  return rows.results;
}

/**
 * The statements recording one grouped notification on each member's timeline (`details`
 * shared), and, for a firing group, that their firing was notified: two statements however
 * many members.
 */
export function groupNotifiedStatements(
  db: D1Database,
  ids: readonly number[],
  at: number,
  firing: boolean,
  details: Record<string, unknown>,
): D1PreparedStatement[] {
  const list = JSON.stringify(ids);
  const statements = [
    db
      .prepare(
        `INSERT INTO alert_events (alert_id, at, type, actor, details)
         SELECT value, ?, 'notified', 'engine', ? FROM json_each(?)`,
      )
      .bind(at, JSON.stringify(details), list),
  ];
  if (firing) {
    statements.push(
      db
        .prepare("UPDATE alert_history SET firing_notified = 1 WHERE id IN (SELECT value FROM json_each(?))")
        .bind(list),
    );
  }
  return statements;
}

/**
 * Records an acknowledgement or resolve on the row itself, with its timeline entry, when no
 * rule object tracks the alert any more (see actOnAlert): only from `firing` for an
 * acknowledgement, from any open status for a resolve. `by` is the actor ("admin:<id>").
 */
export async function recordActionOnRow(
  env: Pick<Env, "DB">,
  alertId: number,
  action: "acknowledge" | "resolve",
  by: string,
  note: string | null,
  now: number,
): Promise<void> {
  const adminId = /^admin:(\d+)$/.exec(by)?.[1];
  const update =
    action === "acknowledge"
      ? env.DB.prepare(
          "UPDATE alert_history SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND status = 'firing'",
        ).bind(now, adminId === undefined ? null : Number(adminId), alertId)
      : env.DB.prepare(
          "UPDATE alert_history SET status = 'resolved', resolved_at = ?, auto_resolved = 0, resolution_notes = ? WHERE id = ? AND status != 'resolved'",
        ).bind(now, note, alertId);
  const event = env.DB.prepare(
    "INSERT INTO alert_events (alert_id, at, type, actor, note) VALUES (?, ?, ?, ?, ?)",
  ).bind(alertId, now, action === "acknowledge" ? "acknowledged" : "resolved", by, note);
  await env.DB.batch([update, event]);
}

/** The alert's current value, peak and message; null when it no longer exists. */
export async function currentValues(
  env: Pick<Env, "DB">,
  alertId: number,
): Promise<(Pick<AlertRow, "metric_value" | "peak_value" | "message"> & { service_name: string | null }) | null> {
  // The service's display name from the dashboard settings' map (one row), as it is now.
  return env.DB.prepare(
    `SELECT h.metric_value, h.peak_value, h.message,
       (SELECT json_extract(d.service_names, '$."' || h.service || '"') FROM dashboard_settings d) AS service_name
     FROM alert_history h WHERE h.id = ?`,
  )
    .bind(alertId)
    .first<Pick<AlertRow, "metric_value" | "peak_value" | "message"> & { service_name: string | null }>();
}

/** The alert's rule and series labels (as stored, JSON); null when it no longer exists. */
export async function alertSeries(
  env: Pick<Env, "DB">,
  alertId: number,
): Promise<Pick<AlertRow, "alert_rule_id" | "labels"> | null> {
  return env.DB.prepare("SELECT alert_rule_id, labels FROM alert_history WHERE id = ?")
    .bind(alertId)
    .first<Pick<AlertRow, "alert_rule_id" | "labels">>();
}

/** Alert rows (`a`) with their rule's name and metric; the rule may have been deleted since. */
const WITH_RULE_NAME =
  "SELECT a.*, r.rule_name, r.metric_name FROM alert_history a LEFT JOIN alert_rules r ON r.id = a.alert_rule_id";

/** Firing and acknowledged alerts, newest first, at most `limit`. */
export async function openAlertRows(env: Pick<Env, "DB">, limit: number): Promise<AlertWithRule[]> {
  const rows = await env.DB.prepare(
    `${WITH_RULE_NAME}
     WHERE a.status != 'resolved' ORDER BY a.triggered_at DESC, a.id DESC LIMIT ?`,
  )
    .bind(limit)
    .all<AlertWithRule>();
  return rows.results;
}

/** How many alerts are firing or acknowledged. */
export async function countOpenAlerts(env: Pick<Env, "DB">): Promise<number> {
  const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM alert_history WHERE status != 'resolved'").first<{
    n: number;
  }>();
  return count?.n ?? 0;
}

/** One alert with its rule's name and metric; null when it does not exist. */
export async function getAlertWithRule(env: Pick<Env, "DB">, alertId: number): Promise<AlertWithRule | null> {
  return env.DB.prepare(`${WITH_RULE_NAME} WHERE a.id = ?`).bind(alertId).first<AlertWithRule>();
}

/** One alert with its rule's name and the name and email of the admin who acknowledged it, for its Slack message. */
export async function getAlertForMessage(
  env: Pick<Env, "DB">,
  alertId: number,
): Promise<(AlertRow & { rule_name: string | null; ack_name: string | null; ack_email: string | null }) | null> {
  return env.DB.prepare(
    `SELECT a.*, r.rule_name, u.name AS ack_name, u.email AS ack_email
     FROM alert_history a LEFT JOIN alert_rules r ON r.id = a.alert_rule_id
     LEFT JOIN admin_users u ON u.id = a.acknowledged_by WHERE a.id = ?`,
  )
    .bind(alertId)
    .first<AlertRow & { rule_name: string | null; ack_name: string | null; ack_email: string | null }>();
}

/** The filters of the alert history; each absent one matches every alert. */
export interface HistoryFilter {
  ruleId?: number;
  service?: string;
  severity?: string;
  status?: AlertStatus;
  /** Triggered at or after. */
  from?: number;
  /** Triggered before. */
  to?: number;
  /** After this alert in the order (the last of the previous page). */
  after?: { triggeredAt: number; id: number };
}

/** Alerts by trigger time, newest first (ties by id), at most `limit`. */
export async function alertHistoryPage(
  env: Pick<Env, "DB">,
  filter: HistoryFilter,
  limit: number,
): Promise<AlertWithRule[]> {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (filter.ruleId !== undefined) add("a.alert_rule_id = ?", filter.ruleId);
  if (filter.service !== undefined) add("a.service = ?", filter.service);
  if (filter.severity !== undefined) add("a.alert_severity = ?", filter.severity);
  if (filter.status !== undefined) add("a.status = ?", filter.status);
  if (filter.from !== undefined) add("a.triggered_at >= ?", filter.from);
  if (filter.to !== undefined) add("a.triggered_at < ?", filter.to);
  if (filter.after) {
    const { triggeredAt, id } = filter.after;
    add("(a.triggered_at < ? OR (a.triggered_at = ? AND a.id < ?))", triggeredAt, triggeredAt, id);
  }
  const rows = await env.DB.prepare(
    `${WITH_RULE_NAME}
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY a.triggered_at DESC, a.id DESC LIMIT ?`,
  )
    .bind(...params, limit)
    .all<AlertWithRule>();
  return rows.results;
}

/** The alert's timeline, oldest first. */
export async function alertTimeline(env: Pick<Env, "DB">, alertId: number): Promise<StoredTimelineEntry[]> {
  const events = await env.DB.prepare(
    "SELECT type, at, actor, value, note, details FROM alert_events WHERE alert_id = ? ORDER BY at, id",
  )
    .bind(alertId)
    .all<Pick<AlertEventRow, "type" | "at" | "actor" | "value" | "note" | "details">>();
  return events.results.map((e) => ({
    type: e.type,
    at: e.at,
    actor: e.actor,
    value: e.value,
    note: e.note,
    details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : null,
  }));
}

/**
 * The `notifications_sent` (deliveries that reached their provider, alone or in a digest),
 * `notification_attempts` (provider requests made) and `notifications_failed` (deliveries
 * given up: dead after their retries, or failed for good) of the alerts `where` selects,
 * recomputed from their `notification_deliveries` rather than incremented so a redelivered
 * message cannot count twice.
 */
const countersStatement = (db: D1Database, where: string, value: number | string) =>
  db
    .prepare(
      `UPDATE alert_history SET
         notifications_sent = (SELECT COUNT(*) FROM notification_deliveries d WHERE d.alert_id = alert_history.id
           AND (d.status = 'sent' OR (d.status = 'digested' AND d.delivered_at IS NOT NULL))),
         notification_attempts = (SELECT COALESCE(SUM(attempts), 0) FROM notification_deliveries d
           WHERE d.alert_id = alert_history.id),
         notifications_failed = (SELECT COUNT(*) FROM notification_deliveries d WHERE d.alert_id = alert_history.id
           AND d.status IN ('failed', 'dead'))
       WHERE ${where}`,
    )
    .bind(value);

/** The alert's notification counters recomputed, for a batch of the caller's. */
export const recountStatement = (db: D1Database, alertId: number): D1PreparedStatement =>
  countersStatement(db, "id = ?", alertId);

/** The counters of every alert whose held deliveries the digest `digestKey` carried, recomputed. */
export const recountDigestedStatement = (db: D1Database, digestKey: string): D1PreparedStatement =>
  countersStatement(
    db,
    "id IN (SELECT alert_id FROM notification_deliveries WHERE status = 'digested' AND provider_response = ?)",
    digestKey,
  );

const SAME_ALERT = "alert_rule_id = ? AND fingerprint = ? AND triggered_at = ?";

/**
 * A resolved alert of the demo's replayed history and its timeline, each written unless
 * already there (a resumed backfill writes them again). `resolvedNote` is the note of its
 * resolve entry; the entries are marked backfilled.
 */
export function replayedAlertStatements(
  env: Pick<Env, "DB">,
  a: ReplayedAlert,
  resolvedNote: string,
): D1PreparedStatement[] {
  const key = [a.ruleId, a.fingerprint, a.triggeredAt] as const;
  const insert = env.DB.prepare(
    `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, metric_value, peak_value, breach_count,
       reopen_count, flapping, firing_notified, alert_severity, status, message, observed_at, triggered_at,
       resolved_at, auto_resolved, notifications_sent, notification_attempts)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 'resolved', ?, ?, ?, ?, 1, 0, 0
     WHERE NOT EXISTS (SELECT 1 FROM alert_history WHERE ${SAME_ALERT})`,
  ).bind(
    a.ruleId,
    a.service,
    a.fingerprint,
    JSON.stringify(a.labels),
    a.value,
    a.peakValue,
    a.breaches,
    a.reopened,
    a.flapping ? 1 : 0,
    a.severity,
    a.message,
    a.observedAt,
    a.triggeredAt,
    a.resolvedAt,
    ...key,
  );
  const events = a.events.map((e) =>
    env.DB.prepare(
      `INSERT INTO alert_events (alert_id, at, type, actor, value, note, details)
       SELECT id, ?, ?, 'engine', ?, ?, ? FROM alert_history h WHERE ${SAME_ALERT}
         AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.alert_id = h.id AND e.type = ? AND e.at = ?)`,
    ).bind(
      e.at,
      e.type,
      e.value,
      e.type === "resolved" ? resolvedNote : (e.note ?? null),
      JSON.stringify({ backfilled: true }),
      ...key,
      e.type,
      e.at,
    ),
  );
  return [insert, ...events];
}

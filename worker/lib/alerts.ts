/**
 * The alert engine's side effects: alert rows and their timeline in D1, recipients,
 * notification jobs on the queue, and the live dashboard's alerts topic. The AlertRule
 * Durable Object decides (with worker/core); these functions carry the decisions out.
 */
import {
  type AlertSnapshot,
  type NotificationJob,
  type SlackRouting,
  slackRouting,
  withCurrentValues,
} from "../core/alerts/jobs";
import type { Silence } from "../core/alerts/silence";
import { toIso } from "../core/time";
import { ApiError, notFound } from "./errors";
import { readMonitorHealth } from "./health";

export type AlertStatus = "firing" | "acknowledged" | "resolved";

/** An alert row as the engine and the API read it. */
export interface AlertRow {
  id: number;
  alert_rule_id: number;
  service: string | null;
  fingerprint: string;
  labels: string;
  metric_value: number | null;
  peak_value: number | null;
  breach_count: number;
  reopen_count: number;
  flapping: number;
  firing_notified: number;
  alert_severity: string;
  status: AlertStatus;
  message: string;
  observed_at: number;
  triggered_at: number;
  acknowledged_at: number | null;
  acknowledged_by: number | null;
  resolved_at: number | null;
  auto_resolved: number;
  resolution_notes: string | null;
  escalation_step: number;
  notifications_sent: number;
  notification_attempts: number;
  notifications_failed: number;
}

/** An alert's timeline entry and the columns the engine sets: core's (core/alerts/step). */
export type { AlertChanges, TimelineEntry } from "../core/alerts/step";
import type { AlertChanges, TimelineEntry } from "../core/alerts/step";

/** A field of the JSON item `e` in a statement reading json_each(...) e. */
const field = (name: string) => `json_extract(e.value, '$.${name}')`;

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
  env: Env,
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

/** The statement updating an alert, plus its timeline entries, for one D1 batch. */
export function alertStatements(
  env: Env,
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
  for (const e of timeline) {
    statements.push(
      env.DB.prepare(
        "INSERT INTO alert_events (alert_id, at, type, actor, value, note, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).bind(
        alertId,
        e.at,
        e.type,
        e.actor ?? "engine",
        e.value ?? null,
        e.note ?? null,
        e.details ? JSON.stringify(e.details) : null,
      ),
    );
  }
  return statements;
}

export async function getAlert(env: Env, alertId: number): Promise<AlertRow | null> {
  return env.DB.prepare("SELECT * FROM alert_history WHERE id = ?").bind(alertId).first<AlertRow>();
}

/**
 * The 409 for a manual resolve of an alert whose series still breaches: the current
 * value, and what to do instead (the API, Slack and the dashboard show this message).
 */
export function stillBreachingError(alertId: number, value: number | null): ApiError {
  const current = value === null ? "no value" : `current value ${Number(value.toPrecision(6))}`;
  return new ApiError(
    409,
    `Alert ${alertId} is still breaching (${current}): acknowledge or silence it instead, or resolve with force: true.`,
    {
      code: "still_breaching",
      details: [{ field: "force", reason: `the series still breaches (${current}); true resolves it anyway` }],
    },
  );
}

/**
 * Acknowledges or resolves an alert for an admin (`by` is "admin:<id>"): the rule's
 * Durable Object, which owns the alert's state, carries it out. 404 for an unknown
 * alert, 409 when it is already resolved, or (a resolve without `force`) when its series
 * still breaches.
 */
export async function actOnAlert(
  env: Env,
  alertId: number,
  action: "acknowledge" | "resolve",
  by: string,
  note?: string,
  force = false,
): Promise<void> {
  const row = await getAlert(env, alertId);
  if (!row) throw notFound(`Alert ${alertId}`);
  if (row.status === "resolved") throw new ApiError(409, `Alert ${alertId} is already resolved.`);
  const stub = env.ALERT_RULE.getByName(String(row.alert_rule_id));
  let done: boolean;
  if (action === "acknowledge") done = await stub.acknowledgeAlert(alertId, by, note);
  else {
    const outcome = await stub.resolveAlert(alertId, by, note, force);
    if (!outcome.ok && outcome.reason === "still_breaching") throw stillBreachingError(alertId, outcome.value);
    if (!outcome.ok && outcome.reason === "already_resolved") {
      throw new ApiError(409, `Alert ${alertId} is already resolved.`);
    }
    done = outcome.ok;
  }
  if (done) return;
  // The rule's object no longer tracks this alert (the rule was reset): record the action on the row.
  const now = Date.now();
  const adminId = /^admin:(\d+)$/.exec(by)?.[1];
  const update =
    action === "acknowledge"
      ? env.DB.prepare(
          "UPDATE alert_history SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND status = 'firing'",
        ).bind(now, adminId === undefined ? null : Number(adminId), alertId)
      : env.DB.prepare(
          "UPDATE alert_history SET status = 'resolved', resolved_at = ?, auto_resolved = 0, resolution_notes = ? WHERE id = ? AND status != 'resolved'",
        ).bind(now, note ?? null, alertId);
  const event = env.DB.prepare(
    "INSERT INTO alert_events (alert_id, at, type, actor, note) VALUES (?, ?, ?, ?, ?)",
  ).bind(alertId, now, action === "acknowledge" ? "acknowledged" : "resolved", by, note ?? null);
  await env.DB.batch([update, event]);
}

export function snapshotOf(row: AlertRow, ruleName: string, acknowledgedBy: string | null = null): AlertSnapshot {
  return {
    id: row.id,
    ruleId: row.alert_rule_id,
    ruleName,
    service: row.service,
    labels: JSON.parse(row.labels) as Record<string, string>,
    severity: row.alert_severity,
    status: row.status,
    value: row.metric_value,
    peakValue: row.peak_value,
    message: row.message,
    observedAt: row.observed_at,
    triggeredAt: row.triggered_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: acknowledgedBy ?? (row.acknowledged_by === null ? null : `admin:${row.acknowledged_by}`),
    resolvedAt: row.resolved_at,
  };
}

/** The job as it should be rendered now: its alert's current value, peak and message from the row (core decides the merge). */
export async function withCurrentAlert(env: Env, job: NotificationJob): Promise<NotificationJob> {
  if (!job.alertId || job.notice) return job;
  const row = await env.DB.prepare("SELECT metric_value, peak_value, message FROM alert_history WHERE id = ?")
    .bind(job.alertId)
    .first<{ metric_value: number | null; peak_value: number | null; message: string }>();
  return withCurrentValues(job, row && { value: row.metric_value, peakValue: row.peak_value, message: row.message });
}

/** Admin ids for escalation targets; without targets, every admin and owner. */
export async function recipientIds(
  env: Env,
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

/** A stored silence (matchers and recurrence as stored, snake_case) as core reads it. */
export function toCoreSilence(row: {
  id: number;
  matchers: unknown;
  startsAt: number;
  endsAt: number;
  recurrence: unknown;
}): Silence {
  const matchers = (Array.isArray(row.matchers) ? row.matchers : []) as {
    name: string;
    value: string;
    is_regex?: boolean;
    is_equal?: boolean;
  }[];
  const rec = row.recurrence as {
    weekdays: number[];
    start: string;
    duration_minutes: number;
    timezone: string;
  } | null;
  return {
    id: row.id,
    matchers: matchers.map((m) => ({
      name: m.name,
      value: m.value,
      isRegex: m.is_regex ?? false,
      isEqual: m.is_equal ?? true,
    })),
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    recurrence: rec
      ? { weekdays: rec.weekdays, start: rec.start, durationMinutes: rec.duration_minutes, timezone: rec.timezone }
      : null,
  };
}

/** Silences that have not ended, as core reads them. */
export async function loadSilences(env: Env, now: number): Promise<Silence[]> {
  const rows = await env.DB.prepare(
    "SELECT id, matchers, starts_at, ends_at, recurrence FROM silences WHERE ends_at > ?",
  )
    .bind(now)
    .all<{ id: number; matchers: string; starts_at: number; ends_at: number; recurrence: string | null }>();
  return rows.results.map((r) =>
    toCoreSilence({
      id: r.id,
      matchers: JSON.parse(r.matchers),
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      recurrence: r.recurrence ? JSON.parse(r.recurrence) : null,
    }),
  );
}

/** Health of every service, for dependencies. */
export async function serviceHealth(env: Env, now: number) {
  const services = await readMonitorHealth(env, now);
  return new Map(services.map((s) => [s.service, s.status]));
}

export async function loadPolicy(env: Env, policyId: number | null) {
  if (policyId === null) return null;
  return env.DB.prepare(
    "SELECT steps, repeat_count, repeat_interval_minutes, ack_timeout_minutes FROM escalation_policies WHERE id = ?",
  )
    .bind(policyId)
    .first<{
      steps: string;
      repeat_count: number;
      repeat_interval_minutes: number | null;
      ack_timeout_minutes: number | null;
    }>();
}

/** The API and dashboard shape of an alert. */
export function toAlertWire(row: AlertRow & { rule_name?: string | null; metric_name?: string | null }) {
  return {
    id: row.id,
    alert_rule_id: row.alert_rule_id,
    rule_name: row.rule_name ?? null,
    metric_name: row.metric_name ?? null,
    service: row.service,
    fingerprint: row.fingerprint,
    labels: JSON.parse(row.labels) as Record<string, string>,
    metric_value: row.metric_value,
    peak_value: row.peak_value,
    breach_count: row.breach_count,
    reopen_count: row.reopen_count,
    flapping: Boolean(row.flapping),
    alert_severity: row.alert_severity,
    status: row.status,
    message: row.message,
    observed_at: toIso(row.observed_at),
    triggered_at: toIso(row.triggered_at),
    acknowledged_at: toIso(row.acknowledged_at),
    acknowledged_by: row.acknowledged_by,
    resolved_at: toIso(row.resolved_at),
    auto_resolved: Boolean(row.auto_resolved),
    resolution_notes: row.resolution_notes,
    escalation_step: row.escalation_step,
    notifications_sent: row.notifications_sent,
    notification_attempts: row.notification_attempts,
    notifications_failed: row.notifications_failed,
  };
}

/** Alert rows (`a`) with their rule's name and metric; the rule may have been deleted since. */
export const ALERTS_WITH_RULE_NAME =
  "SELECT a.*, r.rule_name, r.metric_name FROM alert_history a LEFT JOIN alert_rules r ON r.id = a.alert_rule_id";

/** Firing and acknowledged alerts, newest first (the dashboard's alerts topic). */
export async function activeAlerts(env: Env, limit = 500) {
  const rows = await env.DB.prepare(
    `${ALERTS_WITH_RULE_NAME}
     WHERE a.status != 'resolved' ORDER BY a.triggered_at DESC, a.id DESC LIMIT ?`,
  )
    .bind(limit)
    .all<AlertRow & { rule_name: string | null }>();
  return rows.results.map(toAlertWire);
}

/** Tells the live dashboard the active alerts changed (it publishes them shortly, coalesced); a failure is logged. */
export async function publishAlerts(env: Env): Promise<void> {
  try {
    await env.DASHBOARD_HUB.getByName("main").alertsChanged();
  } catch (err) {
    console.error("alerts change not signalled", err);
  }
}

/**
 * Silences one alert's series (its rule and series labels, as Alertmanager pre-fills a silence
 * from an alert) from `now` for `durationMs`; answers the silence's id and end. Null when the
 * alert does not exist.
 */
export async function silenceAlert(
  env: Env,
  alertId: number,
  adminId: number,
  now: number,
  durationMs: number,
  comment: string,
): Promise<{ id: number; endsAt: number; matchers: { name: string; value: string }[] } | null> {
  const alert = await env.DB.prepare("SELECT alert_rule_id, labels FROM alert_history WHERE id = ?")
    .bind(alertId)
    .first<{ alert_rule_id: number; labels: string }>();
  if (!alert) return null;
  const labels = JSON.parse(alert.labels || "{}") as Record<string, string>;
  const matchers = [
    { name: "rule_id", value: String(alert.alert_rule_id) },
    ...Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
  ];
  const stored = matchers.map((m) => ({ ...m, is_regex: false, is_equal: true }));
  const row = await env.DB.prepare(
    `INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment, recurrence)
     VALUES (?, ?, ?, ?, ?, NULL) RETURNING id`,
  )
    .bind(JSON.stringify(stored), now, now + durationMs, adminId, comment)
    .first<{ id: number }>();
  return { id: row?.id ?? 0, endsAt: now + durationMs, matchers };
}

/** Where a rule's `slack` goes with the environment's Slack settings (see slackRouting). */
export const slackRoutingOf = (env: Env): SlackRouting =>
  slackRouting({
    botToken: Boolean(env.SLACK_BOT_TOKEN),
    channel: Boolean(env.SLACK_CHANNEL),
    webhook: Boolean(env.SLACK_WEBHOOK_URL),
  });

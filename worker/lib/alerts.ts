/**
 * Alerts beyond their rows (those are db/alerts): acting on one for an admin, how an alert
 * reads in a notification and in the API, silencing an alert's series, and telling the live
 * dashboard. The AlertRule Durable Object decides (with worker/core) and owns an alert's
 * state; these carry out what the API, Slack and the engine ask of it.
 */
import {
  type AlertSnapshot,
  type NotificationJob,
  type SlackRouting,
  slackRouting,
  withCurrentValues,
} from "../core/alerts/jobs";
import { activeAt, alertLabels, matches, nextChange, type Silence, silencedBy } from "../core/alerts/silence";
import { toIso } from "../core/time";
import { type AlertRow, alertSeries, currentValues, getAlert, openAlertRows, recordActionOnRow } from "../db/alerts";
import { insertSilence, loadSilences } from "../db/silences";
import { ApiError, notFound } from "./errors";
import { readMonitorHealth } from "./health";

// The rule's Durable Object imports these from here; other code imports them from their stores.
export {
  type AlertChanges,
  type AlertRow,
  type AlertStatus,
  alertStatements,
  type AlertToOpen,
  getAlert,
  type OpenedAlert,
  openAlerts,
  type TimelineEntry,
} from "../db/alerts";
export { loadPolicy, recipientIds } from "../db/escalation";
export { loadSilences, toCoreSilence } from "../db/silences";

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
): Promise<{ before: AlertRow["status"] }> {
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
  // The rule's object no longer tracks this alert (the rule was reset): record the action on the row.
  if (!done) await recordActionOnRow(env, alertId, action, by, note ?? null, Date.now());
  return { before: row.status };
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
  const row = await currentValues(env, job.alertId);
  return withCurrentValues(
    job,
    row && {
      value: row.metric_value,
      peakValue: row.peak_value,
      message: row.message,
      serviceName: typeof row.service_name === "string" ? row.service_name : null,
    },
  );
}

/** Health of every service, for dependencies. */
export async function serviceHealth(env: Env, now: number) {
  const services = await readMonitorHealth(env, now);
  return new Map(services.map((s) => [s.service, s.status]));
}

type WireRow = AlertRow & { rule_name?: string | null; metric_name?: string | null };

/** The API and dashboard shape of an alert (without `silenced_by`: see toAlertsWire). */
export function toAlertWire(row: WireRow) {
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

/** The labels silences match an alert on, as the rule's Durable Object matches them. */
function labelsOf(row: WireRow) {
  return alertLabels({
    ruleId: row.alert_rule_id,
    ruleName: row.rule_name ?? "",
    service: row.service,
    severity: row.alert_severity,
    labels: JSON.parse(row.labels || "{}") as Record<string, string>,
  });
}

/**
 * Alerts in their API shape with `silenced_by`: the silences in effect on each open alert at
 * `now` (a resolved alert has none). Silences are read once, and only when some alert is open.
 */
export async function toAlertsWire(env: Pick<Env, "DB">, rows: readonly WireRow[], now: number) {
  const open = rows.some((r) => r.status !== "resolved");
  const silences = open ? await loadSilences(env, now) : [];
  return rows.map((r) => ({
    ...toAlertWire(r),
    silenced_by: r.status === "resolved" ? [] : silencedBy(silences, labelsOf(r), now).ids,
  }));
}

/** Firing and acknowledged alerts, newest first (the dashboard's alerts topic). */
export async function activeAlerts(env: Env, limit = 500) {
  return toAlertsWire(env, await openAlertRows(env, limit), Date.now());
}

/**
 * What a silence would do before it is saved: the open alerts its matchers match (in their
 * API shape), whether it is in effect at `now` (so silences them now), and when that next changes.
 */
export async function previewSilence(env: Env, silence: Silence, now: number) {
  const rows = (await openAlertRows(env, 500)).filter((r) => matches(silence.matchers, labelsOf(r)));
  return {
    in_effect_now: activeAt(silence, now),
    next_change: toIso(nextChange(silence, now)),
    alerts: await toAlertsWire(env, rows, now),
  };
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
  const alert = await alertSeries(env, alertId);
  if (!alert) return null;
  const labels = JSON.parse(alert.labels || "{}") as Record<string, string>;
  const matchers = [
    { name: "rule_id", value: String(alert.alert_rule_id) },
    ...Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
  ];
  const stored = matchers.map((m) => ({ ...m, is_regex: false, is_equal: true }));
  const id = await insertSilence(env, {
    matchers: stored,
    startsAt: now,
    endsAt: now + durationMs,
    createdBy: adminId,
    comment,
  });
  return { id: id ?? 0, endsAt: now + durationMs, matchers };
}

/** Where a rule's `slack` goes with the environment's Slack settings (see slackRouting). */
export const slackRoutingOf = (env: Env): SlackRouting =>
  slackRouting({
    botToken: Boolean(env.SLACK_BOT_TOKEN),
    channel: Boolean(env.SLACK_CHANNEL),
    webhook: Boolean(env.SLACK_WEBHOOK_URL),
  });

/**
 * D1 schema (drizzle). Migrations in `migrations/` are generated from this file
 * with `npm run db:generate` and never edited after they are applied.
 *
 * Time is data: every instant is an INTEGER of epoch milliseconds (UTC), named
 * `*_at` (or `bucket_start` for rollups). The API renders them as ISO 8601.
 */
import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { ROLE_RANK, type Role } from "../core/roles";
import { CHANNELS, OPERATORS, RULE_KINDS, SEVERITIES } from "../core/rules/types";

const now = sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`;
const createdAt = () => integer("created_at").notNull().default(now);
const updatedAt = () => integer("updated_at").notNull().default(now);
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

const ROLES = Object.keys(ROLE_RANK) as [Role, ...Role[]];

export const adminUsers = sqliteTable("admin_users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  email: text("email").notNull().unique(),
  name: text("name").notNull().default(""),
  role: text("role", { enum: ROLES }).notNull().default("viewer"),
  timezone: text("timezone").notNull().default("UTC"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Admin API tokens and dashboard sessions; only the SHA-256 of the secret is stored. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    adminId: integer("admin_id")
      .notNull()
      .references(() => adminUsers.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["token", "session"] })
      .notNull()
      .default("token"),
    name: text("name").notNull().default(""),
    tokenHash: text("token_hash").notNull().unique(),
    /** First characters of the secret, shown in lists so a token can be recognised. */
    prefix: text("prefix").notNull(),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [index("api_tokens_admin_idx").on(t.adminId)],
);

/**
 * What a key may do: "ingest" pushes samples; "integration" (the Python package's) pushes
 * samples and creates, updates and pings the heartbeat monitors it owns; "heartbeat" keys
 * are kept for keys made before (a heartbeat's URL is its own credential).
 */
export const INGEST_SCOPES = ["ingest", "heartbeat", "integration"] as const;

/** Scoped keys for push ingest and integrations; hashed like admin tokens. */
export const ingestKeys = sqliteTable("ingest_keys", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  scope: text("scope", { enum: INGEST_SCOPES }).notNull(),
  keyHash: text("key_hash").notNull().unique(),
  prefix: text("prefix").notNull(),
  /** Samples per minute this key may push; null means the global default. */
  rateLimitPerMinute: integer("rate_limit_per_minute"),
  createdBy: integer("created_by").references(() => adminUsers.id, { onDelete: "set null" }),
  lastUsedAt: integer("last_used_at"),
  revokedAt: integer("revoked_at"),
  createdAt: createdAt(),
});

export const MONITOR_KINDS = ["http", "prometheus", "heartbeat"] as const;

export const monitors = sqliteTable(
  "monitors",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    service: text("service").notNull(),
    kind: text("kind", { enum: MONITOR_KINDS }).notNull(),
    /** Kind-specific settings (url, method, expect, period, …) as validated JSON. */
    config: json<Record<string, unknown>>("config").notNull(),
    intervalSeconds: integer("interval_seconds").notNull().default(60),
    /** Unguessable path segment of the heartbeat URL (heartbeat monitors only). */
    heartbeatSlug: text("heartbeat_slug").unique(),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** Scheduling (cron-run monitors): when the next run is due, and the lease of a run in progress. */
    nextDueAt: integer("next_due_at"),
    leaseUntil: integer("lease_until"),
    lastRunAt: integer("last_run_at"),
    /** The integration key that created the monitor and keeps it up to date (null: made by an admin). */
    ownerKeyId: integer("owner_key_id").references(() => ingestKeys.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("monitors_service_idx").on(t.service),
    // An integration's monitors by name: two processes starting at once create one monitor.
    uniqueIndex("monitors_owner_name_unique")
      .on(t.ownerKeyId, t.name)
      .where(sql`owner_key_id IS NOT NULL`),
  ],
);

export const escalationPolicies = sqliteTable("escalation_policies", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  description: text("description").notNull().default(""),
  steps: json<unknown[]>("steps").notNull(),
  repeatCount: integer("repeat_count").notNull().default(0),
  /** Reminders while unacknowledged, every this many minutes (null: none). */
  repeatIntervalMinutes: integer("repeat_interval_minutes"),
  /** An acknowledged alert still unresolved after this many minutes escalates again (null: never). */
  ackTimeoutMinutes: integer("ack_timeout_minutes"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const alertRules = sqliteTable(
  "alert_rules",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    ruleName: text("rule_name").notNull(),
    description: text("description").notNull().default(""),
    metricName: text("metric_name").notNull(),
    service: text("service"),
    /** Label equality matchers a sample must carry, e.g. {"region":"tw"}. */
    labels: json<Record<string, string>>("labels").notNull().default({}),
    kind: text("kind", { enum: RULE_KINDS }).notNull().default("threshold"),
    comparisonOperator: text("comparison_operator", { enum: OPERATORS }).notNull().default(">"),
    thresholdValue: real("threshold_value").notNull(),
    forSeconds: integer("for_seconds").notNull().default(0),
    /** How long the condition must be clear before an alert resolves. */
    resolveForSeconds: integer("resolve_for_seconds").notNull().default(0),
    /** Hysteresis: an alert resolves only once the value is back across this (null: the threshold). */
    resolveThresholdValue: real("resolve_threshold_value"),
    /** Services this rule depends on: while one is down, its alerts are inhibited. */
    dependsOn: json<string[]>("depends_on").notNull().default([]),
    /** Kind-specific parameters (ratio denominator, window, anomaly sensitivity, …). */
    params: json<Record<string, unknown>>("params").notNull().default({}),
    severity: text("severity", { enum: SEVERITIES }).notNull(),
    notificationChannels: json<string[]>("notification_channels").notNull(),
    cooldownMinutes: integer("cooldown_minutes").notNull().default(15),
    maxAlertsPerHour: integer("max_alerts_per_hour").notNull().default(4),
    escalationPolicyId: integer("escalation_policy_id").references(() => escalationPolicies.id, {
      onDelete: "set null",
    }),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** Since when a series of the rule has been pending (breaching, `for_seconds` not yet over); null: none. Written by the rule's object as it changes. */
    pendingSince: integer("pending_since"),
    createdBy: integer("created_by").references(() => adminUsers.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("alert_rules_metric_idx").on(t.metricName, t.service)],
);

export const ALERT_STATUSES = ["firing", "acknowledged", "resolved"] as const;

/**
 * One row per alert (a firing episode of a rule). `observed_at` is when the
 * breaching sample was taken, `triggered_at` when the alert fired.
 */
export const alertHistory = sqliteTable(
  "alert_history",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** No foreign key: an alert's history outlives its rule. */
    alertRuleId: integer("alert_rule_id").notNull(),
    service: text("service"),
    fingerprint: text("fingerprint").notNull(),
    /** The labels of the series the alert is about. */
    labels: json<Record<string, string>>("labels").notNull().default({}),
    metricValue: real("metric_value"),
    /** The most extreme value while open, and how many breaching evaluations it absorbed. */
    peakValue: real("peak_value"),
    breachCount: integer("breach_count").notNull().default(1),
    reopenCount: integer("reopen_count").notNull().default(0),
    flapping: integer("flapping", { mode: "boolean" }).notNull().default(false),
    /** Whether a "firing" notification went out (its resolve then always does). */
    firingNotified: integer("firing_notified", { mode: "boolean" }).notNull().default(false),
    alertSeverity: text("alert_severity", { enum: SEVERITIES }).notNull(),
    status: text("status", { enum: ALERT_STATUSES }).notNull().default("firing"),
    message: text("message").notNull().default(""),
    observedAt: integer("observed_at").notNull(),
    triggeredAt: integer("triggered_at").notNull(),
    acknowledgedAt: integer("acknowledged_at"),
    acknowledgedBy: integer("acknowledged_by").references(() => adminUsers.id, {
      onDelete: "set null",
    }),
    resolvedAt: integer("resolved_at"),
    autoResolved: integer("auto_resolved", { mode: "boolean" }).notNull().default(false),
    resolutionNotes: text("resolution_notes"),
    escalationStep: integer("escalation_step").notNull().default(0),
    notificationsSent: integer("notifications_sent").notNull().default(0),
    notificationAttempts: integer("notification_attempts").notNull().default(0),
    /** Deliveries given up (dead after their retries) or failed for good, recomputed from notification_deliveries. */
    notificationsFailed: integer("notifications_failed").notNull().default(0),
  },
  (t) => [
    index("alert_history_rule_idx").on(t.alertRuleId, t.triggeredAt),
    index("alert_history_status_idx").on(t.status, t.triggeredAt),
    // A rule's open alert of a fingerprint: at most one (insertAlert adopts it rather than open another).
    index("alert_history_open_idx")
      .on(t.alertRuleId, t.fingerprint)
      .where(sql`resolved_at IS NULL`),
  ],
);

export const ALERT_EVENT_TYPES = [
  "pending",
  "fired",
  "reopened",
  "resolved",
  "acknowledged",
  "flapping_started",
  "flapping_stopped",
  "notified",
  "silenced",
  "inhibited",
  "rate_limited",
  "escalated",
  "reminded",
  "ack_timeout",
] as const;

/** An alert's timeline: every transition and notification decision, who and when. */
export const alertEvents = sqliteTable(
  "alert_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    alertId: integer("alert_id")
      .notNull()
      .references(() => alertHistory.id, { onDelete: "cascade" }),
    at: integer("at").notNull(),
    type: text("type", { enum: ALERT_EVENT_TYPES }).notNull(),
    /** "engine", or the admin ("admin:<id>") or Slack user who acted. */
    actor: text("actor").notNull().default("engine"),
    value: real("value"),
    note: text("note"),
    details: json<Record<string, unknown>>("details"),
  },
  (t) => [index("alert_events_alert_idx").on(t.alertId, t.at)],
);

export const adminNotificationPreferences = sqliteTable(
  "admin_notification_preferences",
  {
    adminId: integer("admin_id")
      .primaryKey()
      .references(() => adminUsers.id, { onDelete: "cascade" }),
    email: text("email"),
    /** E.164, e.g. +886912345678. */
    phone: text("phone"),
    slackMemberId: text("slack_member_id"),
    emailEnabled: integer("email_enabled", { mode: "boolean" }).notNull().default(true),
    smsEnabled: integer("sms_enabled", { mode: "boolean" }).notNull().default(false),
    slackEnabled: integer("slack_enabled", { mode: "boolean" }).notNull().default(false),
    /** Severities this admin is notified of. */
    severities: json<string[]>("severities").notNull().default(["critical", "warning"]),
    /** "HH:MM" local to `timezone`; both null means no quiet hours. */
    quietHoursStart: text("quiet_hours_start"),
    quietHoursEnd: text("quiet_hours_end"),
    timezone: text("timezone").notNull().default("UTC"),
    criticalBypassesQuietHours: integer("critical_bypasses_quiet_hours", { mode: "boolean" }).notNull().default(true),
    updatedAt: updatedAt(),
  },
  // A Slack member id is one admin's: the signed Slack commands act as whoever holds it.
  (t) => [uniqueIndex("admin_notification_preferences_slack_member_uq").on(t.slackMemberId)],
);

/**
 * One-time codes an admin redeems with `/monitor link <code>` from their Slack account,
 * proving the member id is theirs; only the SHA-256 of the code is stored, one per admin.
 */
export const slackLinkCodes = sqliteTable("slack_link_codes", {
  adminId: integer("admin_id")
    .primaryKey()
    .references(() => adminUsers.id, { onDelete: "cascade" }),
  codeHash: text("code_hash").notNull().unique(),
  expiresAt: integer("expires_at").notNull(),
  createdAt: createdAt(),
});

/** Alertmanager-style silences: every matcher must match an alert's labels. */
export const silences = sqliteTable(
  "silences",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    matchers: json<unknown[]>("matchers").notNull(),
    /** A recurring maintenance window inside [starts_at, ends_at): weekdays, start, duration, zone. */
    recurrence: json<Record<string, unknown>>("recurrence"),
    startsAt: integer("starts_at").notNull(),
    endsAt: integer("ends_at").notNull(),
    createdBy: integer("created_by").references(() => adminUsers.id, { onDelete: "set null" }),
    comment: text("comment").notNull().default(""),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("silences_ends_idx").on(t.endsAt)],
);

/** `digested`: held through quiet hours, then sent as part of one digest (its row is `event` digest). */
export const DELIVERY_STATUSES = ["queued", "sent", "failed", "dead", "skipped", "held", "digested", "outbox"] as const;

export const notificationDeliveries = sqliteTable(
  "notification_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    alertId: integer("alert_id").references(() => alertHistory.id, { onDelete: "cascade" }),
    recipient: text("recipient").notNull(),
    channel: text("channel", { enum: CHANNELS }).notNull(),
    event: text("event").notNull(),
    /** (alert, event, escalation step, recipient, channel): the consumer's exactly-once guard. */
    idempotencyKey: text("idempotency_key").notNull().unique(),
    /** The job as enqueued: the alert snapshot and the target. */
    payload: json<Record<string, unknown>>("payload"),
    attempts: integer("attempts").notNull().default(0),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull().default("queued"),
    providerResponse: text("provider_response"),
    lastError: text("last_error"),
    enqueuedAt: integer("enqueued_at").notNull(),
    deliveredAt: integer("delivered_at"),
    /** While `held`: when the admin's quiet hours end and the digest is due. */
    heldUntil: integer("held_until"),
    /** The provider's id of what was sent: Slack `<channel>/<ts>` (for chat.update), an email Message-ID, … */
    providerMessageId: text("provider_message_id"),
    /**
     * While `queued`: by when the job should have been tried, or tried again. Past it, nothing
     * is carrying the job (a crash, an eviction, a lost queue message) and the outbox sweeper
     * enqueues it again (core/notify/outbox.ts).
     */
    dueAt: integer("due_at"),
  },
  (t) => [
    index("notification_deliveries_alert_idx").on(t.alertId),
    index("notification_deliveries_held_idx").on(t.status, t.heldUntil),
    index("notification_deliveries_due_idx").on(t.status, t.dueAt),
    // The delivery log, newest first (routes/deliveries.ts).
    index("notification_deliveries_enqueued_idx").on(t.enqueuedAt),
  ],
);

/**
 * Metric rollups. One row per series and bucket: raw samples stay in the
 * MetricSeries Durable Object of their family; D1 keeps 1-minute and 1-hour aggregates.
 */
export const systemMetrics = sqliteTable(
  "system_metrics",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    metricName: text("metric_name").notNull(),
    service: text("service").notNull().default(""),
    labels: json<Record<string, string>>("labels").notNull().default({}),
    seriesKey: text("series_key").notNull(),
    resolutionSeconds: integer("resolution_seconds").notNull(),
    bucketStart: integer("bucket_start").notNull(),
    count: integer("count").notNull(),
    sum: real("sum").notNull(),
    min: real("min").notNull(),
    max: real("max").notNull(),
    p50: real("p50"),
    p95: real("p95"),
    p99: real("p99"),
    /** Serialized mergeable quantile sketch, so minute buckets combine into hours. */
    sketch: text("sketch"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("system_metrics_bucket_uq").on(t.seriesKey, t.resolutionSeconds, t.bucketStart),
    index("system_metrics_lookup_idx").on(t.metricName, t.service, t.resolutionSeconds, t.bucketStart),
    // The retention job deletes by age within a resolution.
    index("system_metrics_retention_idx").on(t.resolutionSeconds, t.bucketStart),
  ],
);

export const HEARTBEAT_STATES = ["new", "ok", "running", "late", "failed"] as const;

/** The latest pings of a heartbeat monitor and what they mean. */
export const heartbeatState = sqliteTable("heartbeat_state", {
  monitorId: integer("monitor_id")
    .primaryKey()
    .references(() => monitors.id, { onDelete: "cascade" }),
  state: text("state", { enum: HEARTBEAT_STATES }).notNull().default("new"),
  lastPingAt: integer("last_ping_at"),
  lastStartAt: integer("last_start_at"),
  lastFailAt: integer("last_fail_at"),
  lastExitCode: integer("last_exit_code"),
  lastRuntimeMs: integer("last_runtime_ms"),
  /** Runtimes of recent successful runs (ms, newest last), to flag runs suspiciously fast or slow. */
  recentRuntimesMs: json<number[]>("recent_runtimes_ms").notNull().default([]),
  message: text("message"),
  updatedAt: updatedAt(),
});

/** The dashboard's shared settings: one row (id 1) once saved; defaults until then (core/dashboard-settings). */
export const dashboardSettings = sqliteTable("dashboard_settings", {
  id: integer("id").primaryKey(),
  /** The metric cards in order: `{id, title, metric, service, unit, secondaryMetric}`. */
  cards: json<unknown[]>("cards").notNull(),
  /** Service name → display name. */
  serviceNames: json<Record<string, string>>("service_names").notNull(),
  updatedBy: integer("updated_by").references(() => adminUsers.id, { onDelete: "set null" }),
  updatedAt: updatedAt(),
});

/**
 * The demo's history backfill (demo mode only): one row, written when it starts (with the
 * minute the history ends at, which a resumed run keeps) and completed when it is done.
 */
export const demoBackfill = sqliteTable("demo_backfill", {
  id: integer("id").primaryKey(),
  /** The history covers the days before this minute (epoch ms). */
  anchor: integer("anchor").notNull(),
  startedAt: integer("started_at").notNull(),
  completedAt: integer("completed_at"),
  /** What the completed run stored: raw samples, rollup rows, alerts; and how long it took. */
  rawSamples: integer("raw_samples"),
  rollupRows: integer("rollup_rows"),
  alerts: integer("alerts"),
  durationMs: integer("duration_ms"),
});

export const ANOMALY_DIRECTIONS = ["up", "down"] as const;

/**
 * Anomaly episodes of every series with detection on, written by its series store when one
 * starts, when its peak grows (throttled) and when it ends (`ended_at`, null while ongoing).
 * One row per series and start (the store's writes are upserts on that pair, so a retried
 * write changes nothing).
 */
export const anomalies = sqliteTable(
  "anomalies",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    seriesKey: text("series_key").notNull(),
    metric: text("metric").notNull(),
    service: text("service").notNull(),
    labels: json<Record<string, string>>("labels").notNull().default({}),
    startedAt: integer("started_at").notNull(),
    endedAt: integer("ended_at"),
    peakScore: real("peak_score").notNull(),
    peakAt: integer("peak_at").notNull(),
    direction: text("direction", { enum: ANOMALY_DIRECTIONS }).notNull(),
    /** The value at the peak, and what the detector expected there (null while it knew nothing). */
    observed: real("observed").notNull(),
    expected: real("expected"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("anomalies_series_start_idx").on(t.seriesKey, t.startedAt),
    // The list: newest first, optionally of one metric or service.
    index("anomalies_started_idx").on(t.startedAt),
    index("anomalies_metric_idx").on(t.metric, t.service, t.startedAt),
  ],
);

/**
 * "Expected" feedback: an administrator marked an anomaly or an anomaly alert as expected.
 * The series' store damps later judgements that match the pattern (core/anomaly/feedback.ts):
 * same direction, within the UTC minute-of-day window ± 30 min, on `weekday` when set
 * (null: every day), magnitude at most 1.5× this one. Deleting a row undoes it.
 */
export const anomalyFeedback = sqliteTable(
  "anomaly_feedback",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    seriesKey: text("series_key").notNull(),
    metric: text("metric").notNull(),
    service: text("service").notNull(),
    labels: json<Record<string, string>>("labels").notNull().default({}),
    direction: text("direction", { enum: ANOMALY_DIRECTIONS }).notNull(),
    minuteOfDayFrom: integer("minute_of_day_from").notNull(),
    minuteOfDayTo: integer("minute_of_day_to").notNull(),
    weekday: integer("weekday"),
    /** |observed − expected| / |expected| at the marked peak; null: any magnitude. */
    magnitude: real("magnitude"),
    note: text("note").notNull().default(""),
    createdBy: integer("created_by").references(() => adminUsers.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    /** What was marked: an anomaly of the list, or an alert of an anomaly rule (no foreign key: history outlives it). */
    anomalyId: integer("anomaly_id"),
    alertId: integer("alert_id"),
  },
  (t) => [
    index("anomaly_feedback_family_idx").on(t.metric, t.service),
    // One mark per anomaly and per alert (409 otherwise).
    uniqueIndex("anomaly_feedback_anomaly_idx").on(t.anomalyId),
    uniqueIndex("anomaly_feedback_alert_idx").on(t.alertId),
  ],
);

export const AUDIT_VIA = ["api", "dashboard", "slack", "config-import", "integration", "system"] as const;

/**
 * The audit trail: who changed which configuration or acted on which alert, when, from where,
 * and the object before → after (secrets redacted by core/audit.ts before they get here).
 * Append-only; newest first by (at, id) for the list.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    /** Null for the system, or a Slack user linked to no admin. */
    actorAdminId: integer("actor_admin_id"),
    /** The admin's email, or "slack:U123", or "system": readable after the admin is deleted. */
    actorLabel: text("actor_label").notNull(),
    via: text("via", { enum: AUDIT_VIA }).notNull(),
    /** "<target type>.<verb>", e.g. "rule.update", "alert.acknowledge". */
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    before: json<Record<string, unknown>>("before"),
    after: json<Record<string, unknown>>("after"),
    note: text("note"),
  },
  (t) => [
    index("audit_log_at_idx").on(t.at, t.id),
    index("audit_log_target_idx").on(t.targetType, t.targetId, t.at),
    index("audit_log_actor_idx").on(t.actorAdminId, t.at),
    index("audit_log_action_idx").on(t.action, t.at),
  ],
);

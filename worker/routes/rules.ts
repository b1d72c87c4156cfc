/** Alert rules: CRUD plus the dry run `POST /rules/{id}/test`. */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import {
  evaluateFingerprints,
  type KnownSeries,
  type RuleInputs,
  type SeriesWindow,
  worstEvaluation,
} from "../core/rules/evaluate";
import { BACKSTOP_MS, SERIES_BACKSTOP_MS } from "../core/alerts/step";
import type { LatestJudgement } from "../core/anomaly/scoring";
import { backtestCost, backtestRule, detectorJudgements, usesDetector } from "../core/rules/backtest";
import { SHARED_RECIPIENT, type NotificationJob } from "../core/alerts/jobs";
import { previewChannel } from "../core/notify/preview";
import { alertMessage, renderAlertText } from "../core/rules/render";
import {
  AGGREGATIONS,
  ANOMALY_DIRECTIONS,
  ANOMALY_METHODS,
  CHANNELS,
  evaluatedBySeries,
  HEARTBEAT_METRIC,
  lookbackSeconds,
  OPERATORS,
  RULE_KINDS,
  type Rule,
  ruleMetrics,
  SENSITIVITIES,
  SEVERITIES,
  selectsSeries,
  ZSCORE_DEFAULTS,
} from "../core/rules/types";
import { SENSITIVITY_THRESHOLDS } from "../core/anomaly";
import { type Sample, seriesKey } from "../core/series";
import { getDb } from "../db/client";
import { paramsToWire, rowToRule } from "../db/rules";
import { alertRules, escalationPolicies, monitors } from "../db/schema";
import { ApiError, badRequest, type ErrorDetail, notFound } from "../lib/errors";
import { readBacktestHistory } from "../lib/history/backtest";
import { familyStub, seriesIndex } from "../lib/series";
import { commonErrors, errorResponse, IdParams, issuesToDetails, jsonBody, jsonResponse, notFoundError } from "./api";
import { crudRoutes, defineResource } from "./crud";
import { iso, LabelSet, MetricName, Name, ServiceName, Timestamps } from "./fields";

const Seconds = (max: number) => z.number().int().min(1).max(max);

/**
 * An anomaly rule's method when its params name none: the z-score when they give its window or
 * samples (as every anomaly rule written before the detector, and its exported configuration,
 * does), else the detector, the default for new rules.
 */
function impliedMethod(params: object): "detector" | "zscore" {
  return "window_seconds" in params || "min_samples" in params ? "zscore" : "detector";
}

/** Parameters each rule kind needs, snake_case as stored and sent. */
const ParamsByKind = {
  threshold: z
    .object({
      aggregation: z.enum(AGGREGATIONS).default("last"),
      window_seconds: z.number().int().min(0).max(86_400).optional(),
    })
    .strict()
    .superRefine((p, ctx) => {
      if (p.aggregation !== "last" && p.window_seconds === 0) {
        ctx.addIssue({ code: "custom", path: ["window_seconds"], message: `must be at least 1 for ${p.aggregation}` });
      }
    })
    // `last` reads the newest sample (0) unless given a window, while it is fresh (evaluate.ts,
    // freshnessBoundMs); aggregates default to 5 minutes.
    .transform((p) => ({
      aggregation: p.aggregation,
      window_seconds: p.window_seconds ?? (p.aggregation === "last" ? 0 : 300),
    })),
  ratio: z
    .object({
      denominator_metric: MetricName,
      window_seconds: Seconds(86_400).default(300),
      min_denominator: z.number().min(0).max(1e12).default(10).openapi({
        description: "Below this denominator sum over the window the ratio is not judged (no data)",
      }),
    })
    .strict(),
  absence: z.object({ absent_for_seconds: Seconds(7 * 86_400) }).strict(),
  heartbeat: z
    .object({
      monitor_id: z
        .number()
        .int()
        .positive()
        .nullable()
        .default(null)
        .openapi({ description: "A heartbeat monitor; null: every heartbeat monitor of the rule's service" }),
    })
    .strict(),
  anomaly: z.preprocess(
    (p) => (typeof p === "object" && p !== null && !("method" in p) ? { ...p, method: impliedMethod(p) } : p),
    z
      .object({
        method: z
          .enum(ANOMALY_METHODS)
          .default("detector")
          .openapi({
            description:
              "detector: the series' streaming detector scores each sample (sensitivity applies; operator and threshold are not used); " +
              "zscore: the robust z-score of the newest sample against window_seconds, compared with the threshold",
          }),
        sensitivity: z
          .enum(SENSITIVITIES)
          .default("medium")
          .openapi({
            description: `Method detector: the score that fires (${SENSITIVITIES.map((s) => `${s} ≥ ${SENSITIVITY_THRESHOLDS[s]}`).join(", ")}); low: only strong anomalies`,
          }),
        direction: z
          .enum(ANOMALY_DIRECTIONS)
          .default("both")
          .openapi({ description: "Which anomalies count: above (up) or below (down) the expected value, or both" }),
        window_seconds: Seconds(30 * 86_400)
          .default(ZSCORE_DEFAULTS.windowSeconds)
          .openapi({ description: "Method zscore: the trailing window the newest sample is compared with" }),
        min_samples: z
          .number()
          .int()
          .min(5)
          .max(10_000)
          .default(ZSCORE_DEFAULTS.minSamples)
          .openapi({ description: "Method zscore: samples the window must hold before the newest is judged" }),
      })
      .strict(),
  ),
} satisfies Record<(typeof RULE_KINDS)[number], z.ZodType>;

const RuleFields = z
  .object({
    rule_name: Name.openapi({ example: "Payment Failure Rate > 5%" }),
    description: z.string().max(2000).default(""),
    metric_name: MetricName.openapi({ example: "payment_failure_rate" }),
    service: ServiceName.nullable().default(null).openapi({ example: "ecpay" }),
    labels: LabelSet.default({}),
    kind: z.enum(RULE_KINDS).default("threshold"),
    comparison_operator: z.enum(OPERATORS).default(">"),
    threshold_value: z
      .number()
      .refine(Number.isFinite, "must be a finite number")
      .optional()
      .openapi({
        description: `Required except for anomaly rules (method zscore: default ${ZSCORE_DEFAULTS.threshold}; method detector: not used)`,
      }),
    for_seconds: z.number().int().min(0).max(86_400).default(0),
    resolve_for_seconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(0)
      .openapi({ description: "How long the condition must be clear before an alert resolves" }),
    resolve_threshold_value: z
      .number()
      .refine(Number.isFinite, "must be a finite number")
      .nullable()
      .default(null)
      .openapi({ description: "Hysteresis: an alert resolves once back across this value (null: the threshold)" }),
    depends_on: z
      .array(ServiceName)
      .max(20)
      .refine((xs) => new Set(xs).size === xs.length, "services must not repeat")
      .default([])
      .openapi({ description: "Services whose outage inhibits this rule's alerts" }),
    params: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({
        description:
          "The kind's parameters. threshold: aggregation, window_seconds; ratio: denominator_metric, window_seconds, " +
          "min_denominator; absence: absent_for_seconds; heartbeat: monitor_id; anomaly: method (detector | zscore, " +
          "default detector), sensitivity (low | medium | high: detector scores of at least " +
          `${SENSITIVITIES.map((s) => SENSITIVITY_THRESHOLDS[s]).join(" / ")}; low: only strong anomalies), ` +
          `direction (up | down | both), and for zscore window_seconds (default ${ZSCORE_DEFAULTS.windowSeconds}) ` +
          `and min_samples (default ${ZSCORE_DEFAULTS.minSamples}). An anomaly rule's for_seconds is its minimum duration.`,
      }),
    severity: z.enum(SEVERITIES),
    notification_channels: z
      .array(z.enum(CHANNELS))
      .min(1, "choose at least one channel")
      .refine((xs) => new Set(xs).size === xs.length, "channels must not repeat"),
    cooldown_minutes: z.number().int().min(0).max(1440).default(15),
    max_alerts_per_hour: z.number().int().min(1).max(60).default(4),
    escalation_policy_id: z.number().int().positive().nullable().default(null),
    is_active: z.boolean().default(true),
  })
  .openapi("RuleInput");

type RuleInput = z.output<typeof RuleFields>;

const RuleOut = RuleFields.extend({
  id: z.number().int(),
  threshold_value: z.number(),
  params: z.record(z.string(), z.unknown()),
  created_by: z.number().int().nullable(),
  pending_since: z.string().nullable().openapi({
    description: "Since when a series of the rule has been pending (breaching, for_seconds not yet over); null: none",
  }),
  ...Timestamps,
}).openapi("Rule");

/** Checks across fields: params of the kind, heartbeat's metric, the side hysteresis sits on, dependencies. */
function refineRule(input: RuleInput, issue: (field: string, reason: string) => void) {
  const parsed = ParamsByKind[input.kind].safeParse(input.params);
  if (!parsed.success) {
    for (const d of issuesToDetails(parsed.error.issues, ["params"])) issue(d.field ?? "params", d.reason);
  }
  if (input.threshold_value === undefined && input.kind !== "anomaly") issue("threshold_value", "required");
  const detector = input.kind === "anomaly" && parsed.success && anomalyMethod(input) === "detector";
  if (input.kind === "heartbeat" && input.metric_name !== HEARTBEAT_METRIC) {
    issue("metric_name", `heartbeat rules watch "${HEARTBEAT_METRIC}"`);
  }
  const resolve = input.resolve_threshold_value;
  const { comparison_operator: op } = input;
  const threshold = thresholdOf(input);
  if (resolve !== null) {
    if (input.kind === "absence" || input.kind === "heartbeat") {
      issue("resolve_threshold_value", `${input.kind} rules have no threshold to resolve across`);
    } else if (detector) {
      issue("resolve_threshold_value", "anomaly rules of method detector have no threshold to resolve across");
    } else if (op === "==" || op === "!=") {
      issue("resolve_threshold_value", "only allowed with >, >=, < or <= (hysteresis needs a direction)");
    } else if ((op === ">" || op === ">=") && resolve > threshold) {
      issue("resolve_threshold_value", `must be at most threshold_value (${threshold}) for a ${op} rule`);
    } else if ((op === "<" || op === "<=") && resolve < threshold) {
      issue("resolve_threshold_value", `must be at least threshold_value (${threshold}) for a ${op} rule`);
    }
  }
  if (input.service !== null && input.depends_on.includes(input.service)) {
    issue("depends_on", `must not include the rule's own service (${input.service})`);
  }
}

/** An anomaly rule's method as its params give or imply it. */
function anomalyMethod(input: RuleInput): string {
  const method = (input.params as { method?: unknown }).method;
  return typeof method === "string" ? method : impliedMethod(input.params);
}

/**
 * The stored threshold: as given; for an anomaly rule without one, the z-score's default
 * (method zscore) or 0 (method detector, which does not read it).
 */
function thresholdOf(input: RuleInput): number {
  if (input.threshold_value !== undefined) return input.threshold_value;
  return input.kind === "anomaly" && anomalyMethod(input) === "zscore" ? ZSCORE_DEFAULTS.threshold : 0;
}

/** References to other rows: the escalation policy, a heartbeat rule's monitor. */
async function checkReferences(input: RuleInput, env: Env) {
  const db = getDb(env.DB);
  const details: ErrorDetail[] = [];
  if (input.escalation_policy_id !== null) {
    const [policy] = await db
      .select({ id: escalationPolicies.id })
      .from(escalationPolicies)
      .where(eq(escalationPolicies.id, input.escalation_policy_id));
    if (!policy) details.push({ field: "escalation_policy_id", reason: "no such escalation policy" });
  }
  const monitorId = input.kind === "heartbeat" ? ParamsByKind.heartbeat.parse(input.params).monitor_id : null;
  if (monitorId !== null) {
    const [monitor] = await db
      .select({ kind: monitors.kind, service: monitors.service })
      .from(monitors)
      .where(eq(monitors.id, monitorId));
    const reason = !monitor
      ? `no monitor with id ${monitorId}`
      : monitor.kind !== "heartbeat"
        ? `monitor ${monitorId} is not a heartbeat monitor (it is ${monitor.kind})`
        : input.service !== null && monitor.service !== input.service
          ? `monitor ${monitorId} belongs to service ${monitor.service}, not ${input.service}`
          : null;
    if (reason) details.push({ field: "params.monitor_id", reason });
  }
  if (details.length) throw badRequest(details, "Invalid rule.");
}

type RuleRow = typeof alertRules.$inferSelect;

/** Validated input → the rule's column values (all but who created it). */
function inputValues(input: RuleInput) {
  return {
    ruleName: input.rule_name,
    description: input.description,
    metricName: input.metric_name,
    service: input.service,
    labels: input.labels,
    kind: input.kind,
    comparisonOperator: input.comparison_operator,
    thresholdValue: thresholdOf(input),
    forSeconds: input.for_seconds,
    resolveForSeconds: input.resolve_for_seconds,
    resolveThresholdValue: input.resolve_threshold_value,
    dependsOn: input.depends_on,
    params: ParamsByKind[input.kind].parse(input.params) as Record<string, unknown>,
    severity: input.severity,
    notificationChannels: input.notification_channels,
    cooldownMinutes: input.cooldown_minutes,
    maxAlertsPerHour: input.max_alerts_per_hour,
    escalationPolicyId: input.escalation_policy_id,
    isActive: input.is_active,
  };
}

export const ruleResource = defineResource({
  noun: "Rule",
  collection: "rules",
  table: alertRules,
  fields: RuleFields,
  output: RuleOut,
  refine: refineRule,
  check: (input, { env }) => checkReferences(input, env),
  toInput: rowToInput,
  toValues: (input, { actor, existing }) => ({
    values: { ...inputValues(input), createdBy: existing ? existing.createdBy : actor.adminId },
  }),
  extraOutput: (row) => ({
    created_by: row.createdBy,
    pending_since: row.pendingSince === null ? null : iso(row.pendingSince),
  }),
  afterWrite: async (env, id, row) => {
    // The rule's object evaluates it (or, disabled or deleted, resolves its open alerts),
    // and the metric families it reads start pushing their samples to it.
    await env.ALERT_RULE.getByName(String(id)).configure(
      row && row.isActive ? rowToRule(row) : null,
      row ? "disabled" : "deleted",
    );
    if (row) await tellFamilies(env, rowToRule(row));
  },
});

export const rules = crudRoutes(ruleResource);

function rowToInput(row: RuleRow) {
  return {
    rule_name: row.ruleName,
    description: row.description,
    metric_name: row.metricName,
    service: row.service,
    labels: row.labels,
    kind: row.kind,
    comparison_operator: row.comparisonOperator,
    threshold_value: row.thresholdValue,
    for_seconds: row.forSeconds,
    resolve_for_seconds: row.resolveForSeconds,
    resolve_threshold_value: row.resolveThresholdValue,
    depends_on: row.dependsOn,
    // Normalised through the core rule: defaults filled in, older spellings updated.
    params: paramsToWire(rowToRule(row)),
    severity: row.severity,
    notification_channels: row.notificationChannels as (typeof CHANNELS)[number][],
    cooldown_minutes: row.cooldownMinutes,
    max_alerts_per_hour: row.maxAlertsPerHour,
    escalation_policy_id: row.escalationPolicyId,
    is_active: row.isActive,
  };
}

const SeriesVerdict = z.object({
  fingerprint: z.string(),
  service: z.string(),
  labels: z.record(z.string(), z.string()),
  state: z.enum(["firing", "ok", "no_data"]),
  value: z.number().nullable(),
  observed_at: z.string().nullable(),
  reason: z.string(),
});

const TestResult = z
  .object({
    rule_id: z.number().int().nullable().openapi({ description: "Null for an unsaved rule" }),
    would_fire: z.boolean(),
    state: z.enum(["firing", "ok", "no_data"]),
    value: z.number().nullable(),
    observed_at: z.string().nullable(),
    reason: z.string(),
    notification: z.object({
      title: z.string(),
      body: z.string(),
      channels: z.array(z.string()),
      previews: z
        .array(z.object({ channel: z.string(), content: z.string(), note: z.string().nullable() }))
        .openapi({ description: "The firing notification as each of the rule's channels would send it" }),
    }),
    series: z.array(SeriesVerdict).openapi({ description: "The verdict of every series the rule selects" }),
  })
  .openapi("RuleTestResult");

/** Every series of a metric family with samples since `since`, one window each. */
async function familyWindows(env: Env, metric: string, service: string, since: number): Promise<SeriesWindow[]> {
  const windows = new Map<string, { service: string; labels: Sample["labels"]; samples: Sample[] }>();
  for (const s of await familyStub(env, metric, service).sinceAll(since)) {
    const key = seriesKey(metric, s.service, s.labels);
    const window = windows.get(key) ?? { service: s.service, labels: s.labels, samples: [] };
    window.samples.push(s);
    windows.set(key, window);
  }
  return [...windows.values()];
}

/**
 * The data the engine would evaluate the rule on now, read from the series store: the
 * families of its metrics (on every service the index knows them on, for a rule without
 * one), heartbeat series' newest samples with their messages, and an absence rule's
 * previously seen series from the index.
 */
async function readRuleInputs(env: Env, rule: Rule, now: number): Promise<RuleInputs> {
  // Rules on the newest sample (lookback 0) read a day, enough to find it in the raw window.
  const since = now - (lookbackSeconds(rule) || 86_400) * 1000;
  const metrics = ruleMetrics(rule);
  const indexed =
    rule.service === null || rule.kind === "absence"
      ? await Promise.all(
          metrics.map((metric) =>
            seriesIndex(env).list(rule.service === null ? { metric } : { metric, service: rule.service }),
          ),
        )
      : metrics.map((): Sample[] => []);
  const [series = [], denominator] = await Promise.all(
    metrics.map(async (metric, i) => {
      const mine = indexed[i]?.filter((s) => selectsSeries(rule, s.service, s.labels)) ?? [];
      const services = rule.service === null ? [...new Set(mine.map((s) => s.service))] : [rule.service];
      const windows = (await Promise.all(services.map((svc) => familyWindows(env, metric, svc, since)))).flat();
      return windows.filter((w) => selectsSeries(rule, w.service, w.labels));
    }),
  );
  if (rule.kind === "heartbeat") {
    // Stored samples keep no message; the newest one, read alone, has it ("late: …", "failed: exit code 2").
    const latest = await Promise.all(
      series.map((w) =>
        familyStub(env, rule.metricName, w.service).latest(seriesKey(rule.metricName, w.service, w.labels)),
      ),
    );
    // The samples before it stay: they give the series' freshness bound, as in the engine.
    return {
      series: series.map((w, i) => {
        const newest = latest[i];
        if (!newest) return w;
        return { ...w, samples: [...w.samples.filter((s) => s.ts < newest.ts), newest] };
      }),
    };
  }
  const known: KnownSeries[] =
    rule.kind === "absence"
      ? (indexed[0] ?? []).map((s) => ({ service: s.service, labels: s.labels, lastSeenAt: s.ts }))
      : [];
  return { series, denominator, known };
}

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

const byFingerprint = (a: { fingerprint: string }, b: { fingerprint: string }) =>
  a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0;

/** The dry run: the same core code the engine runs, on the same kind of snapshot, now. */
async function dryRun(env: Env, rule: Rule, ruleId: number | null) {
  const now = Date.now();
  const inputs = await readRuleInputs(env, rule, now);
  // The judgement of each series' newest sample by the series' own detector, as the engine
  // reads it; for a series it has not judged (detection off), a detector run over the stored
  // window (a day), which may still be learning.
  if (usesDetector(rule)) {
    const live = new Map<string, Promise<Record<string, LatestJudgement>>>();
    const judged = (service: string) => {
      let p = live.get(service);
      if (!p) live.set(service, (p = familyStub(env, rule.metricName, service).latestJudgements()));
      return p;
    };
    inputs.series = await Promise.all(
      inputs.series.map(async (w) => {
        const newest = w.samples.at(-1);
        const own = (await judged(w.service))[seriesKey(rule.metricName, w.service, w.labels)];
        const anomaly = own && newest && own.ts === newest.ts ? own : detectorJudgements(w.samples).at(-1);
        return anomaly ? { ...w, anomaly } : w;
      }),
    );
  }
  const evaluations = evaluateFingerprints(rule, inputs, now);
  const worst = worstEvaluation(rule, evaluations) ?? {
    state: "no_data" as const,
    value: null,
    observedAt: null,
    reason: `no ${rule.metricName} series${rule.service ? ` on ${rule.service}` : ""} matches the rule`,
  };
  const text = renderAlertText(rule, worst, now);
  // The firing notification each of the rule's channels would send, from the same renderers.
  const job: NotificationJob = {
    idempotencyKey: `dry-run:${ruleId ?? "unsaved"}`,
    alertId: 0,
    event: "firing",
    occurrence: "firing",
    step: 0,
    recipient: { adminId: SHARED_RECIPIENT },
    channel: "",
    enqueuedAt: now,
    alert: {
      id: 0,
      ruleId: ruleId ?? 0,
      ruleName: rule.ruleName,
      service: ("service" in worst ? worst.service : null) || rule.service,
      labels: "labels" in worst ? { ...worst.labels } : {},
      severity: rule.severity,
      status: "firing",
      value: worst.value,
      peakValue: null,
      message: alertMessage(rule, worst),
      observedAt: worst.observedAt ?? now,
      triggeredAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
    },
  };
  const previews = rule.notificationChannels.flatMap((channel) => {
    try {
      const p = previewChannel({ ...job, channel }, channel, now);
      return p ? [p] : [];
    } catch (err) {
      return [{ channel, content: "", note: `not rendered: ${err instanceof Error ? err.message : String(err)}` }];
    }
  });
  return {
    rule_id: ruleId,
    would_fire: worst.state === "firing",
    state: worst.state,
    value: worst.value,
    observed_at: isoOrNull(worst.observedAt),
    reason: worst.reason,
    notification: { ...text, channels: rule.notificationChannels, previews },
    series: [...evaluations].sort(byFingerprint).map((e) => ({
      fingerprint: e.fingerprint,
      service: e.service,
      labels: { ...e.labels },
      state: e.state,
      value: e.value,
      observed_at: isoOrNull(e.observedAt),
      reason: e.reason,
    })),
  };
}

const testResponses = {
  200: jsonResponse(TestResult, "The verdict (of the worst series), every series' verdict and a notification preview"),
  ...commonErrors,
};

rules.openapi(
  createRoute({
    method: "post",
    path: "/rules/{id}/test",
    tags: ["rules"],
    summary:
      "Dry-run a rule against the latest data: would it fire, on which series, and the notification it would send",
    request: { params: IdParams },
    responses: { ...testResponses, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const [row] = await getDb(c.env.DB).select().from(alertRules).where(eq(alertRules.id, id));
    if (!row) throw notFound(`Rule ${id}`);
    return c.json(await dryRun(c.env, rowToRule(row), id), 200);
  },
);

// ------------------------------------------------------------------ backtest

const BACKTEST_PERIODS = ["24h", "7d"] as const;
type BacktestPeriod = (typeof BACKTEST_PERIODS)[number];
const PERIOD_MS: Record<BacktestPeriod, number> = { "24h": 86_400_000, "7d": 7 * 86_400_000 };
/** Most replay work (evaluations × samples each reads, see backtestCost) one request may ask for. */
export const MAX_BACKTEST_COST = 30_000_000;

const Period = z.enum(BACKTEST_PERIODS).default("7d").openapi({ description: "How far back to replay, up to now" });

const BacktestBody = RuleFields.extend({ period: Period }).openapi("RuleBacktestInput");
const SavedBacktestBody = z.object({ period: Period }).strict();

const Iso = z.string().openapi({ format: "date-time" });
const BacktestNotificationOut = z.object({
  at: Iso,
  event: z.enum(["firing", "resolved"]),
  outcome: z.enum(["sent", "rate_limited", "skipped"]),
  reopen: z.boolean().optional().openapi({ description: "A firing telling people a resolved alert is back" }),
});
const BacktestOut = z
  .object({
    rule_id: z.number().int().nullable().openapi({ description: "Null for an unsaved rule" }),
    period: z.enum(BACKTEST_PERIODS),
    from: Iso,
    to: Iso,
    evaluation: z.string().openapi({ description: "When the replay evaluates the rule (as the engine does)" }),
    resolution: z
      .array(z.object({ source: z.enum(["minute_rollups", "raw"]), from: Iso, to: Iso }))
      .openapi({ description: "Which stored resolution fed each part of the range" }),
    notification_kinds: z.array(z.string()).openapi({ description: "The notifications counted" }),
    summary: z.object({
      alerts: z.number().int(),
      reopens: z.number().int(),
      notifications: z.number().int(),
      firing_notifications: z.number().int(),
      resolved_notifications: z.number().int(),
      rate_limited: z.number().int(),
      firing_seconds: z.number(),
      pending_seconds: z.number(),
      series_alerting: z.number().int(),
      series_evaluated: z.number().int(),
      samples: z.number().int(),
      evaluations: z.number().int(),
    }),
    series: z.array(
      z.object({
        fingerprint: z.string(),
        service: z.string(),
        labels: z.record(z.string(), z.string()),
        notifications: z.number().int(),
        rate_limited: z.number().int(),
        bands: z
          .array(z.object({ state: z.enum(["pending", "firing", "resolving", "resolved"]), from: Iso, to: Iso }))
          .openapi({ description: "State stretches for a chart; ok between them. resolved: within cooldown" }),
        episodes: z.array(
          z.object({
            fired_at: Iso,
            resolved_at: Iso.nullable(),
            reopened_at: z.array(Iso),
            peak_value: z.number().nullable(),
            breaches: z.number().int(),
            flapping: z.boolean(),
            notifications: z.array(BacktestNotificationOut),
          }),
        ),
      }),
    ),
  })
  .openapi("RuleBacktestResult");

/** The create route's validation of a rule body (unknown fields refused, read-only ones ignored). */
const RuleCheck = RuleFields.strict().superRefine((input, ctx) =>
  refineRule(input, (field, reason) => ctx.addIssue({ code: "custom", path: field.split("."), message: reason })),
);
const READ_ONLY = new Set(["id", "created_by", "created_at", "updated_at"]);

function parsePeriod(value: unknown): BacktestPeriod {
  const parsed = Period.safeParse(value);
  if (!parsed.success) throw badRequest(issuesToDetails(parsed.error.issues, ["period"]), "Invalid backtest.");
  return parsed.data;
}

/** The rule an unsaved body describes, validated as a create is (400 with each field and why). */
async function ruleFromBody(env: Env, body: unknown): Promise<{ rule: Rule; period: BacktestPeriod }> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest([{ reason: "must be a JSON object" }], "Invalid rule.");
  }
  const { period, ...rest } = body as Record<string, unknown>;
  const fields = Object.fromEntries(Object.entries(rest).filter(([k]) => !READ_ONLY.has(k)));
  const parsed = RuleCheck.safeParse(fields);
  if (!parsed.success) throw badRequest(issuesToDetails(parsed.error.issues), "Invalid rule.");
  await checkReferences(parsed.data, env);
  const now = Date.now();
  const row = { id: 0, ...inputValues(parsed.data), createdBy: null, createdAt: now, updatedAt: now } as RuleRow;
  return { rule: rowToRule(row), period: parsePeriod(period) };
}

/** Replays the rule over its stored history with the engine's own code (core/rules/backtest). */
async function runBacktest(env: Env, rule: Rule, period: BacktestPeriod, ruleId: number | null) {
  const now = Date.now();
  const from = now - PERIOD_MS[period];
  const history = await readBacktestHistory(env, rule, from, now);
  const input = { rule, series: history.series, denominator: history.denominator, from, to: now };
  const cost = backtestCost(input);
  if (cost > MAX_BACKTEST_COST) {
    const reason = `replaying ${history.points} samples over the rule's window is too much work; choose the 24h period, a shorter window or fewer series`;
    throw new ApiError(413, `The backtest is too large: ${reason}.`, { details: [{ field: "period", reason }] });
  }
  const result = backtestRule(input);
  const rawFrom = Math.max(from, history.rawFrom);
  const resolution = [
    ...(from < rawFrom ? [{ source: "minute_rollups" as const, from: iso(from), to: iso(rawFrom) }] : []),
    { source: "raw" as const, from: iso(rawFrom), to: iso(now) },
  ];
  const s = result.summary;
  return {
    rule_id: ruleId,
    period,
    from: iso(from),
    to: iso(now),
    evaluation:
      "on every stored sample, and on the rule's alarm: at each lifecycle deadline, else after " +
      `${(evaluatedBySeries(rule) ? SERIES_BACKSTOP_MS : BACKSTOP_MS) / 1000}s without an evaluation`,
    resolution,
    notification_kinds: ["firing", "resolved"],
    summary: {
      alerts: s.alerts,
      reopens: s.reopens,
      notifications: s.notifications,
      firing_notifications: s.firingNotifications,
      resolved_notifications: s.resolvedNotifications,
      rate_limited: s.rateLimited,
      firing_seconds: s.firingMs / 1000,
      pending_seconds: s.pendingMs / 1000,
      series_alerting: s.seriesAlerting,
      series_evaluated: history.series.length,
      samples: history.points,
      evaluations: s.evaluations,
    },
    series: result.series.map((x) => ({
      fingerprint: x.fingerprint,
      service: x.service,
      labels: { ...x.labels },
      notifications: x.notifications,
      rate_limited: x.rateLimited,
      bands: x.bands.map((b) => ({ state: b.state, from: iso(b.from), to: iso(b.to) })),
      episodes: x.episodes.map((e) => ({
        fired_at: iso(e.firedAt),
        resolved_at: isoOrNull(e.resolvedAt),
        reopened_at: e.reopenedAt.map(iso),
        peak_value: e.peakValue,
        breaches: e.breaches,
        flapping: e.flapping,
        notifications: e.notifications.map((n) => ({
          at: iso(n.at),
          event: n.event,
          outcome: n.outcome,
          ...(n.reopen && { reopen: true }),
        })),
      })),
    })),
  };
}

const backtestResponses = {
  200: jsonResponse(
    BacktestOut,
    "Where the rule would have been pending, firing and resolved, and what it would have sent",
  ),
  ...commonErrors,
  413: errorResponse("Too many series or samples to replay: narrow the rule or choose the 24h period"),
};

rules.openapi(
  createRoute({
    method: "post",
    path: "/rules/backtest",
    tags: ["rules"],
    summary: "Backtest an unsaved rule over the stored history of the last 24 hours or 7 days",
    request: jsonBody(BacktestBody, "A rule as for create, plus the period to replay"),
    responses: backtestResponses,
  }),
  async (c) => {
    const { rule, period } = await ruleFromBody(c.env, await c.req.json());
    return c.json(await runBacktest(c.env, rule, period, null), 200);
  },
);

rules.openapi(
  createRoute({
    method: "post",
    path: "/rules/{id}/backtest",
    tags: ["rules"],
    summary: "Backtest a saved rule over the stored history of the last 24 hours or 7 days",
    request: { params: IdParams, ...jsonBody(SavedBacktestBody, "The period to replay (default 7d)") },
    responses: { ...backtestResponses, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { period } = c.req.valid("json");
    const [row] = await getDb(c.env.DB).select().from(alertRules).where(eq(alertRules.id, id));
    if (!row) throw notFound(`Rule ${id}`);
    return c.json(await runBacktest(c.env, rowToRule(row), period, id), 200);
  },
);

rules.openapi(
  createRoute({
    method: "post",
    path: "/rules/test",
    tags: ["rules"],
    summary: "Dry-run an unsaved rule against the latest data (validated as a create is)",
    request: jsonBody(RuleFields, "A rule as for create"),
    responses: testResponses,
  }),
  async (c) => {
    const { rule } = await ruleFromBody(c.env, await c.req.json());
    return c.json(await dryRun(c.env, rule, null), 200);
  },
);

/** Makes the metric families a rule reads look up their rules again at their next sample. */
async function tellFamilies(env: Env, rule: ReturnType<typeof rowToRule>): Promise<void> {
  const index = seriesIndex(env);
  for (const metric of ruleMetrics(rule)) {
    const services =
      rule.service !== null ? [rule.service] : [...new Set((await index.list({ metric })).map((s) => s.service))];
    await Promise.all(services.map((service) => familyStub(env, metric, service).rulesChanged()));
  }
}

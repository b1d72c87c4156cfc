/** Alert rules: CRUD plus the dry run `POST /rules/{id}/test`. */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { evaluateRule } from "../core/rules/evaluate";
import { renderAlertText } from "../core/rules/render";
import { CHANNELS, lookbackSeconds, OPERATORS, RULE_KINDS, SEVERITIES } from "../core/rules/types";
import { getDb } from "../db/client";
import { rowToRule } from "../db/rules";
import { alertRules, escalationPolicies } from "../db/schema";
import { badRequest, notFound } from "../lib/errors";
import { readSeries } from "../lib/series";
import { commonErrors, IdParams, jsonResponse, notFoundError } from "./api";
import { crudRoutes } from "./crud";
import { iso, LabelSet, MetricName, Name, ServiceName, Timestamps } from "./fields";

const Seconds = (max: number) => z.number().int().min(1).max(max);

/** Parameters each rule kind needs, snake_case as stored and sent. */
const ParamsByKind = {
  threshold: z.object({}).strict(),
  ratio: z.object({ denominator_metric: MetricName, window_seconds: Seconds(86_400).default(300) }).strict(),
  absence: z.object({ window_seconds: Seconds(7 * 86_400) }).strict(),
  anomaly: z
    .object({
      window_seconds: Seconds(30 * 86_400).default(3600),
      min_samples: z.number().int().min(5).max(10_000).default(30),
      direction: z.enum(["up", "down", "both"]).default("both"),
    })
    .strict(),
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
    threshold_value: z.number().refine(Number.isFinite, "must be a finite number"),
    for_seconds: z.number().int().min(0).max(86_400).default(0),
    params: z.record(z.string(), z.unknown()).default({}),
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

const RuleOut = RuleFields.extend({
  id: z.number().int(),
  params: z.record(z.string(), z.unknown()),
  created_by: z.number().int().nullable(),
  ...Timestamps,
}).openapi("Rule");

type RuleRow = typeof alertRules.$inferSelect;

export const rules = crudRoutes({
  noun: "Rule",
  collection: "rules",
  table: alertRules,
  fields: RuleFields,
  output: RuleOut,
  refine: (input, issue) => {
    const parsed = ParamsByKind[input.kind].safeParse(input.params);
    if (!parsed.success) {
      for (const i of parsed.error.issues) issue(["params", ...i.path].join("."), i.message);
    }
  },
  async check(input, { env }) {
    if (input.escalation_policy_id === null) return;
    const [policy] = await getDb(env.DB)
      .select({ id: escalationPolicies.id })
      .from(escalationPolicies)
      .where(eq(escalationPolicies.id, input.escalation_policy_id));
    if (!policy) throw badRequest([{ field: "escalation_policy_id", reason: "no such escalation policy" }]);
  },
  toInput: rowToInput,
  toValues: (input, { actor, existing }) => ({
    values: {
      ruleName: input.rule_name,
      description: input.description,
      metricName: input.metric_name,
      service: input.service,
      labels: input.labels,
      kind: input.kind,
      comparisonOperator: input.comparison_operator,
      thresholdValue: input.threshold_value,
      forSeconds: input.for_seconds,
      params: ParamsByKind[input.kind].parse(input.params) as Record<string, unknown>,
      severity: input.severity,
      notificationChannels: input.notification_channels,
      cooldownMinutes: input.cooldown_minutes,
      maxAlertsPerHour: input.max_alerts_per_hour,
      escalationPolicyId: input.escalation_policy_id,
      isActive: input.is_active,
      createdBy: existing ? existing.createdBy : actor.adminId,
    },
  }),
  extraOutput: (row) => ({ created_by: row.createdBy }),
  afterWrite: async (env, id, row) => {
    await env.ALERT_RULE.getByName(String(id)).configure(row && row.isActive ? rowToRule(row) : null);
  },
});

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
    params: row.params,
    severity: row.severity,
    notification_channels: row.notificationChannels as (typeof CHANNELS)[number][],
    cooldown_minutes: row.cooldownMinutes,
    max_alerts_per_hour: row.maxAlertsPerHour,
    escalation_policy_id: row.escalationPolicyId,
    is_active: row.isActive,
  };
}

const TestResult = z
  .object({
    rule_id: z.number().int(),
    would_fire: z.boolean(),
    state: z.enum(["firing", "ok", "no_data"]),
    value: z.number().nullable(),
    observed_at: z.string().nullable(),
    reason: z.string(),
    notification: z.object({ title: z.string(), body: z.string(), channels: z.array(z.string()) }),
  })
  .openapi("RuleTestResult");

rules.openapi(
  createRoute({
    method: "post",
    path: "/rules/{id}/test",
    tags: ["rules"],
    summary: "Dry-run a rule against the latest data: would it fire, and the notification it would send",
    request: { params: IdParams },
    responses: {
      200: jsonResponse(TestResult, "The verdict and a notification preview"),
      ...commonErrors,
      ...notFoundError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const [row] = await getDb(c.env.DB).select().from(alertRules).where(eq(alertRules.id, id));
    if (!row) throw notFound(`Rule ${id}`);
    const rule = rowToRule(row);
    const now = Date.now();
    // Threshold rules look at the newest sample only; a day covers the raw window.
    const since = now - (lookbackSeconds(rule) || 86_400) * 1000;
    const service = rule.service ?? "";
    const [samples, denominator] = await Promise.all([
      readSeries(c.env, rule.metricName, service, rule.labels, since),
      rule.kind === "ratio" ? readSeries(c.env, rule.params.denominatorMetric, service, rule.labels, since) : undefined,
    ]);
    const evaluation = evaluateRule(rule, { samples, denominator }, now);
    const text = renderAlertText(rule, evaluation, now);
    return c.json(
      {
        rule_id: id,
        would_fire: evaluation.state === "firing",
        state: evaluation.state,
        value: evaluation.value,
        observed_at: evaluation.observedAt === null ? null : iso(evaluation.observedAt),
        reason: evaluation.reason,
        notification: { ...text, channels: rule.notificationChannels },
      },
      200,
    );
  },
);

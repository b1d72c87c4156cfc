/** Row ↔ core mapping for alert rules. */
import { AGGREGATIONS, type Aggregation, type Rule, SENSITIVITIES, ZSCORE_DEFAULTS } from "../core/rules/types";
import type { alertRules } from "./schema";

export type RuleRow = typeof alertRules.$inferSelect;

const num = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) ? v : fallback);

const isAggregation = (v: unknown): v is Aggregation => AGGREGATIONS.includes(v as Aggregation);

/** The core rule a stored row describes (params are stored as validated snake_case JSON). */
export function rowToRule(row: RuleRow): Rule {
  const base = {
    id: row.id,
    ruleName: row.ruleName,
    description: row.description,
    metricName: row.metricName,
    service: row.service,
    labels: row.labels,
    comparisonOperator: row.comparisonOperator,
    thresholdValue: row.thresholdValue,
    forSeconds: row.forSeconds,
    resolveForSeconds: row.resolveForSeconds,
    resolveThresholdValue: row.resolveThresholdValue,
    dependsOn: row.dependsOn,
    severity: row.severity,
    notificationChannels: row.notificationChannels as Rule["notificationChannels"],
    cooldownMinutes: row.cooldownMinutes,
    maxAlertsPerHour: row.maxAlertsPerHour,
    escalationPolicyId: row.escalationPolicyId,
  };
  const p = row.params;
  switch (row.kind) {
    case "threshold": {
      const aggregation = isAggregation(p.aggregation) ? p.aggregation : "last";
      const windowSeconds = num(p.window_seconds, aggregation === "last" ? 0 : 300);
      return { ...base, kind: "threshold", params: { aggregation, windowSeconds } };
    }
    case "ratio":
      return {
        ...base,
        kind: "ratio",
        params: {
          denominatorMetric: String(p.denominator_metric),
          windowSeconds: num(p.window_seconds, 300),
          minDenominator: num(p.min_denominator, 10),
        },
      };
    case "absence":
      // Rules written before `absent_for_seconds` named it `window_seconds`.
      return {
        ...base,
        kind: "absence",
        params: { absentForSeconds: num(p.absent_for_seconds, num(p.window_seconds, 300)) },
      };
    case "heartbeat":
      return {
        ...base,
        kind: "heartbeat",
        params: { monitorId: typeof p.monitor_id === "number" ? p.monitor_id : null },
      };
    case "anomaly":
      return {
        ...base,
        kind: "anomaly",
        params: {
          // Rules stored before the detector existed have no method: they are z-score rules.
          method: p.method === "detector" ? "detector" : "zscore",
          sensitivity: SENSITIVITIES.find((s) => s === p.sensitivity) ?? "medium",
          direction: p.direction === "up" || p.direction === "down" ? p.direction : "both",
          windowSeconds: num(p.window_seconds, ZSCORE_DEFAULTS.windowSeconds),
          minSamples: num(p.min_samples, ZSCORE_DEFAULTS.minSamples),
        },
      };
  }
}

/** A core rule's params as stored and sent (snake_case, defaults filled in). */
export function paramsToWire(rule: Rule): Record<string, unknown> {
  switch (rule.kind) {
    case "threshold":
      return { aggregation: rule.params.aggregation, window_seconds: rule.params.windowSeconds };
    case "ratio":
      return {
        denominator_metric: rule.params.denominatorMetric,
        window_seconds: rule.params.windowSeconds,
        min_denominator: rule.params.minDenominator,
      };
    case "absence":
      return { absent_for_seconds: rule.params.absentForSeconds };
    case "heartbeat":
      return { monitor_id: rule.params.monitorId };
    case "anomaly":
      return {
        method: rule.params.method,
        sensitivity: rule.params.sensitivity,
        direction: rule.params.direction,
        window_seconds: rule.params.windowSeconds,
        min_samples: rule.params.minSamples,
      };
  }
}

/** Records since when a series of the rule has been pending (null: none), for the rules list. */
export async function setPendingSince(db: D1Database, ruleId: number, since: number | null): Promise<void> {
  await db.prepare("UPDATE alert_rules SET pending_since = ? WHERE id = ?").bind(since, ruleId).run();
}

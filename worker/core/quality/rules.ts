/**
 * Rules the alert-quality replay adds to the demo's seeded ones: anomaly rules on the shop's
 * key metrics (warning: they say "unusual", not "broken"), and proposed critical rules that
 * are not part of the seeded configuration, for the bench's `--proposed` run, so their effect
 * on precision, recall and delay can be weighed before anyone seeds them.
 */
import type { AnomalyRule, Rule, ThresholdRule } from "../rules/types";

const common = {
  description: "",
  labels: {},
  resolveForSeconds: 0,
  resolveThresholdValue: null,
  dependsOn: [],
  notificationChannels: ["email" as const],
  cooldownMinutes: 15,
  maxAlertsPerHour: 4,
  escalationPolicyId: null,
};

/** An anomaly rule of method "detector" (the rule kind's params as the anomaly rules take them). */
function anomaly(
  id: number,
  ruleName: string,
  metricName: string,
  service: string,
  direction: "up" | "down" | "both",
  forSeconds: number,
): AnomalyRule {
  return {
    ...common,
    id,
    ruleName,
    metricName,
    service,
    kind: "anomaly",
    comparisonOperator: ">=",
    thresholdValue: 0,
    forSeconds,
    severity: "warning",
    params: {
      method: "detector",
      sensitivity: "medium",
      direction,
      windowSeconds: 3600,
      minSamples: 30,
    } as AnomalyRule["params"],
  };
}

/** Anomaly rules on the shop's key metrics, warning severity, held 2 minutes. */
export const ANOMALY_RULES: readonly Rule[] = [
  anomaly(101, "Anomaly: payment success rate", "payment_success_rate", "ecpay", "down", 120),
  anomaly(102, "Anomaly: API p95 latency", "api_response_p95_ms", "api", "up", 120),
  anomaly(103, "Anomaly: API error rate", "error_rate", "api", "up", 120),
  anomaly(104, "Anomaly: DB pool in use", "db_pool_in_use", "database", "up", 120),
  anomaly(105, "Anomaly: payment failure rate", "payment_failure_rate", "ecpay", "up", 120),
];

function threshold(
  id: number,
  ruleName: string,
  metricName: string,
  service: string,
  op: ThresholdRule["comparisonOperator"],
  value: number,
  forSeconds: number,
  params: ThresholdRule["params"] = { aggregation: "last", windowSeconds: 0 },
): ThresholdRule {
  return {
    ...common,
    id,
    ruleName,
    metricName,
    service,
    kind: "threshold",
    comparisonOperator: op,
    thresholdValue: value,
    forSeconds,
    severity: "critical",
    params,
  };
}

/**
 * Proposed monitor change: probe the ECPay, PostgreSQL and Redis health endpoints every 15 s, as
 * the API's already is (seeded: 30, 60 and 60 s). A probe every 60 s sets the delay of a
 * rule on it to 60–120 s however the rule is tuned: one run can be a blip, so it must wait for
 * the next.
 */
export const PROPOSED_MONITOR_INTERVALS: Readonly<Record<string, number>> = { ecpay: 15, database: 15, redis: 15 };

/**
 * Proposed critical rules. The health probes, each down longer than its monitor's interval
 * (15 s, see PROPOSED_MONITOR_INTERVALS) so that one failed run (a network blip both
 * confirming locations saw) or a flapping endpoint never pages: with `for_seconds` shorter
 * than the interval the alert fires at its deadline, before the next run can clear it. The
 * API's 60 s rides out a deploy's restart (45 s of 503s). The database pool exhausted (it never
 * reaches 20 of 20 otherwise), and the API's error rate well above its 0.3 % for 5 minutes (a
 * deploy's 2-minute bump of 5 % errors lifts the 5-minute rate to about 2.8 % for 2–3 minutes).
 */
export const PROPOSED_RULES: readonly Rule[] = [
  threshold(201, "ECPay health down", "probe_up", "ecpay", "<", 1, 30),
  threshold(202, "Shop API health down", "probe_up", "api", "<", 1, 60),
  threshold(203, "PostgreSQL health down", "probe_up", "database", "<", 1, 30),
  threshold(204, "Redis health down", "probe_up", "redis", "<", 1, 30),
  threshold(205, "DB pool exhausted", "db_pool_in_use", "database", ">=", 20, 30),
  threshold(206, "API error rate > 2.5%", "error_rate", "api", ">", 2.5, 300),
];

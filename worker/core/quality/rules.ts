/**
 * Rules the alert-quality replay adds to the demo's seeded ones: anomaly rules on the shop's
 * key metrics (warning: they say "unusual", not "broken").
 */
import type { AnomalyRule, Rule } from "../rules/types";

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

/**
 * Anomaly rules on the shop's key metrics beside the two the demo seeds (DB connections up,
 * payment success rate down), warning severity, held 2 minutes.
 */
export const ANOMALY_RULES: readonly Rule[] = [
  anomaly(102, "Anomaly: API p95 latency", "api_response_p95_ms", "api", "up", 120),
  anomaly(103, "Anomaly: API error rate", "error_rate", "api", "up", 120),
  anomaly(105, "Anomaly: payment failure rate", "payment_failure_rate", "ecpay", "up", 120),
];

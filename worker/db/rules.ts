/** Row ↔ core mapping for alert rules. */
import type { Rule } from "../core/rules/types";
import type { alertRules } from "./schema";

export type RuleRow = typeof alertRules.$inferSelect;

const num = (v: unknown, fallback: number) => (typeof v === "number" && Number.isFinite(v) ? v : fallback);

/** The core rule a stored row describes (params are stored as validated snake_case JSON). */
export function rowToRule(row: RuleRow): Rule {
  const base = {
    id: row.id,
    ruleName: row.ruleName,
    metricName: row.metricName,
    service: row.service,
    labels: row.labels,
    comparisonOperator: row.comparisonOperator,
    thresholdValue: row.thresholdValue,
    forSeconds: row.forSeconds,
    severity: row.severity,
    notificationChannels: row.notificationChannels as Rule["notificationChannels"],
  };
  const p = row.params;
  switch (row.kind) {
    case "threshold":
      return { ...base, kind: "threshold" };
    case "ratio":
      return {
        ...base,
        kind: "ratio",
        params: { denominatorMetric: String(p.denominator_metric), windowSeconds: num(p.window_seconds, 300) },
      };
    case "absence":
      return { ...base, kind: "absence", params: { windowSeconds: num(p.window_seconds, 300) } };
    case "anomaly":
      return {
        ...base,
        kind: "anomaly",
        params: {
          windowSeconds: num(p.window_seconds, 3600),
          minSamples: num(p.min_samples, 30),
          direction: p.direction === "up" || p.direction === "down" ? p.direction : "both",
        },
      };
  }
}

/** Alert rule types shared by the API, the rule engine and the dashboard. */

export const RULE_KINDS = ["threshold", "ratio", "absence", "anomaly"] as const;
export const SEVERITIES = ["critical", "warning", "info"] as const;
export const OPERATORS = [">", ">=", "<", "<=", "==", "!="] as const;
export const CHANNELS = ["email", "sms", "slack", "webhook", "pagerduty"] as const;

export type RuleKind = (typeof RULE_KINDS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type Operator = (typeof OPERATORS)[number];
export type Channel = (typeof CHANNELS)[number];

interface RuleBase {
  id: number;
  ruleName: string;
  metricName: string;
  /** Null: the rule watches the metric without a service. */
  service: string | null;
  labels: Record<string, string>;
  comparisonOperator: Operator;
  thresholdValue: number;
  forSeconds: number;
  severity: Severity;
  notificationChannels: Channel[];
}

/** The latest value compared with the threshold. */
export interface ThresholdRule extends RuleBase {
  kind: "threshold";
}

/** 100 × Σ metric / Σ denominator over a window, compared with the threshold (a percentage). */
export interface RatioRule extends RuleBase {
  kind: "ratio";
  params: { denominatorMetric: string; windowSeconds: number };
}

/** Fires when the series has had no sample for `windowSeconds`. */
export interface AbsenceRule extends RuleBase {
  kind: "absence";
  params: { windowSeconds: number };
}

/** Robust z-score of the latest value against the window, compared with the threshold. */
export interface AnomalyRule extends RuleBase {
  kind: "anomaly";
  params: { windowSeconds: number; minSamples: number; direction: "up" | "down" | "both" };
}

export type Rule = ThresholdRule | RatioRule | AbsenceRule | AnomalyRule;

/** How far back a rule looks for its data, in seconds. */
export function lookbackSeconds(rule: Rule): number {
  return rule.kind === "threshold" ? 0 : rule.params.windowSeconds;
}

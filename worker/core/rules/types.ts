/** Alert rule types shared by the API, the rule engine and the dashboard. */
import type { Sensitivity } from "../anomaly/types";
import type { ChannelName } from "../notify/channels";
import type { Labels } from "../series";

/** The channels a rule or escalation step may name: the registry's (core/notify/channels). */
export { CHANNELS } from "../notify/channels";

export const RULE_KINDS = ["threshold", "ratio", "absence", "heartbeat", "anomaly"] as const;
export const SEVERITIES = ["critical", "warning", "info"] as const;
export const OPERATORS = [">", ">=", "<", "<=", "==", "!="] as const;
export const AGGREGATIONS = ["last", "avg", "min", "max", "sum", "count", "rate", "p95", "p99"] as const;
/** How an anomaly rule judges a sample: the series' streaming detector, or a robust z-score over a window. */
export const ANOMALY_METHODS = ["detector", "zscore"] as const;
export const SENSITIVITIES = ["low", "medium", "high"] as const satisfies readonly Sensitivity[];
export const ANOMALY_DIRECTIONS = ["up", "down", "both"] as const;

/**
 * Defaults of the z-score method, chosen so that it can fire and rarely does on noise: six
 * hours hold 72 samples of 5-minute data (an hour held 12, never the 30 once required),
 * and |z| > 3.5 breaches on well under 1 % of the samples of a noisy series.
 */
export const ZSCORE_DEFAULTS = { windowSeconds: 21_600, minSamples: 12, threshold: 3.5 } as const;

export type RuleKind = (typeof RULE_KINDS)[number];
export type Severity = (typeof SEVERITIES)[number];
export type Operator = (typeof OPERATORS)[number];
export type Channel = ChannelName;
export type Aggregation = (typeof AGGREGATIONS)[number];
export type AnomalyMethod = (typeof ANOMALY_METHODS)[number];
export type AnomalyRuleDirection = (typeof ANOMALY_DIRECTIONS)[number];

/** The metric every heartbeat monitor reports (1 on time, 0 late or failed) and heartbeat rules watch. */
export const HEARTBEAT_METRIC = "heartbeat_ok";

interface RuleBase {
  id: number;
  ruleName: string;
  /** What the alert means, leading its message (see alertMessage in render.ts); absent or "" for none. */
  description?: string;
  metricName: string;
  /** Null: the rule watches the metric on every service. */
  service: string | null;
  /** Label equality matchers a series must carry. */
  labels: Record<string, string>;
  comparisonOperator: Operator;
  thresholdValue: number;
  /** How long the condition must hold before an alert fires. */
  forSeconds: number;
  /** How long the condition must be clear before an alert resolves. */
  resolveForSeconds: number;
  /** Hysteresis: the value an alert must get back across to resolve (null: the threshold). */
  resolveThresholdValue: number | null;
  /** Services whose outage inhibits this rule's alerts. */
  dependsOn: string[];
  severity: Severity;
  notificationChannels: Channel[];
  cooldownMinutes: number;
  maxAlertsPerHour: number;
  escalationPolicyId: number | null;
}

/** An aggregate of each series over a window (or its latest value) compared with the threshold. */
export interface ThresholdRule extends RuleBase {
  kind: "threshold";
  /** `windowSeconds` 0 (only with `last`): the newest sample, while within its freshness bound (see freshnessBoundMs). */
  params: { aggregation: Aggregation; windowSeconds: number };
}

/**
 * 100 × Σ metric / Σ denominator over a window, compared with the threshold (a percentage).
 * Both sides are sums of the pushed values (per-interval counts, not cumulative counters).
 */
export interface RatioRule extends RuleBase {
  kind: "ratio";
  /** Below `minDenominator` in the denominator sum the ratio is not judged (no data). */
  params: { denominatorMetric: string; windowSeconds: number; minDenominator: number };
}

/** Fires when a series has had no sample for `absentForSeconds`. */
export interface AbsenceRule extends RuleBase {
  kind: "absence";
  params: { absentForSeconds: number };
}

/** Fires when a heartbeat monitor's latest `heartbeat_ok` is 0 (late or failed). */
export interface HeartbeatRule extends RuleBase {
  kind: "heartbeat";
  /** Null: every heartbeat monitor of the rule's service (of every service without one). */
  params: { monitorId: number | null };
}

/**
 * An unusual newest sample. Method "detector": the series store's detector scored it at or
 * above the sensitivity's threshold (SENSITIVITY_THRESHOLDS in core/anomaly), in the rule's
 * direction; the operator and threshold are not used. Method "zscore": the robust z-score
 * of the newest sample against the window (in the rule's direction), compared with the threshold.
 */
export interface AnomalyRule extends RuleBase {
  kind: "anomaly";
  params: {
    method: AnomalyMethod;
    sensitivity: Sensitivity;
    direction: AnomalyRuleDirection;
    /** The z-score method's window and the samples it needs in it (unused by the detector). */
    windowSeconds: number;
    minSamples: number;
  };
}

export type Rule = ThresholdRule | RatioRule | AbsenceRule | HeartbeatRule | AnomalyRule;

/**
 * How far back a rule needs samples, in seconds. 0: only each series' newest sample
 * counts (a threshold rule on `last` without a window, a heartbeat rule), with the few
 * before it that give its freshness bound (FRESHNESS_SAMPLES in evaluate.ts).
 */
export function lookbackSeconds(rule: Rule): number {
  switch (rule.kind) {
    case "threshold":
    case "ratio":
      return rule.params.windowSeconds;
    case "anomaly":
      // The detector has judged the newest sample already (its model holds the past).
      return rule.params.method === "detector" ? 0 : rule.params.windowSeconds;
    case "absence":
      return rule.params.absentForSeconds;
    case "heartbeat":
      return 0;
  }
}

/** The metrics a rule reads: its metric, and a ratio's denominator. */
export function ruleMetrics(rule: Rule): string[] {
  return rule.kind === "ratio" ? [rule.metricName, rule.params.denominatorMetric] : [rule.metricName];
}

/** The labels a series must carry for the rule: its matchers, and a heartbeat rule's monitor. */
export function ruleMatchers(rule: Rule): Labels {
  if (rule.kind === "heartbeat" && rule.params.monitorId !== null) {
    return { ...rule.labels, monitor: String(rule.params.monitorId) };
  }
  return rule.labels;
}

/** Whether a series (any of the rule's metrics) is one of the rule's: same service when it names one, every matcher equal. */
export function selectsSeries(rule: Rule, service: string, labels: Labels): boolean {
  if (rule.service !== null && rule.service !== service) return false;
  return Object.entries(ruleMatchers(rule)).every(([name, value]) => labels[name] === value);
}

/** Whether a sample of `metric` on `service` with `labels` is input to the rule. */
export function matchesRule(rule: Rule, series: { metric: string; service: string; labels: Labels }): boolean {
  return ruleMetrics(rule).includes(series.metric) && selectsSeries(rule, series.service, series.labels);
}

/**
 * Whether each series decides the rule alone (threshold, heartbeat, anomaly): then the
 * series store evaluates it where the samples are, and tells the rule of changes. Ratio
 * (two metrics) and absence (time passing) are evaluated by the rule itself.
 */
export function evaluatedBySeries(rule: Rule): boolean {
  return rule.kind === "threshold" || rule.kind === "heartbeat" || rule.kind === "anomaly";
}

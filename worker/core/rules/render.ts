/** Notification text for an alert, shared by every channel and the rule dry run. */
import { SENSITIVITY_THRESHOLDS } from "../anomaly";
import type { Labels } from "../series";
import { elapsedText, toIso } from "../time";
import { type FingerprintEvaluation, formatNumber } from "./evaluate";
import { HEARTBEAT_METRIC, type Rule } from "./types";

export interface AlertText {
  title: string;
  body: string;
}

/** What an alert is about: a series' verdict (its service and labels when the rule spans several series). */
export type AlertSubject = Pick<FingerprintEvaluation, "value" | "observedAt" | "reason"> &
  Partial<Pick<FingerprintEvaluation, "service" | "labels">>;

const ICON = { critical: "[CRITICAL]", warning: "[WARNING]", info: "[INFO]" } as const;

const labelText = (labels: Labels | undefined) => {
  const names = Object.keys(labels ?? {}).sort();
  return names.length ? `{${names.map((n) => `${n}=${JSON.stringify(labels?.[n])}`).join(", ")}}` : "";
};

/** The rule's condition in words: "threshold avg over 300s > 5 for 60s". */
function describeCondition(rule: Rule): string {
  const against = `${rule.comparisonOperator} ${formatNumber(rule.thresholdValue)}`;
  switch (rule.kind) {
    case "threshold": {
      const { aggregation, windowSeconds } = rule.params;
      const over = aggregation === "last" && windowSeconds === 0 ? "" : ` ${aggregation} over ${windowSeconds}s`;
      return `threshold${over} ${against}`;
    }
    case "ratio":
      return `ratio to ${rule.params.denominatorMetric} over ${rule.params.windowSeconds}s ${against} %`;
    case "absence":
      return `absence: no sample for ${rule.params.absentForSeconds}s`;
    case "heartbeat":
      return `heartbeat: ${HEARTBEAT_METRIC} is 0 (late or failed)`;
    case "anomaly": {
      const { method, sensitivity, direction } = rule.params;
      return method === "detector"
        ? `anomaly (${sensitivity} sensitivity, ${direction}): detector score ≥ ${SENSITIVITY_THRESHOLDS[sensitivity]}`
        : `anomaly (robust z-score, ${direction}) ${against}`;
    }
  }
}

/** Renders the title and body an administrator receives when `rule` fires for `subject`. */
export function renderAlertText(rule: Rule, subject: AlertSubject, now: number): AlertText {
  const service = subject.service || rule.service;
  const where = service ? ` on ${service}` : "";
  const title = `${ICON[rule.severity]} ${rule.ruleName}${where}`;
  const value = subject.value === null ? "no data" : formatNumber(subject.value);
  const resolve = rule.resolveThresholdValue ?? null;
  const lines = [
    `${rule.metricName}${labelText(subject.labels)}${where}: ${value} (${subject.reason})`,
    `Condition: ${describeCondition(rule)}` +
      (rule.forSeconds > 0 ? ` for ${rule.forSeconds}s` : "") +
      (resolve === null ? "" : `; resolves once back across ${formatNumber(resolve)}`),
    `Severity: ${rule.severity}`,
    `Observed at: ${toIso(subject.observedAt ?? now)}`,
  ];
  return { title, body: lines.join("\n") };
}

const PLACEHOLDER = /\{\{\s*(value|duration|labels\.([A-Za-z_][A-Za-z0-9_]*))\s*\}\}/g;

/**
 * An alert's message: the rule's description, when it has one, with `{{value}}`,
 * `{{duration}}` (the value read as seconds, "3 minutes") and `{{labels.NAME}}` filled in,
 * then the evaluation in parentheses; without a description, the evaluation alone.
 */
export function alertMessage(
  rule: Pick<Rule, "description">,
  subject: Pick<AlertSubject, "value" | "labels" | "reason">,
): string {
  const summary = rule.description?.trim();
  if (!summary) return subject.reason;
  const filled = summary.replace(PLACEHOLDER, (_all, what: string, label: string | undefined) => {
    if (label !== undefined) return subject.labels?.[label] ?? "";
    if (subject.value === null) return "no data";
    return what === "duration" ? elapsedText(subject.value) : formatNumber(subject.value);
  });
  return `${filled} (${subject.reason})`;
}

/** Notification text for an alert, shared by every channel and the rule dry run. */
import { toIso } from "../time";
import { type Evaluation, formatNumber } from "./evaluate";
import type { Rule } from "./types";

export interface AlertText {
  title: string;
  body: string;
}

const ICON = { critical: "[CRITICAL]", warning: "[WARNING]", info: "[INFO]" } as const;

/** Renders the title and body an administrator receives when `rule` fires with `evaluation`. */
export function renderAlertText(rule: Rule, evaluation: Evaluation, now: number): AlertText {
  const where = rule.service ? ` on ${rule.service}` : "";
  const title = `${ICON[rule.severity]} ${rule.ruleName}${where}`;
  const value = evaluation.value === null ? "no data" : formatNumber(evaluation.value);
  const lines = [
    `${rule.metricName}${where}: ${value} (${evaluation.reason})`,
    `Condition: ${rule.kind} ${rule.comparisonOperator} ${formatNumber(rule.thresholdValue)}` +
      (rule.forSeconds > 0 ? ` for ${rule.forSeconds}s` : ""),
    `Severity: ${rule.severity}`,
    `Observed at: ${toIso(evaluation.observedAt ?? now)}`,
  ];
  return { title, body: lines.join("\n") };
}

/**
 * Evaluates a rule against a snapshot of its series: the pure decision behind
 * the rule engine and the `rules/{id}/test` dry run. Time is passed in.
 */
import type { Sample } from "../series";
import type { Operator, Rule } from "./types";

export interface RuleData {
  /** Samples of the rule's series, oldest first, covering at least the rule's lookback. */
  samples: readonly Sample[];
  /** Ratio rules only: samples of the denominator series over the same window. */
  denominator?: readonly Sample[];
}

export type Evaluation =
  | { state: "firing" | "ok"; value: number; observedAt: number; reason: string }
  | { state: "no_data"; value: null; observedAt: null; reason: string };

export function compare(value: number, op: Operator, threshold: number): boolean {
  switch (op) {
    case ">":
      return value > threshold;
    case ">=":
      return value >= threshold;
    case "<":
      return value < threshold;
    case "<=":
      return value <= threshold;
    case "==":
      return value === threshold;
    case "!=":
      return value !== threshold;
  }
}

const sum = (xs: readonly Sample[]) => xs.reduce((acc, s) => acc + s.value, 0);

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

function verdict(rule: Rule, value: number, observedAt: number, what: string): Evaluation {
  const breached = compare(value, rule.comparisonOperator, rule.thresholdValue);
  const relation = `${what} ${formatNumber(value)} ${breached ? "" : "not "}${rule.comparisonOperator} ${formatNumber(rule.thresholdValue)}`;
  return { state: breached ? "firing" : "ok", value, observedAt, reason: relation };
}

/** Rounds for display: integers stay whole, others keep up to 3 decimals. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

/**
 * Decides whether the rule's condition holds now. `forSeconds` (how long it
 * must hold before firing) is the alert state machine's business, not this.
 */
export function evaluateRule(rule: Rule, data: RuleData, now: number): Evaluation {
  const since = (windowSeconds: number) => now - windowSeconds * 1000;
  const latest = data.samples.at(-1);
  switch (rule.kind) {
    case "threshold":
      if (!latest) return { state: "no_data", value: null, observedAt: null, reason: "no samples yet" };
      return verdict(rule, latest.value, latest.ts, "latest value");
    case "ratio": {
      const from = since(rule.params.windowSeconds);
      const num = data.samples.filter((s) => s.ts >= from);
      const den = (data.denominator ?? []).filter((s) => s.ts >= from);
      const total = sum(den);
      if (total === 0) {
        return {
          state: "no_data",
          value: null,
          observedAt: null,
          reason: `no ${rule.params.denominatorMetric} in the last ${rule.params.windowSeconds}s`,
        };
      }
      const observedAt = Math.max(...num.map((s) => s.ts), ...den.map((s) => s.ts));
      return verdict(rule, (100 * sum(num)) / total, observedAt, `ratio over ${rule.params.windowSeconds}s`);
    }
    case "absence": {
      const age = latest ? (now - latest.ts) / 1000 : Number.POSITIVE_INFINITY;
      const silent = age >= rule.params.windowSeconds;
      return {
        state: silent ? "firing" : "ok",
        value: Number.isFinite(age) ? Math.round(age) : -1,
        observedAt: latest?.ts ?? now,
        reason: latest
          ? `last sample ${Math.round(age)}s ago (limit ${rule.params.windowSeconds}s)`
          : `no sample at all (limit ${rule.params.windowSeconds}s)`,
      };
    }
    case "anomaly": {
      const from = since(rule.params.windowSeconds);
      const history = data.samples
        .filter((s) => s.ts >= from)
        .slice(0, -1)
        .map((s) => s.value);
      if (!latest || history.length < rule.params.minSamples) {
        return {
          state: "no_data",
          value: null,
          observedAt: null,
          reason: `fewer than ${rule.params.minSamples} samples in the window`,
        };
      }
      const center = median(history);
      // Median absolute deviation scaled to a standard deviation for normal data.
      const spread = 1.4826 * median(history.map((v) => Math.abs(v - center))) || Number.EPSILON;
      const z = (latest.value - center) / spread;
      const directed = rule.params.direction === "up" ? z : rule.params.direction === "down" ? -z : Math.abs(z);
      return verdict(rule, Math.round(directed * 1000) / 1000, latest.ts, "robust z-score");
    }
  }
}

/**
 * Evaluates a rule against a snapshot of its series, one verdict per series
 * (fingerprint): the pure decision behind the rule engine and the
 * `rules/{id}/test` dry run. Time is passed in.
 */
import { SENSITIVITY_THRESHOLDS } from "../anomaly";
import { nearestRank } from "../derived";
import { counterRate } from "../prometheus/counter";
import { type Labels, type Sample, seriesKey } from "../series";
import {
  type AbsenceRule,
  type Aggregation,
  type AnomalyRule,
  HEARTBEAT_METRIC,
  type Operator,
  type RatioRule,
  type Rule,
  selectsSeries,
  type ThresholdRule,
} from "./types";
import { compare } from "./compare";

/** One series of a rule's metric: its samples oldest first, covering the rule's lookback. */
export interface SeriesWindow {
  service: string;
  labels: Labels;
  samples: readonly Sample[];
  /**
   * Anomaly rules (method "detector"): the series' detector's judgement of its newest sample
   * (as the series store scored it, after administrators' feedback), with that sample's instant.
   */
  anomaly?: SeriesAnomaly;
}

/** The series detector's judgement of one sample (see core/anomaly/types.ts). */
export interface SeriesAnomaly {
  ts: number;
  /** The detector's level at that sample (Judgement.level: the anomaly's score, held while it lasts). */
  score: number;
  direction: "up" | "down" | null;
  expected: number | null;
  /** The detector was still learning the series (its scores damped towards 0); absent: not known. */
  learning?: boolean;
}

/** A series seen before; `lastSeenAt` (epoch ms of its newest sample), when known, gives an absence its age. */
export interface KnownSeries {
  service: string;
  labels: Labels;
  lastSeenAt?: number | null;
}

export interface RuleInputs {
  /** The series of the rule's metric (series the rule does not select are ignored). */
  series: readonly SeriesWindow[];
  /** Ratio rules: the series of the denominator metric over the same window. */
  denominator?: readonly SeriesWindow[];
  /** Absence rules: series seen before, so that one that stopped reporting is still judged. */
  known?: readonly KnownSeries[];
}

export type EvaluationState = "firing" | "ok" | "no_data";

export interface FingerprintEvaluation {
  /** seriesKey(rule.metricName, service, labels); for a ratio, of the numerator side. */
  fingerprint: string;
  service: string;
  labels: Labels;
  state: EvaluationState;
  /** state === "firing". */
  breached: boolean;
  /** The resolve condition holds: the value is back across resolveThresholdValue (or the threshold); false without data. */
  cleared: boolean;
  value: number | null;
  observedAt: number | null;
  reason: string;
}

/**
 * Freshness of rules that judge a series' newest sample (`last` without a window, heartbeat):
 * the newest sample counts only while it is younger than the series' freshness bound, the
 * larger of FRESHNESS_FLOOR_SECONDS and twice the series' usual interval (the median gap
 * between its newest FRESHNESS_SAMPLES samples). A series pushed every minute is judged on
 * samples up to 5 minutes old, one scraped every 10 minutes on samples up to 20 minutes old;
 * an older sample is no data, never a breach. Rules with a window judge only its samples.
 */
export const FRESHNESS_FLOOR_SECONDS = 300;
/** How many of a series' newest samples give its usual interval. */
export const FRESHNESS_SAMPLES = 5;

/** The freshness bound (ms) of a series whose samples (oldest first) are given; see FRESHNESS_FLOOR_SECONDS. */
export function freshnessBoundMs(samples: readonly Sample[]): number {
  const newest = samples.slice(-FRESHNESS_SAMPLES);
  const gaps = newest.slice(1).map((s, i) => s.ts - (newest[i] as Sample).ts);
  const usual = gaps.length ? median(gaps) : 0;
  return Math.max(FRESHNESS_FLOOR_SECONDS * 1000, 2 * usual);
}

/** The series' newest sample when it is fresh at `now`, else the no-data reason. */
function freshNewest(samples: readonly Sample[], now: number, none: string): Sample | string {
  const latest = samples.at(-1);
  if (!latest) return none;
  const bound = freshnessBoundMs(samples);
  if (now - latest.ts <= bound) return latest;
  const age = Math.round((now - latest.ts) / 1000);
  return `latest sample ${age}s old, older than the freshness bound of ${Math.round(bound / 1000)}s`;
}

/** The operator that holds exactly when `op` does not. */
const NEGATED: Record<Operator, Operator> = { ">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "==" };

/** Rounds for display: integers stay whole, others keep up to 3 decimals. */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
}

/** What one series came to before it is compared with the threshold. */
type Judgment =
  | { kind: "no_data"; reason: string }
  /** A value the rule's operator and threshold decide on; `what` names it in the reason. */
  | { kind: "value"; value: number; observedAt: number; what: string }
  /** Kinds that decide by themselves (absence, heartbeat). */
  | { kind: "decided"; breached: boolean; value: number | null; observedAt: number | null; reason: string };

const sum = (xs: readonly Sample[]) => xs.reduce((acc, s) => acc + s.value, 0);
const newestTs = (xs: readonly Sample[]) =>
  xs.reduce<number | null>((m, s) => (m === null || s.ts > m ? s.ts : m), null);
const inWindow = (xs: readonly Sample[], now: number, windowSeconds: number) =>
  xs.filter((s) => s.ts >= now - windowSeconds * 1000);
/** Identity of a series within a rule's metric: service and labels. */
const seriesIdentity = (service: string, labels: Labels) => seriesKey("", service, labels);

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (i: number) => sorted[i] ?? Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

function finish(rule: Rule, service: string, labels: Labels, judgment: Judgment): FingerprintEvaluation {
  const identity = { fingerprint: seriesKey(rule.metricName, service, labels), service, labels };
  switch (judgment.kind) {
    case "no_data":
      return {
        ...identity,
        state: "no_data",
        breached: false,
        cleared: false,
        value: null,
        observedAt: null,
        reason: judgment.reason,
      };
    case "decided": {
      const { breached, value, observedAt, reason } = judgment;
      return {
        ...identity,
        state: breached ? "firing" : "ok",
        breached,
        cleared: !breached,
        value,
        observedAt,
        reason,
      };
    }
    case "value": {
      const { value, observedAt, what } = judgment;
      const op = rule.comparisonOperator;
      const breached = compare(value, op, rule.thresholdValue);
      const resolveAt = rule.resolveThresholdValue ?? rule.thresholdValue;
      const cleared = !compare(value, op, resolveAt);
      let reason = `${what} ${formatNumber(value)} ${breached ? "" : "not "}${op} ${formatNumber(rule.thresholdValue)}`;
      // Between the threshold and the resolve value: not breaching, yet an open alert stays open.
      if (!breached && !cleared) reason += ` (clears at ${NEGATED[op]} ${formatNumber(resolveAt)})`;
      return { ...identity, state: breached ? "firing" : "ok", breached, cleared, value, observedAt, reason };
    }
  }
}

function aggregate(aggregation: Exclude<Aggregation, "last" | "count">, window: readonly Sample[], seconds: number) {
  const values = window.map((s) => s.value);
  switch (aggregation) {
    case "avg":
      return sum(window) / window.length;
    // Reduced rather than spread: a day of raw samples is too many arguments.
    case "min":
      return values.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
    case "max":
      return values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY);
    case "sum":
      return sum(window);
    case "rate":
      // Per second over the whole window; a decrease is a counter reset.
      return counterRate(window, seconds);
    case "p95":
      return nearestRank(values, 0.95) ?? Number.NaN;
    case "p99":
      return nearestRank(values, 0.99) ?? Number.NaN;
  }
}

function judgeThreshold(rule: ThresholdRule, samples: readonly Sample[], now: number): Judgment {
  const { aggregation, windowSeconds } = rule.params;
  const window = windowSeconds > 0 ? inWindow(samples, now, windowSeconds) : samples;
  const none = windowSeconds > 0 ? `no sample in the last ${windowSeconds}s` : "no samples yet";
  const latest = window.at(-1);
  if (aggregation === "last" && windowSeconds === 0) {
    const fresh = freshNewest(samples, now, none);
    return typeof fresh === "string"
      ? { kind: "no_data", reason: fresh }
      : { kind: "value", value: fresh.value, observedAt: fresh.ts, what: "latest value" };
  }
  if (aggregation === "last") {
    return latest
      ? { kind: "value", value: latest.value, observedAt: latest.ts, what: "latest value" }
      : { kind: "no_data", reason: none };
  }
  const what = `${aggregation} over ${windowSeconds}s`;
  // An empty window counts 0 samples; every other aggregate needs data.
  if (aggregation === "count") return { kind: "value", value: window.length, observedAt: latest?.ts ?? now, what };
  if (!latest) return { kind: "no_data", reason: none };
  if (aggregation === "rate" && window.length < 2) {
    return { kind: "no_data", reason: `a rate needs 2 samples in the last ${windowSeconds}s, got 1` };
  }
  const value = aggregate(aggregation, window, windowSeconds);
  return { kind: "value", value, observedAt: latest.ts, what };
}

/** Rounds a score for display: two decimals. */
const scoreText = (score: number) => (Math.round(score * 100) / 100).toFixed(2);

/** "412 is above the expected 120", or the value alone while nothing is expected yet. */
function againstExpected(value: number, a: SeriesAnomaly): string {
  if (a.expected === null) return `${formatNumber(value)} (nothing expected yet)`;
  const where = a.direction === "up" ? "above" : a.direction === "down" ? "below" : "at";
  return `${formatNumber(value)} is ${where} the expected ${formatNumber(a.expected)}`;
}

/**
 * Method "detector": the series store's judgement of the newest sample. It counts only for
 * that very sample, while it is fresh (the freshness bound of rules on the newest sample);
 * a judgement of an older sample, or none, is no data. Breached when the score reaches the
 * sensitivity's threshold in the rule's direction; otherwise clear (a strong anomaly the
 * other way is not this rule's business).
 */
function judgeDetector(rule: AnomalyRule, series: SeriesWindow, now: number): Judgment {
  const { sensitivity, direction } = rule.params;
  const newest = freshNewest(series.samples, now, "no samples yet");
  if (typeof newest === "string") return { kind: "no_data", reason: newest };
  const a = series.anomaly;
  if (!a) return { kind: "no_data", reason: "the newest sample has no anomaly score yet" };
  if (a.ts !== newest.ts) {
    return { kind: "no_data", reason: "the anomaly score is not of the newest sample (not scored yet)" };
  }
  const threshold = SENSITIVITY_THRESHOLDS[sensitivity];
  const high = a.score >= threshold;
  const ours = a.direction !== null && (direction === "both" || a.direction === direction);
  const breached = high && ours;
  let reason = `score ${scoreText(a.score)} ${high ? "≥" : "<"} ${scoreText(threshold)} (${sensitivity}): ${againstExpected(newest.value, a)}`;
  if (high && !ours) reason += ` (the rule watches ${direction})`;
  if (a.learning) reason += "; the detector is still learning this series (scores damped)";
  return { kind: "decided", breached, value: newest.value, observedAt: newest.ts, reason };
}

/**
 * The robust z-score's scale: the median absolute deviation (scaled to a standard deviation
 * for normal data); when over half the window is one value (MAD 0), the mean absolute
 * deviation likewise scaled; on a flat window, 1 % of the level (or 1e-9 at 0). A flat
 * series that moves by a real amount then scores a large but finite z, and one that stays
 * put scores 0 (dividing by Number.EPSILON gave z ≈ 1e15 to rounding noise).
 */
export function robustScale(history: readonly number[], center: number): number {
  const deviations = history.map((v) => Math.abs(v - center));
  const mad = 1.4826 * median(deviations);
  if (mad > 0) return mad;
  const meanAbs = deviations.length ? (1.2533 * deviations.reduce((s, d) => s + d, 0)) / deviations.length : 0;
  if (meanAbs > 0) return meanAbs;
  return Math.max(0.01 * Math.abs(center), 1e-9);
}

/** Method "zscore": the newest sample in the window against the rest of it. */
function judgeZScore(rule: AnomalyRule, samples: readonly Sample[], now: number): Judgment {
  const { windowSeconds, minSamples, direction } = rule.params;
  // The scored value is the newest sample inside the window: an older one is no data.
  const window = inWindow(samples, now, windowSeconds);
  const latest = window.at(-1);
  if (!latest) return { kind: "no_data", reason: `no sample in the last ${windowSeconds}s` };
  const history = window.slice(0, -1).map((s) => s.value);
  if (history.length < minSamples) {
    return { kind: "no_data", reason: `fewer than ${minSamples} samples in the window` };
  }
  const center = median(history);
  const z = (latest.value - center) / robustScale(history, center);
  const directed = direction === "up" ? z : direction === "down" ? -z : Math.abs(z);
  return { kind: "value", value: Math.round(directed * 1000) / 1000, observedAt: latest.ts, what: "robust z-score" };
}

function judgeAnomaly(rule: AnomalyRule, series: SeriesWindow, now: number): Judgment {
  return rule.params.method === "detector" ? judgeDetector(rule, series, now) : judgeZScore(rule, series.samples, now);
}

function judgeHeartbeat(samples: readonly Sample[], now: number): Judgment {
  const latest = freshNewest(samples, now, `no ${HEARTBEAT_METRIC} sample yet`);
  if (typeof latest === "string") return { kind: "no_data", reason: latest };
  const breached = latest.value === 0;
  const reason = breached ? (latest.message ?? `${HEARTBEAT_METRIC} is 0`) : "on time";
  return { kind: "decided", breached, value: latest.value, observedAt: latest.ts, reason };
}

/** Series by identity, samples of repeated identities merged in time order. */
function byIdentity(series: readonly SeriesWindow[]): Map<string, SeriesWindow> {
  const out = new Map<string, SeriesWindow>();
  for (const s of series) {
    const id = seriesIdentity(s.service, s.labels);
    const seen = out.get(id);
    if (!seen) {
      out.set(id, s);
      continue;
    }
    const samples = [...seen.samples, ...s.samples].sort((a, b) => a.ts - b.ts);
    // The newer of two judgements is the one that can be of the newest sample.
    const anomaly = !seen.anomaly || (s.anomaly && s.anomaly.ts > seen.anomaly.ts) ? s.anomaly : seen.anomaly;
    out.set(id, { ...seen, samples, ...(anomaly && { anomaly }) });
  }
  return out;
}

function evaluateRatio(
  rule: RatioRule,
  numerators: readonly SeriesWindow[],
  denominators: readonly SeriesWindow[],
  now: number,
): FingerprintEvaluation[] {
  const { denominatorMetric, windowSeconds, minDenominator } = rule.params;
  const num = byIdentity(numerators);
  const den = byIdentity(denominators);
  const ids = new Set([...num.keys(), ...den.keys()]);
  return [...ids].map((id) => {
    const side = (num.get(id) ?? den.get(id)) as SeriesWindow;
    const failures = inWindow(num.get(id)?.samples ?? [], now, windowSeconds);
    const totals = inWindow(den.get(id)?.samples ?? [], now, windowSeconds);
    const total = sum(totals);
    if (total <= 0 || total < minDenominator) {
      const reason =
        total <= 0
          ? `no ${denominatorMetric} in the last ${windowSeconds}s`
          : `only ${formatNumber(total)} ${denominatorMetric} in the last ${windowSeconds}s; need ${formatNumber(minDenominator)}`;
      return finish(rule, side.service, side.labels, { kind: "no_data", reason });
    }
    const observedAt = Math.max(newestTs(failures) ?? 0, newestTs(totals) ?? 0);
    const value = (100 * sum(failures)) / total;
    return finish(rule, side.service, side.labels, {
      kind: "value",
      value,
      observedAt,
      what: `ratio over ${windowSeconds}s`,
    });
  });
}

function evaluateAbsence(
  rule: AbsenceRule,
  series: readonly SeriesWindow[],
  known: readonly KnownSeries[],
  now: number,
): FingerprintEvaluation[] {
  const limit = rule.params.absentForSeconds;
  const seen = new Map<string, { service: string; labels: Labels; lastSeenAt: number | null }>();
  const note = (service: string, labels: Labels, at: number | null) => {
    const id = seriesIdentity(service, labels);
    const previous = seen.get(id)?.lastSeenAt ?? null;
    seen.set(id, { service, labels, lastSeenAt: previous === null || (at !== null && at > previous) ? at : previous });
  };
  for (const s of series) note(s.service, s.labels, newestTs(s.samples));
  for (const k of known) note(k.service, k.labels, k.lastSeenAt ?? null);
  const never = seen.size === 0 && rule.service !== null;
  if (never) seen.set("", { service: rule.service as string, labels: rule.labels, lastSeenAt: null });
  return [...seen.values()].map(({ service, labels, lastSeenAt }) => {
    if (lastSeenAt === null) {
      const reason = never ? `no sample at all (limit ${limit}s)` : `no sample in the last ${limit}s`;
      return finish(rule, service, labels, { kind: "decided", breached: true, value: null, observedAt: null, reason });
    }
    const age = Math.max(0, Math.round((now - lastSeenAt) / 1000));
    return finish(rule, service, labels, {
      kind: "decided",
      breached: now - lastSeenAt >= limit * 1000,
      value: age,
      observedAt: lastSeenAt,
      reason: `last sample ${age}s ago (limit ${limit}s)`,
    });
  });
}

/**
 * Decides, for every series the rule selects, whether its condition holds now.
 * `forSeconds`/`resolveForSeconds` (how long it must hold) are the alert
 * lifecycle's business, not this.
 */
export function evaluateFingerprints(rule: Rule, inputs: RuleInputs, now: number): FingerprintEvaluation[] {
  const selected = <T extends { service: string; labels: Labels }>(xs: readonly T[] = []) =>
    xs.filter((s) => selectsSeries(rule, s.service, s.labels));
  const series = [...byIdentity(selected(inputs.series)).values()];
  switch (rule.kind) {
    case "ratio":
      return evaluateRatio(rule, series, selected(inputs.denominator), now);
    case "absence":
      return evaluateAbsence(rule, series, selected(inputs.known), now);
    case "threshold":
      return series.map((s) => finish(rule, s.service, s.labels, judgeThreshold(rule, s.samples, now)));
    case "anomaly":
      return series.map((s) => finish(rule, s.service, s.labels, judgeAnomaly(rule, s, now)));
    case "heartbeat":
      return series.map((s) => finish(rule, s.service, s.labels, judgeHeartbeat(s.samples, now)));
  }
}

/**
 * For peak tracking: whether a is a worse value than b for this rule's operator (> and >=: larger
 * is worse; < and <=: smaller; == and !=: farther from the threshold). An absence's value is its
 * age (larger is worse), a heartbeat's is heartbeat_ok (smaller is worse).
 */
export function worseFor(rule: Rule): (a: number, b: number) => boolean {
  if (rule.kind === "absence") return (a, b) => a > b;
  if (rule.kind === "heartbeat") return (a, b) => a < b;
  // The detector's value is the observed one: a drop is worse lower, a rise (or either) higher.
  if (rule.kind === "anomaly" && rule.params.method === "detector") {
    return rule.params.direction === "down" ? (a, b) => a < b : (a, b) => a > b;
  }
  switch (rule.comparisonOperator) {
    case ">":
    case ">=":
      return (a, b) => a > b;
    case "<":
    case "<=":
      return (a, b) => a < b;
    case "==":
    case "!=": {
      const t = rule.thresholdValue;
      return (a, b) => Math.abs(a - t) > Math.abs(b - t);
    }
  }
}

const STATE_RANK: Record<EvaluationState, number> = { firing: 0, ok: 1, no_data: 2 };

/** The evaluation that speaks for the rule as a whole: firing before ok before no data, then the worst value. */
export function worstEvaluation(
  rule: Rule,
  evaluations: readonly FingerprintEvaluation[],
): FingerprintEvaluation | null {
  const worse = worseFor(rule);
  let worst: FingerprintEvaluation | null = null;
  for (const e of evaluations) {
    if (!worst) worst = e;
    else if (STATE_RANK[e.state] !== STATE_RANK[worst.state]) {
      if (STATE_RANK[e.state] < STATE_RANK[worst.state]) worst = e;
    } else if (e.value !== null && (worst.value === null || worse(e.value, worst.value))) worst = e;
  }
  return worst;
}

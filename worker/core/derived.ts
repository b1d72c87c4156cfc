/**
 * Derived metrics: series computed every minute from other series (failure and
 * error rates from counters, pool utilization from gauges, p95 from raw samples).
 * Definitions and math only; the cron job reads the inputs and stores the results.
 */
import { counterIncrease } from "./prometheus/counter";
import type { Labels, Sample } from "./series";

/** Every derived value looks at this much of its inputs' recent past. */
export const DERIVED_WINDOW_MS = 5 * 60_000;
/** Raw samples to read per input: the window plus room for a counter's baseline before it. */
export const DERIVED_LOOKBACK_MS = 2 * DERIVED_WINDOW_MS;

export interface Point {
  ts: number;
  value: number;
}

/** The recent raw samples of one input series, oldest first. */
export interface SeriesWindow {
  labels: Labels;
  points: readonly Point[];
}

/** An input's series (every label set of the metric on the derived metric's service). */
export type InputReader = (metric: string) => readonly SeriesWindow[];

export interface DerivedMetric {
  metric: string;
  service: string;
  /** Metric names read (on the same service). */
  inputs: readonly string[];
  /** The value at `now`, or null when the inputs do not say (missing, stale, or a zero denominator). */
  compute(read: InputReader, now: number): number | null;
}

/**
 * Increase of one counter series over (from, to]: from the last reading at or
 * before `from` (when there is one) through the readings inside. Null when the
 * series has no reading inside the window (stale).
 */
export function windowIncrease(points: readonly Point[], from: number, to: number): number | null {
  let baseline: Point | undefined;
  const inside: Point[] = [];
  for (const p of points) {
    if (p.ts <= from) {
      if (!baseline || p.ts >= baseline.ts) baseline = p;
    } else if (p.ts <= to) inside.push(p);
  }
  if (!inside.length) return null;
  return counterIncrease(baseline ? [baseline, ...inside] : inside);
}

/** Increase summed over every series of a counter; null when none has a reading inside the window. */
export function totalIncrease(series: readonly SeriesWindow[], from: number, to: number): number | null {
  let total: number | null = null;
  for (const s of series) {
    const inc = windowIncrease(s.points, from, to);
    if (inc !== null) total = (total ?? 0) + inc;
  }
  return total;
}

/** Latest reading of each gauge series inside (from, to], summed; null when none has one. */
export function latestSum(series: readonly SeriesWindow[], from: number, to: number): number | null {
  let total: number | null = null;
  for (const s of series) {
    let latest: Point | undefined;
    for (const p of s.points) if (p.ts > from && p.ts <= to && (!latest || p.ts >= latest.ts)) latest = p;
    if (latest) total = (total ?? 0) + latest.value;
  }
  return total;
}

/** Nearest-rank quantile (the smallest value with at least q of the values at or below it); null when empty. */
export function nearestRank(values: readonly number[], q: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(Math.max(Math.ceil(q * sorted.length), 1), sorted.length);
  return sorted[rank - 1] ?? null;
}

/** 100 × increase(numerator) / increase(denominator) over the window ending at `now`. */
function counterRatioPercent(read: InputReader, numerator: string, denominator: string, now: number): number | null {
  const from = now - DERIVED_WINDOW_MS;
  const num = totalIncrease(read(numerator), from, now);
  const den = totalIncrease(read(denominator), from, now);
  if (num === null || den === null || den <= 0) return null;
  return (100 * num) / den;
}

export const DERIVED_METRICS: readonly DerivedMetric[] = [
  {
    metric: "payment_failure_rate",
    service: "ecpay",
    inputs: ["payments_failed_total", "payments_total"],
    compute: (read, now) => counterRatioPercent(read, "payments_failed_total", "payments_total", now),
  },
  {
    metric: "error_rate",
    service: "api",
    inputs: ["http_errors_total", "http_requests_total"],
    compute: (read, now) => counterRatioPercent(read, "http_errors_total", "http_requests_total", now),
  },
  {
    metric: "db_pool_utilization",
    service: "database",
    inputs: ["db_pool_in_use", "db_pool_size"],
    compute: (read, now) => {
      const from = now - DERIVED_WINDOW_MS;
      const inUse = latestSum(read("db_pool_in_use"), from, now);
      const size = latestSum(read("db_pool_size"), from, now);
      return inUse === null || size === null || size <= 0 ? null : (100 * inUse) / size;
    },
  },
  {
    metric: "api_response_p95_ms",
    service: "api",
    inputs: ["api_response_ms"],
    compute: (read, now) => {
      const from = now - DERIVED_WINDOW_MS;
      const values = read("api_response_ms").flatMap((s) =>
        s.points.filter((p) => p.ts > from && p.ts <= now).map((p) => p.value),
      );
      return nearestRank(values, 0.95);
    },
  },
];

/** The (metric, service) pairs the definitions read, each once. */
export function derivedInputs(defs: readonly DerivedMetric[] = DERIVED_METRICS): { metric: string; service: string }[] {
  const seen = new Map<string, { metric: string; service: string }>();
  for (const d of defs)
    for (const metric of d.inputs) seen.set(`${metric}|${d.service}`, { metric, service: d.service });
  return [...seen.values()];
}

/**
 * The derived samples at `now` (labels {}), one per definition whose inputs
 * give a finite value; the others are skipped, not written as zero.
 */
export function computeDerived(
  inputs: ReadonlyMap<string, readonly SeriesWindow[]>,
  now: number,
  defs: readonly DerivedMetric[] = DERIVED_METRICS,
): Sample[] {
  const out: Sample[] = [];
  for (const d of defs) {
    const value = d.compute((metric) => inputs.get(inputKey(metric, d.service)) ?? [], now);
    if (value !== null && Number.isFinite(value))
      out.push({ metric: d.metric, service: d.service, labels: {}, value, ts: now });
  }
  return out;
}

/** Key of an input in the map `computeDerived` reads. */
export const inputKey = (metric: string, service: string) => `${metric}|${service}`;

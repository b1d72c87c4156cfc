/**
 * History from rollups: the bucket size each period is shown at, which stored
 * rows (hour or minute) feed a range, and how rows merge into coarser buckets
 * (counts, sums and extremes add up; quantiles come from merged sketches).
 */
import { counterIncrease } from "./prometheus/counter";
import { emptySketch, mergeInto, parseSketch, quantileWithin } from "./sketch";

export const PERIODS = ["1h", "24h", "7d", "30d"] as const;
export type Period = (typeof PERIODS)[number];

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const PERIOD_MS: Record<Period, number> = {
  "1h": HOUR_MS,
  "24h": DAY_MS,
  "7d": 7 * DAY_MS,
  "30d": 30 * DAY_MS,
};

/** The resolutions rollups are stored at (system_metrics.resolution_seconds). */
export const STORED_RESOLUTIONS = [60, 3600] as const;
export type StoredResolution = (typeof STORED_RESOLUTIONS)[number];

/**
 * Bucket size of a period's chart, in seconds: 60, 288, 168 and 720 points.
 * 30 days stays hourly: 720 points still draw quickly, and a daily cycle stays visible.
 */
export function resolutionFor(period: Period): number {
  switch (period) {
    case "1h":
      return 60;
    case "24h":
      return 300;
    case "7d":
    case "30d":
      return 3600;
  }
}

/** Hour rows feed buckets of an hour or more; finer buckets read minute rows. */
export function sourceResolution(bucketSeconds: number): StoredResolution {
  return bucketSeconds >= 3600 && bucketSeconds % 3600 === 0 ? 3600 : 60;
}

export const alignDown = (ms: number, step: number) => Math.floor(ms / step) * step;
export const alignUp = (ms: number, step: number) => Math.ceil(ms / step) * step;

export interface HistoryRange {
  /** Start of the first bucket (inclusive), aligned to the bucket size. */
  from: number;
  /** End (exclusive): now. */
  to: number;
  bucketSeconds: number;
}

/** The buckets of a period ending now: the first one is whole, the last one is still filling. */
export function historyRange(period: Period, now: number): HistoryRange {
  const bucketSeconds = resolutionFor(period);
  return { from: alignDown(now - PERIOD_MS[period], bucketSeconds * 1000), to: now, bucketSeconds };
}

/** One system_metrics row, as the readers need it. */
export interface RollupRow {
  seriesKey: string;
  service: string;
  metric: string;
  resolutionSeconds: number;
  /** Epoch ms of the bucket's start. */
  bucketStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  sketch: string | null;
}

export interface Aggregate {
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface HistoryPoint extends Aggregate {
  /** Epoch ms of the bucket's start. */
  ts: number;
}

/**
 * Merges rows into one aggregate (null when they hold no samples). A single
 * row keeps the quantiles it was stored with; several rows take theirs from
 * the union of their sketches, never from averaging percentiles.
 */
export function mergeRows(rows: readonly RollupRow[]): Aggregate | null {
  let count = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    if (r.count <= 0) continue;
    count += r.count;
    sum += r.sum;
    min = Math.min(min, r.min);
    max = Math.max(max, r.max);
  }
  if (count === 0) return null;
  const only = rows.length === 1 ? rows[0] : undefined;
  if (only && only.p50 !== null && only.p95 !== null && only.p99 !== null) {
    return { count, sum, min, max, avg: sum / count, p50: only.p50, p95: only.p95, p99: only.p99 };
  }
  const sketch = emptySketch();
  for (const r of rows) mergeInto(sketch, parseSketch(r.sketch));
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((q) => quantileWithin(sketch, q, min, max)) as [
    number | null,
    number | null,
    number | null,
  ];
  return { count, sum, min, max, avg: sum / count, p50, p95, p99 };
}

/** Rows grouped by the `step`-aligned bucket their start falls in. */
function groupByBucket(rows: readonly RollupRow[], step: number): Map<number, RollupRow[]> {
  const buckets = new Map<number, RollupRow[]>();
  for (const r of rows) {
    const ts = alignDown(r.bucketStart, step);
    const list = buckets.get(ts);
    if (list) list.push(r);
    else buckets.set(ts, [r]);
  }
  return buckets;
}

/** Groups rows into buckets of `bucketSeconds` (aligned to the epoch), oldest first; empty buckets are left out. */
export function bucketize(rows: readonly RollupRow[], bucketSeconds: number): HistoryPoint[] {
  const step = bucketSeconds * 1000;
  const buckets = groupByBucket(rows, step);
  const points: HistoryPoint[] = [];
  for (const [ts, list] of [...buckets].sort(([a], [b]) => a - b)) {
    const merged = mergeRows(list);
    if (merged) points.push({ ts, ...merged });
  }
  return points;
}

const hourCell = (seriesKey: string, ms: number) => `${seriesKey}\u0000${alignDown(ms, HOUR_MS)}`;

/**
 * Hour rows where a series has one, and that series' minute rows for every
 * other hour (a series never counts twice for the same hour).
 */
export function preferHourRows(hourRows: readonly RollupRow[], minuteRows: readonly RollupRow[]): RollupRow[] {
  const covered = new Set(hourRows.map((r) => hourCell(r.seriesKey, r.bucketStart)));
  return [...hourRows, ...minuteRows.filter((r) => !covered.has(hourCell(r.seriesKey, r.bucketStart)))];
}

export type TimeRange = readonly [from: number, to: number];

/** Hour rows of recent hours may still be on their way; their minute rows are always read too. */
export const RECENT_HOURS_MS = 2 * HOUR_MS;
/** Upper bound on separate minute ranges in one query (each costs two bound parameters). */
export const MAX_MINUTE_RANGES = 16;

/**
 * The minute-row ranges to read alongside the hour rows of [from, to): the
 * partial hour at the start, every hour in which some series seen in
 * `hourRows` has no hour row, and the recent hours. With no hour rows at all,
 * the whole range. Neighbouring ranges are joined, and the closest ones merged
 * until at most `maxRanges` remain (reading more rows, never fewer).
 */
export function minuteRangesToRead(
  hourRows: readonly RollupRow[],
  from: number,
  to: number,
  now: number,
  maxRanges = MAX_MINUTE_RANGES,
): TimeRange[] {
  if (from >= to) return [];
  const series = new Set(hourRows.map((r) => r.seriesKey));
  if (series.size === 0) return [[from, to]];
  const perHour = new Map<number, number>();
  for (const r of hourRows) {
    const h = alignDown(r.bucketStart, HOUR_MS);
    perHour.set(h, (perHour.get(h) ?? 0) + 1);
  }
  const ranges: TimeRange[] = [];
  const add = (start: number, end: number) => ranges.push([Math.max(start, from), Math.min(end, to)]);
  const firstWhole = alignUp(from, HOUR_MS);
  add(from, firstWhole);
  const recentFrom = alignDown(now - RECENT_HOURS_MS, HOUR_MS);
  for (let h = firstWhole; h < to; h += HOUR_MS) {
    if (h >= recentFrom || (perHour.get(h) ?? 0) < series.size) add(h, h + HOUR_MS);
  }
  return coalesceRanges(ranges, maxRanges);
}

/**
 * Sorted ranges with touching ones joined; when more than `max` remain, the
 * ones with the smallest gaps between them are merged (covering more, never less).
 */
export function coalesceRanges(input: readonly TimeRange[], max = MAX_MINUTE_RANGES): TimeRange[] {
  const ranges: [number, number][] = [];
  for (const [from, to] of [...input].sort((a, b) => a[0] - b[0])) {
    if (from >= to) continue;
    const last = ranges.at(-1);
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else ranges.push([from, to]);
  }
  const gapAfter = (i: number) => (ranges[i + 1]?.[0] ?? 0) - (ranges[i]?.[1] ?? 0);
  while (ranges.length > Math.max(1, max)) {
    let best = 0;
    for (let i = 1; i < ranges.length - 1; i++) if (gapAfter(i) < gapAfter(best)) best = i;
    const [a, b] = [ranges[best], ranges[best + 1]];
    if (!a || !b) break;
    ranges.splice(best, 2, [a[0], b[1]]);
  }
  return ranges;
}

/**
 * The minute ranges worth reading together with the hour rows, before knowing
 * them: the partial first hour and the recent hours (see `minuteRangesToRead`).
 */
export function likelyMinuteRanges(from: number, to: number, now: number): TimeRange[] {
  const firstWhole = alignUp(from, HOUR_MS);
  const recentFrom = Math.max(alignDown(now - RECENT_HOURS_MS, HOUR_MS), firstWhole);
  return coalesceRanges([
    [from, Math.min(firstWhole, to)],
    [recentFrom, to],
  ]);
}

/** The parts of `ranges` not covered by `covered`. */
export function subtractRanges(ranges: readonly TimeRange[], covered: readonly TimeRange[]): TimeRange[] {
  let rest: TimeRange[] = coalesceRanges(ranges, Number.POSITIVE_INFINITY);
  for (const [cFrom, cTo] of covered) {
    rest = rest.flatMap(([from, to]): TimeRange[] =>
      cTo <= from || cFrom >= to
        ? [[from, to]]
        : (
            [
              [from, cFrom],
              [cTo, to],
            ] as TimeRange[]
          ).filter(([a, b]) => a < b),
    );
  }
  return rest;
}

/**
 * Where sketches are still to be read to answer `bucketize(rows, bucketSeconds)`:
 * rows without one (`sketch: null`) in buckets that merge several rows or hold
 * one row without stored quantiles, per stored resolution. Every other bucket
 * is answered from its row's own columns, so its sketch need not be read at all.
 */
export function sketchRanges(
  rows: readonly RollupRow[],
  bucketSeconds: number,
): { resolution: StoredResolution; ranges: TimeRange[] }[] {
  const step = bucketSeconds * 1000;
  const buckets = groupByBucket(rows, step);
  const needed = new Map<StoredResolution, TimeRange[]>();
  for (const [ts, list] of buckets) {
    const only = list.length === 1 ? list[0] : undefined;
    if (only && only.p50 !== null && only.p95 !== null && only.p99 !== null) continue;
    for (const r of list) {
      if (r.sketch !== null) continue;
      const resolution: StoredResolution = r.resolutionSeconds === 3600 ? 3600 : 60;
      const ranges = needed.get(resolution) ?? [];
      ranges.push([ts, ts + step]);
      needed.set(resolution, ranges);
    }
  }
  return [...needed].map(([resolution, ranges]) => ({ resolution, ranges: coalesceRanges(ranges) }));
}

/**
 * Splits [from, to) at `coveredFrom` (where the local rollups begin), on a
 * bucket boundary so no bucket is read from two stores: `older` is what only
 * the long-range store can answer.
 */
export function splitByCoverage(
  from: number,
  to: number,
  coveredFrom: number,
  bucketSeconds: number,
): { older: TimeRange | null; covered: TimeRange | null } {
  const cut = Math.min(Math.max(alignUp(coveredFrom, bucketSeconds * 1000), from), to);
  return { older: cut > from ? [from, cut] : null, covered: cut < to ? [cut, to] : null };
}

/** Latency trends merge the sketches of both metrics: probes from outside, the API's own timings. */
export const LATENCY_METRICS = ["probe_latency_ms", "api_response_ms"] as const;
export const REQUESTS_METRIC = "http_requests_total";
export const ERRORS_METRIC = "http_errors_total";
export const PROBE_UP_METRIC = "probe_up";
export const TREND_METRICS = [...LATENCY_METRICS, PROBE_UP_METRIC, REQUESTS_METRIC, ERRORS_METRIC] as const;

/**
 * Increase of a counter from its rollups: each series' buckets in time order,
 * read as (min, max) pairs, with resets counted as restarts from zero. A reset
 * inside one bucket is invisible in its min and max, so this can undercount it.
 */
export function rollupIncrease(rows: readonly RollupRow[]): number | null {
  if (!rows.length) return null;
  const bySeries = new Map<string, RollupRow[]>();
  for (const r of rows) {
    const list = bySeries.get(r.seriesKey);
    if (list) list.push(r);
    else bySeries.set(r.seriesKey, [r]);
  }
  let total = 0;
  for (const list of bySeries.values()) {
    total += counterIncrease(
      list.flatMap((r) => [
        { ts: r.bucketStart, value: r.min },
        { ts: r.bucketStart + 1, value: r.max },
      ]),
    );
  }
  return total;
}

export interface ServiceTrend {
  service: string;
  latency: { p50: number | null; p95: number | null; p99: number | null };
  /** Share of failed requests (0–1), or of failed probes when the service reports no request counters. */
  errorRate: number | null;
  errorRateSource: "requests" | "probes" | null;
  /** Share of probe_up samples that were 1 (0–1). */
  availability: number | null;
  samples: { latency: number; probes: number };
}

/**
 * Per-service trends from the rollup rows of `TREND_METRICS` over a period,
 * services by name; each of `services` is listed even without rows.
 */
export function serviceTrends(rows: readonly RollupRow[], services: readonly string[] = []): ServiceTrend[] {
  const byService = new Map<string, RollupRow[]>(services.map((s) => [s, []]));
  for (const r of rows) {
    const list = byService.get(r.service);
    if (list) list.push(r);
    else byService.set(r.service, [r]);
  }
  return [...byService.keys()].sort().map((service) => {
    const own = byService.get(service) ?? [];
    const of = (metric: string) => own.filter((r) => r.metric === metric);
    const latency = mergeRows(own.filter((r) => (LATENCY_METRICS as readonly string[]).includes(r.metric)));
    const probes = mergeRows(of(PROBE_UP_METRIC));
    const availability = probes ? probes.sum / probes.count : null;
    const requests = rollupIncrease(of(REQUESTS_METRIC));
    const errors = rollupIncrease(of(ERRORS_METRIC));
    let errorRate: number | null = null;
    let errorRateSource: ServiceTrend["errorRateSource"] = null;
    if (requests !== null && errors !== null && requests > 0) {
      errorRate = Math.min(errors / requests, 1);
      errorRateSource = "requests";
    } else if (availability !== null) {
      errorRate = 1 - availability;
      errorRateSource = "probes";
    }
    return {
      service,
      latency: { p50: latency?.p50 ?? null, p95: latency?.p95 ?? null, p99: latency?.p99 ?? null },
      errorRate,
      errorRateSource,
      availability,
      samples: { latency: latency?.count ?? 0, probes: probes?.count ?? 0 },
    };
  });
}

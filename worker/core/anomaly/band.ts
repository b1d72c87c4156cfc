/**
 * The normal range drawn behind history charts: per bucket, the value to expect
 * and a band of usual values, from seasonal percentiles of the same series' past.
 *
 * For a bucket at time t, the "peers" are the same time of day on the previous
 * days (up to `days`), or the same time of week on the previous weeks once at
 * least `minWeeks` of them hold data (weekly peers separate weekdays from
 * weekends). Sub-hour buckets also take their neighbours within ±10 minutes, so
 * a handful of days already gives enough values. With fewer than `minDays` days
 * of peers, the trailing `trailing` buckets stand in (no seasonality, but a
 * level); with less than that, the bucket has no band (null).
 *
 * Expected is the peers' median; the band is their 10th–90th percentile,
 * widened by a tenth of its width each side, and never narrower than a small
 * floor (the series' own bucket-to-bucket noise, and a tenth of a percent of
 * the expected value), so a flat series still has a band and its first wobble
 * is not drawn as "outside the normal range", while a steady 99 % success rate
 * keeps a band narrow enough to show a two-point dip. Only values strictly
 * before t are read: a spike never widens its own band. Pure.
 */
import { HOUR_MS, MINUTE_MS } from "../history";

export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;

/** How far back the band reads before the first bucket it is computed for. */
export const BAND_LOOKBACK_MS = 7 * DAY_MS;

export interface ValuePoint {
  /** Epoch ms of the bucket's start. */
  ts: number;
  value: number | null;
}

export interface BandValue {
  expected: number | null;
  low: number | null;
  high: number | null;
}

export interface BandOptions {
  /** Previous days read at the same time of day. */
  days?: number;
  /** Previous weeks read at the same time of week. */
  weeks?: number;
  /** Weeks with data needed before weekly peers replace daily ones. */
  minWeeks?: number;
  /** Days with data needed for seasonal peers at all. */
  minDays?: number;
  /** Trailing buckets used without enough days. */
  trailing?: number;
  /** Values the trailing window needs. */
  minTrailing?: number;
  /** The band's percentiles. */
  lowQuantile?: number;
  highQuantile?: number;
  /** Share of the band's width added on each side. */
  widen?: number;
}

const DEFAULTS: Required<BandOptions> = {
  days: 7,
  weeks: 4,
  minWeeks: 3,
  minDays: 2,
  trailing: 24,
  minTrailing: 6,
  lowQuantile: 0.1,
  highQuantile: 0.9,
  widen: 0.1,
};

/** Neighbouring buckets within this distance count as the same time of day. */
const NEIGHBOURHOOD_MS = 10 * MINUTE_MS;
/** Smallest half-width of a band: shares of the typical step between buckets, of the expected value, of 1. */
const FLOOR_OF_NOISE = 0.5;
const FLOOR_OF_EXPECTED = 0.001;
const FLOOR_ABSOLUTE = 0.001;

/** The q-quantile of sorted values, interpolated between neighbours. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (at - lo);
}

/** The median absolute change between consecutive values: the series' noise level (0 when flat). */
export function typicalStep(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const steps = values.slice(1).map((v, i) => Math.abs(v - (values[i] ?? v)));
  return quantileSorted(
    steps.sort((a, b) => a - b),
    0.5,
  );
}

const NULL_BAND: BandValue = { expected: null, low: null, high: null };

/**
 * The band of each bucket in `at` (epoch ms, bucket starts), from `history`
 * (any order; buckets of `bucketMs`, typically the shown range plus
 * BAND_LOOKBACK_MS before it).
 */
export function normalBands(
  history: readonly ValuePoint[],
  at: readonly number[],
  bucketMs: number,
  options: BandOptions = {},
): BandValue[] {
  const o = { ...DEFAULTS, ...options };
  const byTs = new Map<number, number>();
  for (const p of history) {
    if (p.value === null || !Number.isFinite(p.value)) continue;
    byTs.set(p.ts, p.value);
  }
  const sortedTs = [...byTs.keys()].sort((a, b) => a - b);
  const noise = typicalStep(sortedTs.map((ts) => byTs.get(ts) ?? 0));
  const reach = bucketMs > 0 ? Math.floor(NEIGHBOURHOOD_MS / bucketMs) : 0;

  /** Values at `t - k·period` (k = 1..count, with neighbours), and how many periods gave any. */
  const peers = (t: number, period: number, count: number) => {
    const values: number[] = [];
    let periods = 0;
    for (let k = 1; k <= count; k++) {
      let found = false;
      for (let j = -reach; j <= reach; j++) {
        const ts = t - k * period + j * bucketMs;
        if (ts >= t) continue;
        const v = byTs.get(ts);
        if (v === undefined) continue;
        values.push(v);
        found = true;
      }
      if (found) periods++;
    }
    return { values, periods };
  };

  /** The last `trailing` buckets' values before t. */
  const trailing = (t: number) => {
    const values: number[] = [];
    // Binary search for the first stamp at or after t, then walk back.
    let lo = 0;
    let hi = sortedTs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((sortedTs[mid] ?? 0) < t) lo = mid + 1;
      else hi = mid;
    }
    const earliest = t - o.trailing * bucketMs;
    for (let i = lo - 1; i >= 0; i--) {
      const ts = sortedTs[i] ?? 0;
      if (ts < earliest) break;
      values.push(byTs.get(ts) ?? 0);
    }
    return values;
  };

  return at.map((t) => {
    const weekly = peers(t, WEEK_MS, o.weeks);
    let values: number[] = [];
    if (weekly.periods >= o.minWeeks) values = weekly.values;
    else {
      const daily = peers(t, DAY_MS, o.days);
      if (daily.periods >= o.minDays) values = daily.values;
      else {
        const recent = trailing(t);
        if (recent.length >= o.minTrailing) values = recent;
      }
    }
    if (values.length === 0) return NULL_BAND;
    values.sort((a, b) => a - b);
    const expected = quantileSorted(values, 0.5);
    const lowQ = quantileSorted(values, o.lowQuantile);
    const highQ = quantileSorted(values, o.highQuantile);
    const margin = (highQ - lowQ) * o.widen;
    const floor = Math.max(FLOOR_OF_NOISE * noise, FLOOR_OF_EXPECTED * Math.abs(expected), FLOOR_ABSOLUTE);
    return {
      expected,
      low: Math.min(lowQ - margin, expected - floor),
      high: Math.max(highQ + margin, expected + floor),
    };
  });
}

/**
 * The past ranges to read for the bands of [from, to) at `bucketMs`: the same
 * span on each of the previous `days` days (with the neighbourhood), and the
 * trailing buckets before `from`; bucket-aligned, overlapping ones joined. For
 * a day or more they make one range of BAND_LOOKBACK_MS before `from`; for an
 * hour, eight short ones instead of a week of minutes.
 */
export function bandReadRanges(
  from: number,
  to: number,
  bucketMs: number,
  options: Pick<BandOptions, "days" | "trailing"> = {},
): [number, number][] {
  const days = options.days ?? DEFAULTS.days;
  const trailingBuckets = options.trailing ?? DEFAULTS.trailing;
  const margin = (Math.floor(NEIGHBOURHOOD_MS / bucketMs) + 1) * bucketMs;
  const down = (ms: number) => Math.floor(ms / bucketMs) * bucketMs;
  const up = (ms: number) => Math.ceil(ms / bucketMs) * bucketMs;
  const ranges: [number, number][] = [[down(from - trailingBuckets * bucketMs), from]];
  for (let k = 1; k <= days; k++)
    ranges.push([down(from - k * DAY_MS - margin), Math.min(up(to - k * DAY_MS + margin), from)]);
  const joined: [number, number][] = [];
  for (const [start, end] of ranges.filter(([a, b]) => a < b).sort((x, y) => x[0] - y[0])) {
    const last = joined.at(-1);
    if (last && last[1] >= start) last[1] = Math.max(last[1], end);
    else joined.push([start, end]);
  }
  return joined;
}

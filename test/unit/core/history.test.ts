import { describe, expect, it } from "vitest";
import {
  bucketize,
  coalesceRanges,
  HOUR_MS,
  historyRange,
  likelyMinuteRanges,
  MINUTE_MS,
  mergeRows,
  minuteRangesToRead,
  PERIOD_MS,
  PERIODS,
  preferHourRows,
  type RollupRow,
  resolutionFor,
  rollupIncrease,
  serviceTrends,
  sketchRanges,
  sourceResolution,
  splitByCoverage,
  subtractRanges,
} from "../../../worker/core/history";
import { addValue, ALPHA, emptySketch, quantile, serializeSketch } from "../../../worker/core/sketch";
import { mulberry32 } from "../../../worker/core/random";

const rng = mulberry32;

/** Nearest-rank quantile over raw values, the truth sketches approximate. */
const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? Number.NaN;

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);

interface RowSpec {
  key?: string;
  metric?: string;
  service?: string;
  resolution?: number;
  start: number;
  values: number[];
}

/** A stored rollup row of `values`, as the writer stores it (quantiles of its own sketch). */
function row({ key = "m|svc|", metric = "m", service = "svc", resolution = 60, start, values }: RowSpec): RollupRow {
  const sketch = emptySketch();
  for (const v of values) addValue(sketch, v);
  return {
    seriesKey: key,
    metric,
    service,
    resolutionSeconds: resolution,
    bucketStart: start,
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
    p50: quantile(sketch, 0.5),
    p95: quantile(sketch, 0.95),
    p99: quantile(sketch, 0.99),
    sketch: serializeSketch(sketch),
  };
}

const within = (actual: number | null, truth: number) => Math.abs((actual ?? Number.NaN) - truth) / Math.abs(truth);

describe("resolution", () => {
  it("shows 1h by minute, 24h by 5 minutes, 7d and 30d by hour", () => {
    expect(PERIODS.map((p) => [p, resolutionFor(p)])).toEqual([
      ["1h", 60],
      ["24h", 300],
      ["7d", 3600],
      ["30d", 3600],
    ]);
  });

  it("reads hour rows only for buckets of whole hours", () => {
    expect([60, 300, 1800, 3600, 7200, 5400].map(sourceResolution)).toEqual([60, 60, 60, 3600, 3600, 60]);
  });

  it("starts the range at a bucket boundary covering the whole period", () => {
    const now = T0 + 17 * MINUTE_MS + 23_456;
    for (const period of PERIODS) {
      const range = historyRange(period, now);
      const step = range.bucketSeconds * 1000;
      expect(range.from % step, period).toBe(0);
      expect(range.from).toBeLessThanOrEqual(now - PERIOD_MS[period]);
      expect(range.from).toBeGreaterThan(now - PERIOD_MS[period] - step);
      expect(range.to).toBe(now);
    }
  });
});

describe("bucket merging", () => {
  it("adds counts, sums and extremes exactly and takes quantiles from merged sketches (within 1 %)", () => {
    const random = rng(3);
    const rows: RollupRow[] = [];
    const all: number[] = [];
    for (const key of ["a", "b", "c"]) {
      for (let m = 0; m < 60; m++) {
        const values = Array.from({ length: 5 + Math.floor(random() * 40) }, () => 20 + Math.exp(random() * 6));
        all.push(...values);
        rows.push(row({ key, start: T0 + m * MINUTE_MS, values }));
      }
    }
    const [point, ...rest] = bucketize(rows, 3600);
    expect(rest).toEqual([]);
    expect(point?.ts).toBe(T0);
    expect(point?.count).toBe(all.length);
    expect(point?.min).toBe(Math.min(...all));
    expect(point?.max).toBe(Math.max(...all));
    expect(point?.avg).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 9);
    for (const [name, q] of [
      ["p50", 0.5],
      ["p95", 0.95],
      ["p99", 0.99],
    ] as const) {
      expect(within(point?.[name] ?? null, exact(all, q)), name).toBeLessThanOrEqual(ALPHA + 1e-9);
    }
  });

  it("never averages percentiles: a quiet slow series does not drag the median", () => {
    const fastValues = Array.from({ length: 990 }, (_, i) => 10 + (i % 10));
    const slowValues = Array.from({ length: 10 }, () => 5000);
    const merged = mergeRows([
      row({ key: "fast", start: T0, values: fastValues }),
      row({ key: "slow", start: T0, values: slowValues }),
    ]);
    const all = [...fastValues, ...slowValues];
    expect(merged?.count).toBe(1000);
    expect(within(merged?.p50 ?? null, exact(all, 0.5))).toBeLessThanOrEqual(ALPHA);
    expect(within(merged?.p99 ?? null, exact(all, 0.99))).toBeLessThanOrEqual(ALPHA);
    // The average of the two medians would be about 2500.
    expect(merged?.p50).toBeLessThan(20);
  });

  it("groups minute rows into 5-minute buckets aligned to the clock, oldest first, gaps left out", () => {
    const rows = [0, 1, 2, 3, 4, 5, 6, 17].map((m) => row({ start: T0 + m * MINUTE_MS, values: [m, m + 1] }));
    const points = bucketize(
      [...rows].sort((a, b) => b.bucketStart - a.bucketStart),
      300,
    );
    expect(points.map((p) => [(p.ts - T0) / MINUTE_MS, p.count, p.min, p.max])).toEqual([
      [0, 10, 0, 5],
      [5, 4, 5, 7],
      [15, 2, 17, 18],
    ]);
  });

  it("keeps the stored quantiles of a single row and ignores empty rows", () => {
    const only = { ...row({ start: T0, values: [1, 2, 3] }), p50: 2, p95: 2.9, p99: 2.99 };
    expect(mergeRows([only])).toMatchObject({ count: 3, p50: 2, p95: 2.9, p99: 2.99 });
    expect(mergeRows([])).toBeNull();
    expect(mergeRows([{ ...only, count: 0 }])).toBeNull();
  });

  it("answers null quantiles when several rows carry no sketch", () => {
    const a = { ...row({ start: T0, values: [1] }), sketch: null };
    const b = { ...row({ start: T0 + MINUTE_MS, values: [2] }), sketch: null };
    expect(mergeRows([a, b])).toMatchObject({ count: 2, min: 1, max: 2, p50: null });
  });
});

describe("hour rows first, minute rows for the rest", () => {
  const H = T0 + 10 * HOUR_MS;

  it("drops a series' minute rows in hours where that series has an hour row", () => {
    const hourA = row({ key: "a", resolution: 3600, start: H, values: [1, 2, 3] });
    const minutes = [
      row({ key: "a", start: H + 5 * MINUTE_MS, values: [2] }),
      row({ key: "a", start: H + HOUR_MS + 5 * MINUTE_MS, values: [7] }),
      row({ key: "b", start: H + 5 * MINUTE_MS, values: [9] }),
    ];
    const kept = preferHourRows([hourA], minutes);
    expect(kept.map((r) => [r.seriesKey, r.resolutionSeconds, r.bucketStart - H])).toEqual([
      ["a", 3600, 0],
      ["a", 60, HOUR_MS + 5 * MINUTE_MS],
      ["b", 60, 5 * MINUTE_MS],
    ]);
    expect(bucketize(kept, 3600).map((p) => p.count)).toEqual([4, 1]);
  });

  it("reads minutes for the partial first hour, hours some series lacks, and the recent hours", () => {
    const from = H + 30 * MINUTE_MS;
    const now = H + 10 * HOUR_MS + 20 * MINUTE_MS;
    const hours = Array.from({ length: 10 }, (_, i) => H + (i + 1) * HOUR_MS).filter((h) => h < now - HOUR_MS);
    const hourRows = hours.flatMap((h) =>
      ["a", "b"]
        .filter((key) => !(key === "b" && h === H + 4 * HOUR_MS))
        .map((key) => row({ key, resolution: 3600, start: h, values: [1] })),
    );
    expect(minuteRangesToRead(hourRows, from, now, now)).toEqual([
      [from, H + HOUR_MS],
      [H + 4 * HOUR_MS, H + 5 * HOUR_MS],
      [H + 8 * HOUR_MS, now],
    ]);
  });

  it("guesses the partial first hour and the recent hours before the hour rows are known", () => {
    const from = H + 30 * MINUTE_MS;
    const now = H + 10 * HOUR_MS + 20 * MINUTE_MS;
    expect(likelyMinuteRanges(from, now, now)).toEqual([
      [from, H + HOUR_MS],
      [H + 8 * HOUR_MS, now],
    ]);
    // A range shorter than the recent hours is all likely.
    expect(likelyMinuteRanges(now - HOUR_MS, now, now)).toEqual([[now - HOUR_MS, now]]);
  });

  it("subtracts what was already read", () => {
    expect(
      subtractRanges(
        [
          [0, 100],
          [200, 300],
        ],
        [
          [10, 20],
          [90, 210],
          [250, 300],
        ],
      ),
    ).toEqual([
      [0, 10],
      [20, 90],
      [210, 250],
    ]);
    expect(subtractRanges([[0, 10]], [[0, 10]])).toEqual([]);
  });

  it("reads the whole range when there are no hour rows, and nothing for an empty range", () => {
    expect(minuteRangesToRead([], H, H + 5 * HOUR_MS, H + 5 * HOUR_MS)).toEqual([[H, H + 5 * HOUR_MS]]);
    expect(minuteRangesToRead([], H, H, H)).toEqual([]);
  });

  it("merges the closest ranges when there are too many, still covering every needed hour", () => {
    const now = H + 40 * HOUR_MS;
    // Series b misses every third hour.
    const hourRows = Array.from({ length: 36 }, (_, i) => H + i * HOUR_MS).flatMap((h, i) => [
      row({ key: "a", resolution: 3600, start: h, values: [1] }),
      ...(i % 3 === 0 ? [] : [row({ key: "b", resolution: 3600, start: h, values: [1] })]),
    ]);
    const ranges = minuteRangesToRead(hourRows, H, now, now, 4);
    expect(ranges.length).toBeLessThanOrEqual(4);
    for (let i = 0; i < 36; i += 3) {
      const h = H + i * HOUR_MS;
      expect(
        ranges.some(([a, b]) => a <= h && h + HOUR_MS <= b),
        `hour ${i}`,
      ).toBe(true);
    }
  });
});

describe("reading only the sketches that are merged", () => {
  it("asks for the buckets with several rows or without stored quantiles, per resolution, unless read", () => {
    const H = T0 + 5 * HOUR_MS;
    const bare = (r: RollupRow): RollupRow => ({ ...r, sketch: null });
    const rows = [
      bare(row({ key: "a", resolution: 3600, start: H, values: [1] })), // alone: its own quantiles answer
      bare(row({ key: "a", resolution: 3600, start: H + HOUR_MS, values: [1] })),
      bare(row({ key: "b", start: H + HOUR_MS + 5 * MINUTE_MS, values: [2] })), // merges with a's hour row
      bare({ ...row({ key: "a", resolution: 3600, start: H + 3 * HOUR_MS, values: [1] }), p99: null }),
      bare(row({ key: "b", start: H + 4 * HOUR_MS, values: [2] })),
      bare(row({ key: "b", start: H + 4 * HOUR_MS + MINUTE_MS, values: [3] })),
      // Already read with its sketch: nothing more to read for its bucket.
      row({ key: "b", start: H + 6 * HOUR_MS, values: [2] }),
      row({ key: "b", start: H + 6 * HOUR_MS + MINUTE_MS, values: [3] }),
    ];
    expect(sketchRanges(rows, 3600)).toEqual([
      {
        resolution: 3600,
        ranges: [
          [H + HOUR_MS, H + 2 * HOUR_MS],
          [H + 3 * HOUR_MS, H + 4 * HOUR_MS],
        ],
      },
      {
        resolution: 60,
        ranges: [
          [H + HOUR_MS, H + 2 * HOUR_MS],
          [H + 4 * HOUR_MS, H + 5 * HOUR_MS],
        ],
      },
    ]);
    expect(sketchRanges(rows.slice(0, 1), 3600)).toEqual([]);
  });

  it("joins touching ranges and merges the closest ones beyond the limit", () => {
    expect(
      coalesceRanges([
        [50, 60],
        [0, 10],
        [10, 20],
        [30, 40],
        [5, 8],
      ]),
    ).toEqual([
      [0, 20],
      [30, 40],
      [50, 60],
    ]);
    expect(
      coalesceRanges(
        [
          [0, 10],
          [12, 20],
          [50, 60],
          [70, 75],
        ],
        2,
      ),
    ).toEqual([
      [0, 20],
      [50, 75],
    ]);
  });
});

describe("store coverage", () => {
  it("splits at the first whole bucket the local store covers", () => {
    const from = T0;
    const to = T0 + 30 * 24 * HOUR_MS;
    const cut = splitByCoverage(from, to, T0 + 10 * HOUR_MS + 1, 3600);
    expect(cut).toEqual({ older: [from, T0 + 11 * HOUR_MS], covered: [T0 + 11 * HOUR_MS, to] });
    expect(splitByCoverage(from, to, T0 - HOUR_MS, 3600)).toEqual({ older: null, covered: [from, to] });
    expect(splitByCoverage(from, to, to + HOUR_MS, 3600)).toEqual({ older: [from, to], covered: null });
  });
});

describe("trends", () => {
  it("counts counter increases across buckets and resets", () => {
    const rows = [
      row({ key: "c", start: T0, values: [100, 110, 130] }),
      row({ key: "c", start: T0 + MINUTE_MS, values: [140, 150] }),
      row({ key: "c", start: T0 + 2 * MINUTE_MS, values: [5, 25] }), // restarted
      row({ key: "d", start: T0 + MINUTE_MS, values: [1000, 1001] }),
    ];
    // c: 100 → 150 is 50, then restarted from 0: 5 + 20; d: 1
    expect(rollupIncrease([...rows].sort((a, b) => b.bucketStart - a.bucketStart))).toBe(76);
    expect(rollupIncrease([])).toBeNull();
  });

  it("rates errors from request counters, else from failed probes; merges both latency metrics", () => {
    const rows = [
      row({ key: "rq", metric: "http_requests_total", service: "api", start: T0, values: [1000, 1400] }),
      row({ key: "er", metric: "http_errors_total", service: "api", start: T0, values: [10, 30] }),
      row({ key: "pl", metric: "probe_latency_ms", service: "api", start: T0, values: Array(90).fill(100) }),
      row({ key: "ar", metric: "api_response_ms", service: "api", start: T0, values: Array(10).fill(900) }),
      row({ key: "up", metric: "probe_up", service: "api", start: T0, values: [1, 1, 1, 1] }),
      row({ key: "up2", metric: "probe_up", service: "db", start: T0, values: [1, 0, 1, 1, 0, 1, 1, 1, 1, 1] }),
    ];
    const [api, db, idle] = serviceTrends(rows, ["idle", "db"]);
    expect(api).toMatchObject({ service: "api", errorRate: 20 / 400, errorRateSource: "requests", availability: 1 });
    expect(api?.samples).toEqual({ latency: 100, probes: 4 });
    expect(within(api?.latency.p50 ?? null, 100)).toBeLessThanOrEqual(ALPHA);
    expect(within(api?.latency.p95 ?? null, 900)).toBeLessThanOrEqual(ALPHA);
    expect(db).toMatchObject({ service: "db", availability: 0.8, errorRateSource: "probes" });
    expect(db?.errorRate).toBeCloseTo(0.2, 12);
    expect(idle).toEqual({
      service: "idle",
      latency: { p50: null, p95: null, p99: null },
      errorRate: null,
      errorRateSource: null,
      availability: null,
      samples: { latency: 0, probes: 0 },
    });
  });
});

import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS, type HistoryPoint, type RollupRow } from "../../../worker/core/history";
import {
  buildChart,
  type ChartInputData,
  chartBucketSeconds,
  chartInputKey,
  chartInputs,
  chartRange,
  describeField,
  fieldUnit,
  increaseByBucket,
  TREND_CHARTS,
  type TrendChart,
} from "../../../worker/core/trends";

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);

/** A counter's rollup row: only count, min and max matter to the increase. */
const counterRow = (key: string, start: number, min: number, max: number, resolution = 60): RollupRow => ({
  seriesKey: key,
  metric: "http_requests_total",
  service: "api",
  resolutionSeconds: resolution,
  bucketStart: start,
  count: 2,
  sum: min + max,
  min,
  max,
  p50: null,
  p95: null,
  p99: null,
  sketch: null,
});

const point = (ts: number, values: Partial<HistoryPoint>): HistoryPoint => ({
  ts,
  count: 1,
  sum: 0,
  min: 0,
  max: 0,
  avg: 0,
  p50: null,
  p95: null,
  p99: null,
  ...values,
});

const chart = (id: string) => {
  const found = TREND_CHARTS.find((c) => c.id === id);
  if (!found) throw new Error(`no chart ${id}`);
  return found as TrendChart;
};

describe("trend chart definitions", () => {
  it("bins at the period's resolution, user activity always by hour", () => {
    expect(TREND_CHARTS.map((c) => [c.id, chartBucketSeconds(c, "24h"), chartBucketSeconds(c, "7d")])).toEqual([
      ["payment_success_rate", 300, 3600],
      ["api_response_time", 300, 3600],
      ["database", 300, 3600],
      ["user_activity", 3600, 3600],
    ]);
    const now = T0 + 17 * MINUTE_MS + 5_000;
    expect(chartRange(chart("user_activity"), "24h", now)).toEqual({
      from: T0 - 24 * HOUR_MS,
      to: now,
      bucketSeconds: 3600,
    });
    expect(chartRange(chart("database"), "24h", now).from).toBe(T0 - 24 * HOUR_MS + 15 * MINUTE_MS);
  });

  it("reads each metric once, counters from their rows", () => {
    expect(chartInputs(chart("api_response_time"))).toEqual([
      { metric: "api_response_ms", service: "api", counter: false },
    ]);
    expect(chartInputs(chart("user_activity"))).toEqual([
      { metric: "http_requests_total", service: "api", counter: true },
    ]);
    expect(chartInputs(chart("database")).map((i) => i.metric)).toEqual([
      "db_pool_utilization",
      "db_pool_in_use",
      "db_pool_size",
      "db_query_ms",
    ]);
  });

  it("gives every field a unit and a description", () => {
    const db = chart("database");
    expect(db.fields.map((f) => fieldUnit(db, f.field))).toEqual(["%", "connections", "connections", "ms"]);
    expect(fieldUnit(chart("api_response_time"), "p95")).toBe("ms");
    const query = db.fields.find((f) => f.field === "query_ms");
    expect(query && describeField(query, null)).toMatch(/db_query_ms on database.*present only when/);
    const p95 = chart("api_response_time").fields[1];
    expect(p95 && describeField(p95, 300)).toMatch(/^95th percentile \(from the bucket's merged quantile sketches\)/);
  });
});

describe("increaseByBucket", () => {
  it("counts each rise in the bucket of the reading that shows it, across bucket edges", () => {
    // One reading a minute: 100, 110, 130 | 160, 200 (hour edge between 130 and 160).
    const rows = [
      counterRow("a", T0 + 57 * MINUTE_MS, 100, 100),
      counterRow("a", T0 + 58 * MINUTE_MS, 110, 110),
      counterRow("a", T0 + 59 * MINUTE_MS, 130, 130),
      counterRow("a", T0 + 60 * MINUTE_MS, 160, 160),
      counterRow("a", T0 + 61 * MINUTE_MS, 200, 200),
    ];
    expect([...increaseByBucket(rows, 3600, T0)]).toEqual([
      [T0, 30],
      [T0 + HOUR_MS, 70],
    ]);
  });

  it("uses rows before `from` only as the baseline", () => {
    const rows = [counterRow("a", T0 - 10 * MINUTE_MS, 40, 90), counterRow("a", T0 + 5 * MINUTE_MS, 100, 120)];
    expect([...increaseByBucket(rows, 3600, T0)]).toEqual([[T0, 30]]);
  });

  it("counts a reset as a restart from zero and adds series up", () => {
    const rows = [
      counterRow("a", T0, 1000, 1200),
      counterRow("a", T0 + 20 * MINUTE_MS, 100, 300), // reset: +100, then +200
      counterRow("b", T0 + 30 * MINUTE_MS, 5, 5),
      counterRow("b", T0 + 31 * MINUTE_MS, 7, 9),
    ];
    expect([...increaseByBucket(rows, 3600, T0)]).toEqual([[T0, 200 + 100 + 200 + 4]]);
  });

  it("reads hour rows as (first, last) readings, mixed with minute rows", () => {
    const rows = [
      counterRow("a", T0, 0, 600, 3600),
      counterRow("a", T0 + HOUR_MS, 650, 1200, 3600),
      counterRow("a", T0 + 2 * HOUR_MS + 30 * MINUTE_MS, 1300, 1300),
    ];
    expect([...increaseByBucket(rows, 3600, T0)]).toEqual([
      [T0, 600],
      [T0 + HOUR_MS, 600],
      [T0 + 2 * HOUR_MS, 100],
    ]);
  });

  it("marks a bucket holding only a series' first reading as zero, not missing", () => {
    expect([...increaseByBucket([counterRow("a", T0 + MINUTE_MS, 7, 7)], 3600, T0)]).toEqual([[T0, 0]]);
    expect(increaseByBucket([], 3600, T0).size).toBe(0);
  });
});

describe("buildChart", () => {
  it("puts each field's aggregation of its input into one point per bucket, null where it has none", () => {
    const inputs = new Map<string, ChartInputData>([
      [
        chartInputKey("api_response_ms", "api"),
        {
          points: [
            point(T0, { p50: 10, p95: 40, p99: 90, avg: 999 }),
            point(T0 + 300_000, { p50: 12, p95: null, p99: 95 }),
          ],
        },
      ],
    ]);
    expect(buildChart(chart("api_response_time"), 300, inputs)).toEqual({
      id: "api_response_time",
      bucketSeconds: 300,
      fields: chart("api_response_time").fields.map((f) => ({ ...f })),
      points: [
        { ts: T0, p50: 10, p95: 40, p99: 90 },
        { ts: T0 + 300_000, p50: 12, p95: null, p99: 95 },
      ],
    });
  });

  it("leaves an optional field out unless reported, and joins the buckets of every field", () => {
    const db = chart("database");
    const inputs = new Map<string, ChartInputData>([
      [chartInputKey("db_pool_utilization", "database"), { points: [point(T0, { avg: 40 })] }],
      [chartInputKey("db_pool_in_use", "database"), { points: [point(T0 + HOUR_MS, { avg: 8 })] }],
    ]);
    const without = buildChart(db, 3600, inputs);
    expect(without.fields.map((f) => f.field)).toEqual(["pool_utilization", "pool_in_use", "pool_size"]);
    expect(without.points).toEqual([
      { ts: T0, pool_utilization: 40, pool_in_use: null, pool_size: null },
      { ts: T0 + HOUR_MS, pool_utilization: null, pool_in_use: 8, pool_size: null },
    ]);
    inputs.set(chartInputKey("db_query_ms", "database"), { points: [point(T0, { avg: 3.5 })] });
    const withQuery = buildChart(db, 3600, inputs);
    expect(withQuery.fields.map((f) => f.field)).toContain("query_ms");
    expect(withQuery.points[0]).toEqual({
      ts: T0,
      pool_utilization: 40,
      pool_in_use: null,
      pool_size: null,
      query_ms: 3.5,
    });
  });

  it("takes increases for counter fields", () => {
    const inputs = new Map<string, ChartInputData>([
      [chartInputKey("http_requests_total", "api"), { increases: new Map([[T0, 1234]]) }],
    ]);
    expect(buildChart(chart("user_activity"), 3600, inputs).points).toEqual([{ ts: T0, requests: 1234 }]);
    expect(buildChart(chart("user_activity"), 3600, new Map()).points).toEqual([]);
  });
});

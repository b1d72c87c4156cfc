import { describe, expect, it } from "vitest";
import {
  alignPoints,
  formatTick,
  formatTicks,
  hasValues,
  latestValues,
  TREND_PERIODS,
  trendViews,
} from "../../../dashboard/src/lib/trends";
import type { PerformanceTrends, TrendChartField } from "../../../dashboard/src/lib/types";

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const s = (ms: number) => ms / 1000;

const field = (name: string, metric: string, unit: string, aggregation: TrendChartField["aggregation"] = "avg") => ({
  field: name,
  metric,
  service: "svc",
  aggregation,
  unit,
});

function trends(overrides: Partial<PerformanceTrends["charts"]> = {}): PerformanceTrends {
  const base = { from: iso(T0), to: iso(T0 + 86_400_000), complete: true };
  return {
    period: "24h",
    from: iso(T0),
    to: iso(T0 + 86_400_000),
    services: [],
    charts: {
      payment_success_rate: {
        ...base,
        title: "Payment success rate",
        resolution_seconds: 300,
        fields: [field("value", "payment_success_rate", "%")],
        points: [
          { ts: iso(T0), value: 99.5 },
          { ts: iso(T0 + 300_000), value: 97 },
        ],
      },
      api_response_time: {
        ...base,
        title: "API response time",
        resolution_seconds: 300,
        fields: [
          field("p50", "api_response_ms", "ms", "p50"),
          field("p95", "api_response_ms", "ms", "p95"),
          field("p99", "api_response_ms", "ms", "p99"),
        ],
        points: [{ ts: iso(T0), p50: 80, p95: 240, p99: 900 }],
      },
      database: {
        ...base,
        title: "Database performance",
        resolution_seconds: 300,
        fields: [
          field("pool_utilization", "db_pool_utilization", "%"),
          field("pool_in_use", "db_pool_in_use", "connections"),
          field("pool_size", "db_pool_size", "connections"),
        ],
        points: [{ ts: iso(T0), pool_utilization: 40, pool_in_use: 8, pool_size: 20 }],
      },
      user_activity: {
        ...base,
        title: "User activity by hour",
        resolution_seconds: 3600,
        fields: [field("requests", "http_requests_total", "requests", "increase")],
        points: [],
      },
      ...overrides,
    },
  };
}

describe("alignPoints", () => {
  it("gives x in epoch seconds, oldest first, and one column per field (null for a missing value)", () => {
    const data = alignPoints(
      [
        { ts: iso(T0 + 300_000), a: 2, b: null },
        { ts: iso(T0), a: 1, b: 10 },
      ],
      ["a", "b"],
      300,
    );
    expect(data).toEqual([
      [s(T0), s(T0 + 300_000)],
      [1, 2],
      [10, null],
    ]);
  });

  it("breaks the line where buckets are missing, with one row of nulls", () => {
    const data = alignPoints(
      [
        { ts: iso(T0), a: 1 },
        { ts: iso(T0 + 3 * 300_000), a: 4 },
        { ts: iso(T0 + 4 * 300_000), a: 5 },
      ],
      ["a"],
      300,
    );
    expect(data).toEqual([
      [s(T0), s(T0 + 300_000), s(T0 + 900_000), s(T0 + 1_200_000)],
      [1, null, 4, 5],
    ]);
  });

  it("skips points with a bad time and values that are not numbers", () => {
    expect(
      alignPoints(
        [
          { ts: "nope", a: 1 },
          { ts: iso(T0), a: "7" },
        ],
        ["a"],
        60,
      ),
    ).toEqual([[s(T0)], [null]]);
    expect(alignPoints([], ["a", "b"], 60)).toEqual([[], [], []]);
  });
});

describe("latest values", () => {
  it("takes each series' newest non-null value and its time", () => {
    const data = alignPoints(
      [
        { ts: iso(T0), a: 1, b: 5 },
        { ts: iso(T0 + 60_000), a: 2, b: null },
      ],
      ["a", "b", "c"],
      60,
    );
    expect(latestValues(data)).toEqual([
      { value: 2, at: s(T0 + 60_000) },
      { value: 5, at: s(T0) },
      { value: null, at: null },
    ]);
    expect(hasValues(data)).toBe(true);
    expect(hasValues(alignPoints([{ ts: iso(T0), a: null }], ["a"], 60))).toBe(false);
  });
});

describe("trendViews", () => {
  it("shapes every chart in order, with its series, axes and bars", () => {
    const views = trendViews(trends());
    expect(views.map((v) => [v.id, v.bars, v.series.map((x) => `${x.field}:${x.axis}:${x.unit}`)])).toEqual([
      ["payment_success_rate", false, ["value:left:%"]],
      ["api_response_time", false, ["p50:left:ms", "p95:left:ms", "p99:left:ms"]],
      ["database", false, ["pool_utilization:left:%"]],
      ["user_activity", true, ["requests:left:requests"]],
    ]);
    expect(views[0]?.data).toEqual([
      [s(T0), s(T0 + 300_000)],
      [99.5, 97],
    ]);
    expect(views[1]?.data).toEqual([[s(T0)], [80], [240], [900]]);
    expect(views[3]?.data).toEqual([[], []]);
    expect(views.every((v) => v.emptyText.length > 0)).toBe(true);
  });

  it("puts query latency on the right axis once it is reported", () => {
    const base = trends().charts.database;
    const views = trendViews(
      trends({
        database: {
          ...base,
          fields: [...base.fields, field("query_ms", "db_query_ms", "ms")],
          points: [{ ts: iso(T0), pool_utilization: 40, pool_in_use: 8, pool_size: 20, query_ms: 3.5 }],
        },
      }),
    );
    const db = views.find((v) => v.id === "database");
    expect(db?.series.map((x) => [x.field, x.axis, x.unit])).toEqual([
      ["pool_utilization", "left", "%"],
      ["query_ms", "right", "ms"],
    ]);
    expect(db?.data).toEqual([[s(T0)], [40], [3.5]]);
  });
});

describe("formatting", () => {
  it("keeps axis ticks short", () => {
    expect(formatTick(50, "%")).toBe("50%");
    expect(formatTick(120, "ms")).toBe("120 ms");
    expect(formatTick(1500, "ms")).toBe("1.5 s");
    expect(formatTick(12_000, "requests")).toBe("12k");
    expect(formatTick(1500, "requests")).toBe("1.5k");
    expect(formatTick(2_500_000, "")).toBe("2.5M");
    expect(formatTick(0.25, "")).toBe("0.25");
  });

  it("gives ticks as many decimals as their step, so no two read the same", () => {
    expect(formatTicks([97, 97.5, 98, 98.5, 99, 99.5], "%")).toEqual(["97%", "97.5%", "98%", "98.5%", "99%", "99.5%"]);
    expect(formatTicks([0, 0.25, 0.5, 0.75], "")).toEqual(["0", "0.25", "0.5", "0.75"]);
    expect(formatTicks([1000, 1250, 1500], "ms")).toEqual(["1 s", "1.25 s", "1.5 s"]);
    expect(formatTicks([10_000, 10_500, 11_000], "requests")).toEqual(["10k", "10.5k", "11k"]);
    expect(formatTicks([0, 50, 100], "ms")).toEqual(["0 ms", "50 ms", "100 ms"]);
    expect(formatTicks([0, 100_000, 200_000], "")).toEqual(["0", "100k", "200k"]);
    // A tick that floating point left a hair off its step still reads as the step's decimals.
    expect(formatTicks([0.1, 0.2, 0.30000000000000004], "%")).toEqual(["0.1%", "0.2%", "0.3%"]);
    expect(formatTicks([42], "%")).toEqual(["42%"]);
  });

  it("offers the three periods of the page", () => {
    expect(TREND_PERIODS.map((p) => p.value)).toEqual(["24h", "7d", "30d"]);
  });
});

describe("trendViews with the normal range", () => {
  const withBand = (): PerformanceTrends => {
    const t = trends();
    t.charts.payment_success_rate = {
      ...t.charts.payment_success_rate,
      band_field: "value",
      points: [
        { ts: iso(T0), value: 99.5, expected: 99, low: 98, high: 100 },
        // A hole of two buckets: the band breaks there like the line.
        { ts: iso(T0 + 900_000), value: 90, expected: 99.2, low: 98.1, high: 99.9 },
      ],
    };
    return t;
  };

  it("splits the band's columns from the series', aligned with the same x and gaps", () => {
    const [pay] = trendViews(withBand(), { band: true });
    expect(pay?.data).toEqual([
      [s(T0), s(T0 + 300_000), s(T0 + 900_000)],
      [99.5, null, 90],
    ]);
    expect(pay?.band).toEqual({
      low: [98, null, 98.1],
      high: [100, null, 99.9],
      expected: [99, null, 99.2],
      unit: "%",
      axis: "left",
    });
    expect(pay?.inputs).toEqual([{ metric: "payment_success_rate", service: "svc" }]);
  });

  it("has no band when not asked for, or when the API answered none", () => {
    expect(trendViews(withBand())[0]?.band).toBeNull();
    expect(trendViews(trends(), { band: true })[0]?.band).toBeNull();
  });
});

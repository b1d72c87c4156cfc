/**
 * The charts of `GET /performance/trends`: real rollup rows in D1, read back through
 * the API. Rows are written hours in the past, under their own labels, and only those
 * buckets are checked, so live data of the same metrics elsewhere cannot disturb them.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { addValue, ALPHA, emptySketch, quantile } from "../../worker/core/sketch";
import { callJson, createAdmin, type ErrorBody, insertAll, rollupInsert, type TestAdmin } from "./helpers";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASE = "/api/admin/monitoring";
const mine = { source: "trends-test" };

type Values = Record<string, number | null | string>;
interface Chart {
  title: string;
  resolution_seconds: number;
  from: string;
  to: string;
  complete: boolean;
  fields: { field: string; metric: string; service: string; aggregation: string; unit: string }[];
  points: ({ ts: string } & Values)[];
}
interface Trends {
  period: string;
  services: unknown[];
  charts: Record<"payment_success_rate" | "api_response_time" | "database" | "user_activity", Chart>;
}

let viewer: TestAdmin;
beforeAll(async () => {
  viewer = await createAdmin("viewer");
});

const trends = (period: string) =>
  callJson<Trends & ErrorBody>("GET", `${BASE}/performance/trends?period=${period}`, { token: viewer.token });

const at = (chart: Chart, ts: number) => chart.points.find((p) => p.ts === new Date(ts).toISOString());

/** The truth sketches approximate: the value at rank q·(n-1) of the sorted values. */
const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? Number.NaN;
const relErr = (actual: unknown, truth: number) => Math.abs(Number(actual) - truth) / truth;
/** The quantile a single rollup row stores for its own values. */
const ownQuantile = (values: number[], q: number) => {
  const sketch = emptySketch();
  for (const v of values) addValue(sketch, v);
  return quantile(sketch, q) ?? Number.NaN;
};

describe("GET /performance/trends charts", () => {
  it("answers 24h in 5-minute buckets: means, merged-sketch percentiles, pool gauges, requests per hour", async () => {
    const now = Date.now();
    const bucket = Math.floor((now - 5 * HOUR) / (5 * MINUTE)) * 5 * MINUTE;
    // Two minutes of one bucket: many fast responses, then a few slow ones. The bucket's p95 is
    // the union's; averaging the two rows' own p95s would give something else entirely.
    const fast = Array.from({ length: 95 }, (_, i) => 20 + (i % 10));
    const slow = Array.from({ length: 15 }, (_, i) => 900 + 10 * i);
    const later = [50, 60, 70];
    // The request counter, pushed once a minute: 5000 + 10 per minute, across an hour edge.
    const hour = Math.floor(now / HOUR) * HOUR - 4 * HOUR;
    const counter = (m: number) => 5000 + 10 * m;
    const counterRows = [];
    for (let m = -30; m < 30; m++)
      counterRows.push(rollupInsert("http_requests_total", "api", mine, 60, hour + m * MINUTE, [counter(m)]));
    await insertAll([
      rollupInsert("api_response_ms", "api", mine, 60, bucket, fast),
      rollupInsert("api_response_ms", "api", mine, 60, bucket + MINUTE, slow),
      rollupInsert("api_response_ms", "api", mine, 60, bucket + 10 * MINUTE, later),
      rollupInsert("payment_success_rate", "ecpay", mine, 60, bucket, [99, 98]),
      rollupInsert("payment_success_rate", "ecpay", mine, 60, bucket + 2 * MINUTE, [94]),
      rollupInsert("db_pool_utilization", "database", mine, 60, bucket, [40, 60]),
      rollupInsert("db_pool_in_use", "database", mine, 60, bucket, [8, 12]),
      rollupInsert("db_pool_size", "database", mine, 60, bucket, [20, 20]),
      ...counterRows,
    ]);

    const res = await trends("24h");
    expect(res.status).toBe(200);
    expect(res.body.period).toBe("24h");
    expect(Array.isArray(res.body.services)).toBe(true);
    const { payment_success_rate: pay, api_response_time: api, database: db, user_activity: users } = res.body.charts;

    expect(pay).toMatchObject({ title: "Payment success rate", resolution_seconds: 300, complete: true });
    expect(pay.fields).toEqual([
      { field: "value", metric: "payment_success_rate", service: "ecpay", aggregation: "avg", unit: "%" },
    ]);
    expect(Date.parse(pay.from) % (5 * MINUTE)).toBe(0);
    expect(Date.parse(pay.to) - Date.parse(pay.from)).toBeGreaterThanOrEqual(24 * HOUR);
    expect(at(pay, bucket)?.value).toBeCloseTo((99 + 98 + 94) / 3, 9);

    expect(api.resolution_seconds).toBe(300);
    expect(api.fields.map((f) => [f.field, f.aggregation, f.unit])).toEqual([
      ["p50", "p50", "ms"],
      ["p95", "p95", "ms"],
      ["p99", "p99", "ms"],
    ]);
    const merged = at(api, bucket);
    const union = [...fast, ...slow];
    for (const [name, q] of [
      ["p50", 0.5],
      ["p95", 0.95],
      ["p99", 0.99],
    ] as const) {
      expect(relErr(merged?.[name], exact(union, q)), name).toBeLessThanOrEqual(ALPHA + 1e-9);
    }
    // …and the average of the rows' own percentiles is far from it: the test can tell them apart.
    const averaged = (ownQuantile(fast, 0.95) + ownQuantile(slow, 0.95)) / 2;
    expect(relErr(averaged, exact(union, 0.95))).toBeGreaterThan(0.2);
    expect(relErr(at(api, bucket + 10 * MINUTE)?.p95, exact(later, 0.95))).toBeLessThanOrEqual(ALPHA + 1e-9);
    // Only buckets with data are listed, oldest first.
    const stamps = api.points.map((p) => Date.parse(p.ts));
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(at(api, bucket + 5 * MINUTE)).toBeUndefined();

    expect(db.fields.map((f) => [f.field, f.metric, f.unit])).toEqual(
      expect.arrayContaining([
        ["pool_utilization", "db_pool_utilization", "%"],
        ["pool_in_use", "db_pool_in_use", "connections"],
        ["pool_size", "db_pool_size", "connections"],
      ]),
    );
    expect(at(db, bucket)).toMatchObject({ pool_utilization: 50, pool_in_use: 10, pool_size: 20 });

    // Requests per hour: the counter's increase, the rise across the hour edge counted in the later hour.
    expect(users).toMatchObject({ title: "User activity by hour", resolution_seconds: 3600 });
    expect(users.fields).toEqual([
      {
        field: "requests",
        metric: "http_requests_total",
        service: "api",
        aggregation: "increase",
        unit: "requests",
      },
    ]);
    expect(at(users, hour - HOUR)?.requests).toBe(29 * 10);
    expect(at(users, hour)?.requests).toBe(30 * 10);
  });

  it("answers 7d by hour, merging the sketches of every series' hour rows", async () => {
    const hour = Math.floor(Date.now() / HOUR) * HOUR - 30 * HOUR;
    const tw = Array.from({ length: 200 }, (_, i) => 100 + i);
    const jp = Array.from({ length: 40 }, (_, i) => 5000 + 50 * i);
    await insertAll([
      rollupInsert("api_response_ms", "api", { ...mine, region: "tw" }, 3600, hour, tw),
      rollupInsert("api_response_ms", "api", { ...mine, region: "jp" }, 3600, hour, jp),
      rollupInsert("payment_success_rate", "ecpay", mine, 3600, hour, [97, 99]),
      rollupInsert("http_requests_total", "api", mine, 3600, hour - HOUR, [100, 700]),
      rollupInsert("http_requests_total", "api", mine, 3600, hour, [760, 1500]),
    ]);
    const res = await trends("7d");
    expect(res.status).toBe(200);
    const { api_response_time: api, payment_success_rate: pay, user_activity: users } = res.body.charts;
    expect(api.resolution_seconds).toBe(3600);
    const point = at(api, hour);
    const union = [...tw, ...jp];
    for (const [name, q] of [
      ["p50", 0.5],
      ["p95", 0.95],
      ["p99", 0.99],
    ] as const) {
      expect(relErr(point?.[name], exact(union, q)), name).toBeLessThanOrEqual(ALPHA + 1e-9);
      const averaged = (ownQuantile(tw, q) + ownQuantile(jp, q)) / 2;
      expect(relErr(averaged, exact(union, q)), `${name} averaged`).toBeGreaterThan(0.1);
    }
    expect(at(pay, hour)?.value).toBe(98);
    // 700 → 760 rises at the start of the later hour: 600 in the first, 60 + 740 in the second.
    expect(at(users, hour - HOUR)?.requests).toBe(600);
    expect(at(users, hour)?.requests).toBe(800);
  });

  it("lists query latency only where db_query_ms is reported", async () => {
    await env.DB.prepare("DELETE FROM system_metrics WHERE metric_name = 'db_query_ms'").run();
    const hour = Math.floor(Date.now() / HOUR) * HOUR - 50 * HOUR;
    await insertAll([rollupInsert("db_pool_utilization", "database", mine, 3600, hour, [30])]);
    const without = (await trends("30d")).body.charts.database;
    expect(without.fields.map((f) => f.field)).not.toContain("query_ms");
    expect(at(without, hour)).not.toHaveProperty("query_ms");
    expect(at(without, hour)?.pool_utilization).toBe(30);

    await insertAll([rollupInsert("db_query_ms", "database", mine, 3600, hour, [2, 4, 9])]);
    const withQuery = (await trends("30d")).body.charts.database;
    expect(withQuery.resolution_seconds).toBe(3600);
    expect(withQuery.fields).toContainEqual({
      field: "query_ms",
      metric: "db_query_ms",
      service: "database",
      aggregation: "avg",
      unit: "ms",
    });
    expect(at(withQuery, hour)?.query_ms).toBe(5);
  });

  it("documents every chart's points in the OpenAPI schema", async () => {
    const doc = await callJson<{
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    }>("GET", "/api/openapi.json");
    const schemas = doc.body.components.schemas;
    expect(Object.keys(schemas.TrendCharts?.properties ?? {})).toEqual([
      "payment_success_rate",
      "api_response_time",
      "database",
      "user_activity",
    ]);
    const dbPoint = schemas.TrendPoint_database;
    expect(Object.keys(dbPoint?.properties ?? {})).toEqual([
      "ts",
      "pool_utilization",
      "pool_in_use",
      "pool_size",
      "query_ms",
      "expected",
      "low",
      "high",
    ]);
    expect(dbPoint?.required).not.toContain("query_ms");
    expect(dbPoint?.required).not.toContain("expected");
    expect(Object.keys(schemas.TrendPoint_api_response_time?.properties ?? {})).toEqual([
      "ts",
      "p50",
      "p95",
      "p99",
      "expected",
      "low",
      "high",
    ]);
  });

  it("answers each chart's normal range with band=1, from the week before the period", async () => {
    // A steady payment success rate: 99 every hour of the last 14 days (hour rows), 60 in one recent hour.
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    const dip = hour - 20 * HOUR;
    const rows = [];
    for (let h = hour - 14 * 24 * HOUR; h <= hour - 3 * HOUR; h += HOUR)
      rows.push(
        rollupInsert("payment_success_rate", "ecpay", { source: "trends-band" }, 3600, h, [h === dip ? 60 : 99]),
      );
    await insertAll(rows);

    const plain = (await trends("7d")).body.charts.payment_success_rate;
    expect(plain.points[0]).not.toHaveProperty("expected");

    const res = await callJson<Trends & ErrorBody>("GET", `${BASE}/performance/trends?period=7d&band=1`, {
      token: viewer.token,
    });
    expect(res.status).toBe(200);
    const charts = res.body.charts as Record<string, Chart & { band_field: string }>;
    expect(Object.fromEntries(Object.entries(charts).map(([id, c]) => [id, c.band_field]))).toEqual({
      payment_success_rate: "value",
      api_response_time: "p95",
      database: "pool_utilization",
      user_activity: "requests",
    });
    for (const chart of Object.values(charts))
      for (const p of chart.points) expect(Object.keys(p)).toEqual(expect.arrayContaining(["expected", "low", "high"]));
    const pay = res.body.charts.payment_success_rate;
    const before = at(pay, dip - HOUR);
    const atDip = at(pay, dip);
    // Only this test's series reports the metric in these hours unless others wrote some too: compare loosely.
    expect(before?.expected).not.toBeNull();
    expect(Number(before?.low)).toBeLessThanOrEqual(Number(before?.value));
    expect(Number(before?.high)).toBeGreaterThanOrEqual(Number(before?.value));
    expect(Number(atDip?.value)).toBeLessThan(Number(atDip?.low));
  });
});

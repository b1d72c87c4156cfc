import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type Labels, type Sample, seriesKey } from "../../worker/core/series";
import { ALPHA } from "../../worker/core/sketch";
import { recordDerivedMetrics } from "../../worker/handlers/series-jobs";
import { readSeries } from "../../worker/lib/series";
import {
  callJson,
  createAdmin,
  type ErrorBody,
  insertAll,
  recordIndexed,
  rollupInsert,
  type TestAdmin,
} from "./helpers";
import { mulberry32 } from "../../worker/core/random";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const BASE = "/api/admin/monitoring";

let viewer: TestAdmin;

const rng = mulberry32;

const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? Number.NaN;
const relErr = (actual: number | null | undefined, truth: number) => Math.abs((actual ?? Number.NaN) - truth) / truth;

interface Point {
  ts: string;
  count: number;
  min: number;
  max: number;
  avg: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}
interface History {
  metric: string;
  service: string | null;
  labels: Labels | null;
  resolution_seconds: number;
  complete: boolean;
  points: Point[];
}

/** Makes series known to the SeriesIndex (how the read side discovers services) without writing rollups. */
const announce = (samples: Sample[]) => env.SERIES_INDEX.getByName("main").update(samples);

const history = (params: Record<string, string>) =>
  callJson<History & ErrorBody>("GET", `${BASE}/metrics/history?${new URLSearchParams(params)}`, {
    token: viewer.token,
  });

/** Truth per bucket start: every raw value that belongs there. */
class Truth {
  readonly buckets = new Map<number, number[]>();
  add(bucket: number, values: number[]) {
    this.buckets.set(bucket, [...(this.buckets.get(bucket) ?? []), ...values]);
  }
}

/** Points match the truth: the same buckets, exact counts and extremes, quantiles within the sketch's 1 %. */
function expectMatches(truth: Truth, points: Point[]) {
  const starts = [...truth.buckets.keys()].sort((a, b) => a - b);
  expect(points.map((p) => Date.parse(p.ts))).toEqual(starts);
  points.forEach((p, i) => {
    const values = truth.buckets.get(starts[i] ?? 0) ?? [];
    expect(p.count, p.ts).toBe(values.length);
    expect(p.min, p.ts).toBe(Math.min(...values));
    expect(p.max, p.ts).toBe(Math.max(...values));
    expect(p.avg, p.ts).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
    for (const [name, q] of [
      ["p50", 0.5],
      ["p95", 0.95],
      ["p99", 0.99],
    ] as const) {
      expect(relErr(p[name], exact(values, q)), `${p.ts} ${name}`).toBeLessThanOrEqual(ALPHA + 1e-9);
    }
  });
}

beforeAll(async () => {
  viewer = await createAdmin("viewer");
});

describe("GET /metrics/realtime", () => {
  it("lists the latest sample of every series, with filters", async () => {
    const now = Date.now();
    await recordIndexed(
      [
        { metric: "rt_up", service: "shop", labels: { monitor: "1" }, value: 1, ts: now - 20_000 },
        {
          metric: "rt_up",
          service: "shop",
          labels: { monitor: "1" },
          value: 0,
          ts: now - 10_000,
          message: "status 503",
        },
        { metric: "rt_up", service: "mail", labels: { monitor: "2" }, value: 1, ts: now - 5_000 },
        { metric: "rt_queue", service: "shop", labels: {}, value: 42, ts: now - 1_000 },
      ],
      now,
    );
    const all = await callJson<{ metrics: Record<string, unknown>[]; updated_at: string }>(
      "GET",
      `${BASE}/metrics/realtime`,
      { token: viewer.token },
    );
    expect(all.status).toBe(200);
    expect(Date.parse(all.body.updated_at)).toBeGreaterThanOrEqual(now);
    const mine = all.body.metrics.filter((m) => String(m.metric).startsWith("rt_"));
    expect(mine).toEqual([
      { metric: "rt_queue", service: "shop", labels: {}, value: 42, ts: new Date(now - 1_000).toISOString() },
      { metric: "rt_up", service: "mail", labels: { monitor: "2" }, value: 1, ts: new Date(now - 5_000).toISOString() },
      {
        metric: "rt_up",
        service: "shop",
        labels: { monitor: "1" },
        value: 0,
        ts: new Date(now - 10_000).toISOString(),
        message: "status 503",
      },
    ]);

    const filtered = await callJson<{ metrics: { metric: string; service: string }[] }>(
      "GET",
      `${BASE}/metrics/realtime?metric=rt_up&service=shop`,
      { token: viewer.token },
    );
    expect(filtered.body.metrics.map((m) => [m.metric, m.service])).toEqual([["rt_up", "shop"]]);
  });

  it("refuses a malformed filter", async () => {
    const res = await callJson<ErrorBody>("GET", `${BASE}/metrics/realtime?service=Not%20A%20Service`, {
      token: viewer.token,
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => d.field)).toEqual(["service"]);
  });
});

describe("GET /metrics/series", () => {
  it("describes each series of a metric with the raw samples it holds", async () => {
    const now = Date.now();
    const at = (ago: number, value: number, region: string): Sample => ({
      metric: "sr_depth",
      service: "celery",
      labels: { region },
      value,
      ts: now - ago,
    });
    await recordIndexed(
      [at(30_000, 1, "tw"), at(20_000, 2, "tw"), at(10_000, 3, "tw"), at(25_000, 7, "jp"), at(15_000, 8, "jp")],
      now,
    );
    const res = await callJson<{ series: Record<string, unknown>[]; total: number; truncated: boolean }>(
      "GET",
      `${BASE}/metrics/series?metric=sr_depth`,
      { token: viewer.token },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ total: 2, truncated: false });
    const iso = (ago: number) => new Date(now - ago).toISOString();
    expect(res.body.series).toEqual([
      {
        metric: "sr_depth",
        service: "celery",
        labels: { region: "jp" },
        latest: { value: 8, ts: iso(15_000) },
        raw_count: 2,
        oldest: iso(25_000),
        newest: iso(15_000),
      },
      {
        metric: "sr_depth",
        service: "celery",
        labels: { region: "tw" },
        latest: { value: 3, ts: iso(10_000) },
        raw_count: 3,
        oldest: iso(30_000),
        newest: iso(10_000),
      },
    ]);
    const none = await callJson<{ series: unknown[] }>("GET", `${BASE}/metrics/series?metric=sr_depth&service=other`, {
      token: viewer.token,
    });
    expect(none.body.series).toEqual([]);
  });

  it("needs a metric", async () => {
    const res = await callJson<ErrorBody>("GET", `${BASE}/metrics/series`, { token: viewer.token });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => d.field)).toEqual(["metric"]);
  });
});

describe("GET /metrics/history", () => {
  const tw = { region: "tw" };
  const jp = { region: "jp" };

  it("answers 1h by minute: one series with labels, every series merged without", async () => {
    const random = rng(11);
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const merged = new Truth();
    const twOnly = new Truth();
    const statements: D1PreparedStatement[] = [];
    for (let m = 5; m <= 50; m++) {
      const start = minute - m * MINUTE;
      for (const labels of m % 4 === 0 ? [tw] : [tw, jp]) {
        const values = Array.from({ length: 3 + Math.floor(random() * 20) }, () => 50 + Math.exp(random() * 5));
        statements.push(rollupInsert("h1_login_ms", "auth", labels, 60, start, values));
        merged.add(start, values);
        if (labels === tw) twOnly.add(start, values);
      }
    }
    // Another service's series of the same metric stays out.
    statements.push(rollupInsert("h1_login_ms", "other", tw, 60, minute - 10 * MINUTE, [1e6]));
    await insertAll(statements);

    const all = await history({ metric: "h1_login_ms", service: "auth", period: "1h" });
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({
      metric: "h1_login_ms",
      service: "auth",
      labels: null,
      resolution_seconds: 60,
      complete: true,
    });
    expectMatches(merged, all.body.points);

    const one = await history({ metric: "h1_login_ms", service: "auth", period: "1h", labels: JSON.stringify(tw) });
    expect(one.body.labels).toEqual(tw);
    expectMatches(twOnly, one.body.points);
  });

  it("answers 24h by 5 minutes, merging the minute rows of each bucket", async () => {
    const random = rng(5);
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const truth = new Truth();
    const statements: D1PreparedStatement[] = [];
    for (let m = 3; m <= 23 * 60; m += 7) {
      const start = minute - m * MINUTE;
      for (const labels of [tw, jp]) {
        const values = Array.from({ length: 2 + Math.floor(random() * 10) }, () => 1 + random() * 100);
        statements.push(rollupInsert("h24_queue_ms", "celery", labels, 60, start, values));
        truth.add(Math.floor(start / (5 * MINUTE)) * 5 * MINUTE, values);
      }
    }
    await insertAll(statements);
    const res = await history({ metric: "h24_queue_ms", service: "celery", period: "24h" });
    expect(res.status).toBe(200);
    expect(res.body.resolution_seconds).toBe(300);
    expectMatches(truth, res.body.points);
  });

  it("answers 7d by hour from hour rows, filling hours without one from minute rows, never counting twice", async () => {
    const random = rng(7);
    const now = Date.now();
    const hour = Math.floor(now / HOUR) * HOUR;
    const truth = new Truth();
    const statements: D1PreparedStatement[] = [];
    const values = (n: number) => Array.from({ length: n }, () => 100 + Math.exp(random() * 6));
    const missingJp = hour - 50 * HOUR;
    // tw has an hour row there and its minutes are stored too; jp's minutes get read for that hour.
    const duplicatedTw = missingJp;
    for (let h = hour - 6 * 24 * HOUR; h <= hour - 3 * HOUR; h += HOUR) {
      for (const labels of [tw, jp]) {
        if (labels === jp && h === missingJp) {
          for (let m = 0; m < 60; m += 3) {
            const v = values(4);
            statements.push(rollupInsert("h7_checkout_ms", "shop", jp, 60, h + m * MINUTE, v));
            truth.add(h, v);
          }
          continue;
        }
        const v = values(30);
        statements.push(rollupInsert("h7_checkout_ms", "shop", labels, 3600, h, v));
        truth.add(h, v);
        if (labels === tw && h === duplicatedTw) {
          // The minutes an hour row was built from are still stored: they must not count again.
          for (let m = 0; m < 60; m += 10)
            statements.push(rollupInsert("h7_checkout_ms", "shop", tw, 60, h + m * MINUTE, [1e7]));
        }
      }
    }
    // The latest hours have no hour rows yet: minute rows only.
    for (let start = hour - 2 * HOUR; start < now - MINUTE; start += 10 * MINUTE) {
      for (const labels of [tw, jp]) {
        const v = values(5);
        statements.push(rollupInsert("h7_checkout_ms", "shop", labels, 60, start, v));
        truth.add(Math.floor(start / HOUR) * HOUR, v);
      }
    }
    await insertAll(statements);

    const res = await history({ metric: "h7_checkout_ms", service: "shop", period: "7d" });
    expect(res.status).toBe(200);
    expect(res.body.resolution_seconds).toBe(3600);
    expectMatches(truth, res.body.points);
  });

  it("merges every service reporting the metric when no service is given", async () => {
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const start = minute - 10 * MINUTE;
    await insertAll([
      rollupInsert("hs_probe_ms", "api", {}, 60, start, [10, 20]),
      rollupInsert("hs_probe_ms", "mail", {}, 60, start, [30]),
    ]);
    await announce([
      { metric: "hs_probe_ms", service: "api", labels: {}, value: 20, ts: start },
      { metric: "hs_probe_ms", service: "mail", labels: {}, value: 30, ts: start },
    ]);
    const res = await history({ metric: "hs_probe_ms", period: "1h" });
    expect(res.status).toBe(200);
    expect(res.body.service).toBeNull();
    expect(res.body.points).toEqual([
      expect.objectContaining({ ts: new Date(start).toISOString(), count: 3, min: 10, max: 30, avg: 20 }),
    ]);
  });

  it("answers the normal range with band=1: a daily cycle's band follows it, a spike falls outside", async () => {
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    const cycle = (h: number) => 200 + 100 * Math.sin((2 * Math.PI * ((h / HOUR) % 24)) / 24);
    const spike = hour - 30 * HOUR;
    const statements: D1PreparedStatement[] = [];
    // 14 days of hour rows: the 7 shown days and the 7 before them that the band reads.
    for (let h = hour - 14 * 24 * HOUR; h <= hour - 3 * HOUR; h += HOUR) {
      const v = h === spike ? 900 : cycle(h);
      statements.push(rollupInsert("hb_cycle_ms", "web", {}, 3600, h, [v - 1, v, v + 1]));
    }
    await insertAll(statements);

    const plain = await history({ metric: "hb_cycle_ms", service: "web", period: "7d" });
    expect(plain.body.points[0]).not.toHaveProperty("expected");

    const res = await history({ metric: "hb_cycle_ms", service: "web", period: "7d", band: "1" });
    expect(res.status).toBe(200);
    const points = res.body.points as (Point & { expected: number | null; low: number | null; high: number | null })[];
    expect(points.length).toBeGreaterThan(100);
    const spiked = points.find((p) => Date.parse(p.ts) === spike);
    expect(spiked?.avg).toBeGreaterThan(spiked?.high ?? Infinity);
    for (const p of points.filter((q) => q !== spiked)) {
      const ts = Date.parse(p.ts);
      expect(p.expected, p.ts).not.toBeNull();
      // The day after the spike reads it among its 7 peers: still inside, since the band is its 10th–90th percentile.
      expect(Math.abs((p.expected ?? 0) - cycle(ts)), p.ts).toBeLessThan(1e-6);
      expect(p.low ?? Infinity, p.ts).toBeLessThanOrEqual(p.avg);
      expect(p.high ?? -Infinity, p.ts).toBeGreaterThanOrEqual(p.avg);
    }
    // The expected value follows the time of day: a peak hour expects far more than a trough hour.
    const expectedAt = (h: number) => points.find((p) => Date.parse(p.ts) === h)?.expected ?? Number.NaN;
    const day = Math.floor((hour - 48 * HOUR) / (24 * HOUR)) * 24 * HOUR;
    expect(expectedAt(day + 6 * HOUR) - expectedAt(day + 18 * HOUR)).toBeGreaterThan(150);
  });

  it("refuses an unknown period, a bad metric name and bad labels, naming the field", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ metric: "h1_login_ms", period: "2d" }, "period"],
      [{ metric: "9lives", period: "1h" }, "metric"],
      [{ metric: "h1_login_ms", labels: "{not json" }, "labels"],
      [{ metric: "h1_login_ms", labels: '["tw"]' }, "labels"],
      [{ metric: "h1_login_ms", labels: '{"region": 1}' }, "labels.region"],
      [{ period: "1h" }, "metric"],
    ];
    for (const [params, field] of cases) {
      const res = await history(params);
      expect(res.status, JSON.stringify(params)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.details.map((d) => d.field)).toContain(field);
    }
  });
});

describe("GET /performance/trends", () => {
  it("rolls each service's latency, error rate and availability up over the period", async () => {
    const minute = Math.floor(Date.now() / MINUTE) * MINUTE;
    const statements: D1PreparedStatement[] = [];
    const latencies: number[] = [];
    for (let m = 5; m < 45; m += 5) {
      const start = minute - m * MINUTE;
      const probe = [80 + m, 90 + m];
      const api = [200 + m, 300 + m, 400 + m];
      latencies.push(...probe, ...api);
      statements.push(
        rollupInsert("probe_latency_ms", "tr-api", { monitor: "1" }, 60, start, probe),
        rollupInsert("api_response_ms", "tr-api", {}, 60, start, api),
        rollupInsert("probe_up", "tr-api", { monitor: "1" }, 60, start, [1, 1]),
        rollupInsert("probe_up", "tr-pay", { monitor: "2" }, 60, start, m === 25 ? [0, 0] : [1, 1]),
      );
    }
    // Request counters: 1000 → 1500 with a restart; errors 10 → 35.
    statements.push(
      rollupInsert("http_requests_total", "tr-api", {}, 60, minute - 40 * MINUTE, [1000, 1200]),
      rollupInsert("http_requests_total", "tr-api", {}, 60, minute - 20 * MINUTE, [100, 300]),
      rollupInsert("http_errors_total", "tr-api", {}, 60, minute - 40 * MINUTE, [10, 20]),
      rollupInsert("http_errors_total", "tr-api", {}, 60, minute - 20 * MINUTE, [25, 35]),
    );
    await insertAll(statements);
    const announced = (metric: string, service: string, labels: Labels = {}): Sample => ({
      metric,
      service,
      labels,
      value: 1,
      ts: minute,
    });
    await announce([
      announced("probe_latency_ms", "tr-api", { monitor: "1" }),
      announced("api_response_ms", "tr-api"),
      announced("probe_up", "tr-api", { monitor: "1" }),
      announced("probe_up", "tr-pay", { monitor: "2" }),
      announced("http_requests_total", "tr-api"),
      announced("http_errors_total", "tr-api"),
      announced("probe_up", "tr-quiet", { monitor: "3" }),
    ]);

    const res = await callJson<{ period: string; services: Record<string, unknown>[] }>(
      "GET",
      `${BASE}/performance/trends?period=1h`,
      { token: viewer.token },
    );
    expect(res.status).toBe(200);
    expect(res.body.period).toBe("1h");
    const byService = new Map(res.body.services.map((s) => [s.service, s]));
    const api = byService.get("tr-api") as {
      latency_ms: { p50: number; p95: number; p99: number };
      error_rate: number;
      error_rate_source: string;
      availability: number;
      samples: { latency: number; probes: number };
    };
    expect(api.samples).toEqual({ latency: latencies.length, probes: 16 });
    for (const [name, q] of [
      ["p50", 0.5],
      ["p95", 0.95],
      ["p99", 0.99],
    ] as const) {
      expect(relErr(api.latency_ms[name], exact(latencies, q)), name).toBeLessThanOrEqual(ALPHA + 1e-9);
    }
    // requests: 200 + restart (100) + 200 = 500; errors: 10 + 5 + 10 = 25
    expect(api.error_rate).toBeCloseTo(25 / 500, 12);
    expect(api).toMatchObject({ error_rate_source: "requests", availability: 1 });
    expect(byService.get("tr-pay")).toMatchObject({
      availability: 14 / 16,
      error_rate: 2 / 16,
      error_rate_source: "probes",
      samples: { latency: 0, probes: 16 },
      latency_ms: { p50: null, p95: null, p99: null },
    });
    expect(byService.get("tr-quiet")).toMatchObject({
      availability: null,
      error_rate: null,
      samples: { latency: 0, probes: 0 },
    });
  });

  it("refuses an unknown period", async () => {
    const res = await callJson<ErrorBody>("GET", `${BASE}/performance/trends?period=1y`, { token: viewer.token });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => d.field)).toEqual(["period"]);
  });
});

describe("derived metrics job", () => {
  it("writes each derived metric whose inputs are present, and skips the others", async () => {
    const now = Date.now();
    const at = (metric: string, service: string, points: [secondsAgo: number, value: number][], labels: Labels = {}) =>
      points.map(([ago, value]): Sample => ({ metric, service, labels, value, ts: now - ago * 1000 }));
    await recordIndexed(
      [
        ...at("payments_total", "ecpay", [
          [290, 500],
          [200, 560],
          [100, 40],
          [10, 100],
        ]), // 60 + 40 + 60 = 160
        ...at("payments_failed_total", "ecpay", [
          [290, 3],
          [10, 11],
        ]), // 8
        ...at(
          "http_requests_total",
          "api",
          [
            [280, 0],
            [20, 300],
          ],
          { code: "2xx" },
        ),
        ...at(
          "http_requests_total",
          "api",
          [
            [280, 0],
            [20, 100],
          ],
          { code: "5xx" },
        ),
        ...at("http_errors_total", "api", [
          [280, 4],
          [20, 10],
        ]),
        ...at("db_pool_in_use", "database", [[30, 12]]),
        ...at(
          "api_response_ms",
          "api",
          Array.from({ length: 20 }, (_, i): [number, number] => [10 + i, (i + 1) * 50]),
        ),
      ],
      now,
    );
    await recordDerivedMetrics(env, now);
    const latest = async (metric: string, service: string) =>
      (await readSeries(env, metric, service, {}, now - MINUTE)).at(-1);
    expect(await latest("payment_failure_rate", "ecpay")).toMatchObject({ value: 5, ts: now, labels: {} });
    expect(await latest("error_rate", "api")).toMatchObject({ value: 1.5, ts: now });
    // 20 values 50…1000: nearest rank ceil(0.95 × 20) = 19 → 950
    expect(await latest("api_response_p95_ms", "api")).toMatchObject({ value: 950, ts: now });
    // db_pool_size was never reported: nothing is written rather than a made-up value.
    expect(await latest("db_pool_utilization", "database")).toBeUndefined();
    // …and reach the index like any other sample.
    const indexed = () => env.SERIES_INDEX.getByName("main").get([seriesKey("payment_failure_rate", "ecpay", {})]);
    await vi.waitUntil(async () => (await indexed())[0] !== null, { timeout: 3000, interval: 20 });
    expect((await indexed())[0]).toMatchObject({ value: 5, ts: now });
  });
});

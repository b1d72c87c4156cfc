import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { seriesIndexKey } from "../../worker/core/analytics";
import { HOUR_MS } from "../../worker/core/history";
import { type Labels, seriesKey } from "../../worker/core/series";
import { AE_DATASET, type AeConfig, AnalyticsEngineReader, aeConfigFromEnv } from "../../worker/lib/history/ae";
import { D1HistoryReader } from "../../worker/lib/history/d1";
import { type HistoryQuery, readHistory } from "../../worker/lib/history/reader";
import { historySources } from "../../worker/lib/history/sources";
import type { AePoint } from "../setup/ae-sql";

const base = () => `http://127.0.0.1:${inject("aeSqlPort")}`;
const T0 = Date.UTC(2026, 8, 1, 0, 0, 0);

/** The test env with extra settings on top (the shared env itself stays untouched). */
const settings = (extra: Record<string, string>) =>
  new Proxy(env, {
    get: (target, key) => (typeof key === "string" && key in extra ? extra[key] : Reflect.get(target, key)),
  });

let accounts = 0;
/** A fresh account on the emulator holding `points`. */
async function seedAccount(points: AePoint[]): Promise<AeConfig> {
  const accountId = `acct-${++accounts}-${crypto.randomUUID()}`;
  const apiToken = `token-${crypto.randomUUID()}`;
  const res = await fetch(`${base()}/__test/accounts/${accountId}`, {
    method: "PUT",
    body: JSON.stringify({ token: apiToken, dataset: AE_DATASET, points }),
  });
  expect(res.status).toBe(200);
  return { apiBase: base(), accountId, apiToken, dataset: AE_DATASET };
}

async function queriesOf(config: AeConfig): Promise<string[]> {
  const res = await fetch(`${base()}/__test/accounts/${config.accountId}/queries`);
  return ((await res.json()) as { queries: string[] }).queries;
}

/** A raw sample as the writer stores it (count 1, sum = min = max = value), sampled 1 in `interval`. */
function sample(metric: string, service: string, labels: Labels, ts: number, value: number, interval = 1): AePoint {
  return {
    timestamp: ts,
    sample_interval: interval,
    index1: seriesIndexKey(seriesKey(metric, service, labels)),
    blobs: [metric, service, JSON.stringify(labels), ""],
    doubles: [value, 1, value, value, value, ts, 0],
  };
}

const query = (over: Partial<HistoryQuery> = {}): HistoryQuery => ({
  metric: "ae_latency_ms",
  services: ["api"],
  labels: null,
  from: T0,
  to: T0 + 3 * HOUR_MS,
  bucketSeconds: 3600,
  ...over,
});

const tw = { region: "tw" };
const jp = { region: "jp" };

describe("Analytics Engine reader", () => {
  it("buckets the series with every count and quantile weighted by the sample interval", async () => {
    const config = await seedAccount([
      // Hour 0: 30 stands for 8 samples, so it is the median although 10 and 20 are also there.
      sample("ae_latency_ms", "api", tw, T0 + 60_000, 10),
      sample("ae_latency_ms", "api", jp, T0 + 120_000, 20),
      sample("ae_latency_ms", "api", tw, T0 + 180_000, 30, 8),
      // Hour 2 (hour 1 is empty).
      sample("ae_latency_ms", "api", jp, T0 + 2 * HOUR_MS + 5_000, 500, 2),
      sample("ae_latency_ms", "api", tw, T0 + 2 * HOUR_MS + 9_000, 700),
      // Out of the query: another metric, another service, before and after the range.
      sample("other_ms", "api", tw, T0 + 60_000, 9999),
      sample("ae_latency_ms", "mail", tw, T0 + 60_000, 9999),
      sample("ae_latency_ms", "api", tw, T0 - 1, 9999),
      sample("ae_latency_ms", "api", tw, T0 + 3 * HOUR_MS, 9999),
    ]);
    const points = await new AnalyticsEngineReader(config).read(query());
    expect(points).toEqual([
      { ts: T0, count: 10, sum: 10 + 20 + 240, min: 10, max: 30, avg: 27, p50: 30, p95: 30, p99: 30 },
      { ts: T0 + 2 * HOUR_MS, count: 3, sum: 1700, min: 500, max: 700, avg: 1700 / 3, p50: 500, p95: 700, p99: 700 },
    ]);
    const [sql] = await queriesOf(config);
    expect(sql).toContain("_sample_interval");
    expect(sql).toContain(`FROM ${AE_DATASET}`);
  });

  it("reads one series by its index when labels are given", async () => {
    const config = await seedAccount([
      sample("ae_latency_ms", "api", tw, T0 + 60_000, 10),
      sample("ae_latency_ms", "api", jp, T0 + 120_000, 20),
      sample("ae_latency_ms", "api", { region: "it's \\ odd" }, T0 + 120_000, 40),
    ]);
    const reader = new AnalyticsEngineReader(config);
    expect((await reader.read(query({ labels: jp }))).map((p) => [p.count, p.max])).toEqual([[1, 20]]);
    expect((await reader.read(query({ labels: { region: "it's \\ odd" } }))).map((p) => p.max)).toEqual([40]);
  });

  it("fails loudly on a wrong token, and reads nothing for an empty query", async () => {
    const config = await seedAccount([sample("ae_latency_ms", "api", tw, T0 + 60_000, 10)]);
    await expect(new AnalyticsEngineReader({ ...config, apiToken: "wrong" }).read(query())).rejects.toThrow(/403/);
    expect(await new AnalyticsEngineReader(config).read(query({ services: [] }))).toEqual([]);
    // Neither ran: the refused one never reached the data, the empty one was never sent.
    expect(await queriesOf(config)).toEqual([]);
  });
});

describe("choosing the store", () => {
  it("uses Analytics Engine only with both an account id and a token", () => {
    expect(aeConfigFromEnv(env)).toBeNull();
    expect(aeConfigFromEnv(settings({ AE_ACCOUNT_ID: "a" }))).toBeNull();
    expect(aeConfigFromEnv(settings({ AE_ACCOUNT_ID: "a", AE_API_TOKEN: "t" }))).toEqual({
      apiBase: "https://api.cloudflare.com/client/v4",
      accountId: "a",
      apiToken: "t",
      dataset: AE_DATASET,
    });
    expect(
      aeConfigFromEnv(settings({ AE_ACCOUNT_ID: "a", AE_API_TOKEN: "t", AE_SQL_API_BASE: "http://127.0.0.1:1/" }))
        ?.apiBase,
    ).toBe("http://127.0.0.1:1");
    expect(historySources(env, Date.now(), 3600).longRange).toBeNull();
  });

  it("reads what D1 no longer covers from Analytics Engine and the rest from D1", async () => {
    const now = Date.now();
    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const config = await seedAccount([
      sample("split_ms", "api", {}, hour - 60 * HOUR_MS + 1_000, 100),
      sample("split_ms", "api", {}, hour - 30 * HOUR_MS + 1_000, 200), // also in D1: must come from D1 only
    ]);
    await env.DB.prepare(
      `INSERT INTO system_metrics (metric_name, service, labels, series_key, resolution_seconds, bucket_start, count, sum, min, max, p50, p95, p99, sketch)
       VALUES ('split_ms', 'api', '{}', ?, 3600, ?, 4, 1200, 300, 300, 300, 300, 300, NULL)`,
    )
      .bind(seriesKey("split_ms", "api", {}), hour - 30 * HOUR_MS)
      .run();
    // Hour rows are kept for 2 days here: everything older than that is Analytics Engine's.
    const configured = settings({
      AE_ACCOUNT_ID: config.accountId,
      AE_API_TOKEN: config.apiToken,
      AE_SQL_API_BASE: base(),
      RETENTION_HOUR_DAYS: "2",
    });
    const q = query({ metric: "split_ms", from: hour - 7 * 24 * HOUR_MS, to: now });
    const { points, complete } = await readHistory(q, historySources(configured, now, 3600));
    expect(complete).toBe(true);
    expect(points.map((p) => [p.ts, p.count, p.max])).toEqual([
      [hour - 60 * HOUR_MS, 1, 100],
      [hour - 30 * HOUR_MS, 4, 300],
    ]);

    // Analytics Engine down: the D1 part still answers, marked incomplete.
    const broken = await readHistory(q, {
      local: new D1HistoryReader(env.DB, now),
      coveredFrom: now - 2 * 24 * HOUR_MS,
      longRange: new AnalyticsEngineReader({ ...config, apiToken: "revoked" }),
    });
    expect(broken.complete).toBe(false);
    expect(broken.points.map((p) => p.count)).toEqual([4]);
  });
});

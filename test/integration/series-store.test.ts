import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AE_MAX_POINTS, type DataPoint, planDataPoints } from "../../worker/core/analytics";
import { MetricSeries, migrateUniqueSamples } from "../../durable-objects/metric-series";
import { PUBLISH_INTERVAL_MS } from "../../durable-objects/series-index";
import { HOUR_MS, INDEX_DELAY_MS, MINUTE_MS, bucketStart } from "../../worker/core/rollup";
import { type Sample, seriesKey } from "../../worker/core/series";
import { ALPHA, emptySketch, mergeInto, parseSketch, quantile, serializeSketch } from "../../worker/core/sketch";
import { runRetention } from "../../worker/handlers/series-jobs";
import { SamplesRefusedError, familyStub, planRecordCalls, recordSamples } from "../../worker/lib/series";
import { mulberry32 } from "../../worker/core/random";

interface MetricRow {
  id: number;
  metric_name: string;
  service: string;
  labels: string;
  series_key: string;
  resolution_seconds: number;
  bucket_start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  sketch: string;
}

const rng = mulberry32;

const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? 0;
const relErr = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

/** Integer latencies with a long tail, so sums are exact in floating point. */
const latencies = (n: number, seed: number) => {
  const random = rng(seed);
  return Array.from({ length: n }, () => Math.round(20 + Math.exp(random() * 7)));
};

const series = (metric: string, labels: Record<string, string> = {}) => {
  const key = seriesKey(metric, "api", labels);
  const family = familyStub(env, metric, "api");
  return {
    metric,
    service: "api",
    labels,
    key,
    /** The family's Durable Object (alarms run there). */
    family,
    record: (samples: Sample[]) => family.record(samples),
    stats: async () => (await family.stats([key]))[0],
    latest: () => family.latest(key),
    since: (since: number) => family.since(key, since),
    at: (value: number, ts: number): Sample => ({ metric, service: "api", labels, value, ts }),
  };
};

async function rows(key: string, resolution: number): Promise<MetricRow[]> {
  const result = await env.DB.prepare(
    "SELECT * FROM system_metrics WHERE series_key = ? AND resolution_seconds = ? ORDER BY bucket_start",
  )
    .bind(key, resolution)
    .all<MetricRow>();
  return result.results;
}

function expectRowMatches(row: MetricRow | undefined, values: number[]) {
  expect(row).toBeDefined();
  if (!row) return;
  expect({ count: row.count, sum: row.sum, min: row.min, max: row.max }).toEqual({
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
  });
  expect(relErr(row.p50, exact(values, 0.5))).toBeLessThanOrEqual(ALPHA + 1e-9);
  expect(relErr(row.p95, exact(values, 0.95))).toBeLessThanOrEqual(ALPHA + 1e-9);
  expect(relErr(row.p99, exact(values, 0.99))).toBeLessThanOrEqual(ALPHA + 1e-9);
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("MetricSeries rollups", () => {
  const s = series("api_response_ms", { region: "tw" });
  const m1 = bucketStart(Date.now(), 60) - 3 * MINUTE_MS;
  const m2 = m1 + MINUTE_MS;
  const first = latencies(600, 1);
  const second = latencies(400, 2);

  it("writes closed minutes to D1 on the alarm: exact count, sum, min, max; quantiles within 1 %", async () => {
    // Two calls, interleaving both minutes.
    const samples = [...first.map((v, i) => s.at(v, m1 + i * 100)), ...second.map((v, i) => s.at(v, m2 + i * 100))];
    expect((await s.record(samples.filter((_, i) => i % 2 === 0))).held).toBe(500);
    expect((await s.record(samples.filter((_, i) => i % 2 === 1))).held).toBe(500);
    expect(await rows(s.key, 60)).toEqual([]);

    expect(await runDurableObjectAlarm(s.family)).toBe(true);
    const [r1, r2, ...rest] = await rows(s.key, 60);
    expect(rest).toEqual([]);
    expect(r1).toMatchObject({
      bucket_start: m1,
      metric_name: "api_response_ms",
      service: "api",
      labels: '{"region":"tw"}',
    });
    expect(r2?.bucket_start).toBe(m2);
    expectRowMatches(r1, first);
    expectRowMatches(r2, second);
    expect(parseSketch(r1?.sketch).count).toBe(600);

    expect(await s.stats()).toEqual({ count: 1000, oldest: m1, newest: m2 + 399 * 100 });
    expect(await s.latest()).toEqual(s.at(second.at(-1) ?? 0, m2 + 399 * 100));
  });

  it("runs idempotently: a second alarm with nothing new leaves the rows as they are", async () => {
    const before = await rows(s.key, 60);
    await runDurableObjectAlarm(s.family);
    expect(await rows(s.key, 60)).toEqual(before);
  });

  it("amends a flushed minute when a late sample arrives, replacing its row", async () => {
    const [before] = await rows(s.key, 60);
    // At an instant the minute does not hold yet (its samples are 100 ms apart).
    expect(await s.record([s.at(99_999, m1 + 30_050)])).toEqual({ held: 1, duplicates: 0, conflicts: 0 });
    await runDurableObjectAlarm(s.family);
    const after = await rows(s.key, 60);
    expect(after).toHaveLength(2);
    expect(after[0]?.id).toBe(before?.id);
    expectRowMatches(after[0], [...first, 99_999]);
    // The latest sample is still the newest by time, not the last received.
    expect((await s.latest())?.ts).toBe(m2 + 399 * 100);
  });

  it("rolls a closed hour up from its minutes, and amends it with late data", async () => {
    const h = series("queue_depth");
    const hour = bucketStart(Date.now(), 3600) - HOUR_MS;
    const byMinute = Array.from({ length: 6 }, (_, k) => latencies(50, 10 + k));
    await h.record(
      byMinute.flatMap((values, k) => values.map((v, i) => h.at(v, hour + k * 10 * MINUTE_MS + i * 1000))),
    );
    await runDurableObjectAlarm(h.family);

    const minutes = await rows(h.key, 60);
    const [hourRow, ...more] = await rows(h.key, 3600);
    expect(minutes).toHaveLength(6);
    expect(more).toEqual([]);
    expect(hourRow?.bucket_start).toBe(hour);
    expectRowMatches(hourRow, byMinute.flat());
    const merged = emptySketch();
    for (const m of minutes) mergeInto(merged, parseSketch(m.sketch));
    expect(hourRow?.sketch).toBe(serializeSketch(merged));
    expect(hourRow?.p95).toBe(quantile(merged, 0.95));

    await h.record([h.at(7, hour + 59 * MINUTE_MS)]);
    await runDurableObjectAlarm(h.family);
    expectRowMatches((await rows(h.key, 3600))[0], [...byMinute.flat(), 7]);
    expect(await rows(h.key, 60)).toHaveLength(7);
  });

  it("keeps buckets pending when the D1 write fails, and writes them on the retry", async () => {
    const f = series("payment_failure_rate");
    const minute = bucketStart(Date.now(), 60) - 2 * MINUTE_MS;
    await f.record([f.at(3, minute + 1_000), f.at(5, minute + 2_000)]);
    const batch = vi.spyOn(env.DB, "batch").mockRejectedValueOnce(new Error("D1 unavailable"));
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});

    const before = Date.now();
    expect(await runDurableObjectAlarm(f.family)).toBe(true);
    expect(batch).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalled();
    expect(await rows(f.key, 60)).toEqual([]);
    const retryAt = await runInDurableObject(f.family, (_instance, state) => state.storage.getAlarm());
    expect(retryAt).toBeGreaterThanOrEqual(before + 25_000);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + 35_000);

    expect(await runDurableObjectAlarm(f.family)).toBe(true);
    expectRowMatches((await rows(f.key, 60))[0], [3, 5]);
  });

  it("refuses samples older than the raw window and prunes raw samples as they expire", async () => {
    const p = series("celery_queue_length");
    const now = Date.now();
    expect((await p.record([p.at(1, now - 25 * HOUR_MS)])).held).toBe(0);
    expect((await p.record([p.at(2, now - 23 * HOUR_MS), p.at(3, now - 60_000)])).held).toBe(2);
    expect(await p.stats()).toEqual({ count: 2, oldest: now - 23 * HOUR_MS, newest: now - 60_000 });

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 2 * HOUR_MS);
    await runDurableObjectAlarm(p.family);
    expect(await p.stats()).toEqual({ count: 1, oldest: now - 60_000, newest: now - 60_000 });
    expect(await p.since(0)).toEqual([p.at(3, now - 60_000)]);

    // Written minutes are held while a late sample could still amend their hour (raw window + 1 h);
    // D1 keeps them for RETENTION_MINUTE_DAYS.
    const minuteRows = () =>
      runInDurableObject(p.family, (_i, state) =>
        state.storage.sql
          .exec<{ b: number }>("SELECT bucket_start AS b FROM minutes")
          .toArray()
          .map((r) => r.b),
      );
    expect(await minuteRows()).toEqual([bucketStart(now - 60_000, 60)]);
    expect((await rows(p.key, 60)).map((r) => r.bucket_start)).toEqual([
      bucketStart(now - 23 * HOUR_MS, 60),
      bucketStart(now - 60_000, 60),
    ]);
    vi.setSystemTime(now + 26 * HOUR_MS);
    await runDurableObjectAlarm(p.family);
    expect(await p.stats()).toEqual({ count: 0, oldest: null, newest: null });
    expect(await minuteRows()).toEqual([]);
    // Nothing left to do: no further wake-up.
    expect(await runInDurableObject(p.family, (_i, state) => state.storage.getAlarm())).toBeNull();
  });

  it("keeps the message of the latest sample", async () => {
    const u = series("probe_up", { monitor: "77" });
    const now = Date.now();
    await u.record([{ ...u.at(0, now - 1000), message: "status 503" }, u.at(1, now - 5000)]);
    expect(await u.latest()).toEqual({ ...u.at(0, now - 1000), message: "status 503" });
  });

  /** The latest sample as an object rebuilt over the same storage (a restart) reads it. */
  const latestAfterRestart = (of: ReturnType<typeof series>) =>
    runInDurableObject(of.family, (_instance, state) => new MetricSeries(state, env).latest(of.key));

  it("keeps the latest sample, with its message, across a restart", async () => {
    const now = Date.now();
    // A newer sample without a message replaces one with a message, late samples replace neither.
    const u = series("probe_up", { monitor: "78" });
    await u.record([{ ...u.at(0, now - 3000), message: "status 503" }]);
    await u.record([u.at(1, now - 2000), u.at(0, now - 4000)]);
    expect(await u.latest()).toEqual(u.at(1, now - 2000));
    expect(await latestAfterRestart(u)).toEqual(u.at(1, now - 2000));
    // The other way round: the message stays with its sample.
    const v = series("probe_up", { monitor: "79" });
    await v.record([v.at(1, now - 3000)]);
    await v.record([{ ...v.at(0, now - 2000), message: "timeout" }, v.at(1, now - 5000)]);
    expect(await latestAfterRestart(v)).toEqual({ ...v.at(0, now - 2000), message: "timeout" });
    // A busy series: its newest raw sample is its latest.
    const w = series("queue_depth", { queue: "busy" });
    for (let i = 0; i < 5; i++) await w.record([w.at(i, now - 5000 + i * 1000)]);
    expect(await latestAfterRestart(w)).toEqual(w.at(4, now - 1000));
  });

  it("keeps the latest sample of a quiet series once its raw samples are pruned, across a restart", async () => {
    const q = series("backup_age_hours");
    const now = Date.now();
    await q.record([q.at(7, now - 23 * HOUR_MS), q.at(8, now - 22 * HOUR_MS)]);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 3 * HOUR_MS);
    await runDurableObjectAlarm(q.family);
    expect(await q.stats()).toEqual({ count: 0, oldest: null, newest: null });
    expect(await q.latest()).toEqual(q.at(8, now - 22 * HOUR_MS));
    expect(await latestAfterRestart(q)).toEqual(q.at(8, now - 22 * HOUR_MS));
  });

  it("keeps the latest sample when an import replaces the raw samples around or at it", async () => {
    const h = series("import_over_latest");
    const now = Date.now();
    const live = h.at(5, now - 90_000);
    await h.record([live]);
    // The import's instants straddle the live sample without holding it: its raw row goes.
    await h.family.importHistory(h.metric, h.service, h.labels, [now - 120_000, now - 60_000], [1, 2]);
    expect(await h.latest()).toEqual(h.at(2, now - 60_000));
    expect(await latestAfterRestart(h)).toEqual(h.at(2, now - 60_000));
    // An import at the latest sample's own instant replaces it, message and all.
    const g = series("import_at_latest");
    await g.record([{ ...g.at(5, now - 30_000), message: "slow" }]);
    await g.family.importHistory(g.metric, g.service, g.labels, [now - 120_000, now - 30_000], [1, 2]);
    expect(await g.since(0)).toEqual([g.at(1, now - 120_000), g.at(2, now - 30_000)]);
    expect(await g.latest()).toEqual(g.at(2, now - 30_000));
    expect(await latestAfterRestart(g)).toEqual(g.at(2, now - 30_000));
  });
});

describe("raw samples unique per series and instant", () => {
  it("migrates an object holding repeats: keeps the first, rolls their minutes up again, adds the unique index", async () => {
    const f = series("legacy_wait_ms");
    const minute = bucketStart(Date.now(), 60) - 2 * MINUTE_MS;
    await f.record([f.at(1, minute + 1000), f.at(2, minute + 2000)]);
    const indexes = (sql: SqlStorage) =>
      sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples'")
        .toArray()
        .map((r) => r.name);
    // The store as it was before: a plain index, repeats stored and rolled up.
    await runInDurableObject(f.family, (_instance, state) => {
      const sql = state.storage.sql;
      expect(indexes(sql)).toEqual(["samples_series_ts_unique"]);
      sql.exec("DROP INDEX samples_series_ts_unique");
      sql.exec("CREATE INDEX samples_series_ts ON samples (series_id, ts)");
      const id = sql.exec<{ id: number }>("SELECT id FROM series WHERE key = ?", f.key).one().id;
      sql.exec(
        "INSERT INTO samples (series_id, ts, value) VALUES (?, ?, 1), (?, ?, 5)",
        id,
        minute + 1000,
        id,
        minute + 1000,
      );
      sql.exec("UPDATE minutes SET rev = rev + 1 WHERE series_id = ?", id);
    });
    await runDurableObjectAlarm(f.family);
    expect((await rows(f.key, 60)).map((r) => [r.count, r.sum])).toEqual([[4, 9]]);

    const removed = await runInDurableObject(f.family, (_instance, state) =>
      state.storage.transactionSync(() => migrateUniqueSamples(state.storage.sql)),
    );
    expect(removed).toBe(2);
    expect(await f.since(0)).toEqual([f.at(1, minute + 1000), f.at(2, minute + 2000)]);
    await runInDurableObject(f.family, (_instance, state) => {
      expect(indexes(state.storage.sql)).toEqual(["samples_series_ts_unique"]);
      // Once migrated, nothing more to do.
      expect(migrateUniqueSamples(state.storage.sql)).toBe(0);
    });
    await runDurableObjectAlarm(f.family);
    expect((await rows(f.key, 60)).map((r) => [r.count, r.sum])).toEqual([[2, 3]]);
    expect(await f.record([f.at(7, minute + 1000)])).toEqual({ held: 1, duplicates: 1, conflicts: 1 });
  });
});

describe("Analytics Engine", () => {
  it("writes each recorded sample as planned, within the per-invocation limit", async () => {
    const written: DataPoint[] = [];
    vi.spyOn(env.METRICS_AE, "writeDataPoint").mockImplementation((p) => {
      written.push(p as DataPoint);
    });
    const a = series("api_requests", { route: "/checkout" });
    const now = Date.now();
    const few = [a.at(1, now - 3000), a.at(2, now - 2000)];
    await a.record(few);
    expect(written).toEqual(planDataPoints(few));
    expect(written[0]?.doubles.slice(0, 5)).toEqual([1, 1, 1, 1, 1]);

    written.length = 0;
    const many = Array.from({ length: 1200 }, (_, i) => a.at(i % 10, now - 600_000 + i * 200));
    await a.record(many);
    expect(written.length).toBeLessThanOrEqual(AE_MAX_POINTS);
    expect(written).toEqual(planDataPoints(many));
    expect(written.reduce((n, p) => n + (p.doubles[1] ?? 0), 0)).toBe(1200);
    expect(written.reduce((n, p) => n + (p.doubles[2] ?? 0), 0)).toBe(many.reduce((n, s) => n + s.value, 0));
  });

  it("writes nothing for samples the store already holds, and only the new ones of a partly repeated call", async () => {
    const written: DataPoint[] = [];
    vi.spyOn(env.METRICS_AE, "writeDataPoint").mockImplementation((p) => {
      written.push(p as DataPoint);
    });
    const a = series("api_requests", { route: "/refund" });
    const now = Date.now();
    const batch = [a.at(1, now - 3000), a.at(2, now - 2000)];
    expect(await a.record(batch)).toEqual({ held: 2, duplicates: 0, conflicts: 0 });
    written.length = 0;
    expect(await a.record(batch)).toEqual({ held: 2, duplicates: 2, conflicts: 0 });
    expect(written).toEqual([]);
    const next = a.at(3, now - 1000);
    expect(await a.record([a.at(9, now - 2000), next, next])).toEqual({ held: 3, duplicates: 2, conflicts: 1 });
    expect(written).toEqual(planDataPoints([next]));
    expect((await a.since(0)).map((s) => s.value)).toEqual([1, 2, 3]);
  });
});

describe("SeriesIndex", () => {
  const index = () => env.SERIES_INDEX.getByName("main");
  const sample = (metric: string, service: string, monitor: string, value: number, ts: number): Sample => ({
    metric,
    service,
    labels: { monitor },
    value,
    ts,
  });

  it("keeps the newest sample per series, lists by filter in order, gets by key and removes", async () => {
    const t = Date.now() - 10_000;
    await index().update([
      sample("idx_up", "web", "1", 1, t),
      sample("idx_up", "api", "2", 0, t),
      { ...sample("idx_latency", "api", "2", 250, t), message: "slow" },
    ]);
    // Older and equally old samples do not replace what is held; newer ones do.
    await index().update([sample("idx_up", "web", "1", 0, t - 1), sample("idx_up", "api", "2", 1, t)]);
    await index().update([sample("idx_latency", "api", "2", 300, t + 1)]);

    expect(await index().list({ metric: "idx_up" })).toEqual([
      sample("idx_up", "api", "2", 0, t),
      sample("idx_up", "web", "1", 1, t),
    ]);
    expect(await index().list({ service: "api", metric: "idx_latency" })).toEqual([
      sample("idx_latency", "api", "2", 300, t + 1),
    ]);
    expect((await index().list({ service: "api" })).map((s) => s.metric).filter((m) => m.startsWith("idx_"))).toEqual([
      "idx_latency",
      "idx_up",
    ]);

    const keys = [
      seriesKey("idx_up", "web", { monitor: "1" }),
      "nope|x|",
      seriesKey("idx_up", "api", { monitor: "2" }),
    ];
    expect(await index().get(keys)).toEqual([
      sample("idx_up", "web", "1", 1, t),
      null,
      sample("idx_up", "api", "2", 0, t),
    ]);

    await index().remove([keys[0] ?? ""]);
    expect(await index().get([keys[0] ?? ""])).toEqual([null]);
  });

  it("publishes changes to the dashboard hub as throttled metrics deltas", async () => {
    const res = await env.DASHBOARD_HUB.getByName("main").fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const deltas: { at: number; data: Record<string, unknown>[] }[] = [];
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data)) as { type: string; topic?: string; data?: Record<string, unknown>[] };
      const data = (msg.data ?? []).filter((s) => String(s.metric).startsWith("hub_"));
      if (msg.type === "delta" && msg.topic === "metrics" && data.length) deltas.push({ at: Date.now(), data });
    });
    ws.accept();

    const t = Date.now();
    await index().update([{ ...sample("hub_up", "web", "9", 0, t), message: "status 503" }]);
    await vi.waitUntil(() => deltas.length === 1, { timeout: 3000, interval: 10 });
    expect(deltas[0]?.data).toEqual([
      {
        metric: "hub_up",
        service: "web",
        labels: { monitor: "9" },
        value: 0,
        ts: new Date(t).toISOString(),
        message: "status 503",
      },
    ]);

    // Two updates right after a delta: one delta, PUBLISH_INTERVAL_MS later, carrying both.
    await index().update([sample("hub_up", "web", "9", 1, t + 1)]);
    await index().update([sample("hub_latency", "web", "9", 42, t + 1)]);
    await vi.waitUntil(() => deltas.length >= 2, { timeout: 3000, interval: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect(deltas).toHaveLength(2);
    expect(deltas[1]?.data.map((s) => [s.metric, s.value])).toEqual([
      ["hub_latency", 42],
      ["hub_up", 1],
    ]);
    expect((deltas[1]?.at ?? 0) - (deltas[0]?.at ?? 0)).toBeGreaterThanOrEqual(PUBLISH_INTERVAL_MS - 100);

    // Nothing newer: nothing published.
    await index().update([sample("hub_up", "web", "9", 5, t)]);
    await new Promise((r) => setTimeout(r, 1300));
    expect(deltas).toHaveLength(2);
    ws.close();
  });
});

describe("MetricSeries → SeriesIndex", () => {
  it("sends a quiet family's change to the index at once, and what follows within the interval once, after it", async () => {
    const f = series(`leading_edge_${Date.now().toString(36)}`);
    const index = env.SERIES_INDEX.getByName("main");
    const valueInIndex = async () => (await index.get([f.key]))[0]?.value;
    const t = Date.now();
    const started = Date.now();
    await f.record([f.at(1, t)]);
    await vi.waitUntil(async () => (await valueInIndex()) === 1, { timeout: 2_000, interval: 10 });
    // Not on an alarm INDEX_DELAY_MS later.
    expect(Date.now() - started).toBeLessThan(INDEX_DELAY_MS / 2);

    // Two more right away: held until the interval since the first update ends, then the newest.
    await f.record([f.at(2, t + 1)]);
    await f.record([f.at(3, t + 2)]);
    await new Promise((r) => setTimeout(r, INDEX_DELAY_MS / 4));
    expect(await valueInIndex()).toBe(1);
    await vi.waitUntil(async () => (await valueInIndex()) === 3, { timeout: 3_000, interval: 10 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(INDEX_DELAY_MS - 50);
  });
});

describe("recordSamples", () => {
  it("stores a 1,000-sample batch across many series and indexes the latest of each", async () => {
    const now = Date.now();
    const random = rng(99);
    const samples: Sample[] = [];
    for (let i = 0; i < 1000; i++) {
      const n = i % 100;
      samples.push({
        metric: "batch_metric",
        service: `svc${n % 7}`,
        labels: { n: String(n) },
        value: random() * 100,
        ts: now - 60_000 + i,
      });
    }
    samples.sort(() => random() - 0.5);
    const calls = vi.spyOn(env.METRIC_SERIES, "getByName");
    await recordSamples(env, samples, now, "push");
    const callCount = calls.mock.calls.length;
    calls.mockRestore();

    const keys = Array.from({ length: 100 }, (_, n) => seriesKey("batch_metric", `svc${n % 7}`, { n: String(n) }));
    const stats = (
      await Promise.all(
        Array.from({ length: 7 }, (_, k) =>
          familyStub(env, "batch_metric", `svc${k}`).stats(keys.filter((_key, n) => n % 7 === k)),
        ),
      )
    ).flat();
    expect(stats.map((s) => s.count)).toEqual(keys.map(() => 10));
    // One call per metric family, not per series.
    expect(callCount).toBe(7);
    // The latest values reach the index shortly after, one update per family.
    const index = env.SERIES_INDEX.getByName("main");
    await vi.waitUntil(async () => (await index.get(keys)).every((s) => s !== null), { timeout: 3000, interval: 20 });
    const latest = await index.get(keys);
    expect(latest.map((s) => s?.ts)).toEqual(keys.map((_, n) => now - 60_000 + 900 + n));
    expect(latest.map((s) => s?.value)).toEqual(
      keys.map((_, n) => samples.find((s) => s.ts === now - 60_000 + 900 + n)?.value),
    );
    expect(await env.SERIES_INDEX.getByName("main").list({ metric: "batch_metric" })).toHaveLength(100);
  });

  it("rejects when a series refuses samples, after storing and indexing the others", async () => {
    const now = Date.now();
    const ok: Sample = { metric: "partial_ok", service: "api", labels: {}, value: 1, ts: now };
    const old: Sample = { metric: "partial_old", service: "api", labels: {}, value: 1, ts: now - 30 * HOUR_MS };
    await expect(recordSamples(env, [ok, old], now, "push")).rejects.toBeInstanceOf(SamplesRefusedError);
    const index = env.SERIES_INDEX.getByName("main");
    const keys = [seriesKey("partial_ok", "api"), seriesKey("partial_old", "api")];
    await vi.waitUntil(async () => (await index.get(keys))[0] !== null, { timeout: 3000, interval: 20 });
    expect(await index.get(keys)).toEqual([ok, null]);
  });

  it("splits a family's batch so that no call carries more series than Analytics Engine points", () => {
    const now = Date.now();
    const wide = Array.from({ length: 2 * AE_MAX_POINTS + 10 }, (_, n): Sample[] => [
      { metric: "wide", service: "api", labels: { n: String(n) }, value: n, ts: now - 2000 },
      { metric: "wide", service: "api", labels: { n: String(n) }, value: n, ts: now - 1000 },
    ]).flat();
    const calls = planRecordCalls([...wide, { metric: "narrow", service: "api", labels: {}, value: 1, ts: now }]);
    expect(calls.map((c) => [c.family, c.samples.length])).toEqual([
      ["wide|api", 2 * AE_MAX_POINTS],
      ["wide|api", 2 * AE_MAX_POINTS],
      ["wide|api", 20],
      ["narrow|api", 1],
    ]);
    // Both samples of a series travel in the same call.
    for (const call of calls) {
      const labelSets = new Set(call.samples.map((x) => x.labels.n));
      expect(labelSets.size * (call.family === "wide|api" ? 2 : 1)).toBe(call.samples.length);
    }
  });

  it("sends a busy family's latest values to the index in a few coalesced updates", async () => {
    const index = env.SERIES_INDEX.getByName("main");
    const seq = () =>
      runInDurableObject(
        index,
        (_i, state) => state.storage.sql.exec<{ seq: number }>("SELECT seq FROM state").one().seq,
      );
    // Families of earlier tests send to the same index on their own alarms: count from a quiet index.
    let before = await seq();
    await vi.waitUntil(
      async () => {
        await new Promise((r) => setTimeout(r, 1.5 * INDEX_DELAY_MS));
        const now = await seq();
        const quiet = now === before;
        before = now;
        return quiet;
      },
      { timeout: 10 * INDEX_DELAY_MS, interval: 0 },
    );
    const t = Date.now() - 5000;
    for (let i = 0; i < 20; i++) {
      await recordSamples(
        env,
        [{ metric: "coalesced", service: "api", labels: { n: String(i % 4) }, value: i, ts: t + i }],
        t,
        "push",
      );
    }
    const keys = Array.from({ length: 4 }, (_, n) => seriesKey("coalesced", "api", { n: String(n) }));
    await vi.waitUntil(async () => (await index.get(keys)).every((x) => x !== null && x.value >= 16), {
      timeout: 3000,
      interval: 20,
    });
    expect((await index.get(keys)).map((x) => x?.value)).toEqual([16, 17, 18, 19]);
    // 20 writes, far fewer index updates (one per INDEX_DELAY_MS at most).
    expect((await seq()) - before).toBeLessThanOrEqual(5);
  });
});

describe("runRetention", () => {
  it("deletes minute rows past RETENTION_MINUTE_DAYS and hour rows past RETENTION_HOUR_DAYS", async () => {
    const now = Date.now();
    const day = 24 * HOUR_MS;
    const insert = (key: string, resolution: number, start: number) =>
      env.DB.prepare(
        `INSERT INTO system_metrics (metric_name, service, labels, series_key, resolution_seconds, bucket_start, count, sum, min, max)
         VALUES ('r', 'api', '{}', ?, ?, ?, 1, 1, 1, 1)`,
      ).bind(key, resolution, start);
    await env.DB.batch([
      insert("ret|a|", 60, now - 15 * day),
      insert("ret|a|", 60, now - 13 * day),
      insert("ret|a|", 3600, now - 15 * day),
      insert("ret|a|", 3600, now - 401 * day),
      insert("ret|a|", 3600, now - 399 * day),
    ]);
    await runRetention(env, now);
    const left = await env.DB.prepare(
      "SELECT resolution_seconds AS r, bucket_start AS b FROM system_metrics WHERE series_key = 'ret|a|' ORDER BY r, b",
    ).all<{ r: number; b: number }>();
    expect(left.results).toEqual([
      { r: 60, b: now - 13 * day },
      { r: 3600, b: now - 399 * day },
      { r: 3600, b: now - 15 * day },
    ]);
  });
});

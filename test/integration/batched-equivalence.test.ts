/**
 * The batched ingest path stores exactly what the per-sample path stores. A replayed day of
 * the demo shop (its own pushes and scrapes: a gauge and two labelled counter families, one of
 * them a histogram's nine buckets) goes into the series store twice, told apart
 * only by service: once one `record` call per sample in time order, once through
 * `recordSamples` in mixed batches of up to 1,000 as POST /api/ingest sends them. After the
 * families' alarms have rolled everything up, both copies must hold the same raw samples,
 * latest values, D1 minute and hour rows, anomaly detector state and judgements, anomalies,
 * and the same decisions of identical threshold rules (their evaluation, and which alerts are
 * open and what each rule holds about them at the end; see the last test for what of an
 * alert depends on the path and is left out).
 *
 * The clock is frozen for the whole file (only `Date`): every call of both paths, every
 * rule evaluation and every alarm sees the same instant, so what differs can only come
 * from the path.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { MetricSeries } from "../../durable-objects/metric-series";
import { demoPushSamples, incidentAround, renderShopMetrics, shopState } from "../../worker/core/demo-shop";
import { parseExposition } from "../../worker/core/prometheus/parse";
import { expositionToSamples } from "../../worker/core/prometheus/to-samples";
import { bucketStart, HOUR_MS, MINUTE_MS } from "../../worker/core/rollup";
import type { Rule } from "../../worker/core/rules/types";
import { type Sample, seriesKey } from "../../worker/core/series";
import { familyStub, recordSamples, seriesIndex } from "../../worker/lib/series";
import { callJson, createAdmin } from "./helpers";

const SINGLE = "equiv-single";
const BATCHED = "equiv-batched";
const SERVICES = [SINGLE, BATCHED] as const;
/** Inside the 24 h raw window, so no sample is refused. */
const SPAN_MS = 23 * HOUR_MS;
/** The shop pushes every minute; its metrics endpoint is scraped every 10 minutes here (fewer calls). */
const SCRAPE_STEP_MS = 10 * MINUTE_MS;
/** POST /api/ingest takes up to 1,000 samples a request. */
const BATCH = 1_000;

const PUSHED = ["db_pool_in_use"];
const SCRAPED = ["celery_tasks_total", "celery_task_runtime_seconds_bucket"];
const METRICS = [...PUSHED, ...SCRAPED];

const now = Date.now();
/** The last closed minute before now: the day ends there, so every minute it holds is rolled up. */
const end = bucketStart(now, 60) - MINUTE_MS;
const from = end - SPAN_MS;

/**
 * On top of the scheduled ones (which may not touch these metrics on a given day), two
 * incidents as the demo previews them on demand: a database outage (the pool runs full) and
 * lost Celery workers (a backlog, fewer tasks finished), late enough for the detectors to have
 * learnt the series, so the day has anomalies to agree on.
 */
const extra = [incidentAround("database", end - 6 * HOUR_MS), incidentAround("celery", end - 3 * HOUR_MS)];

/** The shop's day for `service`, oldest first: its pushes every minute and its scrapes. */
function replayedDay(service: string): Sample[] {
  const samples: Sample[] = [];
  for (let t = from + MINUTE_MS; t <= end; t += MINUTE_MS) {
    for (const s of demoPushSamples(t, { extra })) if (PUSHED.includes(s.metric)) samples.push({ ...s, service });
    if ((t - from) % SCRAPE_STEP_MS === 0) {
      // Scraped 20 s into the minute (the scrape runs on its own schedule, not at the pushes' instants).
      const at = t + 20_000;
      const { samples: scraped } = expositionToSamples(parseExposition(renderShopMetrics(shopState(at, extra))), {
        service,
        now: at,
      });
      samples.push(...scraped.filter((s) => SCRAPED.includes(s.metric)));
    }
  }
  return samples;
}

/** Replaces the batched copy's service by the single one's anywhere in a value (keys, fingerprints, rows). */
const asSingle = <T>(value: T): T => JSON.parse(JSON.stringify(value).replaceAll(BATCHED, SINGLE)) as T;

const keysOf = (samples: readonly Sample[], metric: string) => [
  ...new Set(samples.filter((s) => s.metric === metric).map((s) => seriesKey(s.metric, s.service, s.labels))),
];

/** Runs a family's alarm until nothing closed is left to roll up or flush (700 buckets per alarm). */
async function drain(metric: string, service: string): Promise<number> {
  const family = familyStub(env, metric, service);
  for (let round = 1; round <= 20; round++) {
    await runDurableObjectAlarm(family);
    const pending = await runInDurableObject(family, (_i, state) => {
      const sql = state.storage.sql;
      const count = (q: string, before: number) => sql.exec<{ n: number }>(q, before).one().n;
      const t = Date.now();
      return (
        count("SELECT count(*) AS n FROM minutes WHERE rev > flushed_rev AND bucket_start <= ?", t - MINUTE_MS) +
        count("SELECT count(*) AS n FROM hours WHERE rev > flushed_rev AND bucket_start <= ?", t - HOUR_MS)
      );
    });
    if (pending === 0) return round;
  }
  throw new Error(`${metric}|${service}: buckets still pending after 20 alarms`);
}

interface MetricRow {
  series_key: string;
  metric_name: string;
  service: string;
  labels: string;
  resolution_seconds: number;
  bucket_start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  sketch: string | null;
}

/** Every value column of a family's rows at one resolution, in a stable order. */
async function rows(metric: string, service: string, resolution: number): Promise<MetricRow[]> {
  const result = await env.DB.prepare(
    `SELECT series_key, metric_name, service, labels, resolution_seconds, bucket_start, count, sum, min, max, p50, p95, p99, sketch
     FROM system_metrics WHERE metric_name = ? AND service = ? AND resolution_seconds = ? ORDER BY series_key, bucket_start`,
  )
    .bind(metric, service, resolution)
    .all<MetricRow>();
  return result.results;
}

/** What an AlertRule tracks per fingerprint (the parts compared). */
interface Tracked {
  fingerprint: string;
  labels: Record<string, string>;
  message: string | null;
  state: {
    phase: string;
    condition: string;
    lastBreach: { value: number; observedAt: number } | null;
    alert: { lastValue: number } | null;
  };
}

type Inside = {
  ids: Map<string, number>;
  scorers: Map<number, { detector: { toJSON(): unknown }; episodes: unknown; lastTs: number | null; latest: unknown }>;
};

/** Each series' scorer as the family holds it in memory: detector state, episodes, last judged instant, newest judgement. */
function scorers(metric: string, service: string, keys: readonly string[]) {
  return runInDurableObject(familyStub(env, metric, service), (instance: MetricSeries) => {
    const inside = instance as unknown as Inside;
    return keys.map((key) => {
      const scorer = inside.scorers.get(inside.ids.get(key) as number);
      return scorer
        ? {
            key,
            detector: JSON.parse(JSON.stringify(scorer.detector.toJSON())) as unknown,
            episodes: JSON.parse(JSON.stringify(scorer.episodes)) as unknown,
            lastTs: scorer.lastTs,
            latest: scorer.latest,
          }
        : null;
    });
  });
}

/** The same rules for each copy (created through the admin API before any sample arrives). */
const ruleBodies = (service: string, runtimeThreshold: number) => [
  {
    // Mixed decisions across a labelled family: the histogram's upper buckets breach, the lower ones do not.
    rule_name: `Equivalence runtime buckets ${service}`,
    metric_name: "celery_task_runtime_seconds_bucket",
    service,
    kind: "threshold",
    comparison_operator: ">",
    threshold_value: runtimeThreshold,
    severity: "warning",
    notification_channels: ["email"],
  },
  {
    // A windowed aggregate of a gauge: the last hour's mean pool use.
    rule_name: `Equivalence pool use ${service}`,
    metric_name: "db_pool_in_use",
    service,
    kind: "threshold",
    comparison_operator: ">",
    threshold_value: 1,
    params: { aggregation: "avg", window_seconds: 3600 },
    severity: "warning",
    notification_channels: ["email"],
  },
];

const day = { [SINGLE]: replayedDay(SINGLE), [BATCHED]: replayedDay(BATCHED) };
const rules: Record<string, { id: number; metric: string }[]> = {};
const timing: Record<string, number> = {};

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(now);
  const admin = await createAdmin("admin");
  // Between the values of the le="0.5" and le="1" buckets at the end of the day.
  const last = (le: string) =>
    day[SINGLE].filter((s) => s.metric === "celery_task_runtime_seconds_bucket" && s.labels.le === le).at(-1)?.value ??
    0;
  const runtimeThreshold = Math.round((last("0.5") + last("1")) / 2);
  for (const service of SERVICES) {
    rules[service] = [];
    for (const body of ruleBodies(service, runtimeThreshold)) {
      const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", { token: admin.token, body });
      if (res.status !== 201) throw new Error(`rule not created: ${res.status} ${JSON.stringify(res.body)}`);
      rules[service].push({ id: res.body.id, metric: body.metric_name });
    }
  }

  // With the clock frozen, the wake-ups families set are soon overdue in real time, so their
  // alarms run over and over during the replay; one that runs while a record's tell to the
  // rules is still in flight finds that record marked untold and tells the rules again,
  // logging a warning each time (counted below, kept out of the output).
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  let started = performance.now();
  for (const s of day[SINGLE]) {
    const result = await familyStub(env, s.metric, s.service).record([s]);
    if (result.held !== 1 || result.duplicates !== 0) throw new Error(`sample not stored: ${JSON.stringify(s)}`);
  }
  timing.single = performance.now() - started;

  started = performance.now();
  const batched = day[BATCHED];
  for (let i = 0; i < batched.length; i += BATCH) {
    const counts = await recordSamples(env, batched.slice(i, i + BATCH), Date.now(), "push");
    if (counts.duplicates !== 0) throw new Error(`batch at ${i}: ${counts.duplicates} duplicate(s)`);
  }
  timing.batched = performance.now() - started;

  started = performance.now();
  for (const service of SERVICES) for (const metric of METRICS) await drain(metric, service);
  timing.alarms = performance.now() - started;
  const retells = warn.mock.calls.filter((c) => String(c[0]).includes("told again")).length;
  warn.mockRestore();
  console.log(
    `batched equivalence: ${day[SINGLE].length} samples per copy; per-sample ${Math.round(timing.single)} ms, ` +
      `batched ${Math.round(timing.batched)} ms, alarms ${Math.round(timing.alarms)} ms; ${retells} retell(s)`,
  );
}, 120_000);

afterAll(() => {
  vi.useRealTimers();
});

describe("batched ingest stores what the per-sample path stores (a replayed day of the demo shop)", () => {
  it("replays a day of several families: a gauge, labelled counters, one family of nine series", () => {
    const samples = day[SINGLE];
    expect(samples[0]?.ts).toBeGreaterThan(now - 24 * HOUR_MS);
    expect(samples.at(-1)?.ts).toBeLessThan(bucketStart(now, 60));
    expect(keysOf(samples, "db_pool_in_use")).toHaveLength(1);
    expect(keysOf(samples, "celery_tasks_total")).toHaveLength(3);
    expect(keysOf(samples, "celery_task_runtime_seconds_bucket")).toHaveLength(9);
    expect(samples.filter((s) => s.metric === "db_pool_in_use")).toHaveLength(SPAN_MS / MINUTE_MS);
    expect(asSingle(day[BATCHED])).toEqual(samples);
  });

  it("holds the same raw samples and latest values in every series", async () => {
    for (const metric of METRICS) {
      const keys = keysOf(day[SINGLE], metric);
      const [single, batched] = await Promise.all(
        SERVICES.map((service) => {
          const family = familyStub(env, metric, service);
          return Promise.all(
            keys.map(async (key) => {
              const k = key.replace(SINGLE, service);
              return {
                samples: await family.since(k, 0),
                latest: await family.latest(k),
                stats: await family.stats([k]),
              };
            }),
          );
        }),
      );
      expect(single?.map((s) => s.samples.length)).toEqual(
        keys.map((k) => day[SINGLE].filter((s) => seriesKey(s.metric, s.service, s.labels) === k).length),
      );
      expect(asSingle(batched), metric).toEqual(single);
    }
    // The index holds the same newest sample of each series (sent by the alarms).
    const all = METRICS.flatMap((m) => keysOf(day[SINGLE], m));
    const [inIndex, inIndexBatched] = await Promise.all(
      SERVICES.map((service) => seriesIndex(env).get(all.map((k) => k.replace(SINGLE, service)))),
    );
    expect(inIndex?.every((s) => s !== null)).toBe(true);
    expect(asSingle(inIndexBatched)).toEqual(inIndex);
  });

  it("writes the same minute and hour rows to D1, every value column", async () => {
    for (const metric of METRICS) {
      for (const resolution of [60, 3600]) {
        const [single, batched] = await Promise.all(SERVICES.map((service) => rows(metric, service, resolution)));
        expect(single?.length, `${metric} ${resolution}`).toBeGreaterThan(0);
        expect(asSingle(batched), `${metric} ${resolution}`).toEqual(single);
      }
      // Every minute the day touched is there, and only the current hour is still open.
      const minutes = new Set(day[SINGLE].filter((s) => s.metric === metric).map((s) => bucketStart(s.ts, 60)));
      const keys = keysOf(day[SINGLE], metric).length;
      expect(await rows(metric, SINGLE, 60)).toHaveLength(minutes.size * keys);
      const hours = new Set([...minutes].map((m) => bucketStart(m, 3600)).filter((h) => h + HOUR_MS <= now));
      expect(await rows(metric, SINGLE, 3600)).toHaveLength(hours.size * keys);
    }
  });

  it("leaves each series' anomaly detector in the same state, with the same judgements and anomalies", async () => {
    for (const metric of METRICS) {
      const keys = keysOf(day[SINGLE], metric);
      const [single, batched] = await Promise.all(
        SERVICES.map((service) =>
          scorers(
            metric,
            service,
            keys.map((k) => k.replace(SINGLE, service)),
          ),
        ),
      );
      expect(
        single?.every((s) => s !== null && s.lastTs === day[SINGLE].filter((x) => x.metric === metric).at(-1)?.ts),
      ).toBe(true);
      expect(asSingle(batched), metric).toEqual(single);

      const [judged, judgedBatched] = await Promise.all(
        SERVICES.map((service) => familyStub(env, metric, service).latestJudgements()),
      );
      expect(Object.keys(judged ?? {})).toHaveLength(keys.length);
      expect(asSingle(judgedBatched)).toEqual(judged);
    }
    const anomalies = (service: string) =>
      env.DB.prepare(
        `SELECT series_key, metric, labels, started_at, ended_at, peak_score, peak_at, direction, observed, expected
         FROM anomalies WHERE service = ? ORDER BY series_key, started_at`,
      )
        .bind(service)
        .all()
        .then((r) => r.results);
    // The database outage is one (the pool full at 20, far above its usual level).
    const found = await anomalies(SINGLE);
    expect(found.filter((a) => a.metric === "db_pool_in_use" && a.direction === "up").length).toBeGreaterThan(0);
    expect(asSingle(await anomalies(BATCHED))).toEqual(found);
  });

  it("decides the same threshold rules alike: their evaluation now and the alerts they opened", async () => {
    const definition = async (id: number) => (await env.ALERT_RULE.getByName(String(id)).definition()) as Rule;
    for (let i = 0; i < (rules[SINGLE]?.length ?? 0); i++) {
      const [single, batched] = SERVICES.map((service) => rules[service]?.[i]);
      if (!single || !batched) throw new Error("rules missing");
      const evaluate = async (rule: { id: number; metric: string }, service: string) =>
        familyStub(env, rule.metric, service).evaluateRule(await definition(rule.id), Date.now());
      const evaluation = await evaluate(single, SINGLE);
      expect(evaluation.length).toBeGreaterThan(0);
      expect(asSingle(await evaluate(batched, BATCHED))).toEqual(evaluation);
    }
    // Both rules' decisions: the runtime rule breaches on some buckets only.
    const [runtime] = rules[SINGLE] ?? [];
    const decisions = await familyStub(env, "celery_task_runtime_seconds_bucket", SINGLE).evaluateRule(
      await definition(runtime?.id ?? 0),
      Date.now(),
    );
    expect(new Set(decisions.map((d) => d.breached))).toEqual(new Set([true, false]));

    // The alerts: the same fingerprints open one alert each, and each rule's view of every
    // fingerprint after the day (its phase, condition, the newest breach and the alert's
    // message and value) is the same. Left out, because they record when the rule first saw a
    // breach rather than what is stored: the opened alert's first values (the per-sample path
    // opens it on the first breaching sample in the window, a batch on what its batch held),
    // how many breaching evaluations it absorbed (one per arriving sample or batch, plus the
    // rule's own pulls), and the D1 row's value columns (synced from those at most every 10 s).
    // Tells still in flight (they run after each record answers) are let land first.
    for (let i = 0; i < (rules[SINGLE]?.length ?? 0); i++) {
      await vi.waitFor(
        async () => {
          const [single, batched] = await Promise.all(
            SERVICES.map(async (service) => {
              const id = rules[service]?.[i]?.id ?? 0;
              const tracked = await runInDurableObject(env.ALERT_RULE.getByName(String(id)), (instance) =>
                (instance as unknown as { loadAll(): Tracked[] }).loadAll(),
              );
              const opened = await env.DB.prepare(
                "SELECT fingerprint, labels, status, alert_severity FROM alert_history WHERE alert_rule_id = ? ORDER BY fingerprint",
              )
                .bind(id)
                .all();
              return {
                opened: opened.results,
                tracked: tracked
                  .map((t) => ({
                    fingerprint: t.fingerprint,
                    labels: t.labels,
                    phase: t.state.phase,
                    condition: t.state.condition,
                    lastBreach: t.state.lastBreach,
                    alert: t.state.alert ? { lastValue: t.state.alert.lastValue } : null,
                    message: t.message,
                  }))
                  .sort((a, b) => a.fingerprint.localeCompare(b.fingerprint)),
              };
            }),
          );
          expect(single?.opened.length).toBeGreaterThan(0);
          expect(single?.opened).toHaveLength(single?.tracked.filter((t) => t.alert !== null).length ?? -1);
          expect(asSingle(batched)).toEqual(single);
        },
        { timeout: 5_000, interval: 100 },
      );
    }
  });
});

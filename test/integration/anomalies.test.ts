/**
 * Anomaly detection in the series store: every stored sample is scored by its series'
 * detector; a spike opens an anomaly (listed, ended after the quiet period); the detector's
 * state survives the object being rebuilt; "expected" feedback damps the same spike at the
 * same time of day the next day, and deleting it undoes that. The tests use clear cases (a
 * flat-ish noisy series for hours, then a value 50× its level), not the detector's exact scores.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { MetricSeries } from "../../durable-objects/metric-series";
import { restoreDetector } from "../../worker/core/anomaly";
import type { AnomalyWire, FeedbackWire } from "../../worker/core/anomaly/wire";
import type { AnomalyMessage } from "../../worker/core/protocol/dashboard";
import { mulberry32 } from "../../worker/core/random";
import { type Sample, seriesKey } from "../../worker/core/series";
import { familyStub } from "../../worker/lib/series";
import { callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const MIN = 60_000;
const HOUR = 60 * MIN;
const SERVICE = "anomaly-test";
const LEVEL = 100;

let admin: TestAdmin;
let viewer: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
  viewer = await createAdmin("viewer");
});

/** One series of its own metric, fed through its family's object. */
function series(metric: string) {
  const labels = { pool: "main" };
  const family = familyStub(env, metric, SERVICE);
  const random = mulberry32(metric.length);
  const at = (ts: number, value: number): Sample => ({ metric, service: SERVICE, labels, ts, value });
  return {
    metric,
    key: seriesKey(metric, SERVICE, labels),
    family,
    /** Steady noisy samples every minute over [from, to), in calls of 500. */
    async steady(from: number, to: number) {
      const samples: Sample[] = [];
      for (let ts = from; ts < to; ts += MIN) samples.push(at(ts, LEVEL + (random() - 0.5) * 4));
      for (let i = 0; i < samples.length; i += 500) await family.record(samples.slice(i, i + 500));
    },
    /** A spike `times` the level (50×): the detector flags what is new for the series. */
    spike: (ts: number, times = 50) => family.record([at(ts, times * LEVEL)]),
  };
}

/** The newest instant each checkpointed detector of a family had judged (its `detectors` rows). */
function checkpoints(family: ReturnType<typeof familyStub>) {
  return runInDurableObject(family, (_instance: MetricSeries, state) =>
    state.storage.sql.exec<{ last_ts: number | null }>("SELECT last_ts FROM detectors").toArray(),
  );
}

async function listed(metric: string): Promise<AnomalyWire[]> {
  const res = await callJson<{ anomalies: AnomalyWire[] }>(
    "GET",
    `/api/admin/monitoring/performance/anomalies?period=30d&service=${SERVICE}&metric=${metric}`,
    { token: viewer.token },
  );
  expect(res.status).toBe(200);
  return res.body.anomalies;
}

/** The minute `ms` is in. */
const minute = (ms: number) => ms - (ms % MIN);

describe("anomalies from the series store", () => {
  it("a spike after hours of a steady series is listed as an anomaly (up) that ends after the quiet period", async () => {
    const s = series("anomaly_spike_total");
    const base = minute(Date.now()) - 6 * HOUR;
    await s.steady(base, base + 4 * HOUR);
    // The dashboard socket hears the start and the end.
    const res = await env.DASHBOARD_HUB.getByName("main").fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const heard: AnomalyMessage[] = [];
    ws.addEventListener("message", (e) => {
      const m = JSON.parse(String(e.data)) as AnomalyMessage;
      if (m.type === "anomaly" && m.anomaly.metric === s.metric) heard.push(m);
    });
    ws.accept();
    const spikeAt = base + 4 * HOUR;
    await s.spike(spikeAt);
    // The newest judgement, kept for anomaly rules: the spike's, high and upwards.
    await runInDurableObject(s.family, (instance: MetricSeries) => {
      const inside = instance as unknown as { ids: Map<string, number>; latestJudgement(id: number): unknown };
      expect(inside.latestJudgement(inside.ids.get(s.key) as number)).toMatchObject({
        ts: spikeAt,
        direction: "up",
        score: expect.any(Number),
      });
    });
    const [open] = await vi.waitFor(async () => {
      const list = await listed(s.metric);
      expect(list).toHaveLength(1);
      return list;
    });
    expect(open).toMatchObject({ series_key: s.key, direction: "up", ended_at: null, observed: 50 * LEVEL });
    expect(open?.started_at).toBe(new Date(spikeAt).toISOString());
    expect(open?.summary).toMatch(/^anomaly_spike_total .* at \d\d:\d\d \(ongoing\)$/);
    expect(open?.peak_score).toBeGreaterThanOrEqual(0.8);

    await s.steady(spikeAt + MIN, spikeAt + 30 * MIN);
    const [ended] = await vi.waitFor(async () => {
      const list = await listed(s.metric);
      expect(list[0]?.ended_at).not.toBeNull();
      return list;
    });
    expect(ended?.id).toBe(open?.id);
    expect(Date.parse(ended?.ended_at ?? "")).toBeGreaterThan(spikeAt);
    expect(ended?.summary).toMatch(/resolved$/);
    await vi.waitFor(() => expect(heard.map((m) => m.anomaly.ended_at === null)).toEqual([true, false]));
    expect((await s.family.latestJudgements())[s.key]?.ts).toBe(spikeAt + 29 * MIN);
    expect(heard[0]?.anomaly.id).toBe(open?.id);
    ws.close();
  });

  it("a detector survives the object being rebuilt: its state round-trips and scores alike", async () => {
    const s = series("anomaly_restart_total");
    const base = minute(Date.now()) - 3 * HOUR;
    await s.steady(base, base + 2 * HOUR);
    await runInDurableObject(s.family, async (instance: MetricSeries, state) => {
      type Inside = {
        ids: Map<string, number>;
        scorers: Map<number, { detector: { toJSON(): unknown }; lastTs: number | null; latest: unknown }>;
        loadScorers(ids: number[]): void;
      };
      const before = instance as unknown as Inside;
      const id = before.ids.get(s.key) as number;
      // A second instance over the same storage: what a restarted or re-created object reads.
      const after = new MetricSeries(state, env) as unknown as Inside;
      after.loadScorers([id]);
      const [a, b] = [before.scorers.get(id), after.scorers.get(id)];
      expect(b?.detector.toJSON()).toEqual(a?.detector.toJSON());
      expect(b?.lastTs).toBe(a?.lastTs);
      expect(b?.latest).toEqual(a?.latest);
      // The same next samples score alike on both.
      const [da, db] = [restoreDetector(a?.detector.toJSON()), restoreDetector(b?.detector.toJSON())];
      for (const [i, v] of [101, 99, 5000, 100].entries()) {
        const t = base + 2 * HOUR + i * MIN;
        expect(db.judge(t, v)).toEqual(da.judge(t, v));
      }
    });
  });

  it("checkpoints detectors on the alarm, not on each record; a rebuilt object catches up from the checkpoint", async () => {
    const s = series("anomaly_checkpoint_total");
    const base = minute(Date.now()) - 3 * HOUR;
    const checkpoint = () => checkpoints(s.family);
    await s.steady(base, base + HOUR);
    // Recording writes no detector state: that is the alarm's.
    expect(await checkpoint()).toEqual([]);
    expect(await runDurableObjectAlarm(s.family)).toBe(true);
    expect(await checkpoint()).toEqual([{ last_ts: base + HOUR - MIN }]);
    // An hour more after the checkpoint, then the object is rebuilt over the same storage.
    await s.steady(base + HOUR, base + 2 * HOUR);
    expect(await checkpoint()).toEqual([{ last_ts: base + HOUR - MIN }]);
    await runInDurableObject(s.family, async (instance: MetricSeries, state) => {
      type Inside = {
        ids: Map<string, number>;
        scorers: Map<
          number,
          { detector: { toJSON(): unknown }; lastTs: number | null; latest: unknown; episodes: unknown }
        >;
        loadScorers(ids: number[]): void;
      };
      const live = instance as unknown as Inside;
      const id = live.ids.get(s.key) as number;
      const rebuilt = new MetricSeries(state, env) as unknown as Inside;
      rebuilt.loadScorers([id]);
      const [a, b] = [live.scorers.get(id), rebuilt.scorers.get(id)];
      expect(b?.lastTs).toBe(base + 2 * HOUR - MIN);
      expect(b?.detector.toJSON()).toEqual(a?.detector.toJSON());
      expect(b?.latest).toEqual(a?.latest);
      expect(b?.episodes).toEqual(a?.episodes);
    });
  });

  it("checkpoints at most once a minute however often the alarm comes, and wakes for the next one", async () => {
    const s = series("anomaly_checkpoint_interval_total");
    const base = minute(Date.now()) - 3 * HOUR;
    const lastTs = () => checkpoints(s.family);
    await s.steady(base, base + HOUR);
    expect(await runDurableObjectAlarm(s.family)).toBe(true);
    expect(await lastTs()).toEqual([{ last_ts: base + HOUR - MIN }]);
    const checkpointedAt = await runInDurableObject(
      s.family,
      (instance: MetricSeries) => (instance as unknown as { checkpointedAt: number }).checkpointedAt,
    );
    // More samples, and the alarm again at once (a busy family's comes every second): no write.
    await s.steady(base + HOUR, base + 2 * HOUR);
    expect(await runDurableObjectAlarm(s.family)).toBe(true);
    expect(await lastTs()).toEqual([{ last_ts: base + HOUR - MIN }]);
    // The next wake-up comes by the time the next checkpoint is due, even with nothing else pending.
    const alarm = await runInDurableObject(s.family, (_instance: MetricSeries, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm as number).toBeLessThanOrEqual(checkpointedAt + 60_000);
    // A minute later, the alarm writes what changed meanwhile.
    await runInDurableObject(s.family, (instance: MetricSeries) => {
      (instance as unknown as { checkpointedAt: number }).checkpointedAt = checkpointedAt - 60_000;
    });
    expect(await runDurableObjectAlarm(s.family)).toBe(true);
    expect(await lastTs()).toEqual([{ last_ts: base + 2 * HOUR - MIN }]);
  });

  it("feedback: the same spike at the same time of day the next day opens no anomaly; deleting it undoes that", async () => {
    const s = series("anomaly_nightly_total");
    // Day one's spike 20 h ago; day two's 24 h later (the raw window takes samples up to now and after).
    const base = minute(Date.now()) - 24 * HOUR;
    const spikeAt = base + 4 * HOUR;
    await s.steady(base, spikeAt);
    await s.spike(spikeAt);
    await s.steady(spikeAt + MIN, spikeAt + 30 * MIN);
    const [first] = await vi.waitFor(async () => {
      const list = await listed(s.metric);
      expect(list[0]?.ended_at).not.toBeNull();
      return list;
    });
    const anomalyId = first?.id as number;

    // Viewers may not mark; the note is required; unknown anomalies are 404.
    const path = `/api/admin/monitoring/performance/anomalies/${anomalyId}/feedback`;
    expect((await callJson("POST", path, { token: viewer.token, body: { note: "batch" } })).status).toBe(403);
    const bad = await callJson<ErrorBody>("POST", path, { token: admin.token, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]?.field).toBe("note");
    const unknown = await callJson("POST", "/api/admin/monitoring/performance/anomalies/999999/feedback", {
      token: admin.token,
      body: { note: "x" },
    });
    expect(unknown.status).toBe(404);

    const made = await callJson<{ feedback: FeedbackWire }>("POST", path, {
      token: admin.token,
      body: { note: "Nightly batch import" },
    });
    expect(made.status).toBe(201);
    expect(made.body.feedback).toMatchObject({
      series_key: s.key,
      direction: "up",
      weekday: null,
      anomaly_id: anomalyId,
      note: "Nightly batch import",
      created_by: admin.id,
    });
    const again = await callJson("POST", path, { token: admin.token, body: { note: "twice" } });
    expect(again.status).toBe(409);
    expect((await listed(s.metric))[0]?.feedback?.id).toBe(made.body.feedback.id);
    const all = await callJson<{ feedback: FeedbackWire[] }>("GET", "/api/admin/monitoring/anomaly-feedback", {
      token: viewer.token,
    });
    expect(all.body.feedback.map((f) => f.id)).toContain(made.body.feedback.id);

    // The next day, the same spike at the same time: no new anomaly.
    const nextDay = spikeAt + 24 * HOUR;
    await s.steady(spikeAt + 30 * MIN, nextDay);
    await s.spike(nextDay);
    await s.steady(nextDay + MIN, nextDay + 10 * MIN);
    await s.family.record([]); // let queued writes settle
    await new Promise((r) => setTimeout(r, 200));
    expect((await listed(s.metric)).map((a) => a.id)).toEqual([anomalyId]);

    // Undone: a spike a quarter of an hour later counts again. The detector learned the damped
    // one, so an equal spike is no longer new for it; this one is 1.4× as large, which the
    // pattern (up to 1.5× its magnitude) would still have damped.
    const del = `/api/admin/monitoring/anomaly-feedback/${made.body.feedback.id}`;
    expect((await callJson("DELETE", del, { token: viewer.token })).status).toBe(403);
    expect((await callJson("DELETE", del, { token: admin.token })).status).toBe(204);
    expect((await callJson("DELETE", del, { token: admin.token })).status).toBe(404);
    await s.steady(nextDay + 10 * MIN, nextDay + 15 * MIN);
    await s.spike(nextDay + 15 * MIN, 70);
    const list = await vi.waitFor(async () => {
      const l = await listed(s.metric);
      expect(l).toHaveLength(2);
      return l;
    });
    expect(list[0]).toMatchObject({ direction: "up", started_at: new Date(nextDay + 15 * MIN).toISOString() });
  });

  it("marks an anomaly rule's alert expected; other rules' alerts are refused", async () => {
    const s = series("anomaly_alerted_total");
    const base = minute(Date.now()) - 6 * HOUR;
    await s.steady(base, base + 4 * HOUR);
    const spikeAt = base + 4 * HOUR;
    await s.spike(spikeAt);
    const [anomaly] = await vi.waitFor(async () => {
      const list = await listed(s.metric);
      expect(list).toHaveLength(1);
      return list;
    });
    const rule = async (kind: string, metric = s.metric) =>
      (await env.DB.prepare(
        `INSERT INTO alert_rules (rule_name, metric_name, service, kind, threshold_value, params, severity,
           notification_channels, is_active) VALUES (?, ?, ?, ?, 3, '{"direction":"up"}', 'warning', '[]', 0) RETURNING id`,
      )
        .bind(`${kind} rule`, metric, SERVICE, kind)
        .first<{ id: number }>())!.id;
    const alert = async (ruleId: number) =>
      (await env.DB.prepare(
        `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, metric_value, peak_value,
           alert_severity, observed_at, triggered_at) VALUES (?, ?, ?, ?, ?, ?, 'warning', ?, ?) RETURNING id`,
      )
        .bind(ruleId, SERVICE, s.key, JSON.stringify({ pool: "main" }), 50 * LEVEL, 50 * LEVEL, spikeAt, spikeAt + 1000)
        .first<{ id: number }>())!.id;

    const thresholdAlert = await alert(await rule("threshold"));
    const refused = await callJson<ErrorBody>("POST", `/api/admin/monitoring/alerts/${thresholdAlert}/expected`, {
      token: admin.token,
      body: { note: "not an anomaly rule" },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.details[0]?.field).toBe("id");
    const missing = await callJson("POST", "/api/admin/monitoring/alerts/999999/expected", {
      token: admin.token,
      body: { note: "x" },
    });
    expect(missing.status).toBe(404);

    const anomalyAlert = await alert(await rule("anomaly"));
    const path = `/api/admin/monitoring/alerts/${anomalyAlert}/expected`;
    expect((await callJson("POST", path, { token: viewer.token, body: { note: "x" } })).status).toBe(403);
    const made = await callJson<{ feedback: FeedbackWire }>("POST", path, {
      token: admin.token,
      body: { note: "Load test", weekly: true },
    });
    expect(made.status).toBe(201);
    expect(made.body.feedback).toMatchObject({
      series_key: s.key,
      direction: "up",
      alert_id: anomalyAlert,
      anomaly_id: anomaly?.id,
      weekday: new Date(spikeAt).getUTCDay(),
    });
    expect((await callJson("POST", path, { token: admin.token, body: { note: "again" } })).status).toBe(409);
    // An alert without a recorded anomaly around it: the pattern comes from what the detector expects then.
    const quiet = series("anomaly_alerted_quiet_total");
    await quiet.steady(base, base + 4 * HOUR);
    const ruleId = await rule("anomaly", quiet.metric);
    const alertId = (await env.DB.prepare(
      `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, metric_value, peak_value,
         alert_severity, observed_at, triggered_at) VALUES (?, ?, ?, '{"pool":"main"}', ?, ?, 'warning', ?, ?) RETURNING id`,
    )
      .bind(ruleId, SERVICE, quiet.key, 3 * LEVEL, 3 * LEVEL, base + 4 * HOUR - MIN, base + 4 * HOUR - MIN)
      .first<{ id: number }>())!.id;
    const fromDetector = await callJson<{ feedback: FeedbackWire }>(
      "POST",
      `/api/admin/monitoring/alerts/${alertId}/expected`,
      { token: admin.token, body: { note: "Expected load" } },
    );
    expect(fromDetector.status).toBe(201);
    expect(fromDetector.body.feedback).toMatchObject({ series_key: quiet.key, direction: "up", anomaly_id: null });
    expect(fromDetector.body.feedback.magnitude).toBeGreaterThan(1);
  });

  it("an imported past is scored even when live samples came first (the detector replays the raw window)", async () => {
    const s = series("anomaly_imported_total");
    const now = minute(Date.now());
    await s.family.record([{ metric: s.metric, service: SERVICE, labels: { pool: "main" }, ts: now, value: LEVEL }]);
    const random = mulberry32(9);
    const ts: number[] = [];
    const values: number[] = [];
    for (let t = now - 6 * HOUR; t < now; t += MIN) {
      ts.push(t);
      values.push(t === now - 2 * HOUR ? 50 * LEVEL : LEVEL + (random() - 0.5) * 4);
    }
    await s.family.importHistory(s.metric, SERVICE, { pool: "main" }, ts, values);
    const list = await vi.waitFor(async () => {
      const l = await listed(s.metric);
      expect(l).toHaveLength(1);
      return l;
    });
    expect(list[0]).toMatchObject({ direction: "up", started_at: new Date(now - 2 * HOUR).toISOString() });
    expect(list[0]?.ended_at).not.toBeNull();
  });

  it("documents the routes in the OpenAPI document", async () => {
    const doc = await callJson<{ paths: Record<string, Record<string, unknown>> }>("GET", "/api/openapi.json");
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths["/api/admin/monitoring/performance/anomalies"] ?? {})).toEqual(["get"]);
    expect(doc.body.paths["/api/admin/monitoring/performance/anomalies/{id}/feedback"]?.post).toBeDefined();
    expect(doc.body.paths["/api/admin/monitoring/alerts/{id}/expected"]?.post).toBeDefined();
    expect(doc.body.paths["/api/admin/monitoring/anomaly-feedback/{id}"]?.delete).toBeDefined();
  });

  it("validates the list's query", async () => {
    const res = await callJson<ErrorBody>("GET", "/api/admin/monitoring/performance/anomalies?period=2h", {
      token: viewer.token,
    });
    expect(res.status).toBe(400);
    expect(res.body.details[0]?.field).toBe("period");
    const ok = await callJson<{ period: string; anomalies: unknown[] }>(
      "GET",
      "/api/admin/monitoring/performance/anomalies",
      { token: viewer.token },
    );
    expect(ok.status).toBe(200);
    expect(ok.body.period).toBe("24h");
  });
});

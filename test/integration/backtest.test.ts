import { beforeAll, describe, expect, it } from "vitest";
import type { Sample } from "../../worker/core/series";
import {
  callJson,
  createAdmin,
  type ErrorBody,
  insertAll,
  recordIndexed,
  rollupInsert,
  type TestAdmin,
} from "./helpers";

const BASE = "/api/admin/monitoring/rules";
const MINUTE = 60_000;
const DAY = 86_400_000;

interface Backtest {
  rule_id: number | null;
  period: string;
  resolution: { source: string; from: string; to: string }[];
  summary: Record<string, number>;
  series: {
    fingerprint: string;
    bands: { state: string; from: string; to: string }[];
    episodes: { fired_at: string; resolved_at: string | null; notifications: { event: string; outcome: string }[] }[];
  }[];
}

let admin: TestAdmin;
let viewer: TestAdmin;
const now = Date.now();

/** A rule on `metric` of service bt-svc: latest value over 500 for 2 minutes. */
const ruleBody = (metric: string, over: Record<string, unknown> = {}) => ({
  rule_name: `Backtest ${metric}`,
  metric_name: metric,
  service: "bt-svc",
  comparison_operator: ">",
  threshold_value: 500,
  for_seconds: 120,
  cooldown_minutes: 15,
  severity: "warning",
  notification_channels: ["email"],
  is_active: false,
  ...over,
});

/** Minute rollups of a 10-minute breach (900) followed by 5 calm minutes (100), from `start`. */
const incident = (metric: string, start: number, labels: Record<string, string> = {}) =>
  Array.from({ length: 15 }, (_, m) =>
    rollupInsert(metric, "bt-svc", labels, 60, start + m * MINUTE, [m < 10 ? 900 : 100]),
  );

beforeAll(async () => {
  admin = await createAdmin("admin");
  viewer = await createAdmin("viewer");
  const minute = (t: number) => Math.floor(t / MINUTE) * MINUTE;
  // Two incidents in the minute rollups, 3 and 2 days ago (beyond the raw window).
  await insertAll([
    ...incident("bt_latency_ms", minute(now - 3 * DAY)),
    ...incident("bt_latency_ms", minute(now - 2 * DAY)),
  ]);
  // One in the raw samples, half an hour ago: every 30 s, 6 minutes over the threshold, then 6 under.
  const raw: Sample[] = Array.from({ length: 24 }, (_, i) => ({
    metric: "bt_latency_ms",
    service: "bt-svc",
    labels: {},
    ts: now - 30 * MINUTE + i * 30_000,
    value: i < 12 ? 900 : 100,
  }));
  await recordIndexed(raw, now);
});

describe("rule backtest", () => {
  it("replays an unsaved rule over 7 days of stored history: minute rollups, then raw samples", async () => {
    const res = await callJson<Backtest>("POST", `${BASE}/backtest`, {
      token: admin.token,
      body: ruleBody("bt_latency_ms"),
    });
    expect(res.status).toBe(200);
    expect(res.body.rule_id).toBeNull();
    expect(res.body.period).toBe("7d");
    expect(res.body.resolution.map((r) => r.source)).toEqual(["minute_rollups", "raw"]);
    expect(res.body.summary).toMatchObject({
      alerts: 3,
      notifications: 6,
      firing_notifications: 3,
      resolved_notifications: 3,
      rate_limited: 0,
      series_evaluated: 1,
    });
    const [series] = res.body.series;
    expect(series?.episodes.map((e) => e.resolved_at !== null)).toEqual([true, true, true]);
    // Each incident: pending for for_seconds, then firing, then resolved (cooldown).
    expect(series?.bands.slice(0, 3).map((b) => b.state)).toEqual(["pending", "firing", "resolved"]);
    const [first] = series?.bands ?? [];
    expect(Date.parse(first?.to ?? "") - Date.parse(first?.from ?? "")).toBe(120_000);
  });

  it("a saved rule, over the last 24 hours: only the raw incident", async () => {
    const created = await callJson<{ id: number }>("POST", BASE, {
      token: admin.token,
      body: ruleBody("bt_latency_ms"),
    });
    expect(created.status).toBe(201);
    const res = await callJson<Backtest>("POST", `${BASE}/${created.body.id}/backtest`, {
      token: admin.token,
      body: { period: "24h" },
    });
    expect(res.status).toBe(200);
    expect(res.body.rule_id).toBe(created.body.id);
    expect(res.body.resolution.map((r) => r.source)).toEqual(["raw"]);
    expect(res.body.summary).toMatchObject({ alerts: 1, notifications: 2 });
    expect((await callJson("POST", `${BASE}/999999/backtest`, { token: admin.token, body: {} })).status).toBe(404);
  });

  it("validates the rule as create does: 400 naming the field and why", async () => {
    const res = await callJson<ErrorBody>("POST", `${BASE}/backtest`, {
      token: admin.token,
      body: ruleBody("bt_latency_ms", { resolve_threshold_value: 600 }),
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      expect.objectContaining({ field: "resolve_threshold_value", reason: expect.stringMatching(/at most/) }),
    ]);
    const period = await callJson<ErrorBody>("POST", `${BASE}/backtest`, {
      token: admin.token,
      body: ruleBody("bt_latency_ms", { period: "30d" }),
    });
    expect(period.status).toBe(400);
    expect(period.body.details.map((d) => d.field)).toEqual(["period"]);
  });

  it("refuses too many series with 413 and a reason", async () => {
    const minute = Math.floor((now - 3 * DAY) / MINUTE) * MINUTE;
    await insertAll(
      Array.from({ length: 51 }, (_, i) => rollupInsert("bt_many", "bt-svc", { host: `h${i}` }, 60, minute, [1])),
    );
    const res = await callJson<ErrorBody>("POST", `${BASE}/backtest`, {
      token: admin.token,
      body: ruleBody("bt_many"),
    });
    expect(res.status).toBe(413);
    expect(res.body.details[0]?.reason).toMatch(/more than 50 bt_many series/);
  });

  it("is authorised like the dry run: viewers may not", async () => {
    const res = await callJson("POST", `${BASE}/backtest`, { token: viewer.token, body: ruleBody("bt_latency_ms") });
    expect(res.status).toBe(403);
  });
});

describe("anomaly rule backtest and dry run (method detector)", () => {
  const metric = "bt_queue_depth";
  const spikeAt = Math.floor((now - 2 * 3_600_000) / MINUTE) * MINUTE;
  /** Around 50 with a small deterministic wobble; 400 for three minutes from spikeAt. */
  const valueAt = (t: number) => (t >= spikeAt && t < spikeAt + 3 * MINUTE ? 400 : 50 + 3 * Math.sin(t / 420_000));
  const anomalyBody = (over: Record<string, unknown> = {}) =>
    ruleBody(metric, {
      kind: "anomaly",
      threshold_value: undefined,
      for_seconds: 0,
      params: { method: "detector", sensitivity: "medium", direction: "both" },
      ...over,
    });

  beforeAll(async () => {
    // A day of minute rollups before the raw window, then 20 hours of raw samples every minute.
    const minute = (t: number) => Math.floor(t / MINUTE) * MINUTE;
    const rollupFrom = minute(now - 2 * DAY);
    await insertAll(
      Array.from({ length: 1440 }, (_, m) =>
        rollupInsert(metric, "bt-svc", {}, 60, rollupFrom + m * MINUTE, [valueAt(rollupFrom + m * MINUTE)]),
      ),
    );
    const rawFrom = spikeAt - 18 * 3_600_000;
    const raw: Sample[] = [];
    for (let t = rawFrom; t < now - MINUTE; t += MINUTE) {
      raw.push({ metric, service: "bt-svc", labels: {}, ts: t, value: valueAt(t) });
    }
    await recordIndexed(raw, now);
  });

  it("runs a detector over the history and fires at the spike", async () => {
    const res = await callJson<Backtest>("POST", `${BASE}/backtest`, {
      token: admin.token,
      body: { ...anomalyBody(), period: "24h" },
    });
    expect(res.status).toBe(200);
    const fired = res.body.series.flatMap((s) => s.episodes.map((e) => Date.parse(e.fired_at)));
    // At the spike (a detector may take a sample or two to be sure), and not before it.
    expect(fired.some((t) => t >= spikeAt && t <= spikeAt + 10 * MINUTE)).toBe(true);
    expect(fired.filter((t) => t < spikeAt)).toEqual([]);
  });

  it("dry-runs with a detector over the stored window, naming the score", async () => {
    const res = await callJson<{ state: string; value: number | null; reason: string }>("POST", `${BASE}/test`, {
      token: admin.token,
      body: anomalyBody(),
    });
    expect(res.status).toBe(200);
    // The newest sample is an ordinary one, long after the spike.
    expect(res.body.state).toBe("ok");
    expect(res.body.reason).toMatch(/^score \d\.\d\d < \d\.\d\d \(medium\): /);
  });
});

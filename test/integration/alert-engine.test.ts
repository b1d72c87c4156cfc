/**
 * The alert engine end to end in workerd: samples stored by the series store reach
 * their rule's Durable Object, which fires, escalates and resolves alerts in D1,
 * enqueues notification jobs (recorded by the queue consumer as outbox rows) and
 * keeps its state across eviction. Timers run through runDurableObjectAlarm.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { recordSamples } from "../../worker/lib/series";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
const MINUTE = 60_000;

let admin: TestAdmin;
let owner: TestAdmin;
let viewer: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
  owner = await createAdmin("owner");
  viewer = await createAdmin("viewer");
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

let counter = 0;
const fresh = (name: string) => `${name}_${Date.now().toString(36)}_${++counter}`;

interface AlertRow {
  id: number;
  status: string;
  observed_at: number;
  triggered_at: number;
  metric_value: number | null;
  resolution_notes: string | null;
  auto_resolved: number;
  reopen_count: number;
  firing_notified: number;
  message: string;
  peak_value: number | null;
}

async function createRule(body: Record<string, unknown>): Promise<number> {
  const res = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
    token: admin.token,
    body: { severity: "critical", notification_channels: ["email"], comparison_operator: ">", ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const push = (metric: string, service: string, value: number, ts = Date.now(), labels: Record<string, string> = {}) =>
  recordSamples(env, [{ metric, service, labels, value, ts }], ts, "push");

const alertsOf = async (ruleId: number) =>
  (await env.DB.prepare("SELECT * FROM alert_history WHERE alert_rule_id = ? ORDER BY id").bind(ruleId).all<AlertRow>())
    .results;

const deliveriesOf = async (alertId: number) =>
  (
    await env.DB.prepare(
      "SELECT event, channel, recipient, idempotency_key, enqueued_at FROM notification_deliveries WHERE alert_id = ? ORDER BY id",
    )
      .bind(alertId)
      .all<{ event: string; channel: string; recipient: string; idempotency_key: string; enqueued_at: number }>()
  ).results;

const timelineOf = async (alertId: number) =>
  (
    await env.DB.prepare("SELECT type, actor, note FROM alert_events WHERE alert_id = ? ORDER BY at, id")
      .bind(alertId)
      .all<{ type: string; actor: string; note: string | null }>()
  ).results;

const stub = (ruleId: number) => env.ALERT_RULE.getByName(String(ruleId));

/** The rule's first alert, once its firing notification has been planned (the row is written first). */
const firstNotified = (ruleId: number) =>
  waitFor(async () => {
    const [a] = await alertsOf(ruleId);
    return a?.firing_notified ? a : false;
  });

/** The rule's first alert, once it exists. */
async function firstAlert(ruleId: number): Promise<AlertRow> {
  const rows = await waitFor(async () => {
    const r = await alertsOf(ruleId);
    return r.length ? r : false;
  });
  return rows[0] as AlertRow;
}

const waitFor = <T>(fn: () => Promise<T | false | undefined | null>, timeout = 5000) =>
  vi.waitUntil(fn, { timeout, interval: 20 }) as Promise<T>;

describe("a threshold breach", () => {
  it("is not re-evaluated from a retried sample, nor from another value at an instant already stored", async () => {
    const metric = fresh("refund_errors");
    const ruleId = await createRule({
      rule_name: "Refund errors",
      metric_name: metric,
      service: "shop",
      threshold_value: 10,
    });
    const ts = Date.now() - 5_000;
    expect(await push(metric, "shop", 25, ts)).toEqual({ duplicates: 0, conflicts: 0 });
    const alert = await firstNotified(ruleId);
    expect(await push(metric, "shop", 25, ts)).toEqual({ duplicates: 1, conflicts: 0 });
    expect(await push(metric, "shop", 90, ts)).toEqual({ duplicates: 1, conflicts: 1 });
    // A new sample once the alert writes its breaches again (at most every 10 s): the values it saw.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11_000);
    await push(metric, "shop", 30, ts + 1);
    const row = () =>
      env.DB.prepare("SELECT metric_value, peak_value, breach_count FROM alert_history WHERE id = ?")
        .bind(alert.id)
        .first<{ metric_value: number; peak_value: number; breach_count: number }>();
    await waitFor(async () => (await row())?.metric_value !== 25);
    expect(await row()).toEqual({ metric_value: 30, peak_value: 30, breach_count: 2 });
    expect((await alertsOf(ruleId)).length).toBe(1);
  });

  it("becomes a firing alert within a moment of being stored, with jobs in the outbox", async () => {
    const metric = fresh("checkout_errors");
    const ruleId = await createRule({
      rule_name: "Checkout errors",
      metric_name: metric,
      service: "shop",
      threshold_value: 10,
    });
    const ts = Date.now();
    await push(metric, "shop", 25, ts);
    // The row is written (and shown on the dashboard) first, then its notification is enqueued.
    const alert = await firstNotified(ruleId);
    expect(alert).toMatchObject({ status: "firing", observed_at: ts, metric_value: 25, firing_notified: 1 });
    expect((alert?.triggered_at ?? 0) - ts).toBeGreaterThanOrEqual(0);
    expect((alert?.triggered_at ?? 0) - ts).toBeLessThan(1000);
    const id = alert?.id ?? 0;

    // Every admin and owner, on the rule's channel: recorded once each by the queue consumer.
    const deliveries = await waitFor(async () => {
      const rows = await deliveriesOf(id);
      return rows.length >= 2 ? rows : false;
    });
    expect(deliveries.map((d) => d.event)).toEqual(deliveries.map(() => "firing"));
    expect(deliveries.map((d) => d.recipient)).toEqual(
      expect.arrayContaining([`admin:${admin.id}`, `admin:${owner.id}`]),
    );
    expect(deliveries.map((d) => d.recipient)).not.toContain(`admin:${viewer.id}`);
    expect(new Set(deliveries.map((d) => d.idempotency_key)).size).toBe(deliveries.length);

    // Further breaches are deduplicated into the same alert.
    await push(metric, "shop", 40, ts + 1000);
    await push(metric, "shop", 30, ts + 2000);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.alert?.breaches === 3);
    expect(await alertsOf(ruleId)).toHaveLength(1);
    expect((await stub(ruleId).fingerprints())[0]?.state.alert?.peakValue).toBe(40);

    // The API shows it as active, with its timeline.
    const active = await callJson<{ alerts: { id: number; status: string }[] }>("GET", `${BASE}/alerts/active`, {
      token: viewer.token,
    });
    expect(active.body.alerts.find((a) => a.id === id)?.status).toBe("firing");
    const one = await callJson<{ timeline: { type: string }[] }>("GET", `${BASE}/alerts/${id}`, {
      token: viewer.token,
    });
    expect(one.body.timeline.map((e) => e.type)).toEqual(["fired", "notified"]);
  });

  it("keeps one alert per series fingerprint", async () => {
    const metric = fresh("probe_down");
    const ruleId = await createRule({
      rule_name: "Down",
      metric_name: metric,
      threshold_value: 0,
      comparison_operator: "==",
    });
    const now = Date.now();
    await recordSamples(
      env,
      [
        { metric, service: "web", labels: { monitor: "1" }, value: 0, ts: now },
        { metric, service: "api", labels: { monitor: "2" }, value: 0, ts: now },
        { metric, service: "db", labels: { monitor: "3" }, value: 1, ts: now },
      ],
      now,
      "push",
    );
    const rows = await waitFor(async () => {
      const r = await alertsOf(ruleId);
      return r.length >= 2 ? r : false;
    });
    expect(rows).toHaveLength(2);
    const fps = await env.DB.prepare("SELECT service FROM alert_history WHERE alert_rule_id = ? ORDER BY service")
      .bind(ruleId)
      .all<{ service: string }>();
    expect(fps.results.map((r) => r.service)).toEqual(["api", "web"]);
  });
});

describe("the live dashboard", () => {
  it("receives the active alerts as an alerts delta when one fires and when it resolves", async () => {
    const res = await env.DASHBOARD_HUB.getByName("main").fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const deltas: { id: number; status: string; alert_rule_id: number }[][] = [];
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data)) as { type: string; topic?: string; data?: unknown };
      if (msg.type === "delta" && msg.topic === "alerts") deltas.push(msg.data as never);
    });
    ws.accept();
    const metric = fresh("live");
    const ruleId = await createRule({ rule_name: "Live", metric_name: metric, service: "web", threshold_value: 1 });
    await push(metric, "web", 3);
    await waitFor(async () => deltas.some((d) => d.some((a) => a.alert_rule_id === ruleId && a.status === "firing")));
    await push(metric, "web", 0);
    await waitFor(async () => deltas.at(-1)?.every((a) => a.alert_rule_id !== ruleId) ?? false);
    const firing = deltas.findIndex((d) => d.some((a) => a.alert_rule_id === ruleId));
    expect(firing).toBeGreaterThanOrEqual(0);
    expect(deltas.length).toBeGreaterThan(firing + 1);
    ws.close();
  });
});

describe("timers on the alarm", () => {
  it("fires after for_seconds without a new sample", async () => {
    const metric = fresh("queue_depth");
    const ruleId = await createRule({
      rule_name: "Queue backlog",
      metric_name: metric,
      service: "celery",
      threshold_value: 100,
      for_seconds: 60,
    });
    const now = Date.now();
    await push(metric, "celery", 500, now);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.phase === "pending");
    expect(await alertsOf(ruleId)).toEqual([]);
    // The rules list sees it pending.
    const pendingSince = () =>
      callJson<{ pending_since: string | null }>("GET", `${BASE}/rules/${ruleId}`, { token: admin.token }).then(
        (r) => r.body.pending_since,
      );
    const since = Date.parse((await waitFor(pendingSince)) ?? "");
    expect(since).toBeGreaterThanOrEqual(now);
    expect(since).toBeLessThan(now + 5_000);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 61_000);
    expect(await runDurableObjectAlarm(stub(ruleId))).toBe(true);
    expect(await pendingSince()).toBeNull();
    const [alert] = await alertsOf(ruleId);
    expect(alert).toMatchObject({ status: "firing", observed_at: now });
    expect(alert?.triggered_at).toBeGreaterThanOrEqual(now + 60_000);
    expect((await timelineOf(alert?.id ?? 0)).map((e) => e.type)).toEqual(["pending", "fired", "notified"]);
  });

  it("fires an absence rule at its deadline when a series stops reporting", async () => {
    const metric = fresh("payments_pushed");
    const ruleId = await createRule({
      rule_name: "Pusher stopped",
      metric_name: metric,
      service: "ecpay",
      kind: "absence",
      threshold_value: 0,
      params: { absent_for_seconds: 30 },
    });
    const now = Date.now();
    await push(metric, "ecpay", 1, now);
    await waitFor(async () => (await stub(ruleId).fingerprints()).length === 1);
    expect(await alertsOf(ruleId)).toEqual([]);
    // The rule's own alarm lands on the deadline (last sample + 30 s), not at a cron or a minute tick.
    const alarmAt = await runInDurableObject(stub(ruleId), (_rule, state) => state.storage.getAlarm());
    expect(alarmAt).toBeGreaterThanOrEqual(now + 30_000);
    expect(alarmAt).toBeLessThanOrEqual(now + 31_000);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 31_000);
    await runDurableObjectAlarm(stub(ruleId));
    expect((await alertsOf(ruleId))[0]).toMatchObject({ status: "firing" });
  });

  it("escalates an unacknowledged alert step by step, and stops once acknowledged", async () => {
    const policy = await callJson<{ id: number }>("POST", `${BASE}/escalation-policies`, {
      token: admin.token,
      body: {
        name: fresh("Payments on-call"),
        steps: [
          { after_minutes: 0, channels: ["email"], targets: { admin_ids: [admin.id] } },
          { after_minutes: 5, channels: ["sms"], targets: { roles: ["owner"] } },
          { after_minutes: 15, channels: ["slack"], targets: { admin_ids: [admin.id] } },
        ],
      },
    });
    expect(policy.status).toBe(201);
    const metric = fresh("payment_failure_rate");
    const ruleId = await createRule({
      rule_name: "Payment failures",
      metric_name: metric,
      service: "ecpay",
      threshold_value: 5,
      notification_channels: ["email", "sms", "slack"],
      escalation_policy_id: policy.body.id,
    });
    const now = Date.now();
    await push(metric, "ecpay", 9, now);
    const alert = await firstAlert(ruleId);
    const id = alert?.id ?? 0;
    const first = await waitFor(async () => {
      const rows = await deliveriesOf(id);
      return rows.length ? rows : false;
    });
    expect(first.map((d) => [d.event, d.channel, d.recipient])).toEqual([["firing", "email", `admin:${admin.id}`]]);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 5 * MINUTE + 1000);
    await runDurableObjectAlarm(stub(ruleId));
    const second = await waitFor(async () => {
      const rows = await deliveriesOf(id);
      return rows.length > first.length ? rows : false;
    });
    expect(second.slice(first.length).map((d) => [d.event, d.channel])).toEqual(
      second.slice(first.length).map(() => ["escalation", "sms"]),
    );
    expect(second.slice(first.length).map((d) => d.recipient)).toContain(`admin:${owner.id}`);

    const ack = await callJson<{ status: string; acknowledged_by: number }>(
      "POST",
      `${BASE}/alerts/${id}/acknowledge`,
      {
        token: admin.token,
        body: { note: "looking" },
      },
    );
    expect(ack.body).toMatchObject({ status: "acknowledged", acknowledged_by: admin.id });
    const afterAck = (
      await waitFor(async () => {
        const rows = await deliveriesOf(id);
        return rows.some((d) => d.event === "acknowledged") ? rows : false;
      })
    ).length;

    vi.setSystemTime(now + 30 * MINUTE);
    await runDurableObjectAlarm(stub(ruleId));
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveriesOf(id)).toHaveLength(afterAck);
    expect((await timelineOf(id)).map((e) => e.type)).toContain("escalated");
  });

  it("escalates only on the channels the rule allows", async () => {
    const policy = await callJson<{ id: number }>("POST", `${BASE}/escalation-policies`, {
      token: admin.token,
      body: {
        name: fresh("Wide policy"),
        steps: [
          { after_minutes: 0, channels: ["sms", "email"], targets: { admin_ids: [admin.id] } },
          { after_minutes: 5, channels: ["sms"], targets: { admin_ids: [admin.id] } },
        ],
      },
    });
    expect(policy.status).toBe(201);
    const metric = fresh("newsletter_bounces");
    const ruleId = await createRule({
      rule_name: "Newsletter bounces",
      metric_name: metric,
      service: "mail",
      threshold_value: 5,
      notification_channels: ["email"],
      escalation_policy_id: policy.body.id,
    });
    const now = Date.now();
    await push(metric, "mail", 9, now);
    const id = (await firstAlert(ruleId)).id;
    const first = await waitFor(async () => {
      const rows = await deliveriesOf(id);
      return rows.length ? rows : false;
    });
    expect(first.map((d) => [d.event, d.channel])).toEqual([["firing", "email"]]);

    // The SMS-only step is reached, and sends nothing: the rule keeps to email.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 5 * MINUTE + 1000);
    await runDurableObjectAlarm(stub(ruleId));
    await waitFor(async () => (await timelineOf(id)).some((e) => e.type === "escalated"));
    await new Promise((r) => setTimeout(r, 300));
    expect((await deliveriesOf(id)).map((d) => d.channel)).toEqual(["email"]);
  });
});

describe("reminders and acknowledgement timeouts", () => {
  it("reminds while unacknowledged, and escalates again when an acknowledgement times out", async () => {
    const policy = await callJson<{ id: number }>("POST", `${BASE}/escalation-policies`, {
      token: admin.token,
      body: {
        name: fresh("Reminding"),
        steps: [{ after_minutes: 0, channels: ["email"], targets: { admin_ids: [admin.id] } }],
        repeat_interval_minutes: 10,
        ack_timeout_minutes: 30,
      },
    });
    expect(policy.status).toBe(201);
    const metric = fresh("celery_stuck");
    const ruleId = await createRule({
      rule_name: "Celery stuck",
      metric_name: metric,
      service: "celery",
      threshold_value: 1,
      escalation_policy_id: policy.body.id,
    });
    const now = Date.now();
    await push(metric, "celery", 5, now);
    const alert = await firstAlert(ruleId);
    const id = alert?.id ?? 0;
    await waitFor(async () => (await deliveriesOf(id)).length === 1);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 10 * MINUTE + 1000);
    await runDurableObjectAlarm(stub(ruleId));
    await waitFor(async () => (await deliveriesOf(id)).some((d) => d.event === "reminder"));
    expect((await timelineOf(id)).map((e) => e.type)).toContain("reminded");

    const ack = await callJson("POST", `${BASE}/alerts/${id}/acknowledge`, { token: admin.token, body: {} });
    expect(ack.status).toBe(200);
    vi.setSystemTime(now + 41 * MINUTE);
    await runDurableObjectAlarm(stub(ruleId));
    expect((await alertsOf(ruleId))[0]?.status).toBe("firing");
    expect((await timelineOf(id)).map((e) => e.type)).toContain("ack_timeout");
  });
});

describe("lifecycle", () => {
  it("re-opens the same alert within the cooldown, without a second firing notification", async () => {
    const metric = fresh("api_latency");
    const ruleId = await createRule({
      rule_name: "Slow API",
      metric_name: metric,
      service: "api",
      threshold_value: 500,
    });
    const now = Date.now();
    await push(metric, "api", 900, now);
    await waitFor(async () => (await alertsOf(ruleId)).length === 1);
    await push(metric, "api", 100, now + 1000);
    await waitFor(async () => (await alertsOf(ruleId))[0]?.status === "resolved");
    await push(metric, "api", 950, now + 2000);
    await waitFor(async () => (await alertsOf(ruleId))[0]?.status === "firing");
    const rows = await alertsOf(ruleId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.reopen_count).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    const events = (await deliveriesOf(rows[0]?.id ?? 0)).map((d) => d.event);
    expect(events.filter((e) => e === "firing").length).toBe(events.length);
    expect(new Set((await deliveriesOf(rows[0]?.id ?? 0)).map((d) => d.recipient)).size).toBe(events.length);
  });

  it("resumes with its alerts intact after the object is evicted", async () => {
    const metric = fresh("db_pool");
    const ruleId = await createRule({
      rule_name: "Pool exhausted",
      metric_name: metric,
      service: "db",
      threshold_value: 90,
    });
    await push(metric, "db", 99);
    const alert = await firstAlert(ruleId);
    const before = await stub(ruleId).fingerprints();
    await runInDurableObject(stub(ruleId), (_instance, state) => {
      try {
        state.abort("evicted by the test");
      } catch {
        // abort throws to end the current request
      }
    }).catch(() => {});
    const after = await stub(ruleId).fingerprints();
    expect(after).toEqual(before);
    expect(await stub(ruleId).definition()).toMatchObject({ id: ruleId, metricName: metric });
    // Still breaching: only a forced resolve goes through.
    const res = await callJson<{ status: string }>("POST", `${BASE}/alerts/${alert?.id}/resolve`, {
      token: admin.token,
      body: { note: "pool resized", force: true },
    });
    expect(res.body.status).toBe("resolved");
    expect((await alertsOf(ruleId))[0]).toMatchObject({ auto_resolved: 0, resolution_notes: "pool resized" });
  });

  it("catches up from D1 when the configure call after a rule write was lost", async () => {
    const metric = fresh("lost_configure");
    const ruleId = await createRule({ rule_name: "Lost", metric_name: metric, service: "api", threshold_value: 1 });
    // As if the API's configure call had failed: the object knows nothing of the rule.
    await runInDurableObject(stub(ruleId), async (instance, state) => {
      state.storage.sql.exec("UPDATE config SET rule = NULL");
      (instance as unknown as { rule: null }).rule = null;
    });
    expect(await stub(ruleId).definition()).toBeNull();
    await push(metric, "api", 5);
    await waitFor(async () => (await alertsOf(ruleId)).length === 1);
    expect(await stub(ruleId).definition()).toMatchObject({ id: ruleId, metricName: metric });
  });

  it("resolves open alerts with a note when the rule is deleted, and keeps their history", async () => {
    const metric = fresh("redis_mem");
    const ruleId = await createRule({
      rule_name: "Redis memory",
      metric_name: metric,
      service: "redis",
      threshold_value: 80,
    });
    await push(metric, "redis", 95);
    await waitFor(async () => (await alertsOf(ruleId)).length === 1);
    expect((await callJson("DELETE", `${BASE}/rules/${ruleId}`, { token: admin.token })).status).toBe(204);
    const [alert] = await alertsOf(ruleId);
    expect(alert).toMatchObject({ status: "resolved", resolution_notes: "rule deleted" });
    // Whoever was told it fired is told it resolved, at once.
    await waitFor(async () => (await deliveriesOf(alert?.id ?? 0)).some((d) => d.event === "resolved"));
    expect(await stub(ruleId).definition()).toBeNull();
  });
});

describe("fresh data only", () => {
  it("does not fire a re-enabled rule on a 15-minute-old breaching sample, and fires on a fresh one", async () => {
    const metric = fresh("orders_stuck");
    const ruleId = await createRule({
      rule_name: "Orders stuck",
      metric_name: metric,
      service: "shop",
      threshold_value: 300,
    });
    const off = await callJson("PUT", `${BASE}/rules/${ruleId}`, { token: admin.token, body: { is_active: false } });
    expect(off.status).toBe(200);
    // Pushed every minute while the rule was off, breaching, until 15 minutes ago.
    const now = Date.now();
    for (const age of [18, 17, 16, 15]) await push(metric, "shop", 400, now - age * MINUTE);
    const on = await callJson("PUT", `${BASE}/rules/${ruleId}`, { token: admin.token, body: { is_active: true } });
    expect(on.status).toBe(200);
    // Re-enabling evaluated it at once: no data, so nothing fired and nothing is pending.
    expect(await alertsOf(ruleId)).toEqual([]);
    expect((await stub(ruleId).fingerprints()).map((f) => f.state.phase)).not.toContain("pending");
    expect(await runDurableObjectAlarm(stub(ruleId))).toBe(true);
    expect(await alertsOf(ruleId)).toEqual([]);

    // The dry run says the same.
    const dry = await callJson<{ state: string; would_fire: boolean; reason: string }>(
      "POST",
      `${BASE}/rules/${ruleId}/test`,
      { token: admin.token },
    );
    expect(dry.body).toMatchObject({ state: "no_data", would_fire: false });
    expect(dry.body.reason).toMatch(/^latest sample 9\d\ds old, older than the freshness bound of 300s$/);

    await push(metric, "shop", 400, Date.now());
    expect(await firstAlert(ruleId)).toMatchObject({ status: "firing", metric_value: 400 });
  });

  it("judges a series reporting every 10 minutes on a 15-minute-old sample (twice its interval)", async () => {
    const metric = fresh("nightly_backlog");
    const now = Date.now();
    for (const age of [45, 35, 25, 15]) await push(metric, "batch", 400, now - age * MINUTE);
    const ruleId = await createRule({
      rule_name: "Backlog",
      metric_name: metric,
      service: "batch",
      threshold_value: 300,
    });
    expect(await firstAlert(ruleId)).toMatchObject({ status: "firing", metric_value: 400 });
    const dry = await callJson<{ state: string }>("POST", `${BASE}/rules/${ruleId}/test`, { token: admin.token });
    expect(dry.body.state).toBe("firing");
  });

  it("does not fire a pending breach whose data went stale before for_seconds", async () => {
    const metric = fresh("queue_wait");
    const ruleId = await createRule({
      rule_name: "Queue wait",
      metric_name: metric,
      service: "celery",
      threshold_value: 100,
      for_seconds: 600,
    });
    const now = Date.now();
    await push(metric, "celery", 500, now);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.phase === "pending");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 601_000);
    await runDurableObjectAlarm(stub(ruleId));
    expect(await alertsOf(ruleId)).toEqual([]);
    expect((await stub(ruleId).fingerprints())[0]?.state.phase ?? "ok").toBe("ok");
  });

  it("keeps an open alert open, with its last value, when its data goes stale", async () => {
    const metric = fresh("disk_full");
    const ruleId = await createRule({ rule_name: "Disk", metric_name: metric, service: "db", threshold_value: 90 });
    const now = Date.now();
    await push(metric, "db", 97, now);
    await firstAlert(ruleId);
    // The series stops: 20 minutes later the alert is still open, not resolved by the silence.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 20 * MINUTE);
    await runDurableObjectAlarm(stub(ruleId));
    expect((await alertsOf(ruleId))[0]).toMatchObject({ status: "firing", metric_value: 97 });
  });
});

describe("alert text follows the value", () => {
  it("says 500 in the alert's message and the next notification once 500 follows 400", async () => {
    const metric = fresh("checkout_ms");
    const ruleId = await createRule({
      rule_name: "Checkout slow",
      metric_name: metric,
      service: "shop",
      threshold_value: 300,
    });
    const now = Date.now();
    await push(metric, "shop", 400, now);
    const fired = await firstNotified(ruleId);
    expect(fired.message).toBe("latest value 400 > 300");
    await push(metric, "shop", 500, now + 1000);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.alert?.lastValue === 500);

    // The next notification (an acknowledgement here, within the 10 s sync interval) quotes 500.
    const ack = await callJson("POST", `${BASE}/alerts/${fired.id}/acknowledge`, { token: admin.token, body: {} });
    expect(ack.status).toBe(200);
    expect((await alertsOf(ruleId))[0]).toMatchObject({
      metric_value: 500,
      peak_value: 500,
      message: "latest value 500 > 300",
    });
    const payloads = await waitFor(async () => {
      const rows = await env.DB.prepare(
        "SELECT payload FROM notification_deliveries WHERE alert_id = ? AND event = 'acknowledged'",
      )
        .bind(fired.id)
        .all<{ payload: string }>();
      return rows.results.length ? rows.results : false;
    });
    for (const { payload } of payloads) {
      const job = JSON.parse(payload) as { alert: { value: number; message: string } };
      expect(job.alert).toMatchObject({ value: 500, message: "latest value 500 > 300" });
    }

    // Without a notification, the row catches up once the sync interval has passed (on the alarm).
    await push(metric, "shop", 650, now + 2000);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.alert?.lastValue === 650);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 15_000);
    await runDurableObjectAlarm(stub(ruleId));
    expect((await alertsOf(ruleId))[0]).toMatchObject({
      metric_value: 650,
      peak_value: 650,
      message: "latest value 650 > 300",
    });
  });
});

describe("silences", () => {
  it("records a silenced alert without notifying anyone", async () => {
    const metric = fresh("email_bounces");
    const name = fresh("Bounces");
    const silence = await callJson("POST", `${BASE}/silences`, {
      token: admin.token,
      body: {
        matchers: [{ name: "alertname", value: name }],
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        comment: "provider maintenance",
      },
    });
    expect(silence.status).toBe(201);
    const ruleId = await createRule({ rule_name: name, metric_name: metric, service: "email", threshold_value: 1 });
    await push(metric, "email", 5);
    const alert = await firstAlert(ruleId);
    await waitFor(async () => (await timelineOf(alert?.id ?? 0)).some((e) => e.type === "silenced"));
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveriesOf(alert?.id ?? 0)).toEqual([]);
    expect(alert?.firing_notified).toBe(0);
  });
});

describe("noise control", () => {
  it("records notifications over max_alerts_per_hour as rate-limited, not sent", async () => {
    const metric = fresh("limited");
    const ruleId = await createRule({
      rule_name: "Limited",
      metric_name: metric,
      threshold_value: 1,
      max_alerts_per_hour: 1,
    });
    const now = Date.now();
    await push(metric, "one", 5, now);
    await waitFor(async () => (await alertsOf(ruleId)).length === 1);
    await push(metric, "two", 5, now + 10);
    const rows = await waitFor(async () => {
      const r = await alertsOf(ruleId);
      return r.length === 2 ? r : false;
    });
    const second = rows[1]?.id ?? 0;
    await waitFor(async () => (await timelineOf(second)).some((e) => e.type === "rate_limited"));
    expect(rows.map((r) => r.firing_notified)).toEqual([1, 0]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveriesOf(second)).toEqual([]);
  });

  it("notifies a still-firing alert when its silence ends", async () => {
    const metric = fresh("maintenance");
    const name = fresh("Maint");
    const now = Date.now();
    await callJson("POST", `${BASE}/silences`, {
      token: admin.token,
      body: {
        matchers: [{ name: "alertname", value: name }],
        ends_at: new Date(now + 60_000).toISOString(),
        comment: "deploy",
      },
    });
    const ruleId = await createRule({ rule_name: name, metric_name: metric, service: "web", threshold_value: 1 });
    await push(metric, "web", 5, now);
    const alert = await firstAlert(ruleId);
    const id = alert?.id ?? 0;
    await waitFor(async () => (await timelineOf(id)).some((e) => e.type === "silenced"));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 61_000);
    await runDurableObjectAlarm(stub(ruleId));
    const deliveries = await waitFor(async () => {
      const rows = await deliveriesOf(id);
      return rows.length ? rows : false;
    });
    expect(deliveries.every((d) => d.event === "firing")).toBe(true);
    expect((await timelineOf(id)).map((e) => e.type)).toEqual(["fired", "silenced", "notified"]);
  });

  it("shows a recurring silence as active only inside its window", async () => {
    const always = await callJson<{ status: string }>("POST", `${BASE}/silences`, {
      token: admin.token,
      body: {
        matchers: [{ name: "service", value: "nightly" }],
        ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        recurrence: {
          weekdays: [0, 1, 2, 3, 4, 5, 6],
          start: "00:00",
          duration_minutes: 1440,
          timezone: "Asia/Taipei",
        },
        comment: "always",
      },
    });
    expect(always.body.status).toBe("active");
    const later = new Date(Date.now() + 3 * 3_600_000);
    const hhmm = `${String(later.getUTCHours()).padStart(2, "0")}:${String(later.getUTCMinutes()).padStart(2, "0")}`;
    const elsewhen = await callJson<{ status: string }>("POST", `${BASE}/silences`, {
      token: admin.token,
      body: {
        matchers: [{ name: "service", value: "nightly" }],
        ends_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        recurrence: { weekdays: [0, 1, 2, 3, 4, 5, 6], start: hhmm, duration_minutes: 30, timezone: "UTC" },
        comment: "in three hours",
      },
    });
    expect(elsewhen.body.status).toBe("pending");
  });
});

describe("acknowledge and resolve API", () => {
  it("answers 404 for an unknown alert, 403 for a viewer, 409 once resolved", async () => {
    expect((await callJson("POST", `${BASE}/alerts/999999/acknowledge`, { token: admin.token, body: {} })).status).toBe(
      404,
    );
    const metric = fresh("disk");
    const ruleId = await createRule({ rule_name: "Disk", metric_name: metric, service: "db", threshold_value: 1 });
    await push(metric, "db", 2);
    const alert = await firstAlert(ruleId);
    const path = `${BASE}/alerts/${alert?.id}`;
    expect((await callJson("POST", `${path}/acknowledge`, { token: viewer.token, body: {} })).status).toBe(403);
    const bad = await callJson<{ details: { field: string }[] }>("POST", `${path}/resolve`, {
      token: admin.token,
      body: { force: "yes" },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d) => d.field)).toContain("force");
    expect((await callJson("POST", `${path}/acknowledge`, { token: admin.token, body: { force: true } })).status).toBe(
      400,
    );
    expect(
      (await callJson("POST", `${path}/resolve`, { token: admin.token, body: { note: "fixed", force: true } })).status,
    ).toBe(200);
    expect((await callJson("POST", `${path}/acknowledge`, { token: admin.token, body: {} })).status).toBe(409);
    expect((await callJson("POST", `${path}/resolve`, { token: admin.token, body: { bogus: 1 } })).status).toBe(400);
  });

  it("pages history newest first with filters and a cursor", async () => {
    const metric = fresh("hist");
    const ruleId = await createRule({
      rule_name: "Hist",
      metric_name: metric,
      threshold_value: 1,
      comparison_operator: ">",
    });
    const now = Date.now();
    await recordSamples(
      env,
      ["a", "b", "c"].map((service) => ({ metric, service, labels: {}, value: 5, ts: now })),
      now,
      "push",
    );
    await waitFor(async () => (await alertsOf(ruleId)).length === 3);
    const page1 = await callJson<{ alerts: { id: number }[]; next_cursor: string | null }>(
      "GET",
      `${BASE}/alerts/history?rule_id=${ruleId}&limit=2`,
      { token: viewer.token },
    );
    expect(page1.body.alerts).toHaveLength(2);
    expect(page1.body.next_cursor).not.toBeNull();
    const page2 = await callJson<{ alerts: { id: number }[]; next_cursor: string | null }>(
      "GET",
      `${BASE}/alerts/history?rule_id=${ruleId}&limit=2&cursor=${page1.body.next_cursor}`,
      { token: viewer.token },
    );
    expect(page2.body.alerts).toHaveLength(1);
    expect(page2.body.next_cursor).toBeNull();
    const ids = [...page1.body.alerts, ...page2.body.alerts].map((a) => a.id);
    expect(new Set(ids).size).toBe(3);
    const filtered = await callJson<{ alerts: { service: string }[] }>(
      "GET",
      `${BASE}/alerts/history?rule_id=${ruleId}&service=b&status=firing&severity=critical`,
      { token: viewer.token },
    );
    expect(filtered.body.alerts.map((a) => a.service)).toEqual(["b"]);
    const bad = await callJson<{ details: { field: string }[] }>("GET", `${BASE}/alerts/history?status=nope`, {
      token: viewer.token,
    });
    expect(bad.status).toBe(400);
  });
});

describe("silence from an alert, and the detail's fields", () => {
  it("silences the alert's series for an hour by default, refuses viewers and bad durations", async () => {
    const metric = fresh("silence");
    const ruleId = await createRule({
      rule_name: "Silence me",
      metric_name: metric,
      service: "db",
      threshold_value: 1,
    });
    await recordSamples(
      env,
      [{ metric, service: "db", labels: { host: "a" }, value: 5, ts: Date.now() }],
      Date.now(),
      "push",
    );
    const alert = await firstAlert(ruleId);
    const path = `${BASE}/alerts/${alert?.id}/silence`;
    expect((await callJson("POST", path, { token: viewer.token, body: {} })).status).toBe(403);
    expect((await callJson("POST", `${BASE}/alerts/999999/silence`, { token: admin.token, body: {} })).status).toBe(
      404,
    );
    const bad = await callJson<{ details: { field: string }[] }>("POST", path, {
      token: admin.token,
      body: { duration_minutes: 0 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d) => d.field)).toContain("duration_minutes");
    const before = Date.now();
    const made = await callJson<{ silence_id: number; ends_at: string; matchers: { name: string; value: string }[] }>(
      "POST",
      path,
      { token: admin.token, body: { note: "deploying" } },
    );
    expect(made.status).toBe(201);
    expect(made.body.matchers).toEqual([
      { name: "rule_id", value: String(ruleId) },
      { name: "host", value: "a" },
    ]);
    const endsIn = Date.parse(made.body.ends_at) - before;
    expect(endsIn).toBeGreaterThanOrEqual(3_600_000 - 5_000);
    expect(endsIn).toBeLessThanOrEqual(3_600_000 + 5_000);
    const silence = await callJson<{ comment: string; status: string; created_by: number }>(
      "GET",
      `${BASE}/silences/${made.body.silence_id}`,
      { token: viewer.token },
    );
    expect(silence.body).toMatchObject({ comment: "deploying", status: "active", created_by: admin.id });
  });

  it("names the rule's metric on the alert and each delivery's attempts and reason", async () => {
    const metric = fresh("detail");
    const ruleId = await createRule({ rule_name: "Detail", metric_name: metric, service: "db", threshold_value: 1 });
    await push(metric, "db", 2);
    const alert = await firstAlert(ruleId);
    await waitFor(async () => (await deliveriesOf(alert?.id ?? 0)).length > 0);
    const detail = await callJson<{
      metric_name: string;
      notifications: { attempts: number; reason: string | null; status: string }[];
    }>("GET", `${BASE}/alerts/${alert?.id}`, { token: viewer.token });
    expect(detail.body.metric_name).toBe(metric);
    expect(detail.body.notifications.length).toBeGreaterThan(0);
    for (const n of detail.body.notifications) {
      expect(typeof n.attempts).toBe("number");
      expect(n.reason === null || typeof n.reason === "string").toBe(true);
    }
  });
});

describe("notifications outbox", () => {
  it("records a redelivered job once, and drops a malformed one", async () => {
    const metric = fresh("outbox");
    const ruleId = await createRule({ rule_name: "Outbox", metric_name: metric, service: "x", threshold_value: 1 });
    await push(metric, "x", 2);
    const alert = await firstAlert(ruleId);
    const id = alert?.id ?? 0;
    const job = {
      idempotencyKey: `alert:${id}|test|step:0|admin:${admin.id}|email`,
      alertId: id,
      event: "reminder",
      occurrence: "test",
      step: 0,
      recipient: { adminId: admin.id },
      channel: "email",
      alert: { id },
      enqueuedAt: Date.now(),
    };
    for (const attempt of [1, 2]) {
      // Read on the email lane, whose consumer records and sends it (core/notify/lanes).
      const batch = createMessageBatch("notifications-email", [
        { id: `j${attempt}`, timestamp: new Date(), attempts: attempt, body: job as unknown },
        { id: `bad${attempt}`, timestamp: new Date(), attempts: attempt, body: { kind: "nonsense" } as unknown },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, env, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(result.explicitAcks.sort()).toEqual([`bad${attempt}`, `j${attempt}`]);
    }
    const rows = (await deliveriesOf(id)).filter((d) => d.idempotency_key === job.idempotencyKey);
    expect(rows).toHaveLength(1);
  });
});

/** Deliveries of an alert counted by event, e.g. { firing: 6, resolved: 6 }. */
const eventCounts = async (alertId: number) => {
  const counts: Record<string, number> = {};
  for (const d of await deliveriesOf(alertId)) counts[d.event] = (counts[d.event] ?? 0) + 1;
  return counts;
};

/** Each recipient's (and channel's) last delivery of the alert, by event. */
const lastEvents = async (alertId: number) => {
  const last = new Map<string, string>();
  for (const d of await deliveriesOf(alertId)) last.set(`${d.recipient}|${d.channel}`, d.event);
  return [...new Set(last.values())];
};

const settle = () => new Promise((r) => setTimeout(r, 400));

describe("pages you can trust: manual resolve and resolve notices", () => {
  /** A "jobs > 300" rule (with `over`) whose series breached at `t` with 500; once its firing jobs exist. */
  async function queueFiring(name: string, ruleName: string, over: Record<string, unknown> = {}) {
    const metric = fresh(name);
    const ruleId = await createRule({
      rule_name: ruleName,
      metric_name: metric,
      service: "jobs",
      threshold_value: 300,
      ...over,
    });
    const t = Date.now();
    await push(metric, "jobs", 500, t);
    const alert = await firstAlert(ruleId);
    await waitFor(async () => ((await eventCounts(alert.id)).firing ?? 0) > 0);
    return { metric, ruleId, alert, t };
  }

  it("refuses a manual resolve while the series breaches; force opens a new, always-notified alert; disable adds no second RESOLVED", async () => {
    // The case: q > 300 (critical; email, SMS, Slack), push 500, resolve by hand.
    const metric = fresh("q");
    const ruleId = await createRule({
      rule_name: "Queue",
      metric_name: metric,
      service: "jobs",
      threshold_value: 300,
      notification_channels: ["email", "sms", "slack"],
      max_alerts_per_hour: 1,
    });
    await push(metric, "jobs", 500);
    const first = await firstNotified(ruleId);
    await waitFor(async () => (await deliveriesOf(first.id)).length > 0);

    const refused = await callJson<{ error: string; message: string; details: { field: string }[] }>(
      "POST",
      `${BASE}/alerts/${first.id}/resolve`,
      { token: admin.token, body: { note: "looks fine to me" } },
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("still_breaching");
    expect(refused.body.message).toContain("current value 500");
    expect(refused.body.message).toMatch(/acknowledge or silence/);
    expect(refused.body.message).toContain("force: true");
    expect(refused.body.details.map((d) => d.field)).toEqual(["force"]);
    await settle();
    expect((await alertsOf(ruleId))[0]).toMatchObject({ status: "firing" });
    expect((await eventCounts(first.id)).resolved).toBeUndefined();

    // Forced: resolved; the engine re-fires it as a new alert whose firing goes out over the hourly limit.
    const forced = await callJson<{ status: string }>("POST", `${BASE}/alerts/${first.id}/resolve`, {
      token: admin.token,
      body: { force: true },
    });
    expect(forced.status).toBe(200);
    expect(forced.body.status).toBe("resolved");
    // No new sample: the engine re-checks the series at once and fires again.
    const second = await waitFor(async () => {
      const rows = await alertsOf(ruleId);
      return rows.length === 2 && rows[1]?.firing_notified ? rows[1] : false;
    });
    expect(second.id).not.toBe(first.id);
    expect(second.status).toBe("firing");
    await waitFor(async () => ((await eventCounts(second.id)).firing ?? 0) > 0);
    expect((await timelineOf(second.id)).map((e) => e.type)).not.toContain("rate_limited");
    await settle();
    // The forced resolve's notice was never sent: every recipient's last word on it is "firing".
    expect(await lastEvents(first.id)).toEqual(["firing"]);

    // Disabling the rule resolves the new alert: one RESOLVED round for it, none more for the first.
    const firingJobs = (await eventCounts(second.id)).firing ?? 0;
    expect(
      (await callJson("PUT", `${BASE}/rules/${ruleId}`, { token: admin.token, body: { is_active: false } })).status,
    ).toBe(200);
    await waitFor(async () => ((await eventCounts(second.id)).resolved ?? 0) >= firingJobs);
    await callJson("DELETE", `${BASE}/rules/${ruleId}`, { token: admin.token });
    await settle();
    expect(await eventCounts(second.id)).toEqual({ firing: firingJobs, resolved: firingJobs });
    expect((await eventCounts(first.id)).resolved).toBeUndefined();
  });

  it("resolve by hand once clear, then disable: one RESOLVED round", async () => {
    const { metric, ruleId, alert, t } = await queueFiring("q_clear", "Queue clear", { resolve_for_seconds: 3600 });
    await push(metric, "jobs", 100, t + 1000);
    await waitFor(async () => (await stub(ruleId).fingerprints())[0]?.state.phase === "resolving");
    const res = await callJson<{ status: string }>("POST", `${BASE}/alerts/${alert.id}/resolve`, {
      token: admin.token,
      body: { note: "drained" },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("resolved");
    expect(
      (await callJson("PUT", `${BASE}/rules/${ruleId}`, { token: admin.token, body: { is_active: false } })).status,
    ).toBe(200);
    const firing = (await eventCounts(alert.id)).firing ?? 0;
    await waitFor(async () => ((await eventCounts(alert.id)).resolved ?? 0) >= firing);
    await settle();
    expect(await eventCounts(alert.id)).toEqual({ firing, resolved: firing });
  });

  it("accepts a resolve sent right after the clear sample is stored (the rule asks its series first)", async () => {
    const metric = fresh("q_race");
    const ruleId = await createRule({
      rule_name: "Queue race",
      metric_name: metric,
      service: "jobs",
      threshold_value: 300,
      resolve_for_seconds: 3600,
    });
    const t = Date.now();
    await push(metric, "jobs", 500, t);
    const alert = await firstAlert(ruleId);
    // No waiting for the rule to hear of it: the page's Resolve comes right after the ingest.
    await push(metric, "jobs", 100, t + 1000);
    const res = await callJson<{ status: string; auto_resolved: boolean; resolution_notes: string }>(
      "POST",
      `${BASE}/alerts/${alert.id}/resolve`,
      { token: admin.token, body: { note: "drained" } },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "resolved", auto_resolved: false, resolution_notes: "drained" });
  });

  it("an auto-resolve still held, then disable: its notice goes once, at the disable", async () => {
    const { metric, ruleId, alert, t } = await queueFiring("q_held", "Queue held");
    // Young: the resolve notice is held for a minute.
    await push(metric, "jobs", 100, t + 1000);
    await waitFor(async () => (await alertsOf(ruleId))[0]?.status === "resolved");
    await settle();
    expect((await eventCounts(alert.id)).resolved).toBeUndefined();
    expect(
      (await callJson("PUT", `${BASE}/rules/${ruleId}`, { token: admin.token, body: { is_active: false } })).status,
    ).toBe(200);
    const firing = (await eventCounts(alert.id)).firing ?? 0;
    await waitFor(async () => ((await eventCounts(alert.id)).resolved ?? 0) >= firing);
    await callJson("DELETE", `${BASE}/rules/${ruleId}`, { token: admin.token });
    await settle();
    expect(await eventCounts(alert.id)).toEqual({ firing, resolved: firing });
  });

  it("announces the resolve of a stable incident within a second", async () => {
    const { metric, ruleId, alert, t: t0 } = await queueFiring("q_stable", "Queue stable");
    // Ten minutes of a steady breach later, the queue drains.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0 + 10 * MINUTE);
    await push(metric, "jobs", 400, t0 + 5 * MINUTE);
    await push(metric, "jobs", 100, t0 + 10 * MINUTE);
    const resolved = await waitFor(async () => {
      const [a] = await alertsOf(ruleId);
      return a?.status === "resolved" ? a : false;
    });
    const row = await env.DB.prepare("SELECT resolved_at FROM alert_history WHERE id = ?")
      .bind(resolved.id)
      .first<{ resolved_at: number }>();
    const jobs = await waitFor(async () => {
      const rows = (await deliveriesOf(alert.id)).filter((d) => d.event === "resolved");
      return rows.length ? rows : false;
    });
    for (const j of jobs) expect(j.enqueued_at - (row?.resolved_at ?? 0)).toBeLessThanOrEqual(1000);
  });
});

/**
 * Notification delivery end to end in workerd: the queue consumer sends jobs to the
 * provider sink (Slack webhook, Twilio, signed webhook) configured in vitest.config.ts,
 * records what happened in notification_deliveries, retries, fails over to the admin's
 * next channel and leaves unconfigured channels (email here) in the outbox.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { NotificationJob, NotifyEvent } from "../../worker/core/alerts/jobs";
import { MAX_ATTEMPTS } from "../../worker/core/notify/backoff";
import worker from "../../worker/index";
import type { SinkMode, SinkRecord } from "../setup/provider-sink";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const sink = () => `http://127.0.0.1:${inject("sinkPort")}`;
let owner: TestAdmin;
let ruleId = 0;
let counter = 0;

beforeAll(async () => {
  owner = await createAdmin("owner");
  const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
    token: owner.token,
    body: {
      rule_name: "Delivery",
      metric_name: "delivery_metric",
      threshold_value: 1,
      severity: "warning",
      notification_channels: ["email"],
    },
  });
  if (res.status !== 201) throw new Error(`rule not created: ${JSON.stringify(res.body)}`);
  ruleId = res.body.id;
});

interface Prefs {
  email?: string | null;
  phone?: string | null;
  slack?: string | null;
  quiet?: { start: string; end: string };
}

/** An admin with stored preferences: every channel given an address is enabled. */
async function adminWith(prefs: Prefs): Promise<TestAdmin> {
  const admin = await createAdmin("admin");
  await env.DB.prepare(
    `INSERT INTO admin_notification_preferences
       (admin_id, email, phone, slack_member_id, email_enabled, sms_enabled, slack_enabled, severities,
        quiet_hours_start, quiet_hours_end, timezone, critical_bypasses_quiet_hours)
     VALUES (?, ?, ?, ?, ?, ?, ?, '["critical","warning"]', ?, ?, 'UTC', 1)`,
  )
    .bind(
      admin.id,
      prefs.email ?? null,
      prefs.phone ?? null,
      prefs.slack ?? null,
      prefs.email ? 1 : 0,
      prefs.phone ? 1 : 0,
      prefs.slack ? 1 : 0,
      prefs.quiet?.start ?? null,
      prefs.quiet?.end ?? null,
    )
    .run();
  return admin;
}

/** A job for a fresh alert; `token` is in its message, so sink records and modes can be matched to it. */
async function jobFor(
  admin: TestAdmin,
  channel: string,
  opts: { severity?: string; event?: NotifyEvent } = {},
): Promise<{ job: NotificationJob; token: string }> {
  const token = `dlv-${++counter}-${Date.now()}`;
  const now = Date.now();
  const severity = opts.severity ?? "warning";
  const alert = await env.DB.prepare(
    `INSERT INTO alert_history (alert_rule_id, fingerprint, alert_severity, message, observed_at, triggered_at)
     VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
  )
    .bind(ruleId, token, severity, `Latency high ${token}`, now, now)
    .first<{ id: number }>();
  const id = alert!.id;
  const event = opts.event ?? "firing";
  const job: NotificationJob = {
    idempotencyKey: `alert:${id}|${event}|step:0|admin:${admin.id}|${channel}`,
    alertId: id,
    event,
    occurrence: event,
    step: 0,
    recipient: { adminId: admin.id },
    channel,
    alert: {
      id,
      ruleId,
      ruleName: "Delivery",
      service: "api",
      labels: {},
      severity,
      status: "firing",
      value: 812,
      peakValue: 812,
      message: `Latency high ${token}`,
      observedAt: now,
      triggeredAt: now,
      acknowledgedAt: null,
      acknowledgedBy: null,
      resolvedAt: null,
    },
    enqueuedAt: now,
  };
  return { job, token };
}

/**
 * Runs the consumer on one message of `queue`, as the platform would. getQueueResult does
 * not report retry delays, so `retry` is watched (and still called) for them.
 */
async function consume(job: NotificationJob, queue = "notifications") {
  const batch = createMessageBatch(queue, [{ id: "m1", timestamp: new Date(), attempts: 1, body: job as unknown }]);
  const retry = vi.spyOn(batch.messages[0] as Message, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, delays: retry.mock.calls.map(([options]) => options?.delaySeconds) };
}

interface DeliveryRow {
  status: string;
  attempts: number;
  provider_response: string | null;
  last_error: string | null;
  delivered_at: number | null;
  channel: string;
}

const rowOf = (key: string) =>
  env.DB.prepare("SELECT * FROM notification_deliveries WHERE idempotency_key = ?").bind(key).first<DeliveryRow>();

async function received(name: string, token: string): Promise<SinkRecord[]> {
  const all = (await (await fetch(`${sink()}/__sink/${name}`)).json()) as SinkRecord[];
  return all.filter((r) => r.body.includes(token));
}

async function setMode(name: string, mode: SinkMode) {
  const res = await fetch(`${sink()}/__sink/${name}/mode`, { method: "POST", body: JSON.stringify(mode) });
  expect(res.status).toBe(204);
}

const waitFor = <T>(fn: () => Promise<T | false | undefined | null>, timeout = 5000) =>
  vi.waitUntil(fn, { timeout, interval: 20 }) as Promise<T>;

describe("notification delivery", () => {
  it("posts Block Kit to the Slack webhook, marks the row sent, and sends a redelivery no second time", async () => {
    const admin = await adminWith({ slack: "U123" });
    const { job, token } = await jobFor(admin, "slack");
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);

    const [request, ...more] = await received("slack", token);
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/sink/slack/services/T0/B0/hook-secret-xyz");
    expect(request?.headers["content-type"]).toBe("application/json");
    const body = JSON.parse(request?.body ?? "{}") as { text: string; blocks: { type: string }[] };
    expect(body.text).toContain(token);
    expect(body.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "actions"]);

    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "sent", attempts: 1, provider_response: "200", last_error: null });
    expect(row?.delivered_at).toBeGreaterThan(0);

    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    expect(await received("slack", token)).toHaveLength(1);
    expect((await rowOf(job.idempotencyKey))?.attempts).toBe(1);
  });

  it("sends SMS through Twilio as a form with Basic auth", async () => {
    const admin = await adminWith({ phone: "+886912345678" });
    const { job, token } = await jobFor(admin, "sms", { severity: "critical" });
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const [request] = await received("twilio", token);
    expect(request?.path).toBe("/sink/twilio/2010-04-01/Accounts/ACtest/Messages.json");
    expect(request?.headers.authorization).toBe(`Basic ${btoa("ACtest:twilio-secret-token")}`);
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(request?.body);
    expect(form.get("To")).toBe("+886912345678");
    expect(form.get("From")).toBe("+15550100000");
    expect(form.get("Body")).toMatch(/^CRITICAL FIRING #\d+ api: Delivery/);
    expect((await rowOf(job.idempotencyKey))?.status).toBe("sent");
  });

  it("signs webhooks with HMAC-SHA256 over the timestamp and body", async () => {
    const { job, token } = await jobFor(await adminWith({}), "webhook");
    await consume(job);
    const [request] = await received("webhook", token);
    const timestamp = request?.headers["x-edgemonitor-timestamp"] ?? "";
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode("webhook-secret"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${request?.body}`));
    const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(request?.headers["x-edgemonitor-signature"]).toBe(`v1=${hex}`);
    expect((await rowOf(job.idempotencyKey))?.status).toBe("sent");
  });

  it("retries a 500 with a backoff delay and a 429 no sooner than its Retry-After", async () => {
    const admin = await adminWith({ phone: "+886912345678" });
    const { job, token } = await jobFor(admin, "sms");
    await setMode("twilio", { status: 500, body: '{"message":"upstream down"}', match: token });
    const first = await consume(job);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    // Full jitter below 5 s on the first retry.
    expect(first.delays).toHaveLength(1);
    expect(first.delays[0]).toBeGreaterThanOrEqual(0);
    expect(first.delays[0]).toBeLessThan(5);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({
      status: "queued",
      attempts: 1,
      last_error: "HTTP 500: upstream down",
    });

    await setMode("twilio", { status: 429, retryAfter: 120, match: token });
    const second = await consume(job);
    expect(second.retryMessages).toEqual([{ msgId: "m1" }]);
    expect(second.delays).toEqual([120]);
    expect((await rowOf(job.idempotencyKey))?.attempts).toBe(2);
    expect(await received("twilio", token)).toHaveLength(2);
  });

  it("gives up after the last try: dead, and on to the next channel", async () => {
    const admin = await adminWith({ phone: "+886912345678", email: "pager@example.com" });
    const { job, token } = await jobFor(admin, "sms");
    await setMode("twilio", { status: 503, match: token });
    await consume(job);
    await env.DB.prepare("UPDATE notification_deliveries SET attempts = ? WHERE idempotency_key = ?")
      .bind(MAX_ATTEMPTS - 1, job.idempotencyKey)
      .run();
    const last = await consume(job);
    expect(last.explicitAcks).toEqual(["m1"]);
    expect(last.delays).toEqual([]);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "dead", attempts: MAX_ATTEMPTS });
    await waitFor(() => rowOf(`${job.idempotencyKey}|fallback:email`));
  });

  it("marks a 400 failed, without the secret it echoed, and falls back to the admin's next channel", async () => {
    const admin = await adminWith({ slack: "U123", email: "oncall@example.com" });
    const { job, token } = await jobFor(admin, "slack");
    await setMode("slack", { status: 400, body: "invalid_token for hook-secret-xyz", match: token });
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "failed", attempts: 1, delivered_at: null });
    expect(row?.last_error).toBe("HTTP 400: invalid_token for [redacted]");

    // Not critical: slack → email; email has no provider here, so the fallback waits in the outbox.
    const fallback = await waitFor(() => rowOf(`${job.idempotencyKey}|fallback:email`));
    expect(fallback.channel).toBe("email");
    await waitFor(async () => (await rowOf(`${job.idempotencyKey}|fallback:email`))?.status === "outbox");
  });

  it("records a dead letter as dead and delivers it on the next channel", async () => {
    const admin = await adminWith({ slack: "U123", phone: "+886912345678" });
    const { job, token } = await jobFor(admin, "sms", { severity: "critical" });
    expect((await consume(job, "notifications-dlq")).explicitAcks).toEqual(["m1"]);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "dead", last_error: "retries exhausted" });
    expect(await received("twilio", token)).toEqual([]);

    // Critical: slack → sms → email, sms having failed leaves slack.
    const fallback = await waitFor(async () => {
      const row = await rowOf(`${job.idempotencyKey}|fallback:slack`);
      return row?.status === "sent" ? row : null;
    });
    expect(fallback.channel).toBe("slack");
    expect(await received("slack", token)).toHaveLength(1);
  });

  it("holds a job in the admin's quiet hours, and leaves an unconfigured channel in the outbox", async () => {
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const now = Date.now();
    const quiet = { start: hhmm(now - 3_600_000), end: hhmm(now + 3_600_000) };
    const sleeper = await adminWith({ slack: "U9", quiet });
    const held = await jobFor(sleeper, "slack");
    expect((await consume(held.job)).explicitAcks).toEqual(["m1"]);
    const row = await rowOf(held.job.idempotencyKey);
    expect(row?.status).toBe("held");
    const { until } = JSON.parse(row?.provider_response ?? "{}") as { until: number };
    expect(until).toBeGreaterThan(now);
    expect(await received("slack", held.token)).toEqual([]);

    const mailed = await jobFor(await adminWith({ email: "me@example.com" }), "email");
    expect((await consume(mailed.job)).explicitAcks).toEqual(["m1"]);
    expect(await rowOf(mailed.job.idempotencyKey)).toMatchObject({ status: "outbox", attempts: 0 });
  });
});

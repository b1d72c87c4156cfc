/**
 * Notification delivery end to end in workerd: the queue consumer sends jobs to the
 * provider sink (Slack webhook, Twilio, signed webhook) configured in vitest.config.ts,
 * records what happened in notification_deliveries, retries, fails over to the admin's
 * next channel and leaves unconfigured channels (email here) in the outbox.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { NotificationJob } from "../../worker/core/alerts/jobs";
import { MAX_ATTEMPTS } from "../../worker/core/notify/backoff";
import { releaseDigests } from "../../worker/handlers/digests";
import worker from "../../worker/index";
import { callJson, createAdmin } from "./helpers";
import {
  adminWith,
  alertJobs,
  consume,
  countersOf,
  type DeliveryRow,
  failedOf,
  followUp,
  received,
  rowOf,
  setMode,
  sink,
  waitFor,
} from "./delivery-helpers";

const alerts = alertJobs("Delivery", "dlv");
const jobFor = alerts.jobFor;
/** For unique Slack member ids and phone numbers. */
let counter = 0;

beforeAll(alerts.setup);

/** Slack through its incoming webhook: the env without the bot token. */
const VIA_WEBHOOK: Partial<Env> = { SLACK_BOT_TOKEN: undefined };

describe("notification delivery", () => {
  it("posts Block Kit to the Slack webhook, marks the row sent, and sends a redelivery no second time", async () => {
    const admin = await adminWith({ slack: "U123" });
    const { job, token } = await jobFor(admin, "slack");
    expect((await consume(job, "notifications", VIA_WEBHOOK)).explicitAcks).toEqual(["m1"]);

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

    expect((await consume(job, "notifications", VIA_WEBHOOK)).explicitAcks).toEqual(["m1"]);
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

  it("renders the alert's value and message as they are at send time, not as enqueued", async () => {
    const admin = await adminWith({ phone: "+886912345670" });
    const { job, token } = await jobFor(admin, "sms", { severity: "critical" });
    // The alert moved on after the job was enqueued (its snapshot says 812).
    await env.DB.prepare("UPDATE alert_history SET metric_value = 1234, peak_value = 1234, message = ? WHERE id = ?")
      .bind(`Latency now ${token}`, job.alertId)
      .run();
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const [request] = await received("twilio", token);
    const text = new URLSearchParams(request?.body).get("Body") ?? "";
    expect(text).toContain("1234");
    expect(text).toContain(`Latency now ${token}`);
    expect(text).not.toContain("812");
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
    // The delivery key, for the receiver to drop a repeat: in a header and in the signed body.
    expect(request?.headers["x-edgemonitor-delivery"]).toBe(job.idempotencyKey);
    expect(JSON.parse(request?.body ?? "{}")).toMatchObject({ version: 1, delivery: job.idempotencyKey });
    expect((await rowOf(job.idempotencyKey))?.status).toBe("sent");
  });

  it("sends webhooks unsigned, not never, when no WEBHOOK_SECRET is set", async () => {
    const { job, token } = await jobFor(await adminWith({}), "webhook");
    await consume(job, "notifications", { WEBHOOK_SECRET: undefined });
    const [request] = await received("webhook", token);
    expect(request?.headers["x-edgemonitor-signature"]).toBeUndefined();
    expect(request?.headers["x-edgemonitor-delivery"]).toBe(job.idempotencyKey);
    expect((await rowOf(job.idempotencyKey))?.status).toBe("sent");
  });

  it("retries a webhook that timed out while still arriving under the same delivery key", async () => {
    const { job, token } = await jobFor(null, "webhook");
    // The receiver takes longer than the timeout: it gets the request, the sender gives up waiting.
    await setMode("webhook", { status: 200, delayMs: 400, match: token });
    const slow = await consume(job, "notifications", { NOTIFY_TIMEOUT_MS: "100" });
    expect(slow.retryMessages).toEqual([{ msgId: "m1" }]);
    expect(slow.delays[0]).toBeGreaterThanOrEqual(5);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "queued", attempts: 1 });
    expect((await rowOf(job.idempotencyKey))?.last_error).toMatch(/no answer within 0.1 s/);

    await setMode("webhook", { status: 200, match: token });
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const arrived = await received("webhook", token);
    expect(arrived).toHaveLength(2);
    // Both copies reached the receiver; one key tells it they are one notification.
    expect(arrived.map((r) => r.headers["x-edgemonitor-delivery"])).toEqual([job.idempotencyKey, job.idempotencyKey]);
    expect(new Set(arrived.map((r) => JSON.parse(r.body).delivery))).toEqual(new Set([job.idempotencyKey]));
  });

  it("retries a 500 with a backoff delay and a 429 no sooner than its Retry-After", async () => {
    const admin = await adminWith({ phone: "+886912345678" });
    const { job, token } = await jobFor(admin, "sms");
    await setMode("twilio", { status: 500, body: '{"message":"upstream down"}', match: token });
    const first = await consume(job);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages).toHaveLength(1);
    // The first retry: 5 to 10 s, never sooner (a short outage is waited out, not retried into).
    expect(first.delays).toHaveLength(1);
    expect(first.delays[0]).toBeGreaterThanOrEqual(5);
    expect(first.delays[0]).toBeLessThanOrEqual(10);
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

  it("sends a job out of tries to the dead-letter queue: dead, and on to the next channel", async () => {
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
    // The dead-letter consumer records it, keeping the provider's last answer, and falls back.
    const dead = await waitFor(async () => {
      const row = await rowOf(job.idempotencyKey);
      return row?.status === "dead" ? row : null;
    });
    expect(dead).toMatchObject({ attempts: MAX_ATTEMPTS, last_error: "retries exhausted; last: HTTP 503" });
    await waitFor(() => rowOf(`${job.idempotencyKey}|fallback:email`));
  });

  it("marks a 400 failed, without the secret it echoed, and falls back to the admin's next channel", async () => {
    const admin = await adminWith({ slack: "U124", email: "oncall@example.com" });
    const { job, token } = await jobFor(admin, "slack");
    await setMode("slack", { status: 400, body: "invalid_token for hook-secret-xyz", match: token });
    expect((await consume(job, "notifications", VIA_WEBHOOK)).explicitAcks).toEqual(["m1"]);
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "failed", attempts: 1, delivered_at: null });
    expect(row?.last_error).toBe("HTTP 400: invalid_token for [redacted]");

    // Not critical: slack → email; email has no provider here, so the fallback waits in the outbox.
    const fallback = await waitFor(() => rowOf(`${job.idempotencyKey}|fallback:email`));
    expect(fallback.channel).toBe("email");
    await waitFor(async () => (await rowOf(`${job.idempotencyKey}|fallback:email`))?.status === "outbox");
  });

  it("records a dead letter as dead and delivers it on the next channel", async () => {
    const admin = await adminWith({ slack: "U125", phone: "+886912345678" });
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
    expect(await received("slack-bot", token)).toHaveLength(1);
  });

  it("sends a job once when copies arrive together, in one batch or in concurrent batches", async () => {
    const admin = await adminWith({ phone: "+886912345001" });
    const { job, token } = await jobFor(admin, "sms");
    // On the SMS lane, whose consumer sends it (core/notify/lanes).
    const batch = createMessageBatch("notifications-sms", [
      { id: "a", timestamp: new Date(), attempts: 1, body: job as unknown },
      { id: "b", timestamp: new Date(), attempts: 1, body: job as unknown },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks.sort()).toEqual(["a", "b"]);
    expect(await received("twilio", token)).toHaveLength(1);

    const other = await jobFor(admin, "sms");
    await setMode("twilio", { status: 200, delayMs: 200, match: other.token });
    const results = await Promise.all([consume(other.job), consume(other.job), consume(other.job)]);
    expect(results.flatMap((r) => r.explicitAcks)).toEqual(["m1", "m1", "m1"]);
    expect(await received("twilio", other.token)).toHaveLength(1);
    expect(await rowOf(other.job.idempotencyKey)).toMatchObject({ status: "sent", attempts: 1 });
  });

  it("leaves an unconfigured channel in the outbox", async () => {
    const mailed = await jobFor(await adminWith({ email: "me@example.com" }), "email");
    expect((await consume(mailed.job)).explicitAcks).toEqual(["m1"]);
    expect(await rowOf(mailed.job.idempotencyKey)).toMatchObject({ status: "outbox", attempts: 0 });
  });

  it("holds jobs through quiet hours in the admin's time zone, then sends them as one digest", async () => {
    const zone = "Asia/Taipei";
    const local = (ms: number) =>
      new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(
        ms,
      );
    const now = Date.now();
    const member = `UQ${++counter}`;
    const sleeper = await adminWith({
      slack: member,
      quiet: { start: local(now - 3_600_000), end: local(now + 3_600_000) },
      timezone: zone,
      criticalBypassesQuietHours: false,
    });
    const a = await jobFor(sleeper, "slack");
    const aResolved = followUp(a.job, "resolved", { status: "resolved", resolvedAt: now + 1 });
    const b = await jobFor(sleeper, "slack", { severity: "critical" });
    for (const job of [a.job, aResolved, b.job]) expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const held = await Promise.all([a.job, aResolved, b.job].map((j) => rowOf(j.idempotencyKey)));
    expect(held.map((r) => r?.status)).toEqual(["held", "held", "held"]);
    // The end of the window in Taipei (UTC+8), to the minute.
    const until = held[0]?.held_until ?? 0;
    expect(until).toBeGreaterThan(now + 3_500_000);
    expect(until).toBeLessThanOrEqual(now + 3_600_000);
    expect(local(until)).toBe(local(now + 3_600_000));
    // The delivery log says why nothing went out yet, and until when.
    expect(held[0]?.last_error).toBe(`held for quiet hours until ${new Date(until).toISOString()}, for the digest`);
    expect(await received("slack-bot", member)).toEqual([]);

    await releaseDigests(env, until - 1);
    expect((await rowOf(a.job.idempotencyKey))?.status).toBe("held");
    await releaseDigests(env, until);
    const [digest, ...more] = await waitFor(async () => {
      const got = await received("slack-bot", member);
      return got.length ? got : null;
    });
    expect(more).toEqual([]);
    const body = JSON.parse(digest?.body ?? "{}") as { channel: string; text: string; blocks: unknown[] };
    expect(body.channel).toBe(member);
    expect(body.text).toBe("Quiet hours digest: 2 alerts");
    const lines = JSON.stringify(body.blocks);
    expect(lines).toContain("By severity: 1 critical, 1 warning");
    expect(lines).toContain("By event: 1 firing, 1 resolved");
    for (const j of [a.job, aResolved, b.job]) {
      expect((await rowOf(j.idempotencyKey))?.status).toBe("digested");
    }
    const sent = await waitFor(() =>
      env.DB.prepare(
        "SELECT * FROM notification_deliveries WHERE event = 'digest' AND recipient = ? AND status = 'sent'",
      )
        .bind(`admin:${sleeper.id}`)
        .first<DeliveryRow>(),
    );
    expect(sent.channel).toBe("slack");
    // The deliveries the digest carried are delivered with it and count for their alerts.
    for (const j of [a.job, aResolved, b.job]) expect((await rowOf(j.idempotencyKey))?.delivered_at).toBeGreaterThan(0);
    expect(await countersOf(a.job.alertId)).toEqual({ notifications_sent: 2, notification_attempts: 0 });
    expect(await countersOf(b.job.alertId)).toEqual({ notifications_sent: 1, notification_attempts: 0 });

    // Nothing is left to release, and a redelivered digest is not sent again.
    await releaseDigests(env, until + 60_000);
    expect(await consume(JSON.parse(sent.payload) as NotificationJob)).toMatchObject({ explicitAcks: ["m1"] });
    expect(await received("slack-bot", member)).toHaveLength(1);
  });

  it("counts deliveries and provider requests on the alert, not jobs", async () => {
    const admin = await adminWith({ slack: `UC${++counter}` });
    const { job } = await jobFor(admin, "slack");
    await setMode("slack-bot-down", { status: 503 });
    const down = { SLACK_API_BASE_URL: `${sink()}/sink/slack-bot-down` };
    expect((await consume(job, "notifications", down)).retryMessages).toHaveLength(1);
    expect(await countersOf(job.alertId)).toEqual({ notifications_sent: 0, notification_attempts: 1 });
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    expect(await countersOf(job.alertId)).toEqual({ notifications_sent: 1, notification_attempts: 2 });
    // A redelivery changes nothing.
    await consume(job);
    expect(await countersOf(job.alertId)).toEqual({ notifications_sent: 1, notification_attempts: 2 });
  });

  it("updates the Slack message in place when the alert is acknowledged, then resolved", async () => {
    const member = `UU${++counter}`;
    const admin = await adminWith({ slack: member });
    const { job } = await jobFor(admin, "slack");
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const [posted] = await received("slack-bot", member);
    expect(posted?.path).toBe("/sink/slack-bot/api/chat.postMessage");
    expect(posted?.headers.authorization).toBe("Bearer xoxb-test-bot-token");
    const messageId = (await rowOf(job.idempotencyKey))?.provider_message_id ?? "";
    expect(messageId).toMatch(/^D0SINK\/\d+\.\d+$/);
    const ts = messageId.split("/")[1];

    const acked = followUp(job, "acknowledged", {
      status: "acknowledged",
      acknowledgedAt: Date.now(),
      acknowledgedBy: "Ana",
    });
    expect((await consume(acked)).explicitAcks).toEqual(["m1"]);
    const resolved = followUp(job, "resolved", { status: "resolved", resolvedAt: Date.now() });
    expect((await consume(resolved)).explicitAcks).toEqual(["m1"]);

    const all = await received("slack-bot", `"ts":"${ts}"`);
    expect(all.map((r) => r.path)).toEqual(["/sink/slack-bot/api/chat.update", "/sink/slack-bot/api/chat.update"]);
    const [ackBody, resolveBody] = all.map(
      (r) => JSON.parse(r.body) as { channel: string; blocks: { type: string }[] },
    );
    expect(ackBody?.channel).toBe("D0SINK");
    expect(JSON.stringify(ackBody?.blocks)).toContain("Acknowledged by Ana");
    expect(JSON.stringify(ackBody?.blocks)).not.toContain('"action_id":"ack"');
    expect(resolveBody?.blocks.map((b) => b.type)).not.toContain("actions");
    // No new message was posted for either.
    expect((await received("slack-bot", member)).filter((r) => r.path.endsWith("chat.postMessage"))).toHaveLength(1);
    expect(await rowOf(resolved.idempotencyKey)).toMatchObject({ status: "sent" });
  });

  it("posts a new message when the one to update is gone", async () => {
    const member = `UG${++counter}`;
    const admin = await adminWith({ slack: member });
    const { job, token } = await jobFor(admin, "slack");
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const ts = (await rowOf(job.idempotencyKey))?.provider_message_id?.split("/")[1] ?? "";
    await setMode("slack-bot", {
      status: 200,
      body: '{"ok":false,"error":"message_not_found"}',
      match: `"ts":"${ts}"`,
    });
    const resolved = followUp(job, "resolved", { status: "resolved", resolvedAt: Date.now() });
    expect((await consume(resolved)).explicitAcks).toEqual(["m1"]);
    const paths = (await received("slack-bot", token)).map((r) => r.path.split("/").pop());
    expect(paths).toEqual(["chat.postMessage", "chat.update", "chat.postMessage"]);
    expect(await rowOf(resolved.idempotencyKey)).toMatchObject({ status: "sent" });
  });
});

/** Every message a dashboard socket receives, from now on. */
async function dashboardSocket(): Promise<{
  messages: { type: string; topic?: string; data?: unknown }[];
  close: () => void;
}> {
  const res = await env.DASHBOARD_HUB.getByName("main").fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error("no socket");
  const messages: { type: string; topic?: string; data?: unknown }[] = [];
  ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data))));
  ws.accept();
  return { messages, close: () => ws.close() };
}

describe("given-up jobs", () => {
  it("pages the on-call admins once each when the webhook answers 500 for 15 minutes of retries", async () => {
    const viewer = await createAdmin("viewer");
    const onSlack = await adminWith({ slack: `UGU${++counter}`, phone: "+886911000001" });
    // Critical: slack → sms → email; without Slack, SMS.
    const phone = `+8869110${String(++counter).padStart(5, "0")}`;
    const onSms = await adminWith({ phone, email: "sms-first@example.com" });
    const alreadyPaged = await adminWith({ slack: `UGU${++counter}` });
    const { job: base, token } = await jobFor(null, "webhook", { severity: "critical" });
    const job: NotificationJob = { ...base, onCall: [onSlack.id, onSms.id, alreadyPaged.id] };
    // One on-call admin already has this event on their own Slack: not paged again.
    const personal: NotificationJob = {
      ...base,
      recipient: { adminId: alreadyPaged.id },
      channel: "slack",
      idempotencyKey: base.idempotencyKey.replace("|admin:0|webhook", `|admin:${alreadyPaged.id}|slack`),
    };
    expect((await consume(personal)).explicitAcks).toEqual(["m1"]);

    await setMode("webhook", { status: 500, body: "receiver down", match: token });
    const delays: number[] = [];
    for (let n = 1; n < MAX_ATTEMPTS; n++) {
      const tried = await consume(job);
      expect(tried.retryMessages).toEqual([{ msgId: "m1" }]);
      delays.push(...tried.delays.map(Number));
    }
    // The schedule the platform would follow: no wait under 5 s, at least 15 minutes in all.
    expect(delays).toHaveLength(MAX_ATTEMPTS - 1);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(5);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(15 * 60);
    expect(await failedOf(job.alertId)).toBe(0);

    const live = await dashboardSocket();
    try {
      const last = await consume(job);
      expect(last.explicitAcks).toEqual(["m1"]);
      expect(last.delays).toEqual([]);
      const dead = await waitFor(async () => {
        const row = await rowOf(job.idempotencyKey);
        return row?.status === "dead" ? row : null;
      });
      expect(dead).toMatchObject({
        attempts: MAX_ATTEMPTS,
        last_error: "retries exhausted; last: HTTP 500: receiver down",
      });
      expect(await received("webhook", token)).toHaveLength(MAX_ATTEMPTS);

      // Visible: counted on the alert, and pushed to the dashboard's alerts topic.
      expect(await failedOf(job.alertId)).toBe(1);
      const pushed = await waitFor(async () =>
        live.messages.find(
          (m) =>
            m.type === "delta" &&
            m.topic === "alerts" &&
            (m.data as { id: number; notifications_failed: number }[]).some(
              (a) => a.id === job.alertId && a.notifications_failed === 1,
            ),
        ),
      );
      expect(pushed).toBeDefined();
    } finally {
      live.close();
    }
    const detail = await callJson<{
      notifications_failed: number;
      notifications: { channel: string; status: string; attempts: number; reason: string | null }[];
    }>("GET", `/api/admin/monitoring/alerts/${job.alertId}`, { token: viewer.token });
    expect(detail.status).toBe(200);
    expect(detail.body.notifications_failed).toBe(1);
    expect(detail.body.notifications).toContainEqual(
      expect.objectContaining({ channel: "webhook", status: "dead", attempts: MAX_ATTEMPTS }),
    );

    // The fallbacks went through the real queue: one per admin not yet paged, on their first channel.
    const prefix = base.idempotencyKey.replace("|admin:0|webhook", "");
    const slackKey = `${prefix}|admin:${onSlack.id}|shared|fallback:slack`;
    const smsKey = `${prefix}|admin:${onSms.id}|shared|fallback:sms`;
    for (const key of [slackKey, smsKey]) {
      await waitFor(async () => (await rowOf(key))?.status === "sent");
    }
    const slackTo = async (member: string) =>
      (await received("slack-bot", token)).filter((r) => JSON.parse(r.body).channel === member);
    expect(await slackTo(`UGU${counter - 2}`)).toHaveLength(1);
    expect(await slackTo(`UGU${counter}`)).toHaveLength(1);
    const texts = await received("twilio", token);
    expect(texts.map((r) => new URLSearchParams(r.body).get("To"))).toEqual([phone]);
    expect(
      await env.DB.prepare(
        "SELECT COUNT(*) AS n FROM notification_deliveries WHERE alert_id = ? AND idempotency_key LIKE '%|shared|fallback:%'",
      )
        .bind(job.alertId)
        .first<number>("n"),
    ).toBe(2);

    // A redelivered dead letter, even one whose record was lost, pages nobody twice.
    expect((await consume(job, "notifications-dlq")).explicitAcks).toEqual(["m1"]);
    await env.DB.prepare("UPDATE notification_deliveries SET status = 'queued' WHERE idempotency_key = ?")
      .bind(job.idempotencyKey)
      .run();
    expect((await consume(job, "notifications-dlq")).explicitAcks).toEqual(["m1"]);
    expect((await rowOf(job.idempotencyKey))?.status).toBe("dead");
    const again = JSON.parse((await rowOf(slackKey))?.payload ?? "{}") as NotificationJob;
    expect((await consume(again)).explicitAcks).toEqual(["m1"]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await slackTo(`UGU${counter - 2}`)).toHaveLength(1);
    expect(await received("twilio", token)).toHaveLength(1);
    expect(await failedOf(job.alertId)).toBe(1);
  });

  it("falls back at once when the webhook refuses the job for good", async () => {
    const admin = await adminWith({ slack: `UGU${++counter}` });
    const { job: base, token } = await jobFor(null, "webhook", { severity: "warning" });
    const job: NotificationJob = { ...base, onCall: [admin.id] };
    await setMode("webhook", { status: 410, body: "gone", match: token });
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({
      status: "failed",
      attempts: 1,
      last_error: "HTTP 410: gone",
    });
    expect(await failedOf(job.alertId)).toBe(1);
    const key = `${base.idempotencyKey.replace("|admin:0|webhook", "")}|admin:${admin.id}|shared|fallback:slack`;
    await waitFor(async () => (await rowOf(key))?.status === "sent");
    expect((await received("slack-bot", token)).map((r) => JSON.parse(r.body).channel)).toEqual([`UGU${counter}`]);
  });
});

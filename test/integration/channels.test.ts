/**
 * Every notification channel's wire format, and delivery under provider faults, through the
 * real queue consumer in workerd. Providers point at the provider sink through env overrides
 * (one sink name per test where the requests cannot carry the test's token); email goes
 * through Resend, Postmark or the real send_email binding of Miniflare.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { NotificationJob } from "../../worker/core/alerts/jobs";
import { MAX_ATTEMPTS } from "../../worker/core/notify/backoff";
import { renderRawEmail } from "../../worker/core/notify/email";
import type { SinkMode, SinkRecord } from "../setup/provider-sink";
import {
  adminWith,
  alertJobs,
  consume,
  type DeliveryRow,
  followUp,
  type Prefs,
  received,
  records,
  rowOf,
  setMode,
  sink,
  waitFor,
} from "./delivery-helpers";

/** Names sink endpoints of this run, so modes set here never reach another file's requests. */
const run = Date.now().toString(36);
const alerts = alertJobs("Channels", "chn");
const jobFor = alerts.jobFor;
/** For unique Slack member ids and phone numbers. */
let counter = 0;

beforeAll(alerts.setup);

const json = <T = Record<string, unknown>>(r: SinkRecord | undefined) => JSON.parse(r?.body ?? "{}") as T;

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const utf8FromBase64 = (b64: string) =>
  new TextDecoder().decode(Uint8Array.from(atob(b64.replace(/\s+/g, "")), (c) => c.charCodeAt(0)));

describe("wire formats", () => {
  it("sends email through Resend with a Bearer key and keeps the id it answers", async () => {
    const name = `resend-${run}`;
    const over: Partial<Env> = {
      RESEND_API_KEY: "re_wire_key_123",
      RESEND_API_BASE_URL: `${sink()}/sink/${name}`,
      EMAIL_FROM: "Edge Monitor <alerts@example.com>",
    };
    await setMode(name, { status: 200, body: '{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}' });
    const { job, token } = await jobFor(await adminWith({ email: "oncall@example.com" }), "email");
    expect((await consume(job, "notifications", over)).explicitAcks).toEqual(["m1"]);

    const [request, ...more] = await received(name, token);
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/sink/${name}/emails`);
    expect(request?.headers.authorization).toBe("Bearer re_wire_key_123");
    expect(request?.headers["content-type"]).toBe("application/json");
    // Resend answers a repeat of the key with the first email's id instead of sending again.
    expect(request?.headers["idempotency-key"]).toBe(job.idempotencyKey);
    const body = json<Record<string, unknown>>(request);
    expect(Object.keys(body).sort()).toEqual(["from", "html", "subject", "text", "to"]);
    expect(body.from).toBe("Edge Monitor <alerts@example.com>");
    expect(body.to).toEqual(["oncall@example.com"]);
    expect(body.subject).toMatch(/Channels/);
    expect(body.text).toContain(token);
    expect(body.html).toContain(`<p>Latency high ${token}</p>`);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({
      status: "sent",
      provider_message_id: "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
      provider_response: "200 49a3999c-0ce1-4ea6-ab68-afcd6dc2e794",
    });
  });

  it("sends email through Postmark with its server token header and records its MessageID", async () => {
    const name = `postmark-${run}`;
    const over: Partial<Env> = {
      RESEND_API_KEY: undefined,
      POSTMARK_SERVER_TOKEN: "pm-wire-token-456",
      POSTMARK_API_BASE_URL: `${sink()}/sink/${name}`,
      EMAIL_FROM: "Edge Monitor <alerts@example.com>",
    };
    await setMode(name, {
      status: 200,
      body: JSON.stringify({
        To: "oncall@example.com",
        SubmittedAt: "2026-11-26T10:00:00.000Z",
        MessageID: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
        ErrorCode: 0,
        Message: "OK",
      }),
    });
    const { job, token } = await jobFor(await adminWith({ email: "oncall@example.com" }), "email");
    expect((await consume(job, "notifications", over)).explicitAcks).toEqual(["m1"]);

    const [request, ...more] = await received(name, token);
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/sink/${name}/email`);
    expect(request?.headers["x-postmark-server-token"]).toBe("pm-wire-token-456");
    expect(request?.headers.authorization).toBeUndefined();
    const body = json<Record<string, unknown>>(request);
    expect(Object.keys(body).sort()).toEqual(["From", "HtmlBody", "Subject", "TextBody", "To"]);
    expect(body).toMatchObject({ From: "Edge Monitor <alerts@example.com>", To: "oncall@example.com" });
    expect(body.TextBody).toContain(token);
    expect(body.HtmlBody).toContain(token);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({
      status: "sent",
      provider_message_id: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
    });
  });

  it("sends email through the send_email binding as a MIME message it accepts", async () => {
    const from = "Edge Monitor <alerts@example.com>";
    const over: Partial<Env> = { EMAIL_FROM: from, RESEND_API_KEY: undefined, POSTMARK_SERVER_TOKEN: undefined };
    const admin = await adminWith({ email: "oncall@example.com" });
    const { job, token } = await jobFor(admin, "email");
    expect((await consume(job, "notifications", over)).explicitAcks).toEqual(["m1"]);
    // Miniflare's binding parses the message and refuses one without a Message-ID or whose
    // From differs from the envelope sender: "sent" means it passed those checks.
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "sent", attempts: 1, last_error: null });
    expect(row?.provider_message_id).toMatch(/^<[^<>@\s]+@example\.com>$/);

    // The same job as the binding received it.
    const email = renderRawEmail(
      job,
      { adminId: admin.id, name: "Test admin", email: "oncall@example.com", phone: null, slackMemberId: null },
      { from },
      Date.now(),
    );
    expect(email).toMatchObject({ from: "alerts@example.com", to: "oncall@example.com" });
    expect(email.messageId).toBe(row?.provider_message_id);
    expect(email.raw).not.toMatch(/[^\r]\n/);
    const [head = "", ...rest] = email.raw.split("\r\n\r\n");
    const headers = head.split("\r\n");
    expect(headers).toContain(`Message-ID: ${email.messageId}`);
    expect(headers).toContain(`From: ${from}`);
    const boundary = /^Content-Type: multipart\/alternative; boundary="([^"]+)"$/m.exec(head)?.[1];
    expect(boundary).toBeTruthy();
    const body = rest.join("\r\n\r\n");
    const sections = body.split(`--${boundary}`).slice(1, -1);
    expect(sections.map((s) => /Content-Type: ([^;\r]+)/.exec(s)?.[1])).toEqual(["text/plain", "text/html"]);
    const decoded = sections.map((s) => utf8FromBase64(s.split("\r\n\r\n")[1] ?? ""));
    expect(decoded[0]).toContain(`Latency high ${token}`);
    expect(decoded[1]).toContain(`<p>Latency high ${token}</p>`);
    expect(body.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
  });

  it("triggers, acknowledges and resolves one PagerDuty incident under one dedup key", async () => {
    const name = `pagerduty-${run}`;
    const routingKey = "R0UTINGKEY0123456789ABCDEFGHIJ";
    const over: Partial<Env> = { PAGERDUTY_ROUTING_KEY: routingKey, PAGERDUTY_API_BASE_URL: `${sink()}/sink/${name}` };
    await setMode(name, { status: 202, body: '{"status":"success","message":"Event processed"}' });
    const { job, token } = await jobFor(null, "pagerduty", { severity: "critical" });
    const now = Date.now();
    const acked = followUp(job, "acknowledged", {
      status: "acknowledged",
      acknowledgedAt: now,
      acknowledgedBy: "Ana",
    });
    const resolved = followUp(job, "resolved", { status: "resolved", resolvedAt: now + 1 });
    for (const j of [job, acked, resolved]) {
      expect((await consume(j, "notifications", over)).explicitAcks).toEqual(["m1"]);
    }

    const all = await records(name);
    expect(all.map((r) => [r.method, r.path])).toEqual(
      Array.from({ length: 3 }, () => ["POST", `/sink/${name}/v2/enqueue`]),
    );
    const events = all.map((r) =>
      json<{ routing_key: string; event_action: string; dedup_key: string; payload?: Record<string, unknown> }>(r),
    );
    expect(events.map((e) => e.event_action)).toEqual(["trigger", "acknowledge", "resolve"]);
    expect(events.map((e) => e.routing_key)).toEqual([routingKey, routingKey, routingKey]);
    const dedup = events[0]?.dedup_key;
    expect(dedup).toMatch(new RegExp(`^edge-monitor:${job.alertId}:`));
    expect(events.map((e) => e.dedup_key)).toEqual([dedup, dedup, dedup]);
    expect(events[0]?.payload).toMatchObject({ source: "api", severity: "critical", component: "Channels" });
    expect(events[0]?.payload?.summary).toContain(token);
    expect(events[0]?.payload?.timestamp).toBe(new Date(job.alert.observedAt).toISOString());
    expect(events[1]?.payload).toBeUndefined();
    expect(events[2]?.payload).toBeUndefined();

    const rows = await env.DB.prepare("SELECT * FROM notification_deliveries WHERE alert_id = ? ORDER BY id")
      .bind(job.alertId)
      .all<DeliveryRow>();
    expect(rows.results.map((r) => [r.status, r.recipient, r.provider_response])).toEqual(
      Array.from({ length: 3 }, () => ["sent", "shared:pagerduty", "202"]),
    );
    expect(JSON.stringify(rows.results)).not.toContain(routingKey);
  });

  it("posts a Slack DM through the bot token with the alert's buttons", async () => {
    const member = `UCH${++counter}`;
    const { job, token } = await jobFor(await adminWith({ slack: member }), "slack");
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);

    const [request, ...more] = await received("slack-bot", token);
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/sink/slack-bot/api/chat.postMessage");
    expect(request?.headers.authorization).toBe("Bearer xoxb-test-bot-token");
    const body = json<{
      channel: string;
      text: string;
      blocks: { type: string; elements?: { action_id: string; value: string }[] }[];
    }>(request);
    expect(body.channel).toBe(member);
    expect(body.text).toContain(token);
    expect(body.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "actions"]);
    const buttons = body.blocks[3]?.elements ?? [];
    expect(buttons.map((b) => b.action_id)).toEqual(["ack", "resolve", "silence_1h"]);
    expect(buttons.map((b) => b.value)).toEqual(Array.from({ length: 3 }, () => String(job.alertId)));
    expect((await rowOf(job.idempotencyKey))?.provider_message_id).toMatch(/^D0SINK\/\d+\.\d+$/);
  });

  it("posts an Alertmanager v4 webhook signed over the timestamp and body", async () => {
    const name = `alertmanager-${run}`;
    const secret = "am-signing-secret-789";
    const over: Partial<Env> = {
      WEBHOOK_FORMAT: "alertmanager",
      WEBHOOK_URL: `${sink()}/sink/${name}`,
      WEBHOOK_SECRET: secret,
    };
    const { job } = await jobFor(null, "webhook");
    const resolved = followUp(job, "resolved", { status: "resolved", resolvedAt: Date.now() + 1 });
    for (const j of [job, resolved]) expect((await consume(j, "notifications", over)).explicitAcks).toEqual(["m1"]);

    const all = await records(name);
    expect(all).toHaveLength(2);
    // The delivery key in a header; the body keeps Alertmanager's schema.
    expect(all.map((r) => r.headers["x-edgemonitor-delivery"])).toEqual([job.idempotencyKey, resolved.idempotencyKey]);
    for (const request of all) expect(json<Record<string, unknown>>(request)).not.toHaveProperty("delivery");
    for (const request of all) {
      const timestamp = request.headers["x-edgemonitor-timestamp"] ?? "";
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
      expect(request.headers["x-edgemonitor-signature"]).toBe(
        `v1=${await hmacHex(secret, `${timestamp}.${request.body}`)}`,
      );
    }
    const [firing, done] = all.map((r) =>
      json<{
        version: string;
        status: string;
        alerts: { status: string; labels: Record<string, string>; endsAt: string }[];
      }>(r),
    );
    expect(firing).toMatchObject({ version: "4", status: "firing" });
    expect(firing?.alerts).toHaveLength(1);
    expect(firing?.alerts[0]).toMatchObject({
      status: "firing",
      labels: { alertname: "Channels", severity: "warning", service: "api" },
      endsAt: "0001-01-01T00:00:00Z",
    });
    expect(done).toMatchObject({ version: "4", status: "resolved" });
    expect(done?.alerts[0]).toMatchObject({ status: "resolved", labels: { alertname: "Channels" } });
    expect(done?.alerts[0]?.endsAt).toBe(new Date(resolved.alert.resolvedAt ?? 0).toISOString());
    for (const j of [job, resolved]) expect((await rowOf(j.idempotencyKey))?.status).toBe("sent");
  });

  it("sends SMS through Twilio as a form with Basic auth", async () => {
    const { job, token } = await jobFor(await adminWith({ phone: "+886912345678" }), "sms");
    expect((await consume(job)).explicitAcks).toEqual(["m1"]);
    const [request, ...more] = await received("twilio", token);
    expect(more).toEqual([]);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/sink/twilio/2010-04-01/Accounts/ACtest/Messages.json");
    expect(request?.headers.authorization).toBe(`Basic ${btoa("ACtest:twilio-secret-token")}`);
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const form = new URLSearchParams(request?.body);
    expect([...form.keys()]).toEqual(["To", "From", "Body"]);
    expect(form.get("To")).toBe("+886912345678");
    expect(form.get("From")).toBe("+15550100000");
    expect(form.get("Body")).toContain(token);
    expect((await rowOf(job.idempotencyKey))?.status).toBe("sent");
  });
});

describe("provider errors", () => {
  /** Every secret any case below configures, and those of the test config. */
  const SECRETS = {
    resend: "re_leak_key_AAA111",
    postmark: "pm-leak-token-BBB222",
    twilioToken: "tw-leak-token-CCC333",
    slackBot: "xoxb-leak-bot-DDD444",
    slackHook: "hook-leak-EEE555",
    webhook: "wh-leak-secret-FFF666",
    pagerduty: "R0UTINGLEAKGGG777",
  };
  const hookUrl = () => `${sink()}/sink/slack-leak-${run}/services/T9/B9/${SECRETS.slackHook}`;
  const everySecret = () => {
    const raw = [
      ...Object.values(SECRETS),
      hookUrl(),
      `T9/B9/${SECRETS.slackHook}`,
      `ACleak:${SECRETS.twilioToken}`,
      "xoxb-test-bot-token",
      "twilio-secret-token",
      "hook-secret-xyz",
      "webhook-secret",
    ];
    return [...raw, ...raw.map((s) => btoa(s).replace(/=+$/, "")), ...raw.map(encodeURIComponent)];
  };
  /** A provider's error echoing the secrets as it might: plain, URL-encoded, and in an echoed Basic header. */
  const echo = (secrets: string[]) =>
    JSON.stringify({
      message: `rejected: ${secrets.join(" ")} ${secrets.map(encodeURIComponent).join(" ")} Basic ${secrets.map((s) => btoa(s)).join(" ")}`,
    });

  const cases: {
    provider: string;
    channel: string;
    admin: Prefs | null;
    sinkName: string;
    over: () => Partial<Env>;
    echoed: () => string[];
  }[] = [
    {
      channel: "email",
      admin: { email: "oncall@example.com" },
      provider: "Resend",
      sinkName: `resend-leak-${run}`,
      over: () => ({ RESEND_API_KEY: SECRETS.resend, RESEND_API_BASE_URL: `${sink()}/sink/resend-leak-${run}` }),
      echoed: () => [SECRETS.resend],
    },
    {
      channel: "email",
      admin: { email: "oncall@example.com" },
      provider: "Postmark",
      sinkName: `postmark-leak-${run}`,
      over: () => ({
        POSTMARK_SERVER_TOKEN: SECRETS.postmark,
        POSTMARK_API_BASE_URL: `${sink()}/sink/postmark-leak-${run}`,
      }),
      echoed: () => [SECRETS.postmark],
    },
    {
      channel: "sms",
      admin: { phone: "+886912345678" },
      provider: "Twilio",
      sinkName: `twilio-leak-${run}`,
      over: () => ({
        TWILIO_API_BASE_URL: `${sink()}/sink/twilio-leak-${run}`,
        TWILIO_ACCOUNT_SID: "ACleak",
        TWILIO_AUTH_TOKEN: SECRETS.twilioToken,
      }),
      echoed: () => [SECRETS.twilioToken, `ACleak:${SECRETS.twilioToken}`],
    },
    {
      channel: "slack",
      admin: { slack: "ULEAK1" },
      provider: "Slack bot",
      sinkName: `slack-bot-leak-${run}`,
      over: () => ({ SLACK_BOT_TOKEN: SECRETS.slackBot, SLACK_API_BASE_URL: `${sink()}/sink/slack-bot-leak-${run}` }),
      echoed: () => [SECRETS.slackBot],
    },
    {
      channel: "slack",
      admin: { slack: "ULEAK2" },
      provider: "Slack webhook",
      sinkName: `slack-leak-${run}`,
      over: () => ({ SLACK_BOT_TOKEN: undefined, SLACK_WEBHOOK_URL: hookUrl() }),
      // The URL, its path after /services/ (T…/B…/token) and the token alone.
      echoed: () => [hookUrl(), `T9/B9/${SECRETS.slackHook}`, SECRETS.slackHook],
    },
    {
      channel: "webhook",
      admin: null,
      provider: "webhook",
      sinkName: `webhook-leak-${run}`,
      over: () => ({ WEBHOOK_URL: `${sink()}/sink/webhook-leak-${run}`, WEBHOOK_SECRET: SECRETS.webhook }),
      echoed: () => [SECRETS.webhook],
    },
    {
      channel: "pagerduty",
      admin: null,
      provider: "PagerDuty",
      sinkName: `pagerduty-leak-${run}`,
      over: () => ({
        PAGERDUTY_ROUTING_KEY: SECRETS.pagerduty,
        PAGERDUTY_API_BASE_URL: `${sink()}/sink/pagerduty-leak-${run}`,
      }),
      echoed: () => [SECRETS.pagerduty],
    },
  ];

  it.each(cases)("keeps every secret out of a $provider error", async (c) => {
    await setMode(c.sinkName, { status: 400, body: echo(c.echoed()) });
    const { job } = await jobFor(c.admin ? await adminWith(c.admin) : null, c.channel);
    expect((await consume(job, "notifications", c.over())).explicitAcks).toEqual(["m1"]);
    // The request reached the sink, so the error text is the sink's answer.
    expect(await records(c.sinkName)).toHaveLength(1);
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "failed", attempts: 1, delivered_at: null });
    // Each echoed form of each secret replaced whole.
    const gone = c
      .echoed()
      .map(() => "[redacted]")
      .join(" ");
    // A personal channel's row adds that no other channel is left (these admins have one).
    const [error, ...note] = (row?.last_error ?? "").split("; ");
    expect(error).toBe(`HTTP 400: rejected: ${gone} ${gone} Basic ${gone}`);
    expect(note).toEqual(c.admin ? ["no other channel to fall back to"] : []);
    for (const secret of everySecret()) expect(row?.last_error).not.toContain(secret);
    for (const secret of everySecret()) expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("retries a provider that does not answer within NOTIFY_TIMEOUT_MS", async () => {
    const name = `twilio-slow-${run}`;
    await setMode(name, { status: 200, delayMs: 2000 });
    const { job, token } = await jobFor(await adminWith({ phone: "+886912345678" }), "sms");
    const started = Date.now();
    const result = await consume(job, "notifications", {
      NOTIFY_TIMEOUT_MS: "300",
      TWILIO_API_BASE_URL: `${sink()}/sink/${name}`,
    });
    // Given up at the limit, not when the answer came.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toEqual([{ msgId: "m1" }]);
    expect(result.delays).toHaveLength(1);
    expect(await received(name, token)).toHaveLength(1);
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "queued", attempts: 1 });
    expect(row?.last_error).toContain("no answer within 0.3 s");
  });

  it("retries a network error, its text redacted", async () => {
    const { job } = await jobFor(await adminWith({ slack: "UCLOSED" }), "slack");
    const secret = "closed-port-hook-HHH888";
    const result = await consume(job, "notifications", {
      SLACK_BOT_TOKEN: undefined,
      SLACK_WEBHOOK_URL: `http://127.0.0.1:1/services/T8/B8/${secret}`,
    });
    expect(result.retryMessages).toEqual([{ msgId: "m1" }]);
    const row = await rowOf(job.idempotencyKey);
    expect(row).toMatchObject({ status: "queued", attempts: 1 });
    expect(row?.last_error).toMatch(/^network error: /);
    expect(row?.last_error).not.toContain(secret);
    expect(row?.last_error).not.toContain("T8/B8");
  });
});

type Fault = "ok" | "500" | "429" | "slow" | "400" | "dlq";
type FaultChannel = "slack" | "sms" | "webhook";

/** The healthy sink of each channel, as vitest.config.ts configures it. */
const HEALTHY: Record<FaultChannel, string> = { slack: "slack-bot", sms: "twilio", webhook: "webhook" };
const FAULTS = ["500", "429", "slow", "400"] as const;
const RETRY_AFTER = 30;

const faultSink = (channel: FaultChannel, fault: (typeof FAULTS)[number]) => `${HEALTHY[channel]}-fault${fault}-${run}`;

/** The env pointing the channel at a sink that fails the way `fault` says; {} for the healthy one. */
function faultEnv(channel: FaultChannel, fault: Fault): Partial<Env> {
  if (fault === "ok" || fault === "dlq") return {};
  const url = `${sink()}/sink/${faultSink(channel, fault)}`;
  const base = { NOTIFY_TIMEOUT_MS: "300" };
  if (channel === "slack") return { ...base, SLACK_API_BASE_URL: url };
  if (channel === "sms") return { ...base, TWILIO_API_BASE_URL: url };
  return { ...base, WEBHOOK_URL: url };
}

const FAULT_MODES: Record<(typeof FAULTS)[number], SinkMode> = {
  "500": { status: 500, body: '{"message":"upstream down"}' },
  "429": { status: 429, retryAfter: RETRY_AFTER, body: '{"message":"slow down"}' },
  slow: { status: 200, delayMs: 800 },
  "400": { status: 400, body: '{"message":"bad request"}' },
};

describe("delivery under faults", () => {
  it(
    "ends every job sent once or failed over, and sends nothing twice on redelivery",
    { timeout: 30_000 },
    async () => {
      for (const channel of Object.keys(HEALTHY) as FaultChannel[]) {
        for (const fault of FAULTS) await setMode(faultSink(channel, fault), FAULT_MODES[fault]);
      }
      /**
       * What each attempt meets, the last repeating; "dlq": the platform dead-letters the
       * message after the retries before it. `fallback`: the channel the admin's next delivery
       * goes to, and the status it should reach there.
       */
      const specs: {
        channel: FaultChannel;
        plan: Fault[];
        severity?: string;
        prefs?: Prefs;
        expected: "sent" | "dead" | "failed";
        fallback?: [string, "sent" | "outbox"];
      }[] = [
        { channel: "slack", plan: ["ok"], expected: "sent" },
        { channel: "slack", plan: ["500", "500", "ok"], expected: "sent" },
        { channel: "slack", plan: ["429", "ok"], expected: "sent" },
        { channel: "slack", plan: ["slow", "ok"], expected: "sent" },
        {
          channel: "slack",
          plan: ["500"],
          prefs: { email: "a@example.com" },
          expected: "dead",
          fallback: ["email", "outbox"],
        },
        {
          channel: "slack",
          plan: ["429", "dlq"],
          severity: "critical",
          prefs: { phone: "+886900000001" },
          expected: "dead",
          fallback: ["sms", "sent"],
        },
        { channel: "sms", plan: ["ok"], expected: "sent" },
        { channel: "sms", plan: ["slow", "429", "ok"], expected: "sent" },
        {
          channel: "sms",
          plan: ["slow"],
          prefs: { email: "b@example.com" },
          expected: "dead",
          fallback: ["email", "outbox"],
        },
        {
          channel: "sms",
          plan: ["500", "slow", "dlq"],
          severity: "critical",
          prefs: { slack: `UF${++counter}` },
          expected: "dead",
          fallback: ["slack", "sent"],
        },
        {
          channel: "sms",
          plan: ["400"],
          prefs: { email: "c@example.com" },
          expected: "failed",
          fallback: ["email", "outbox"],
        },
        { channel: "webhook", plan: ["ok"], expected: "sent" },
        { channel: "webhook", plan: ["500", "ok"], expected: "sent" },
        { channel: "webhook", plan: ["429", "slow", "ok"], expected: "sent" },
      ];
      const jobs = await Promise.all(
        specs.map(async (spec) => {
          const own: Prefs =
            spec.channel === "slack"
              ? { slack: `UF${++counter}` }
              : spec.channel === "sms"
                ? { phone: `+8869${String(++counter).padStart(8, "0")}` }
                : {};
          const admin = spec.channel === "webhook" ? null : await adminWith({ ...own, ...spec.prefs });
          return { spec, ...(await jobFor(admin, spec.channel, { severity: spec.severity })) };
        }),
      );

      // Each message is redelivered until acknowledged, on any delay: only the attempt count matters.
      const runs = await Promise.all(
        jobs.map(async ({ spec, job }) => {
          const seen: Fault[] = [];
          /** Each delivery's end: "retry", "ack", or "dlq-ack" (acknowledged on the dead-letter queue). */
          const ends: string[] = [];
          const retryAfterDelays: (number | undefined)[] = [];
          for (let n = 1; n <= MAX_ATTEMPTS && ends.at(-1) !== "ack"; n++) {
            const fault = spec.plan[Math.min(n, spec.plan.length) - 1] ?? "ok";
            if (fault === "dlq") {
              const dead = await consume(job, "notifications-dlq");
              ends.push(dead.explicitAcks.includes("m1") ? "ack" : "dlq-no-ack");
              break;
            }
            seen.push(fault);
            const result = await consume(job, "notifications", faultEnv(spec.channel, fault));
            ends.push(result.explicitAcks.includes("m1") ? "ack" : result.retryMessages.length ? "retry" : "none");
            if (fault === "429") retryAfterDelays.push(...result.delays);
          }
          return { seen, ends, retryAfterDelays };
        }),
      );
      for (const [i, { ends, retryAfterDelays }] of runs.entries()) {
        const label = jobs[i]?.job.idempotencyKey;
        expect(ends, label).toEqual([...Array.from({ length: ends.length - 1 }, () => "retry"), "ack"]);
        expect(
          retryAfterDelays.every((d) => d !== undefined && d >= RETRY_AFTER),
          label,
        ).toBe(true);
      }

      // Fallbacks go through the real queue and its consumer.
      for (const { spec, job } of jobs) {
        if (!spec.fallback) continue;
        const [channel, status] = spec.fallback;
        await waitFor(async () => (await rowOf(`${job.idempotencyKey}|fallback:${channel}`))?.status === status);
      }

      const sinkNames = [
        ...Object.values(HEALTHY),
        ...(Object.keys(HEALTHY) as FaultChannel[]).flatMap((c) => FAULTS.map((f) => faultSink(c, f))),
      ];
      const snapshot = async () => {
        const all = await Promise.all(sinkNames.map(async (name) => [name, await records(name)] as const));
        return jobs.map(({ token }) =>
          all.map(([name, rs]) => [name, rs.filter((r) => r.body.includes(token)).length]),
        );
      };

      for (const [i, { spec, job, token }] of jobs.entries()) {
        const label = `${job.idempotencyKey} (${spec.plan.join(",")})`;
        const seen = runs[i]?.seen ?? [];
        const row = await rowOf(job.idempotencyKey);
        const faults = await Promise.all(
          FAULTS.map(async (f) => [f, (await received(faultSink(spec.channel, f), token)).length] as const),
        );
        const fallbackRows = await env.DB.prepare(
          "SELECT * FROM notification_deliveries WHERE idempotency_key LIKE ? ORDER BY id",
        )
          .bind(`${job.idempotencyKey}|fallback:%`)
          .all<DeliveryRow>();
        const fallbacks = await Promise.all(
          fallbackRows.results.map(async (r) => ({
            channel: r.channel,
            status: r.status,
            requests: r.channel in HEALTHY ? (await received(HEALTHY[r.channel as FaultChannel], token)).length : 0,
          })),
        );
        const observed = {
          status: row?.status,
          attempts: row?.attempts,
          faults: Object.fromEntries(faults),
          delivered: (await received(HEALTHY[spec.channel], token)).length,
          fallbacks,
        };
        // Sent exactly once on its channel, or failed over to a fallback that is sent or waits in the outbox.
        const settled =
          (observed.status === "sent" && observed.delivered === 1 && fallbacks.length === 0) ||
          (["failed", "dead"].includes(observed.status ?? "") &&
            fallbacks.length === 1 &&
            ["sent", "outbox"].includes(fallbacks[0]?.status ?? ""));
        expect(settled, `${label}: ${JSON.stringify(observed)}`).toBe(true);
        // And exactly as its faults say: every attempt counted once and seen by the sink it went to.
        expect(observed, label).toEqual({
          status: spec.expected,
          attempts: seen.length,
          faults: Object.fromEntries(FAULTS.map((f) => [f, seen.filter((s) => s === f).length])),
          delivered: spec.expected === "sent" ? 1 : 0,
          fallbacks: spec.fallback
            ? [{ channel: spec.fallback[0], status: spec.fallback[1], requests: spec.fallback[1] === "sent" ? 1 : 0 }]
            : [],
        });
      }

      // Redelivery of every message, on both queues, and of every fallback: nothing goes out again.
      const before = await snapshot();
      const ids = jobs.map(({ job }) => job.alertId);
      const rowCount = () =>
        env.DB.prepare(
          `SELECT COUNT(*) AS n FROM notification_deliveries WHERE alert_id IN (${ids.map(() => "?").join(", ")})`,
        )
          .bind(...ids)
          .first("n");
      const rowsBefore = await rowCount();
      const fallbackJobs = await Promise.all(
        jobs
          .filter(({ spec }) => spec.fallback)
          .map(async ({ spec, job }) => {
            const row = await rowOf(`${job.idempotencyKey}|fallback:${spec.fallback?.[0]}`);
            return JSON.parse(row?.payload ?? "{}") as NotificationJob;
          }),
      );
      for (const job of [...jobs.map((j) => j.job), ...fallbackJobs]) {
        expect((await consume(job)).explicitAcks).toEqual(["m1"]);
        expect((await consume(job, "notifications-dlq")).explicitAcks).toEqual(["m1"]);
      }
      // Time for anything wrongly enqueued to reach the real consumer and its provider.
      await new Promise((r) => setTimeout(r, 500));
      expect(await snapshot()).toEqual(before);
      expect(await rowCount()).toBe(rowsBefore);
    },
  );
});

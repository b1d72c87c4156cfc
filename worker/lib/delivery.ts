/**
 * Delivery of one notification job through its channel: the channel module and its config
 * from the environment, the request sent (webhooks signed), and the provider's answer
 * classified. The decisions (rendering, outcomes, redaction) stay in core/notify.
 */
import { EmailMessage } from "cloudflare:email";
import type { NotificationJob } from "../core/alerts/jobs";
import { redact } from "../core/notify/classify";
import {
  classifyBindingError,
  type EmailBindingConfig,
  POSTMARK_BASE,
  postmark,
  RESEND_BASE,
  renderRawEmail,
  resend,
} from "../core/notify/email";
import { PAGERDUTY_BASE, pagerDuty } from "../core/notify/pagerduty";
import type { Preferences } from "../core/notify/recipients";
import { type ChannelName, isChannel } from "../core/notify/channels";
import { SLACK_BASE, slackBot, slackWebhook } from "../core/notify/slack";
import { TWILIO_BASE, twilio } from "../core/notify/sms";
import {
  type Channel,
  type Classification,
  type OutboundRequest,
  type Recipient,
  RenderError,
} from "../core/notify/types";
import {
  SIGNATURE_HEADER,
  type SignableRequest,
  signatureHeader,
  type WebhookConfig,
  webhook,
} from "../core/notify/webhook";
import { hmacSha256Hex } from "./secrets";

/** A channel ready to send: an HTTP channel module with its config, or the send_email binding. */
export type ConfiguredChannel =
  | { kind: "http"; channel: Channel<unknown>; config: unknown }
  | { kind: "send_email"; binding: SendEmail; config: EmailBindingConfig };

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * The provider timeout: NOTIFY_TIMEOUT_MS when it is a positive number, else 10 s. A
 * request that times out may still have arrived (a slow success): it counts as a try and is
 * retried on the backoff schedule (5 s at the soonest, by then 15 s after it was sent) under
 * the same idempotency key, which the receivers that can dedup by it do: a webhook receiver
 * by X-EdgeMonitor-Delivery, PagerDuty by dedup_key (the alert's), Resend by Idempotency-Key.
 * Twilio, Postmark and Slack take no key, so there a slow success can arrive twice; waiting
 * longer would hold every page that long, and not retrying would lose the page when the
 * request did not arrive.
 */
export function timeoutMs(env: Env): number {
  const ms = Number(env.NOTIFY_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
}

const http = <C>(channel: Channel<C>, config: C): ConfiguredChannel => ({
  kind: "http",
  channel: channel as Channel<unknown>,
  config,
});

const DEFAULT_FROM = "Edge Monitor <alerts@example.com>";

/**
 * The channel's module and config from the environment's secrets; null when it is not set
 * up. `shared`: the job is for a team channel rather than one admin, which on Slack is
 * SLACK_CHANNEL through the bot token, else the incoming webhook.
 */
export function channelFor(env: Env, channelName: string, shared = false): ConfiguredChannel | null {
  return isChannel(channelName) ? CONFIGURE[channelName](env, shared) : null;
}

/** Each registered channel's provider set up from the environment: a channel left out is a type error. */
const CONFIGURE: { readonly [N in ChannelName]: (env: Env, shared: boolean) => ConfiguredChannel | null } = {
  slack(env, shared) {
    if (shared && env.SLACK_BOT_TOKEN && env.SLACK_CHANNEL) {
      return http(slackBot, {
        baseUrl: env.SLACK_API_BASE_URL ?? SLACK_BASE,
        botToken: env.SLACK_BOT_TOKEN,
        channel: env.SLACK_CHANNEL,
      });
    }
    if (env.SLACK_BOT_TOKEN && !shared) {
      return http(slackBot, { baseUrl: env.SLACK_API_BASE_URL ?? SLACK_BASE, botToken: env.SLACK_BOT_TOKEN });
    }
    return env.SLACK_WEBHOOK_URL ? http(slackWebhook, { webhookUrl: env.SLACK_WEBHOOK_URL }) : null;
  },
  sms: (env) =>
    env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM_NUMBER
      ? http(twilio, {
          baseUrl: env.TWILIO_API_BASE_URL ?? TWILIO_BASE,
          accountSid: env.TWILIO_ACCOUNT_SID,
          authToken: env.TWILIO_AUTH_TOKEN,
          from: env.TWILIO_FROM_NUMBER,
        })
      : null,
  email(env) {
    if (env.RESEND_API_KEY) {
      return http(resend, {
        baseUrl: env.RESEND_API_BASE_URL ?? RESEND_BASE,
        apiKey: env.RESEND_API_KEY,
        from: env.EMAIL_FROM ?? DEFAULT_FROM,
      });
    }
    if (env.POSTMARK_SERVER_TOKEN) {
      return http(postmark, {
        baseUrl: env.POSTMARK_API_BASE_URL ?? POSTMARK_BASE,
        serverToken: env.POSTMARK_SERVER_TOKEN,
        from: env.EMAIL_FROM ?? DEFAULT_FROM,
      });
    }
    // The binding is always declared; without a sender of its own choosing it stays unused.
    return env.EMAIL && env.EMAIL_FROM
      ? { kind: "send_email", binding: env.EMAIL, config: { from: env.EMAIL_FROM } }
      : null;
  },
  pagerduty: (env) =>
    env.PAGERDUTY_ROUTING_KEY
      ? http(pagerDuty, {
          baseUrl: env.PAGERDUTY_API_BASE_URL ?? PAGERDUTY_BASE,
          routingKey: env.PAGERDUTY_ROUTING_KEY,
        })
      : null,
  webhook: (env) =>
    env.WEBHOOK_URL
      ? http(webhook, {
          url: env.WEBHOOK_URL,
          secret: env.WEBHOOK_SECRET ?? "",
          format: env.WEBHOOK_FORMAT === "alertmanager" ? "alertmanager" : "native",
        })
      : null,
};

/** The recipient of a personal channel: the loaded admin, with the address chosen for the channel. */
export function recipientFor(
  adminId: number,
  loaded: { name: string; email: string; prefs: Preferences | null },
  channel: string,
  address: string,
): Recipient {
  const prefs = loaded.prefs;
  return {
    adminId,
    name: loaded.name,
    email: channel === "email" ? address : (prefs?.email ?? loaded.email),
    phone: prefs?.phone ?? null,
    slackMemberId: prefs?.slackMemberId ?? null,
  };
}

/** The admin and their stored preferences (null when none are saved); null when the admin is gone. */
export async function loadRecipient(
  db: D1Database,
  adminId: number,
): Promise<{ name: string; email: string; prefs: Preferences | null } | null> {
  const row = await db
    .prepare(
      `SELECT a.name, a.email AS account_email, p.admin_id AS has_prefs, p.email, p.phone, p.slack_member_id,
              p.email_enabled, p.sms_enabled, p.slack_enabled, p.severities, p.quiet_hours_start,
              p.quiet_hours_end, p.timezone, p.critical_bypasses_quiet_hours
       FROM admin_users a LEFT JOIN admin_notification_preferences p ON p.admin_id = a.id
       WHERE a.id = ?`,
    )
    .bind(adminId)
    .first<{
      name: string;
      account_email: string;
      has_prefs: number | null;
      email: string | null;
      phone: string | null;
      slack_member_id: string | null;
      email_enabled: number;
      sms_enabled: number;
      slack_enabled: number;
      severities: string;
      quiet_hours_start: string | null;
      quiet_hours_end: string | null;
      timezone: string;
      critical_bypasses_quiet_hours: number;
    }>();
  if (!row) return null;
  const prefs: Preferences | null =
    row.has_prefs === null
      ? null
      : {
          adminId,
          email: row.email,
          phone: row.phone,
          slackMemberId: row.slack_member_id,
          emailEnabled: row.email_enabled === 1,
          smsEnabled: row.sms_enabled === 1,
          slackEnabled: row.slack_enabled === 1,
          severities: JSON.parse(row.severities) as string[],
          quietHours:
            row.quiet_hours_start && row.quiet_hours_end
              ? { start: row.quiet_hours_start, end: row.quiet_hours_end }
              : null,
          timezone: row.timezone,
          criticalBypassesQuietHours: row.critical_bypasses_quiet_hours === 1,
        };
  return { name: row.name, email: row.account_email, prefs };
}

export type SendResult = Classification & { status?: number };

/** One request and its classified answer; a network failure or timeout is retryable, its text redacted. */
async function exchange(
  request: OutboundRequest,
  classify: (status: number, headers: Record<string, string>, body: string) => Classification,
  secrets: string[],
  limitMs: number,
): Promise<SendResult> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${limitMs / 1000} s`)), limitMs);
  try {
    const res = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: abort.signal,
    });
    const body = await res.text();
    const answer: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      answer[name] = value;
    });
    return { ...classify(res.status, answer, body), status: res.status };
  } catch (err) {
    const reason = redact(`network error: ${err instanceof Error ? err.message : String(err)}`, secrets);
    return { outcome: "retryable", retryAfterSeconds: null, reason };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends the job to `to` on the configured channel and classifies the answer. A recipient
 * without the channel's address is permanent; a network failure or the timeout is
 * retryable, its reason redacted of the channel's secrets.
 */
export async function send(
  configured: ConfiguredChannel,
  job: NotificationJob,
  to: Recipient,
  now: number,
  limitMs: number,
): Promise<SendResult> {
  if (configured.kind === "send_email") return sendEmail(configured, job, to, now);
  const { channel, config } = configured;
  let request: OutboundRequest;
  try {
    request = channel.render(job, to, config, now);
  } catch (err) {
    if (err instanceof RenderError) return { outcome: "permanent", reason: err.message };
    throw err;
  }
  if ("toSign" in request) {
    const { toSign, ...rest } = request as SignableRequest;
    const secret = (config as WebhookConfig).secret;
    // Without WEBHOOK_SECRET the request goes unsigned (an HMAC key cannot be empty): a page
    // is not lost for want of a signature; receivers that verify refuse it and say so.
    request = secret
      ? {
          ...rest,
          headers: { ...rest.headers, [SIGNATURE_HEADER]: signatureHeader(await hmacSha256Hex(secret, toSign)) },
        }
      : rest;
  }
  const secrets = channel.secrets(config);
  return exchange(
    request,
    (status, headers, body) => channel.classify(status, headers, body, config, now),
    secrets,
    limitMs,
  );
}

/** Through the send_email binding: the raw MIME message; its Message-ID is the providerId. */
async function sendEmail(
  configured: Extract<ConfiguredChannel, { kind: "send_email" }>,
  job: NotificationJob,
  to: Recipient,
  now: number,
): Promise<SendResult> {
  let email;
  try {
    email = renderRawEmail(job, to, configured.config, now);
  } catch (err) {
    if (err instanceof RenderError) return { outcome: "permanent", reason: err.message };
    throw err;
  }
  try {
    await configured.binding.send(new EmailMessage(email.from, email.to, email.raw));
    return { outcome: "delivered", providerId: email.messageId };
  } catch (err) {
    return classifyBindingError(err instanceof Error ? err.message : String(err), []);
  }
}

/** True when the channel can rewrite messages it sent (its module's `update`: Slack through the bot token). */
export const updatesInPlace = (configured: ConfiguredChannel) =>
  configured.kind === "http" && configured.channel.update !== undefined;

/**
 * Rewrites the messages sent earlier for this alert (their provider ids; Slack's
 * `<channel>/<ts>`, rewritten with chat.update) to show the job's state. Ids the channel
 * cannot update are passed over. Delivered when every update was; the first failure
 * otherwise.
 */
export async function updateMessages(
  configured: ConfiguredChannel,
  job: NotificationJob,
  messageIds: string[],
  now: number,
  limitMs: number,
): Promise<SendResult> {
  if (configured.kind !== "http" || !configured.channel.update) {
    return { outcome: "permanent", reason: "this channel cannot update messages" };
  }
  const { channel, config } = configured;
  let failed: SendResult | null = null;
  let last: SendResult = { outcome: "delivered" };
  for (const id of messageIds) {
    const request = channel.update?.(job, id, config);
    if (!request) continue;
    const answer = await exchange(
      request,
      (status, headers, body) => channel.classify(status, headers, body, config, now),
      channel.secrets(config),
      limitMs,
    );
    if (answer.outcome === "delivered") last = answer;
    else failed ??= answer;
  }
  return failed ?? last;
}

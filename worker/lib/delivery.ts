/**
 * Delivery of one notification job through its channel: the channel module and its config
 * from the environment, the request sent (webhooks signed), and the provider's answer
 * classified. The decisions (rendering, outcomes, redaction) stay in core/notify.
 */
import type { NotificationJob } from "../core/alerts/jobs";
import { redact } from "../core/notify/classify";
import { RESEND_BASE, resend } from "../core/notify/email";
import { PAGERDUTY_BASE, pagerDuty } from "../core/notify/pagerduty";
import type { Preferences } from "../core/notify/recipients";
import { SLACK_BASE, slackBot, slackWebhook } from "../core/notify/slack";
import { TWILIO_BASE, twilio } from "../core/notify/sms";
import { type Channel, type Classification, type Recipient, RenderError } from "../core/notify/types";
import { SIGNATURE_HEADER, type SignableRequest, signatureHeader, webhook } from "../core/notify/webhook";
import { hmacSha256Hex } from "./secrets";

/** A channel module with its config, typed loosely so the caller need not know which. */
export interface ConfiguredChannel {
  channel: Channel<unknown>;
  config: unknown;
}

const TIMEOUT_MS = 10_000;

const configured = <C>(channel: Channel<C>, config: C): ConfiguredChannel => ({
  channel: channel as Channel<unknown>,
  config,
});

/** The channel's module and config from the environment's secrets; null when it is not set up. */
export function channelFor(env: Env, channelName: string): ConfiguredChannel | null {
  switch (channelName) {
    case "slack":
      if (env.SLACK_BOT_TOKEN) {
        return configured(slackBot, { baseUrl: env.SLACK_API_BASE_URL ?? SLACK_BASE, botToken: env.SLACK_BOT_TOKEN });
      }
      return env.SLACK_WEBHOOK_URL ? configured(slackWebhook, { webhookUrl: env.SLACK_WEBHOOK_URL }) : null;
    case "sms":
      return env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM_NUMBER
        ? configured(twilio, {
            baseUrl: env.TWILIO_API_BASE_URL ?? TWILIO_BASE,
            accountSid: env.TWILIO_ACCOUNT_SID,
            authToken: env.TWILIO_AUTH_TOKEN,
            from: env.TWILIO_FROM_NUMBER,
          })
        : null;
    case "email":
      return env.RESEND_API_KEY
        ? configured(resend, {
            baseUrl: env.RESEND_API_BASE_URL ?? RESEND_BASE,
            apiKey: env.RESEND_API_KEY,
            from: env.EMAIL_FROM ?? "Edge Monitor <alerts@example.com>",
          })
        : null;
    case "pagerduty":
      return env.PAGERDUTY_ROUTING_KEY
        ? configured(pagerDuty, {
            baseUrl: env.PAGERDUTY_API_BASE_URL ?? PAGERDUTY_BASE,
            routingKey: env.PAGERDUTY_ROUTING_KEY,
          })
        : null;
    case "webhook":
      return env.WEBHOOK_URL
        ? configured(webhook, { url: env.WEBHOOK_URL, secret: env.WEBHOOK_SECRET ?? "", format: "native" })
        : null;
    default:
      return null;
  }
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

/**
 * Sends the job to `to` on the configured channel and classifies the answer. A recipient
 * without the channel's address is permanent; a network failure or the 10 s timeout is
 * retryable, its reason redacted of the channel's secrets.
 */
export async function send(
  configuredChannel: ConfiguredChannel,
  job: NotificationJob,
  to: Recipient,
  now: number,
): Promise<Classification & { status?: number }> {
  const { channel, config } = configuredChannel;
  let request;
  try {
    request = channel.render(job, to, config, now);
  } catch (err) {
    if (err instanceof RenderError) return { outcome: "permanent", reason: err.message };
    throw err;
  }
  const headers = { ...request.headers };
  if ("toSign" in request) {
    const { toSign } = request as SignableRequest;
    headers[SIGNATURE_HEADER] = signatureHeader(await hmacSha256Hex((config as { secret: string }).secret, toSign));
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
  try {
    const res = await fetch(request.url, { method: request.method, headers, body: request.body, signal: abort.signal });
    const body = await res.text();
    const answer: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      answer[name] = value;
    });
    return {
      ...channel.classify(res.status, answer, body, config, now),
      status: res.status,
    };
  } catch (err) {
    const reason = redact(
      `network error: ${err instanceof Error ? err.message : String(err)}`,
      channel.secrets(config),
    );
    return { outcome: "retryable", retryAfterSeconds: null, reason };
  } finally {
    clearTimeout(timer);
  }
}

const FALLBACK = "|fallback:";

/**
 * The job on the next channel, or null when none is left. Its idempotency key is the
 * job's with `|fallback:<channel>` appended, so the key itself records every channel tried
 * so far and a fallback of a fallback passes over them all.
 */
export function fallbackJob(job: NotificationJob, next: (failed: string[]) => string | null): NotificationJob | null {
  const [base = "", ...fallbacks] = job.idempotencyKey.split(FALLBACK);
  const original = base.slice(base.lastIndexOf("|") + 1);
  const channel = next([...new Set([original, ...fallbacks, job.channel])]);
  return channel === null ? null : { ...job, channel, idempotencyKey: `${job.idempotencyKey}${FALLBACK}${channel}` };
}

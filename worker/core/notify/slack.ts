/**
 * Slack: an incoming webhook, or chat.postMessage to a team channel or the admin's member id (a DM), as
 * Block Kit with Acknowledge / Resolve / Silence 1 h buttons; chat.update rewrites a
 * posted message once the alert is acknowledged or resolved.
 */
import type { NotificationJob } from "../alerts/jobs";
import { toIso } from "../time";
import { classifyHttp, parseJson, redact, retryAfterSeconds } from "./classify";
import * as escape from "./escape";
import { oneLine, serviceDetail, title, valueText } from "./text";
import { type Channel, type Classification, type OutboundRequest, RenderError } from "./types";

export const SLACK_BASE = "https://slack.com";

/** The button action ids the interactivity handler reads; each button's value is the alert id. */
export const SLACK_ACTIONS = { ack: "ack", resolve: "resolve", silence: "silence_1h" } as const;

/**
 * Escaped text cut to `max` characters (a section holds 3,000) without leaving half an
 * entity ("&am") at the end.
 */
const clip = (text: string, max: number) =>
  text.length <= max ? text : text.slice(0, max - 1).replace(/&[a-z]*$/, "") + "…";

/** A mrkdwn object for user text: escaped, verbatim, at most one section's 3,000 characters. */
const userText = (text: string) => escape.slackMrkdwn(clip(escape.slack(text), 3000));

type Block = Record<string, unknown>;

function button(text: string, actionId: string, value: string, style?: "primary" | "danger"): Block {
  return {
    type: "button",
    text: { type: "plain_text", text },
    action_id: actionId,
    value,
    ...(style ? { style } : {}),
  };
}

/** Header, message, fields, a state line once acknowledged or resolved, and the buttons when `buttons`. */
export function slackBlocks(job: NotificationJob, buttons: boolean): Block[] {
  if (job.notice) {
    return [
      { type: "header", text: { type: "plain_text", text: escape.slackPlain(job.notice.title).slice(0, 150) } },
      // The lines name rules and services: user text throughout.
      { type: "section", text: userText(job.notice.lines.join("\n")) },
    ];
  }
  const a = job.alert;
  const blocks: Block[] = [
    // Header text is plain and limited to 150 characters.
    // plain_text is never parsed for mentions or links.
    { type: "header", text: { type: "plain_text", text: escape.slackPlain(title(job)).slice(0, 150) } },
    { type: "section", text: userText(a.message) },
    {
      type: "section",
      fields: [
        ["Severity", a.severity],
        ["Service", serviceDetail(a)],
        ["Value", valueText(a.value)],
        ["Since", toIso(a.triggeredAt) ?? ""],
        // The label is the product's (bold); the value may be the sender's, escaped.
      ].map(([k, v]) => escape.slackMrkdwn(`*${k}*\n${clip(escape.slack(v ?? ""), 1900)}`)),
    },
  ];
  const state: string[] = [];
  if (a.acknowledgedAt !== null) {
    state.push(`Acknowledged${a.acknowledgedBy ? ` by ${a.acknowledgedBy}` : ""} at ${toIso(a.acknowledgedAt)}`);
  }
  if (a.resolvedAt !== null) state.push(`Resolved at ${toIso(a.resolvedAt)}`);
  if (state.length) blocks.push({ type: "context", elements: [userText(state.join(" · "))] });
  if (buttons) {
    const id = String(a.id);
    const acked = job.event === "acknowledged" || a.acknowledgedAt !== null;
    blocks.push({
      type: "actions",
      block_id: `alert:${id}`,
      elements: [
        ...(acked ? [] : [button("Acknowledge", SLACK_ACTIONS.ack, id, "primary")]),
        button("Resolve", SLACK_ACTIONS.resolve, id),
        button("Silence 1 h", SLACK_ACTIONS.silence, id),
      ],
    });
  }
  return blocks;
}

/**
 * The notification fallback text (shown in push notifications and by clients without
 * blocks): Slack parses it as mrkdwn, so every part is escaped like block text.
 */
const fallback = (job: NotificationJob) =>
  clip(
    job.notice
      ? escape.slack(oneLine(job.notice.title))
      : `${escape.slack(oneLine(title(job)))}: ${escape.slack(oneLine(job.alert.message))}`,
    3000,
  );

/** Buttons while the alert still needs handling; a resolved alert has nothing left to press. */
const wantsButtons = (job: NotificationJob) =>
  !job.notice && job.event !== "resolved" && job.alert.status !== "resolved";

/** The message for a job: its fallback text and its blocks, buttons while the alert is open. */
export const slackMessage = (job: NotificationJob) => ({
  text: fallback(job),
  blocks: slackBlocks(job, wantsButtons(job)),
});

/**
 * Slack's Web API answers 200 with `{ok: false, error}` for most failures: `ratelimited`
 * and Slack-side errors are retryable, the rest permanent. HTTP-level failures (incoming
 * webhooks answer 4xx with a text body) go through the shared table.
 */
const RETRYABLE_ERRORS = new Set([
  "ratelimited",
  "rate_limited",
  "internal_error",
  "fatal_error",
  "service_unavailable",
  "request_timeout",
]);

function classifySlack(
  status: number,
  headers: Record<string, string>,
  body: string,
  secrets: readonly string[],
  now: number,
  api: boolean,
): Classification {
  if (status < 200 || status >= 300) return classifyHttp(status, headers, body, secrets, now);
  // Incoming webhooks answer a plain "ok".
  if (!api) return { outcome: "delivered" };
  const json = parseJson(body) as { ok?: unknown; error?: unknown; ts?: unknown; channel?: unknown } | undefined;
  if (typeof json !== "object" || json === null || typeof json.ok !== "boolean") {
    return { outcome: "retryable", retryAfterSeconds: null, reason: `HTTP ${status}: unreadable Slack answer` };
  }
  if (json.ok) {
    // `<channel>/<ts>` names the message for chat.update (a DM's channel id is not the member id).
    return typeof json.ts === "string"
      ? { outcome: "delivered", providerId: typeof json.channel === "string" ? `${json.channel}/${json.ts}` : json.ts }
      : { outcome: "delivered" };
  }
  const error = redact(typeof json.error === "string" ? json.error : "unknown_error", secrets);
  const reason = `Slack error: ${error}`;
  if (RETRYABLE_ERRORS.has(error)) {
    const wait = error === "ratelimited" || error === "rate_limited" ? retryAfterSeconds(headers, now) : null;
    return { outcome: "retryable", retryAfterSeconds: wait, reason };
  }
  return { outcome: "permanent", reason };
}

export interface SlackWebhookConfig {
  /** The incoming webhook URL: itself a secret. */
  webhookUrl: string;
}

export const slackWebhook: Channel<SlackWebhookConfig> = {
  name: "slack",
  render(job, _to, config) {
    return {
      url: config.webhookUrl,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(slackMessage(job)),
    };
  },
  classify: (status, headers, body, config, now) =>
    classifySlack(status, headers, body, slackWebhook.secrets(config), now, false),
  // The URL's path (T…/B…/token) and its last segment are what make it secret, wherever they show.
  secrets: (config) => [
    config.webhookUrl,
    config.webhookUrl.replace(/^.*?\/services\//, ""),
    config.webhookUrl.replace(/\/+$/, "").split("/").pop() ?? "",
  ],
};

export interface SlackBotConfig {
  baseUrl: string;
  botToken: string;
  /** The team channel (SLACK_CHANNEL) a shared job is posted to; absent for DMs. */
  channel?: string;
}

const apiRequest = (config: SlackBotConfig, method: string, payload: unknown): OutboundRequest => ({
  url: `${config.baseUrl}/api/${method}`,
  method: "POST",
  headers: { authorization: `Bearer ${config.botToken}`, "content-type": "application/json; charset=utf-8" },
  body: JSON.stringify(payload),
});

/**
 * chat.postMessage to the config's team channel, else to the recipient's member id (a DM);
 * the answer's `<channel>/<ts>` is the providerId, kept for chat.update, which makes it
 * the one channel that updates its messages in place.
 */
export const slackBot: Channel<SlackBotConfig> = {
  name: "slack",
  render(job, to, config) {
    const channel = config.channel || to.slackMemberId;
    if (!channel) throw new RenderError(`admin ${to.adminId} has no Slack member id`);
    return apiRequest(config, "chat.postMessage", {
      channel,
      ...slackMessage(job),
    });
  },
  classify: (status, headers, body, config, now) =>
    classifySlack(status, headers, body, slackBot.secrets(config), now, true),
  secrets: (config) => [config.botToken],
  update(job, providerId, config) {
    const ref = messageRef(providerId);
    return ref ? renderUpdate(job, config, ref.channel, ref.ts) : null;
  },
};

/** A posted message's `<channel>/<ts>` (slackBot's providerId) read back; null when it is not one. */
export function messageRef(providerId: string | null | undefined): { channel: string; ts: string } | null {
  const m = /^([A-Z0-9]+)\/(\d+\.\d+)$/.exec(providerId ?? "");
  return m?.[1] && m[2] ? { channel: m[1], ts: m[2] } : null;
}

/**
 * chat.update of a message posted earlier (`channel` and `ts` from chat.postMessage's
 * answer): the alert as it now stands, acknowledged or resolved. Buttons stay while the
 * alert is open (Resolve and Silence after an acknowledgement). Classify its answer with
 * `slackBot.classify`.
 */
export function renderUpdate(
  job: NotificationJob,
  config: SlackBotConfig,
  channel: string,
  ts: string,
): OutboundRequest {
  return apiRequest(config, "chat.update", {
    channel,
    ts,
    ...slackMessage(job),
  });
}

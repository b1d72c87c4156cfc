/**
 * Notification jobs: what the alert engine puts on the notifications queue. One job per
 * (alert, event, escalation step, recipient, channel); that tuple is its idempotency key,
 * so a redelivered or re-sent job is recorded and delivered once.
 */
import { channelSpec, isSharedChannel } from "../notify/channels";

export const NOTIFY_EVENTS = ["firing", "reminder", "escalation", "acknowledged", "resolved"] as const;
/** The events of an alert's life that notify. */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
/**
 * Jobs that are notices rather than one alert's event: the quiet-hours digest and the
 * test an admin sends to check their channels.
 */
export const NOTICE_EVENTS = ["digest", "test"] as const;
export type JobEvent = NotifyEvent | (typeof NOTICE_EVENTS)[number];
const JOB_EVENTS: readonly string[] = [...NOTIFY_EVENTS, ...NOTICE_EVENTS];

/**
 * Recipient id of a job on a shared channel (webhook, PagerDuty; see the registry's
 * audiences in core/notify/channels): those reach a team's endpoint, not a person, so a
 * notification makes one job there, not one per admin.
 */
export const SHARED_RECIPIENT = 0;

/** The alert as the notification shows it, frozen when the job is made. */
export interface AlertSnapshot {
  id: number;
  ruleId: number;
  ruleName: string;
  service: string | null;
  /** The service's display name (dashboard settings), filled in as the job is sent; absent: none set. */
  serviceName?: string;
  labels: Record<string, string>;
  severity: string;
  status: "firing" | "acknowledged" | "resolved";
  value: number | null;
  peakValue: number | null;
  message: string;
  observedAt: number;
  triggeredAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
}

/** What a notice says in place of an alert: a title and its lines. */
export interface Notice {
  title: string;
  lines: string[];
  /**
   * What the notice is about across its updates (a rule's storm group), for receivers that
   * deduplicate: PagerDuty's dedup key, so a grouped resolve closes the grouped trigger's incident.
   */
  key?: string;
}

export interface NotificationJob {
  idempotencyKey: string;
  /** The alert; 0 for a notice that is not about one alert. */
  alertId: number;
  event: JobEvent;
  /** Which occurrence of the event: "firing", "step:1:r0", "reminder:3", "resolved:<time>", … */
  occurrence: string;
  /** The escalation step (0 for the first notification and events outside escalation). */
  step: number;
  /** The admin, or SHARED_RECIPIENT on a shared channel. */
  recipient: { adminId: number };
  channel: string;
  /** For a notice: the alert whose severity it carries (a digest's most severe), shown by no channel. */
  alert: AlertSnapshot;
  /** Set on notices: the channels show this instead of the alert. */
  notice?: Notice;
  /**
   * On a shared channel's job: the admins the notification was for (the on-call ones),
   * who are paged on their personal channels should the job be given up.
   */
  onCall?: number[];
  enqueuedAt: number;
}

/** The job's idempotency key: alert, event occurrence, step, recipient and channel. */
export function idempotencyKey(
  alertId: number,
  occurrence: string,
  step: number,
  adminId: number,
  channel: string,
): string {
  return `alert:${alertId}|${occurrence}|step:${step}|admin:${adminId}|${channel}`;
}

/**
 * Where a rule's `slack` goes. `shared`: one job per alert event to a team channel (recipient
 * SHARED_RECIPIENT, like the webhook), planned when a channel is configured: with the bot
 * token, SLACK_CHANNEL (posted by the bot, so acknowledging or resolving rewrites it); without
 * it, SLACK_WEBHOOK_URL (an incoming webhook into a channel). `direct`: one job per admin, a
 * DM to their member id, planned with the bot token, and also when no channel is configured
 * (as before: the admins' preferences decide). An incoming webhook alone cannot DM, so there
 * the channel job replaces the per-admin ones, which would each post to that same channel.
 */
export interface SlackRouting {
  shared: boolean;
  direct: boolean;
}

export function slackRouting(configured: { botToken: boolean; channel: boolean; webhook: boolean }): SlackRouting {
  const shared = configured.botToken ? configured.channel : configured.webhook;
  return { shared, direct: configured.botToken || !shared };
}

/** Slack as it was before a team channel could be configured: per-admin DMs only. */
export const SLACK_DIRECT_ONLY: SlackRouting = { shared: false, direct: true };

/** A channel of audience "either" (Slack): its jobs go where the SlackRouting sends them. */
const either = (channel: string) => channelSpec(channel)?.audience === "either";

/**
 * One job per recipient and personal channel, and one per shared channel (webhook,
 * PagerDuty, and Slack when `slack.shared`) whoever the recipients are; duplicates removed,
 * in a stable order. A shared job carries the recipients as `onCall`, for its fallback (see
 * sharedFallbackJobs). Slack's per-admin jobs are left out unless `slack.direct`.
 */
export function planJobs(input: {
  alert: AlertSnapshot;
  event: NotifyEvent;
  occurrence: string;
  step: number;
  adminIds: readonly number[];
  channels: readonly string[];
  /** Where `slack` goes; per-admin DMs only when absent. */
  slack?: SlackRouting;
  now: number;
}): NotificationJob[] {
  const slack = input.slack ?? SLACK_DIRECT_ONLY;
  const admins = [...new Set(input.adminIds)].sort((a, b) => a - b);
  const channels = [...new Set(input.channels)];
  const personal = channels.filter((c) => !isSharedChannel(c) && (!either(c) || slack.direct));
  const shared = channels.filter((c) => isSharedChannel(c) || (either(c) && slack.shared));
  const pairs: [number, string][] = [
    ...admins.flatMap((adminId) => personal.map((channel): [number, string] => [adminId, channel])),
    ...shared.map((channel): [number, string] => [SHARED_RECIPIENT, channel]),
  ];
  return pairs.map(([adminId, channel]): NotificationJob => ({
    idempotencyKey: idempotencyKey(input.alert.id, input.occurrence, input.step, adminId, channel),
    alertId: input.alert.id,
    event: input.event,
    occurrence: input.occurrence,
    step: input.step,
    recipient: { adminId },
    channel,
    alert: input.alert,
    ...(adminId === SHARED_RECIPIENT ? { onCall: admins } : {}),
    enqueuedAt: input.now,
  }));
}

/** An alert's value, peak and message as its row holds them now. */
export interface CurrentAlertValues {
  value: number | null;
  peakValue: number | null;
  message: string;
  /** The service's display name now, null when none is set. */
  serviceName?: string | null;
}

/**
 * The job with its alert's value, peak and message as they are when it is sent, so a
 * notification never quotes a value the alert has moved past (a job can wait in the queue,
 * in retries or behind a silence). The event, its status fields and the idempotency key
 * stay as enqueued; a value or message the row lacks (null, empty) keeps the snapshot's.
 */
export function withCurrentValues(job: NotificationJob, current: CurrentAlertValues | null): NotificationJob {
  if (!current || job.notice) return job;
  const alert: AlertSnapshot = {
    ...job.alert,
    value: current.value ?? job.alert.value,
    peakValue: current.peakValue ?? job.alert.peakValue,
    message: current.message || job.alert.message,
    ...(current.serviceName && current.serviceName !== job.alert.service && { serviceName: current.serviceName }),
  };
  return { ...job, alert };
}

/** A queue message body read back: the job, or why it is not one. */
export function readJob(body: unknown): { ok: true; job: NotificationJob } | { ok: false; reason: string } {
  if (typeof body !== "object" || body === null) return { ok: false, reason: "not an object" };
  const j = body as Partial<NotificationJob>;
  if (typeof j.idempotencyKey !== "string" || !j.idempotencyKey) return { ok: false, reason: "no idempotencyKey" };
  if (typeof j.alertId !== "number") return { ok: false, reason: "no alertId" };
  if (!JOB_EVENTS.includes(j.event as string)) return { ok: false, reason: `unknown event ${String(j.event)}` };
  if (typeof j.recipient?.adminId !== "number") return { ok: false, reason: "no recipient" };
  if (typeof j.channel !== "string") return { ok: false, reason: "no channel" };
  if (typeof j.enqueuedAt !== "number") return { ok: false, reason: "no enqueuedAt" };
  if (typeof j.alert !== "object" || j.alert === null) return { ok: false, reason: "no alert snapshot" };
  if (j.onCall !== undefined && !(Array.isArray(j.onCall) && j.onCall.every((id) => Number.isInteger(id)))) {
    // An unreadable on-call list must not cost the page: the job goes without it.
    const { onCall: _, ...rest } = j;
    return { ok: true, job: rest as NotificationJob };
  }
  return { ok: true, job: j as NotificationJob };
}

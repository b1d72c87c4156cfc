/**
 * Notification jobs: what the alert engine puts on the notifications queue. One job per
 * (alert, event, escalation step, recipient, channel); that tuple is its idempotency key,
 * so a redelivered or re-sent job is recorded and delivered once.
 */

export const NOTIFY_EVENTS = ["firing", "reminder", "escalation", "acknowledged", "resolved"] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** The alert as the notification shows it, frozen when the job is made. */
export interface AlertSnapshot {
  id: number;
  ruleId: number;
  ruleName: string;
  service: string | null;
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

export interface NotificationJob {
  idempotencyKey: string;
  alertId: number;
  event: NotifyEvent;
  /** Which occurrence of the event: "firing", "step:1:r0", "reminder:3", "resolved:<time>", … */
  occurrence: string;
  /** The escalation step (0 for the first notification and events outside escalation). */
  step: number;
  recipient: { adminId: number };
  channel: string;
  alert: AlertSnapshot;
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

/** One job per recipient and channel, duplicates removed, in a stable order. */
export function planJobs(input: {
  alert: AlertSnapshot;
  event: NotifyEvent;
  occurrence: string;
  step: number;
  adminIds: readonly number[];
  channels: readonly string[];
  now: number;
}): NotificationJob[] {
  const admins = [...new Set(input.adminIds)].sort((a, b) => a - b);
  const channels = [...new Set(input.channels)];
  return admins.flatMap((adminId) =>
    channels.map((channel): NotificationJob => ({
      idempotencyKey: idempotencyKey(input.alert.id, input.occurrence, input.step, adminId, channel),
      alertId: input.alert.id,
      event: input.event,
      occurrence: input.occurrence,
      step: input.step,
      recipient: { adminId },
      channel,
      alert: input.alert,
      enqueuedAt: input.now,
    })),
  );
}

/** A queue message body read back: the job, or why it is not one. */
export function readJob(body: unknown): { ok: true; job: NotificationJob } | { ok: false; reason: string } {
  if (typeof body !== "object" || body === null) return { ok: false, reason: "not an object" };
  const j = body as Partial<NotificationJob>;
  if (typeof j.idempotencyKey !== "string" || !j.idempotencyKey) return { ok: false, reason: "no idempotencyKey" };
  if (typeof j.alertId !== "number") return { ok: false, reason: "no alertId" };
  if (!NOTIFY_EVENTS.includes(j.event as NotifyEvent)) return { ok: false, reason: `unknown event ${String(j.event)}` };
  if (typeof j.recipient?.adminId !== "number") return { ok: false, reason: "no recipient" };
  if (typeof j.channel !== "string") return { ok: false, reason: "no channel" };
  if (typeof j.enqueuedAt !== "number") return { ok: false, reason: "no enqueuedAt" };
  if (typeof j.alert !== "object" || j.alert === null) return { ok: false, reason: "no alert snapshot" };
  return { ok: true, job: j as NotificationJob };
}

/**
 * Per-admin delivery decisions for one notification job: send now, hold for quiet hours
 * or skip; and which channel to fall back to when one fails.
 */
import { NOTIFY_EVENTS, type NotificationJob, SHARED_RECIPIENT } from "../alerts/jobs";
import { FALLBACK_ORDER, isPersonalChannel, isSharedChannel, type PersonalChannel, reachesTeam } from "./channels";
import { quietUntil } from "./quiet-hours";

export interface Preferences {
  adminId: number;
  email: string | null;
  phone: string | null;
  slackMemberId: string | null;
  emailEnabled: boolean;
  smsEnabled: boolean;
  slackEnabled: boolean;
  severities: string[];
  quietHours: { start: string; end: string } | null;
  timezone: string;
  criticalBypassesQuietHours: boolean;
}

export type DeliveryPlan =
  | { action: "send"; channel: string; address: string }
  /** `until`: when the quiet hours end (epoch ms). */
  | { action: "hold"; channel: string; address: string; until: number }
  | { action: "skip"; reason: string };

/**
 * Where each personal channel's address and switch are in the preferences, and what the
 * address is called in a skip reason.
 */
const CONTACT: {
  readonly [C in PersonalChannel]: (prefs: Preferences) => [enabled: boolean, address: string | null, name: string];
} = {
  email: (p) => [p.emailEnabled, p.email, "email address"],
  sms: (p) => [p.smsEnabled, p.phone, "phone number"],
  slack: (p) => [p.slackEnabled, p.slackMemberId, "Slack member id"],
};

/**
 * The admin's address on a personal channel, or why there is none. Without stored
 * preferences only email goes out, to the account's address.
 */
export function contact(
  channel: PersonalChannel,
  prefs: Preferences | null,
  accountEmail: string,
): { address: string } | { reason: string } {
  if (prefs === null) {
    if (channel !== "email") return { reason: `${channel} not set up (no preferences saved)` };
    return accountEmail ? { address: accountEmail } : { reason: "no email address" };
  }
  const [enabled, address, name] = CONTACT[channel](prefs);
  if (!enabled) return { reason: `${channel} disabled` };
  return address ? { address } : { reason: `no ${name}` };
}

/**
 * What to do with one job (its event, alert severity and channel) for one admin. The job's
 * channel is the one its rule or escalation step allowed; a shared channel (webhook,
 * pagerduty) is sent with address "" as the admin's preferences do not apply to it. A
 * personal channel must be enabled and have an address, and the severity must be one the
 * admin chose, except that "acknowledged" and "resolved" of an alert whose firing this admin
 * was sent always go, so nobody is left believing it still fires. Quiet hours hold the job
 * until they end, unless it is critical and the admin lets critical alerts through.
 */
export function planDelivery(input: {
  event: string;
  severity: string;
  channel: string;
  /** Null when none are stored: email to `accountEmail`, all severities, no quiet hours. */
  prefs: Preferences | null;
  accountEmail: string;
  firingWasSent: boolean;
  now: number;
}): DeliveryPlan {
  const { event, severity, channel, prefs } = input;
  if (isSharedChannel(channel)) return { action: "send", channel, address: "" };
  if (!isPersonalChannel(channel)) return { action: "skip", reason: `unknown channel ${channel}` };
  const to = contact(channel, prefs, input.accountEmail);
  if ("reason" in to) return { action: "skip", reason: to.reason };
  if (prefs === null) return { action: "send", channel, address: to.address };
  // The digest was filtered item by item when held, and goes out when the quiet hours end.
  if (event === "digest") return { action: "send", channel, address: to.address };
  const followUp = (event === "acknowledged" || event === "resolved") && input.firingWasSent;
  if (!followUp && !prefs.severities.includes(severity)) {
    return { action: "skip", reason: `severity ${severity} not in the admin's severities` };
  }
  const until = prefs.quietHours === null ? null : quietUntil(prefs.quietHours, prefs.timezone, input.now);
  if (until !== null && !(severity === "critical" && prefs.criticalBypassesQuietHours)) {
    return { action: "hold", channel, address: to.address, until };
  }
  return { action: "send", channel, address: to.address };
}

/**
 * The next personal channel to try for this admin once the channels in `failed` have
 * failed, in the registry's FALLBACK_ORDER: slack → sms → email for critical, slack →
 * email → sms otherwise; disabled or address-less channels are passed over. Null when
 * none is left.
 */
export function fallbackChannel(
  failed: string[],
  severity: string,
  prefs: Preferences | null,
  accountEmail: string,
): string | null {
  const order = severity === "critical" ? FALLBACK_ORDER.critical : FALLBACK_ORDER.other;
  return order.find((c) => !failed.includes(c) && "address" in contact(c, prefs, accountEmail)) ?? null;
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

/** Marks the key of a shared job's fallback to one admin: `…|admin:<id>|shared|fallback:<channel>`. */
const SHARED_FALLBACK = "|shared";

/** The part of a job's key before its recipient: `alert:<id>|<occurrence>|step:<n>`. */
const eventPrefix = (key: string) => {
  const at = key.lastIndexOf("|admin:");
  return at < 0 ? key : key.slice(0, at);
};

/** True for the key of a shared job's fallback to an admin. */
export const isSharedFallbackKey = (key: string) => key.includes(`${SHARED_FALLBACK}${FALLBACK}`);

/** An on-call admin with their stored preferences, as fallback planning reads them. */
export interface OnCallAdmin {
  adminId: number;
  prefs: Preferences | null;
  accountEmail: string;
}

/**
 * A shared channel's job (webhook, PagerDuty, the Slack team channel) given up or failed for good: the same
 * notification to each on-call admin on their first personal channel (fallbackChannel's
 * order, slack → sms → email for critical), as one job per admin. The key is derived from
 * the shared job's event, `<alert|occurrence|step>|admin:<id>|shared|fallback:<channel>`,
 * whichever shared channel failed: a redelivered dead job, or the webhook and PagerDuty
 * both giving up, make the same jobs, which the consumer records once. Should that
 * personal channel fail too, fallbackJob carries it on to the admin's next one.
 *
 * Passed over: admins this event already reached on a personal channel (`sent` holds the
 * keys and admins of the alert's sent personal deliveries). A follow-up (acknowledged,
 * resolved) goes only to admins an earlier shared fallback of the alert reached, so
 * nobody hears of the end of an alert they were never paged for. Notices (digest, test)
 * are personal already and have no fallback here.
 */
export function sharedFallbackJobs(input: SharedFallbackInput): NotificationJob[] {
  return sharedFallback(input).jobs;
}

export interface SharedFallbackInput {
  job: NotificationJob;
  onCall: readonly OnCallAdmin[];
  sent: readonly { key: string; adminId: number }[];
}

/** Key part of the row of an on-call admin a shared fallback could not reach on any channel. */
const UNREACHABLE = "none";

/**
 * sharedFallbackJobs, and the on-call admins it passed over for want of any personal channel,
 * each as a job to record as skipped with the reason (the delivery log then says who was not
 * paged and why). Such a job keeps the shared channel that was given up (no personal one
 * applies) and its key ends in `|shared|fallback:none`, so a redelivery records it once.
 */
export function sharedFallback(input: SharedFallbackInput): {
  jobs: NotificationJob[];
  unreachable: { job: NotificationJob; reason: string }[];
} {
  const { job } = input;
  const none = { jobs: [], unreachable: [] };
  if (job.recipient.adminId !== SHARED_RECIPIENT) return none;
  if (!reachesTeam(job.channel)) return none;
  if (!(NOTIFY_EVENTS as readonly string[]).includes(job.event)) return none;
  const prefix = eventPrefix(job.idempotencyKey);
  const reached = new Set(input.sent.filter((s) => eventPrefix(s.key) === prefix).map((s) => s.adminId));
  const followUp = job.event === "acknowledged" || job.event === "resolved";
  const pagedBefore = new Set(input.sent.filter((s) => isSharedFallbackKey(s.key)).map((s) => s.adminId));
  const seen = new Set<number>();
  const jobs: NotificationJob[] = [];
  const unreachable: { job: NotificationJob; reason: string }[] = [];
  const { onCall: _, ...rest } = job;
  const forAdmin = (adminId: number, channel: string, key: string): NotificationJob => ({
    ...rest,
    recipient: { adminId },
    channel,
    idempotencyKey: `${prefix}|admin:${adminId}${SHARED_FALLBACK}${FALLBACK}${key}`,
  });
  for (const admin of [...input.onCall].sort((a, b) => a.adminId - b.adminId)) {
    if (admin.adminId === SHARED_RECIPIENT || seen.has(admin.adminId)) continue;
    seen.add(admin.adminId);
    if (reached.has(admin.adminId) || (followUp && !pagedBefore.has(admin.adminId))) continue;
    const channel = fallbackChannel([], job.alert.severity, admin.prefs, admin.accountEmail);
    if (channel !== null) {
      jobs.push(forAdmin(admin.adminId, channel, channel));
      continue;
    }
    const order = job.alert.severity === "critical" ? FALLBACK_ORDER.critical : FALLBACK_ORDER.other;
    const why = order.map((c) => {
      const to = contact(c, admin.prefs, admin.accountEmail);
      return "reason" in to ? to.reason : c;
    });
    unreachable.push({
      job: forAdmin(admin.adminId, job.channel, UNREACHABLE),
      reason: `${job.channel} given up; no personal channel to page this admin on (${why.join("; ")})`,
    });
  }
  return { jobs, unreachable };
}

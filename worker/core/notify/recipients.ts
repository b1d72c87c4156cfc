/**
 * Per-admin delivery decisions for one notification job: send now, hold for quiet hours
 * or skip; and which channel to fall back to when one fails.
 */
import { type NotificationJob, SHARED_CHANNELS } from "../alerts/jobs";
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

/** Channels addressed to the admin; the others (webhook, pagerduty) go to a shared endpoint. */
export const PERSONAL_CHANNELS = ["email", "sms", "slack"] as const;
export type PersonalChannel = (typeof PERSONAL_CHANNELS)[number];

const isPersonal = (channel: string): channel is PersonalChannel =>
  (PERSONAL_CHANNELS as readonly string[]).includes(channel);

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
  const [enabled, address, name] =
    channel === "email"
      ? [prefs.emailEnabled, prefs.email, "email address"]
      : channel === "sms"
        ? [prefs.smsEnabled, prefs.phone, "phone number"]
        : [prefs.slackEnabled, prefs.slackMemberId, "Slack member id"];
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
  if (SHARED_CHANNELS.includes(channel)) return { action: "send", channel, address: "" };
  if (!isPersonal(channel)) return { action: "skip", reason: `unknown channel ${channel}` };
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
 * failed: slack → sms → email for critical (the phone wakes people, email may wait
 * unread), slack → email → sms otherwise; disabled or address-less channels are passed
 * over. Null when none is left.
 */
export function fallbackChannel(
  failed: string[],
  severity: string,
  prefs: Preferences | null,
  accountEmail: string,
): string | null {
  const order: readonly PersonalChannel[] =
    severity === "critical" ? ["slack", "sms", "email"] : ["slack", "email", "sms"];
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

/**
 * Noise control for one notifying event of an alert: silences, dependency
 * inhibition and the per-rule hourly limit, in a fixed order of precedence.
 */
import type { HealthStatus } from "../health";

const HOUR = 3_600_000;

/**
 * max_alerts_per_hour per rule: the notifying events sent in the last hour (their times)
 * decide whether another may go. `recent` keeps the times of the last hour (and any
 * after `at`), plus `at` when allowed; store it only if the event is then actually sent.
 */
export function rateLimit(
  sentTimes: readonly number[],
  max: number,
  at: number,
): { allowed: boolean; recent: number[] } {
  const recent = sentTimes.filter((t) => t > at - HOUR);
  const allowed = recent.length < max;
  return { allowed, recent: allowed ? [...recent, at] : recent };
}

/**
 * Dependencies: a rule (or its service) depends on parent services; while any parent is
 * down, the child's notifications are inhibited. Returns the down parents, each once.
 * `own` is the rule's own service: it never inhibits itself, or an outage of a service
 * would hide the alerts about it.
 */
export function inhibitedBy(
  parents: readonly string[],
  health: ReadonlyMap<string, HealthStatus>,
  own: string | null = null,
): string[] {
  return [...new Set(parents)].filter((p) => p !== own && health.get(p) === "down");
}

export type NotifyEvent = "firing" | "reminder" | "escalation" | "resolved" | "acknowledged";

export type NotifyDecision =
  | { action: "send" }
  | { action: "silenced"; silenceIds: number[]; until: number | null }
  | { action: "inhibited"; parents: string[] }
  | { action: "rate_limited"; limit: number }
  /** Nobody was told the alert fired, so its resolve or acknowledgement is news to no one. */
  | { action: "skip"; reason: "firing_not_notified" };

/**
 * The decision for one notifying event, first rule that applies:
 * 1. resolved: sent when the firing was notified (never silenced, inhibited or rate
 *    limited, so nobody is left believing it still fires), else skipped;
 * 2. acknowledged, firing never notified: skipped, likewise;
 * 3. a silence applies: silenced (with its ids and until);
 * 4. a parent service is down: inhibited;
 * 5. firing, reminder or escalation over the hourly limit: rate_limited
 *    (acknowledgements neither count toward the limit nor are stopped by it), except a
 *    firing that `correctsResolved`: people were told the alert (or the one it replaces
 *    after a forced resolve) was over while it still breached, so they must hear it is
 *    back whatever the limit;
 * 6. otherwise send.
 *
 * `firingWasNotified`: the last word people had about the alert is "firing" (see
 * firingNotifiedAfter), so a resolve goes at most once per notified firing.
 */
export function decideNotification(input: {
  event: NotifyEvent;
  firingWasNotified: boolean;
  silence: { ids: number[]; until: number | null };
  inhibitedBy: string[];
  limit: { allowed: boolean; max: number };
  correctsResolved?: boolean;
}): NotifyDecision {
  const { event, firingWasNotified, silence, limit } = input;
  const notNotified: NotifyDecision = { action: "skip", reason: "firing_not_notified" };
  if (event === "resolved") return firingWasNotified ? { action: "send" } : notNotified;
  if (event === "acknowledged" && !firingWasNotified) return notNotified;
  if (silence.ids.length > 0) return { action: "silenced", silenceIds: [...silence.ids], until: silence.until };
  if (input.inhibitedBy.length > 0) return { action: "inhibited", parents: [...input.inhibitedBy] };
  const exempt = event === "acknowledged" || (event === "firing" && input.correctsResolved === true);
  if (!exempt && !limit.allowed) return { action: "rate_limited", limit: limit.max };
  return { action: "send" };
}

/**
 * The alert's "firing was notified" flag once `event` was sent: set by a firing, cleared by
 * a resolve (so a later resolve, after a disable or delete, is not sent a second time unless
 * a firing went out in between); unchanged by anything else.
 */
export function firingNotifiedAfter(event: NotifyEvent, before: boolean): boolean {
  if (event === "firing") return true;
  if (event === "resolved") return false;
  return before;
}

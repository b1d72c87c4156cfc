/**
 * The alert rule's decisions between "a fingerprint's lifecycle moved" and "a row was
 * written, a job enqueued": what each lifecycle event does to the tracked fingerprint and
 * which effects it asks for (open an alert, write its row and timeline, tell the
 * dashboard, notify), whether a notification is sent, grouped, held or dropped, what
 * escalation does when it is due, which held notifications go when, which members a
 * grouped notification may still name, and when the rule must wake next. The AlertRule
 * Durable Object loads its state, calls these, carries out the effects in order and saves.
 */
import type { EscalationPolicy, EscalationProgress } from "./escalation";
import { dueActions } from "./escalation";
import type { NotifyEvent } from "./jobs";
import {
  type FingerprintState,
  initialState,
  type LifecycleConfig,
  type LifecycleEvent,
  nextDeadline,
} from "./lifecycle";
import { decideNotification, firingNotifiedAfter, rateLimit } from "./notify-policy";
import type { Labels } from "../series";
import { type GroupKey, groupKeyOf, joined, parseGroupKey, routeOf, sentAlone, type StormState } from "./storm";

/** Without new samples, the rule re-evaluates this often (absence, stale data, silences ending). */
export const BACKSTOP_MS = 60_000;
/** Rules the families evaluate hear of every change at once; their pull is only a safety net. */
export const SERIES_BACKSTOP_MS = 5 * 60_000;

/** A notification waiting for a silence or an inhibition to end. */
export interface HeldNotification {
  event: NotifyEvent;
  occurrence: string;
  step: number;
  retryAt: number | null;
  /** A firing that corrects a "resolved" people were told: still exempt from the hourly limit when released. */
  correctsResolved?: true;
}

/** One series fingerprint the rule tracks, as the rule keeps it between calls. */
export interface Tracked {
  fingerprint: string;
  service: string;
  labels: Labels;
  state: FingerprintState;
  alertId: number | null;
  escalation: EscalationProgress | null;
  held: HeldNotification[];
  syncedAt: number;
  /** When the current breach went pending (for the timeline once it fires). */
  pendingAt: number | null;
  /** The reason of the latest evaluation with a value while open: the alert's message, beside its metric_value. */
  message: string | null;
  /** The alert row's values as last written by a sync (JSON of RowValues), to know when it is behind. */
  written: string | null;
}

/** A fingerprint the rule starts tracking: nothing pending, no alert. */
export function track(fingerprint: string, service: string, labels: Labels): Tracked {
  return {
    fingerprint,
    service,
    labels,
    state: initialState(),
    alertId: null,
    escalation: null,
    held: [],
    syncedAt: 0,
    pendingAt: null,
    message: null,
    written: null,
  };
}

/** Columns of `alert_history` the engine sets. */
export interface AlertChanges {
  status?: "firing" | "acknowledged" | "resolved";
  metric_value?: number | null;
  peak_value?: number | null;
  breach_count?: number;
  reopen_count?: number;
  flapping?: number;
  firing_notified?: number;
  message?: string;
  acknowledged_at?: number | null;
  acknowledged_by?: number | null;
  resolved_at?: number | null;
  auto_resolved?: number;
  resolution_notes?: string | null;
  escalation_step?: number;
}

/** One entry of an alert's timeline (`alert_events`). */
export interface TimelineEntry {
  type: string;
  at: number;
  actor?: string;
  value?: number | null;
  note?: string | null;
  details?: Record<string, unknown> | null;
}

/** What the rule is asked to carry out, in order, for one fingerprint. */
export type Effect =
  /** Open the fingerprint's alert (a new row, with `timeline`) and remember its id. */
  | {
      type: "open";
      value: number | null;
      observedAt: number;
      triggeredAt: number;
      message: string;
      timeline: TimelineEntry[];
    }
  /** Update the fingerprint's alert row and add timeline entries (nothing without an alert). */
  | { type: "write"; changes: AlertChanges; timeline: TimelineEntry[] }
  /** The active alerts changed: tell the live dashboard. */
  | { type: "announce" }
  /** Decide and carry out one notification (see planNotification). */
  | { type: "notify"; event: NotifyEvent; occurrence: string; step: number; correctsResolved?: boolean };

/** The columns a sync keeps current on an open alert's row. */
export type RowValues = Pick<AlertChanges, "metric_value" | "peak_value" | "breach_count" | "message">;

/** What an open alert's row should say now (null when nothing is open). */
export function rowValues(t: Tracked): RowValues | null {
  const open = t.state.alert;
  if (t.alertId === null || !open || t.state.resolvedAt !== null) return null;
  return {
    metric_value: open.lastValue,
    peak_value: open.peakValue,
    breach_count: open.breaches,
    ...(t.message !== null && { message: t.message }),
  };
}

/** Whether the open alert's row is behind its values. */
export function behind(t: Tracked): boolean {
  const values = rowValues(t);
  return values !== null && JSON.stringify(values) !== t.written;
}

/** The first timeline of an alert a "fired" event in `events` opens, from its pending time (for_seconds). */
function opening(t: Tracked, events: readonly LifecycleEvent[], reason: string | undefined): Effect | null {
  let pendingAt = t.pendingAt;
  for (const e of events) {
    if (e.type === "pending") pendingAt = e.at;
    else if (e.type === "pending_cleared") pendingAt = null;
    else if (e.type === "fired") {
      return {
        type: "open",
        value: e.value,
        observedAt: e.observedAt,
        triggeredAt: e.at,
        message: reason ?? "",
        timeline: [
          ...(pendingAt !== null ? [{ type: "pending", at: pendingAt, value: null }] : []),
          { type: "fired", at: e.at, value: e.value, note: reason ?? null },
        ],
      };
    }
  }
  return null;
}

/** The "open" effect of the first "fired" event in `events`, if any (to open a pass's alerts together). */
export const openingOf = (t: Tracked, events: readonly LifecycleEvent[], reason?: string) =>
  opening(t, events, reason) as Extract<Effect, { type: "open" }> | null;

/**
 * Carries lifecycle events into the tracked fingerprint and the effects they ask for.
 * `t.state` is already the state after the events. `reason`: the evaluation's, the new
 * message of a fired or re-opened alert.
 */
export function stepEvents(
  tracked: Tracked,
  events: readonly LifecycleEvent[],
  reason?: string,
): { tracked: Tracked; effects: Effect[] } {
  const t: Tracked = { ...tracked, held: [...tracked.held] };
  const effects: Effect[] = [];
  const open = tracked.state.alert;
  for (const e of events) {
    switch (e.type) {
      case "pending":
        t.pendingAt = e.at;
        break;
      case "pending_cleared":
        t.pendingAt = null;
        break;
      case "fired": {
        effects.push(opening(t, [e], reason) as Effect);
        t.escalation = { firedAt: e.at, acknowledgedAt: null, resolved: false, done: [] };
        t.held = [];
        t.message = reason ?? "";
        t.pendingAt = null;
        // The new alert's firing notification: always, when it replaces one resolved by force.
        effects.push(
          { type: "announce" },
          {
            type: "notify",
            event: "firing",
            occurrence: "firing",
            step: 0,
            ...(e.afterForcedResolve && { correctsResolved: true }),
          },
        );
        break;
      }
      case "reopened":
        t.escalation = { firedAt: e.at, acknowledgedAt: null, resolved: false, done: [] };
        effects.push(
          {
            type: "write",
            changes: {
              status: "firing",
              resolved_at: null,
              auto_resolved: 0,
              resolution_notes: null,
              acknowledged_at: null,
              acknowledged_by: null,
              reopen_count: open?.reopened ?? 0,
              metric_value: e.value,
              ...(reason !== undefined && { message: reason }),
            },
            timeline: [{ type: "reopened", at: e.at, value: e.value }],
          },
          { type: "announce" },
        );
        // People were told it resolved: tell them it is back.
        if (e.resolveNoticeSent) {
          effects.push({
            type: "notify",
            event: "firing",
            occurrence: `firing@${e.at}`,
            step: 0,
            correctsResolved: true,
          });
        }
        break;
      case "resolved": {
        if (t.escalation) t.escalation = { ...t.escalation, resolved: true };
        // A held firing notification that never went out is dropped; its resolve then is not sent either.
        t.held = t.held.filter((h) => h.event === "resolved");
        const by = e.by ?? (e.auto ? "engine" : "admin");
        effects.push(
          {
            type: "write",
            changes: {
              status: "resolved",
              resolved_at: e.at,
              auto_resolved: e.auto ? 1 : 0,
              resolution_notes: e.note ?? null,
              metric_value: e.value ?? open?.lastValue ?? null,
              ...(t.message !== null && { message: t.message }),
            },
            timeline: [
              {
                type: "resolved",
                at: e.at,
                value: e.value,
                actor: by,
                note: e.note ?? null,
                details: e.forced ? { forced: true } : null,
              },
            ],
          },
          { type: "announce" },
        );
        break;
      }
      case "resolve_notice":
        // One notice per occurrence: keyed by when this occurrence resolved.
        effects.push({
          type: "notify",
          event: "resolved",
          occurrence: `resolved:${t.state.resolvedAt ?? e.at}`,
          step: 0,
        });
        break;
      case "acknowledged": {
        if (t.escalation) t.escalation = { ...t.escalation, acknowledgedAt: e.at };
        const adminId = /^admin:(\d+)$/.exec(e.by)?.[1];
        effects.push(
          {
            type: "write",
            changes: {
              status: "acknowledged",
              acknowledged_at: e.at,
              acknowledged_by: adminId ? Number(adminId) : null,
            },
            timeline: [{ type: "acknowledged", at: e.at, actor: e.by, note: e.note ?? null }],
          },
          { type: "announce" },
          { type: "notify", event: "acknowledged", occurrence: `acknowledged:${e.at}`, step: 0 },
        );
        break;
      }
      case "flapping_started":
      case "flapping_stopped":
        effects.push(
          {
            type: "write",
            changes: { flapping: e.type === "flapping_started" ? 1 : 0 },
            timeline: [{ type: e.type, at: e.at }],
          },
          { type: "announce" },
        );
        break;
    }
  }
  return { tracked: t, effects };
}

/** What to do with one notification (see planNotification). */
export type NotificationPlan =
  /** Plan and enqueue its jobs; `log`: the hourly limit's record afterwards; `firingNotified`: the row's flag after. */
  | {
      action: "send";
      log: number[] | null;
      firingNotified: boolean;
      storm: { key: GroupKey; state: StormState } | null;
    }
  /** Told with the rule's storm group `key` (`storm`: the group's state with it). */
  | { action: "join"; key: GroupKey; storm: StormState }
  /** Nothing to say (a follow-up of an alert nobody was told about). */
  | { action: "skip" }
  /** Not sent: recorded on the timeline (`timeline`, null when a retry still held says nothing new), and held for later (`hold`) or dropped. */
  | { action: "withheld"; timeline: TimelineEntry | null; hold: HeldNotification | null };

/**
 * Decides one notification: grouped when many alerts of the rule notify at once (see
 * storm.groupKeyOf), else the notify policy (silences,
 * dependencies, the hourly limit; a group counts once when it goes, not per member).
 * Silenced and inhibited notifications are held until that ends; rate-limited ones are
 * dropped (the timeline says so); a retry still held adds no timeline entry.
 */
export function planNotification(input: {
  event: NotifyEvent;
  occurrence: string;
  step: number;
  now: number;
  /** A held notification tried again. */
  retry: boolean;
  correctsResolved: boolean;
  firingWasNotified: boolean;
  silence: { ids: number[]; until: number | null };
  inhibitedBy: string[];
  /** When the rule's counted notifications went, and its hourly limit. */
  log: number[];
  maxPerHour: number;
  /** The rule's storm state of this notification's group (storm.groupKeyOf; ignored when it has none). */
  storm: StormState | null;
  /** The fingerprint's held notifications. */
  held: readonly HeldNotification[];
}): NotificationPlan {
  const { event, occurrence, step, now } = input;
  const counts = event === "firing" || event === "reminder" || event === "escalation";
  const grouped = groupKeyOf(event, step, input.correctsResolved);
  const storm = grouped ? input.storm : null;
  const route = storm ? routeOf(storm, now) : "alone";
  const limit =
    counts && route === "alone" ? rateLimit(input.log, input.maxPerHour, now) : { allowed: true, recent: input.log };
  const decision = decideNotification({
    event,
    firingWasNotified: input.firingWasNotified,
    silence: input.silence,
    inhibitedBy: input.inhibitedBy,
    limit: { allowed: limit.allowed, max: input.maxPerHour },
    correctsResolved: input.correctsResolved,
  });
  if (decision.action === "send") {
    if (grouped && storm && route === "group") return { action: "join", key: grouped, storm: joined(storm, now) };
    return {
      action: "send",
      log: counts ? limit.recent : null,
      firingNotified: firingNotifiedAfter(event, input.firingWasNotified),
      storm: grouped && storm ? { key: grouped, state: sentAlone(storm, now) } : null,
    };
  }
  if (decision.action === "skip") return { action: "skip" };
  const note =
    decision.action === "silenced"
      ? `silenced by ${decision.silenceIds.join(", ")}`
      : decision.action === "inhibited"
        ? `inhibited: ${decision.parents.join(", ")} down`
        : `over ${decision.limit} notifications per hour`;
  const held = decision.action === "silenced" || decision.action === "inhibited";
  return {
    action: "withheld",
    // A retry still held says nothing new: one timeline entry per hold, not one per check.
    timeline:
      input.retry && held ? null : { type: decision.action, at: now, note, details: { event, occurrence, step } },
    // Silenced and inhibited notifications go out when that ends, if the alert is still open.
    hold:
      held && !input.held.some((h) => h.occurrence === occurrence)
        ? {
            event,
            occurrence,
            step,
            retryAt: decision.action === "silenced" ? decision.until : null,
            ...(input.correctsResolved && { correctsResolved: true as const }),
          }
        : null,
  };
}

/** Held notifications due for another try at `now`: those to try (in order) and what stays held. */
export function dueHeld(t: Tracked, now: number): { retry: HeldNotification[]; held: HeldNotification[] } {
  const due = t.held.filter((h) => h.retryAt === null || h.retryAt <= now);
  const open = t.state.alert !== null && t.state.resolvedAt === null;
  return {
    // Nothing to say about an alert that closed meanwhile, except its resolve.
    retry: due.filter((h) => h.event === "resolved" || open),
    held: t.held.filter((h) => !due.includes(h)),
  };
}

/**
 * Escalation due at `now` for an open alert: policy steps (the first step at 0 minutes is
 * the firing notification itself), reminders, and an acknowledgement left unresolved past
 * its timeout, which starts escalation over as if it had not been acknowledged. Null when
 * nothing is due.
 */
export function escalate(
  t: Tracked,
  policy: EscalationPolicy | null,
  now: number,
): { tracked: Tracked; effects: Effect[] } | null {
  const progress = t.escalation;
  if (!policy || !progress || progress.resolved || t.alertId === null) return null;
  const { due } = dueActions(policy, progress, now);
  if (!due.length) return null;
  const next: Tracked = { ...t, escalation: { ...progress, done: [...progress.done] } };
  const effects: Effect[] = [];
  for (const action of due) {
    next.escalation?.done.push(action.key);
    if (action.kind === "step") {
      if (action.step === 0 && action.round === 0 && (policy.steps[0]?.afterMinutes ?? 0) === 0) continue;
      effects.push(
        {
          type: "write",
          changes: { escalation_step: action.step },
          timeline: [{ type: "escalated", at: now, details: { step: action.step, round: action.round } }],
        },
        { type: "notify", event: "escalation", occurrence: action.key, step: action.step },
      );
    } else if (action.kind === "reminder") {
      effects.push(
        { type: "write", changes: {}, timeline: [{ type: "reminded", at: now, details: { n: action.n } }] },
        { type: "notify", event: "reminder", occurrence: action.key, step: 0 },
      );
    } else {
      next.state = { ...t.state, alert: t.state.alert ? { ...t.state.alert, acknowledged: false } : null };
      next.escalation = { firedAt: now, acknowledgedAt: null, resolved: false, done: [] };
      effects.push(
        {
          type: "write",
          changes: { status: "firing", acknowledged_at: null, acknowledged_by: null },
          timeline: [{ type: "ack_timeout", at: now }],
        },
        { type: "announce" },
      );
      break;
    }
  }
  return { tracked: next, effects };
}

/**
 * Whether a waiting member of a grouped notification may still be named when the group
 * goes: a firing member while its alert is still open (the same one), an escalated or
 * reminded one while it is also unacknowledged, a resolved member while its series has no
 * open alert (it did not fire again meanwhile). `t`: the
 * fingerprint as tracked now (absent once forgotten).
 */
export function stillTrue(key: GroupKey, memberAlertId: number, t: Tracked | undefined): boolean {
  const { event } = parseGroupKey(key);
  const openNow = t !== undefined && t.state.alert !== null && t.state.resolvedAt === null;
  if (event === "resolved") return !openNow;
  const same = openNow && t?.alertId === memberAlertId;
  // Escalation and reminders are for alerts nobody has taken: not once acknowledged.
  return event === "firing" ? same : same && t?.state.alert?.acknowledged !== true;
}

/** The earliest moment the rule must look again (its alarm), never before `now + 1`. */
export function nextWake(input: {
  now: number;
  /** The backstop: re-evaluate this late at the latest. */
  backstopMs: number;
  config: LifecycleConfig;
  tracked: readonly Tracked[];
  /** How long a row may stay behind its values (dedup updates are written at most this often). */
  syncMs: number;
  policy: EscalationPolicy | null;
  /** Other deadlines (storm groups, absence). */
  others: readonly (number | null)[];
}): number {
  const { now } = input;
  const times: number[] = [now + input.backstopMs];
  for (const t of input.tracked) {
    const d = nextDeadline(t.state, input.config);
    if (d !== null) times.push(d);
    for (const h of t.held) if (h.retryAt !== null) times.push(h.retryAt);
    // An open alert's row behind its values is brought up to date once syncMs has passed.
    if (behind(t)) times.push(t.syncedAt + input.syncMs);
    if (t.escalation && !t.escalation.resolved && input.policy) {
      const next = dueActions(input.policy, t.escalation, now).next;
      if (next !== null) times.push(next);
    }
  }
  for (const o of input.others) if (o !== null) times.push(o);
  return Math.max(Math.min(...times), now + 1);
}

/**
 * Storms: many fingerprints of one rule firing (or resolving, escalating, reminding)
 * together are told as one grouped notification per channel and recipient, then as
 * updates, instead of one page each (hundreds of pages) or the hourly limit's silence after
 * the first few.
 *
 * Per rule and group (groupKeyOf: the event, and the step of an escalation): notifications sent one by one in the last
 * STORM_WINDOW_MS are remembered. A further one that would make STORM_MIN within the window
 * opens a group instead; while the group is open, every such notification joins it. The
 * group's first notification goes GROUP_WAIT_MS after it opened (long enough for the rest
 * of a burst to join, short against the 60 s delivery target), later ones at most every
 * GROUP_INTERVAL_MS while alerts keep joining; a group nothing joined for GROUP_IDLE_MS
 * closes. One or two alerts at a time are never grouped: they page at once as before.
 * A grouped notification counts once against the rule's hourly limit.
 */
import { formatNumber } from "../rules/evaluate";
import { labelText } from "../notify/text";
import type { Notice } from "./jobs";

export const STORM_WINDOW_MS = 10_000;
export const STORM_MIN = 3;
export const GROUP_WAIT_MS = 2_000;
export const GROUP_INTERVAL_MS = 30_000;
export const GROUP_IDLE_MS = 5 * 60_000;
/** Members a grouped notification names (the worst first); the rest are counted. */
export const GROUP_LINES = 5;

/** Events told in groups: each (event, escalation step) of a rule has its own group. */
export type GroupedEvent = "firing" | "resolved" | "escalation" | "reminder";

/** A group's identity within its rule: the event and, for escalation, the step ("escalation:1"). */
export type GroupKey = `${GroupedEvent}:${number}`;

/**
 * The group a notification may join, null when it is never grouped: an acknowledgement (one
 * person's act), or a firing that corrects a "resolved" people were told (it must page alone).
 */
export function groupKeyOf(event: string, step: number, correctsResolved: boolean): GroupKey | null {
  if (correctsResolved) return null;
  if (event === "firing" || event === "resolved" || event === "reminder") return `${event}:0`;
  if (event === "escalation") return `escalation:${step}`;
  return null;
}

export function parseGroupKey(key: GroupKey): { event: GroupedEvent; step: number } {
  const [event, step] = key.split(":");
  return { event: event as GroupedEvent, step: Number(step) };
}

export interface Group {
  openedAt: number;
  /** When the last grouped notification went (null before the first). */
  flushedAt: number | null;
  lastJoinAt: number;
  /** Alerts told in this group's notifications so far. */
  told: number;
  /** Grouped notifications sent so far. */
  flushes: number;
}

export interface StormState {
  /** When the notifications sent one by one within the window went. */
  recent: number[];
  group: Group | null;
}

export const calm = (): StormState => ({ recent: [], group: null });

const WORD: Record<GroupedEvent, string> = {
  firing: "FIRING",
  resolved: "RESOLVED",
  escalation: "ESCALATED",
  reminder: "STILL FIRING",
};

const open = (state: StormState, now: number): boolean =>
  state.group !== null && now - state.group.lastJoinAt < GROUP_IDLE_MS;

/** Whether a notification due now goes alone or joins a group (nothing changes until it is sent). */
export function routeOf(state: StormState, now: number): "alone" | "group" {
  if (open(state, now)) return "group";
  const recent = state.recent.filter((t) => now - t < STORM_WINDOW_MS);
  return recent.length + 1 >= STORM_MIN ? "group" : "alone";
}

/** The state once a notification went alone. */
export function sentAlone(state: StormState, now: number): StormState {
  return { ...state, recent: [...state.recent.filter((t) => now - t < STORM_WINDOW_MS), now] };
}

/** The state once a notification joined the group (opening it if none is open). */
export function joined(state: StormState, now: number): StormState {
  const group: Group = open(state, now)
    ? { ...(state.group as Group), lastJoinAt: now }
    : { openedAt: now, flushedAt: null, lastJoinAt: now, told: 0, flushes: 0 };
  return { recent: [], group };
}

/** When the group's next notification is due, with `pending` members waiting; null when none is. */
export function flushDue(state: StormState, pending: number): number | null {
  const g = state.group;
  if (!g || pending === 0) return null;
  return g.flushedAt === null ? g.openedAt + GROUP_WAIT_MS : g.flushedAt + GROUP_INTERVAL_MS;
}

/** The state once a grouped notification told `count` alerts. */
export function flushed(state: StormState, now: number, count: number): StormState {
  const g = state.group;
  if (!g) return state;
  return { ...state, group: { ...g, flushedAt: now, told: g.told + count, flushes: g.flushes + 1 } };
}

/** Closes a group nothing joined for GROUP_IDLE_MS and nothing waits in. */
export function settle(state: StormState, now: number, pending: number): StormState {
  if (state.group && pending === 0 && !open(state, now)) return { ...state, group: null };
  return state;
}

/** When settle would close the group (for the alarm); null when it is not open. */
export function idleAt(state: StormState): number | null {
  return state.group ? state.group.lastJoinAt + GROUP_IDLE_MS : null;
}

/** A member of a grouped notification. */
export interface Member {
  alertId: number;
  service: string | null;
  labels: Record<string, string>;
  value: number | null;
}

/**
 * What a grouped notification says: how many alerts, which rule, the worst values first
 * (by the rule's direction), how many more, and where to see them all.
 *
 * @example groupNotice({ event: "firing", ruleName: "Queue depth", severity: "critical", members, toldBefore: 0, worse: (a, b) => a > b, link: "/alerts" }).title
 *   // "[CRITICAL] FIRING: 1000 alerts of Queue depth"
 */
export function groupNotice(input: {
  event: GroupedEvent;
  ruleName: string;
  severity: string;
  members: readonly Member[];
  /** Alerts this group told before (0 for its first notification). */
  toldBefore: number;
  worse: (a: number, b: number) => boolean;
  link: string;
}): Notice {
  const { members, toldBefore } = input;
  const n = formatNumber(members.length);
  const what = WORD[input.event];
  const title =
    toldBefore === 0
      ? `[${input.severity.toUpperCase()}] ${what}: ${n} alerts of ${input.ruleName}`
      : `[${input.severity.toUpperCase()}] ${what}: ${n} more alerts of ${input.ruleName} (${formatNumber(toldBefore + members.length)} in all)`;
  const ranked = [...members].sort((a, b) => {
    if (a.value === null || b.value === null) return a.value === null ? (b.value === null ? 0 : 1) : -1;
    return input.worse(a.value, b.value) ? -1 : input.worse(b.value, a.value) ? 1 : 0;
  });
  const lines = ranked.slice(0, GROUP_LINES).map((m) => {
    const where = [m.service, labelText(m.labels)].filter(Boolean).join(" ");
    const value = m.value === null ? "no data" : formatNumber(m.value);
    return `${where || "(no labels)"}: ${value} (#${m.alertId})`;
  });
  if (members.length > GROUP_LINES) lines.push(`… and ${formatNumber(members.length - GROUP_LINES)} more`);
  lines.push(`All alerts of this rule: ${input.link}`);
  return { title, lines };
}

/** What a group's notification is: its notice, its occurrence (the jobs' key part), its channels, the alert it names first. */
export interface GroupPlan {
  notice: Notice;
  occurrence: string;
  channels: string[];
  /** The worst member: the alert the jobs carry (and are counted on). */
  worstAlertId: number;
}

/**
 * Plans a group's next notification over its members still true (at least one). Each
 * notification of a group has its own occurrence, so its jobs are keyed apart from the
 * group's earlier ones and from every single alert's. A grouped resolve goes to PagerDuty
 * (closing the group's one incident, notice.key) only once nothing of the rule is open.
 */
export function planGroup(input: {
  ruleId: number;
  ruleName: string;
  severity: string;
  key: GroupKey;
  state: StormState;
  now: number;
  members: readonly Member[];
  worse: (a: number, b: number) => boolean;
  link: string;
  channels: readonly string[];
  /** Whether any alert of the rule is still open. */
  ruleStillOpen: boolean;
}): GroupPlan {
  const { key, state, members, worse } = input;
  const { event } = parseGroupKey(key);
  const worst = members.reduce((a, b) => (a.value === null || (b.value !== null && worse(b.value, a.value)) ? b : a));
  const notice = {
    ...groupNotice({
      event,
      ruleName: input.ruleName,
      severity: input.severity,
      members,
      toldBefore: state.group?.told ?? 0,
      worse,
      link: input.link,
    }),
    key: `rule:${input.ruleId}:storm`,
  };
  return {
    notice,
    occurrence: `group:${key}:${state.group?.openedAt ?? input.now}:${state.group?.flushes ?? 0}`,
    channels:
      event === "resolved" && input.ruleStillOpen
        ? input.channels.filter((c) => c !== "pagerduty")
        : [...input.channels],
    worstAlertId: worst.alertId,
  };
}

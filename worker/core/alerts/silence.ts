/**
 * Silences: label matchers (Alertmanager semantics) over a time range, optionally
 * narrowed to a recurring weekly maintenance window in an IANA time zone.
 */
import { instantOfWallClock, wallClock } from "../cron";
import { isTimeZone } from "../time";

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  /** false negates the match (!= or !~). */
  isEqual: boolean;
}

/** A recurring maintenance window: on these weekdays (0=Sunday…6), from start "HH:MM" for durationMinutes, in an IANA time zone. */
export interface Recurrence {
  weekdays: number[];
  start: string;
  durationMinutes: number;
  timezone: string;
}

export interface Silence {
  id: number;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  recurrence: Recurrence | null;
}

/** What an alert is matched on: its labels plus the pseudo-labels alertname (the rule name), rule_id, service, severity. */
export type AlertLabels = Record<string, string>;

/**
 * The labels silences match an alert on. The pseudo-labels win over alert labels of
 * the same name, so a sample's labels cannot make an alert pass for another rule.
 */
export function alertLabels(a: {
  ruleId: number;
  ruleName: string;
  service: string | null;
  severity: string;
  labels: Record<string, string>;
}): AlertLabels {
  const labels: AlertLabels = { ...a.labels, alertname: a.ruleName, rule_id: String(a.ruleId), severity: a.severity };
  if (a.service === null) delete labels.service;
  else labels.service = a.service;
  return labels;
}

const regexCache = new Map<string, RegExp | null>();

/** The fully anchored regex for `source`, or null when it does not compile. */
function anchored(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      // No flags: the API validates patterns with a plain RegExp too.
      re = new RegExp(`^(?:${source})$`);
    } catch {
      re = null;
    }
    if (regexCache.size >= 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

function matcherMatches(m: Matcher, labels: AlertLabels): boolean {
  const value = labels[m.name] ?? "";
  let hit: boolean;
  if (m.isRegex) {
    const re = anchored(m.value);
    // A pattern that does not compile matches nothing, whichever way round: a broken silence silences nothing.
    if (re === null) return false;
    hit = re.test(value);
  } else {
    hit = value === m.value;
  }
  return hit === m.isEqual;
}

/**
 * Whether every matcher matches; a missing label reads as "". An empty list matches
 * nothing, so a malformed silence cannot silence every alert.
 */
export function matches(matchers: readonly Matcher[], labels: AlertLabels): boolean {
  return matchers.length > 0 && matchers.every((m) => matcherMatches(m, labels));
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

interface Windows {
  weekdays: ReadonlySet<number>;
  startMinutes: number;
  durationMinutes: number;
  timezone: string;
}

/** The recurrence in a usable form, or null when it cannot describe any window. */
function parseRecurrence(r: Recurrence): Windows | null {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(r.start);
  const weekdays = new Set(r.weekdays.filter((d) => Number.isInteger(d) && d >= 0 && d <= 6));
  if (!m || weekdays.size === 0 || !(r.durationMinutes > 0) || !isTimeZone(r.timezone)) return null;
  return {
    weekdays,
    startMinutes: Number(m[1]) * 60 + Number(m[2]),
    durationMinutes: r.durationMinutes,
    timezone: r.timezone,
  };
}

/**
 * The window that starts on the local day `day` (naive ms of its midnight), or null
 * when there is none that day.
 *
 * A window covers the local clock from its start to start + duration, each end mapped
 * to an instant as cron maps wall times (see instantOfWallClock). So over a DST change
 * it lasts longer or shorter in real time: in Europe/Berlin a 02:00–04:00 window is 1 h
 * on the spring-forward day (it opens when the clocks jump to 03:00) and 3 h on the
 * fall-back day (from the first 02:00 to 04:00). A window lying wholly in the skipped
 * hour is empty.
 */
function windowOn(w: Windows, day: number): [number, number] | null {
  if (!w.weekdays.has(new Date(day).getUTCDay())) return null;
  const startWall = day + w.startMinutes * MINUTE;
  const start = instantOfWallClock(w.timezone, startWall);
  const end = instantOfWallClock(w.timezone, startWall + w.durationMinutes * MINUTE);
  return end > start ? [start, end] : null;
}

/** The most days from one window's weekday to the next one's, round the week. */
function longestGapDays(weekdays: ReadonlySet<number>): number {
  const days = [...weekdays].sort((a, b) => a - b);
  return Math.max(...days.map((d, i) => (days[i + 1] ?? (days[0] ?? d) + 7) - d));
}

/**
 * The stretch of time the silence is in effect that contains `at` or is the first to
 * come after it: [start, end), with overlapping or touching windows joined. Null when
 * the silence is in effect at no time after `at`.
 */
function effectAround(s: Silence, at: number): [number, number] | null {
  if (at >= s.endsAt || s.startsAt >= s.endsAt) return null;
  if (s.recurrence === null) return [s.startsAt, s.endsAt];
  const w = parseRecurrence(s.recurrence);
  if (w === null) return null;
  // Each window reaches the next one's start on the wall clock, so they join into one.
  if (w.durationMinutes >= longestGapDays(w.weekdays) * 24 * 60) return [s.startsAt, s.endsAt];
  // Otherwise every week has a gap after its longest-spaced window, and no window lasts a week.
  const from = Math.max(at, s.startsAt);
  const lookbackDays = Math.ceil(w.durationMinutes / (24 * 60)) + 1;
  const firstDay = Math.floor(wallClock(w.timezone, from) / DAY) * DAY - lookbackDays * DAY;
  const clip = ([a, b]: [number, number]): [number, number] => [Math.max(a, s.startsAt), Math.min(b, s.endsAt)];
  let current: [number, number] | null = null;
  for (let day = firstDay; day <= firstDay + (lookbackDays + 21) * DAY; day += DAY) {
    const next = windowOn(w, day);
    if (next === null) continue;
    if (next[0] >= s.endsAt) break;
    if (current !== null && next[0] <= current[1]) {
      current[1] = Math.max(current[1], next[1]);
    } else {
      if (current !== null && current[1] > from) return clip(current);
      current = next;
    }
  }
  return current !== null && current[1] > from ? clip(current) : null;
}

/**
 * Whether the silence is in effect at `at`: inside [startsAt, endsAt) and, with a
 * recurrence, inside one of its windows. A window belongs to the weekday it starts on
 * and may run past midnight into the next day. An invalid recurrence (unknown zone,
 * bad start, no weekdays, no duration) is never in effect.
 */
export function activeAt(s: Silence, at: number): boolean {
  if (at < s.startsAt || at >= s.endsAt) return false;
  const span = effectAround(s, at);
  return span !== null && span[0] <= at;
}

/** Next time (> at) the silence's effect changes (a window starts or ends, or startsAt/endsAt), or null. */
export function nextChange(s: Silence, at: number): number | null {
  const span = effectAround(s, at);
  if (span === null) return null;
  return span[0] > at ? span[0] : span[1];
}

/**
 * The silences silencing this alert at `at` (ids, ascending), and when the earliest of
 * them next stops being in effect; the engine notifies then if the alert still fires
 * and nothing else silences it. `until` is null when none applies.
 */
export function silencedBy(
  silences: readonly Silence[],
  labels: AlertLabels,
  at: number,
): { ids: number[]; until: number | null } {
  const ids: number[] = [];
  let until: number | null = null;
  for (const s of silences) {
    if (!matches(s.matchers, labels)) continue;
    const span = effectAround(s, at);
    if (span === null || span[0] > at) continue;
    ids.push(s.id);
    if (until === null || span[1] < until) until = span[1];
  }
  return { ids: ids.sort((a, b) => a - b), until };
}

/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), as used by
 * heartbeat schedules: validation, parsing, and fire times in an IANA time zone.
 */

const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
  },
  { name: "day-of-week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
] as const;
type CronField = { name: string; min: number; max: number; names?: readonly string[] };

const ITEM = /^(?:\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/(\d+))?$/;

function cronValue(token: string, f: CronField): number | null {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= f.min && n <= f.max ? n : null;
  }
  const i = f.names?.indexOf(token.toUpperCase()) ?? -1;
  return i < 0 ? null : f.min + i;
}

/**
 * The values one comma-separated item selects: `*`, `n`, `a-b`, each optionally
 * `/step` (`n/step` runs from n to the field's maximum). Null when invalid.
 */
function cronItemValues(item: string, f: CronField): number[] | null {
  const m = ITEM.exec(item);
  if (!m) return null;
  const [, from, to, stepText] = m;
  const step = stepText === undefined ? 1 : Number(stepText);
  if (step < 1 || step > f.max) return null;
  let lo = f.min;
  let hi = f.max;
  if (from !== undefined) {
    const a = cronValue(from, f);
    const b = to === undefined ? (stepText === undefined ? a : f.max) : cronValue(to, f);
    if (a === null || b === null || a > b) return null;
    lo = a;
    hi = b;
  }
  const values: number[] = [];
  for (let v = lo; v <= hi; v += step) values.push(v);
  return values;
}

/** Why a 5-field cron expression is invalid, or null when it is valid. */
export function cronError(expr: string): string | null {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== CRON_FIELDS.length) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), found ${parts.length}`;
  }
  for (const [i, f] of CRON_FIELDS.entries()) {
    const part = parts[i] ?? "";
    if (!part.split(",").every((item) => cronItemValues(item, f) !== null)) {
      return `invalid ${f.name} field "${part}" (allowed ${f.min}-${f.max}, *, lists, ranges and /steps)`;
    }
  }
  return null;
}

/** A parsed cron expression: for each field, a lookup table of the values it selects. */
export interface CronSchedule {
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Indexed 1–31. */
  readonly daysOfMonth: readonly boolean[];
  /** Indexed 1–12. */
  readonly months: readonly boolean[];
  /** Indexed 0–6, Sunday = 0 (7 in the expression is Sunday too). */
  readonly daysOfWeek: readonly boolean[];
  /**
   * Vixie cron rule: when both day fields are restricted (neither starts with `*`),
   * a day matches if EITHER matches; otherwise both must.
   */
  readonly dayOr: boolean;
}

/** Parses a valid expression; throws an Error carrying `cronError`'s reason otherwise. */
export function parseCron(expr: string): CronSchedule {
  const error = cronError(expr);
  if (error) throw new Error(`cron "${expr}": ${error}`);
  const parts = expr.trim().split(/\s+/);
  const tables = CRON_FIELDS.map((f, i) => {
    const table = Array.from<boolean>({ length: f.max + 1 }).fill(false);
    for (const item of (parts[i] ?? "").split(",")) {
      for (const v of cronItemValues(item, f) ?? []) table[v] = true;
    }
    return table;
  });
  const [minutes = [], hours = [], daysOfMonth = [], months = [], dow = []] = tables;
  const daysOfWeek = dow.slice(0, 7);
  if (dow[7]) daysOfWeek[0] = true;
  const restricted = (i: number) => !(parts[i] ?? "*").startsWith("*");
  return { minutes, hours, daysOfMonth, months, daysOfWeek, dayOr: restricted(2) && restricted(4) };
}

// Wall-clock times are handled as "naive" epoch ms: the local date and time read as if
// it were UTC, so the calendar arithmetic of Date.UTC applies without any zone.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Far enough for any valid expression to fire (Feb 29 can be 8 years apart); beyond it, none does. */
const HORIZON = 9 * 366 * DAY;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock time of instant `ms` in `timeZone`, as naive ms. */
export function wallClock(timeZone: string, ms: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== "literal") p[part.type] = Number(part.value);
  }
  const { year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0 } = p;
  // Some engines render midnight as hour 24 even with h23.
  const naive = Date.UTC(year, month - 1, day, hour % 24, minute, second);
  return naive + (((ms % 1000) + 1000) % 1000);
}

/** UTC offset (ms) of `timeZone` at instant `ms`. */
const offsetAt = (timeZone: string, ms: number) => wallClock(timeZone, ms) - ms;

/** The distinct offsets in force within a day of instant (or naive time) `ms`. */
function offsetsNear(timeZone: string, ms: number): number[] {
  return [...new Set([offsetAt(timeZone, ms - DAY), offsetAt(timeZone, ms), offsetAt(timeZone, ms + DAY)])];
}

/**
 * The instant a wall-clock time (naive ms) names in `timeZone`. A time that occurs twice
 * (clocks set back) names its first occurrence; a time that does not exist (clocks set
 * forward) names the instant the clocks jumped, when the skipped time is "over", as cron
 * daemons run jobs of a skipped hour right after the change. The mapping is therefore
 * non-decreasing in the wall-clock time, which the searches below rely on.
 */
export function instantOfWallClock(timeZone: string, wall: number): number {
  const offsets = offsetsNear(timeZone, wall);
  const valid = offsets.map((o) => wall - o).filter((t) => wallClock(timeZone, t) === wall);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: wall times before the jump are earlier than `wall`, after it later.
  let lo = wall - Math.max(...offsets);
  let hi = wall - Math.min(...offsets);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallClock(timeZone, mid) > wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = s.daysOfMonth[d.getUTCDate()] === true;
  const dow = s.daysOfWeek[d.getUTCDay()] === true;
  return s.dayOr ? dom || dow : dom && dow;
}

function firstAtOrAfter(table: readonly boolean[], from: number): number {
  for (let i = from; i < table.length; i++) if (table[i]) return i;
  return -1;
}

function lastAtOrBefore(table: readonly boolean[], from: number): number {
  for (let i = from; i >= 0; i--) if (table[i]) return i;
  return -1;
}

/** The first matching wall-clock minute at or after naive `from`, or null past `limit`. */
function nextMatchingWall(s: CronSchedule, from: number, limit: number): number | null {
  let t = Math.ceil(from / MINUTE) * MINUTE;
  while (t <= limit) {
    const d = new Date(t);
    const [y, mo, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!s.months[mo + 1]) t = Date.UTC(y, mo + 1, 1);
    else if (!dayMatches(s, d)) t = Date.UTC(y, mo, day + 1);
    else if (!s.hours[h]) t = Date.UTC(y, mo, day, h + 1);
    else {
      const m = firstAtOrAfter(s.minutes, d.getUTCMinutes());
      if (m >= 0) return Date.UTC(y, mo, day, h, m);
      t = Date.UTC(y, mo, day, h + 1);
    }
  }
  return null;
}

/** The last matching wall-clock minute at or before naive `from`, or null before `limit`. */
function previousMatchingWall(s: CronSchedule, from: number, limit: number): number | null {
  let t = Math.floor(from / MINUTE) * MINUTE;
  while (t >= limit) {
    const d = new Date(t);
    const [y, mo, day, h] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!s.months[mo + 1]) t = Date.UTC(y, mo, 1) - MINUTE;
    else if (!dayMatches(s, d)) t = Date.UTC(y, mo, day) - MINUTE;
    else if (!s.hours[h]) t = Date.UTC(y, mo, day, h) - MINUTE;
    else {
      const m = lastAtOrBefore(s.minutes, d.getUTCMinutes());
      if (m >= 0) return Date.UTC(y, mo, day, h, m);
      t = Date.UTC(y, mo, day, h) - MINUTE;
    }
  }
  return null;
}

const scheduleOf = (expr: string | CronSchedule) => (typeof expr === "string" ? parseCron(expr) : expr);

/**
 * The first fire time strictly after `afterMs` (epoch ms) of a cron schedule read in
 * `timeZone`, or null when it never fires (e.g. "0 0 30 2 *"). DST: see instantOfWallClock.
 *
 * @example nextFireAfter("0 3 * * *", "Asia/Taipei", Date.parse("2026-11-26T00:00:00Z")) // 2026-11-26T19:00:00Z
 */
export function nextFireAfter(expr: string | CronSchedule, timeZone: string, afterMs: number): number | null {
  const s = scheduleOf(expr);
  // Every wall time whose instant is after `afterMs` is at or after this one.
  let wall = Math.floor((afterMs + Math.min(...offsetsNear(timeZone, afterMs))) / MINUTE) * MINUTE;
  const limit = wall + HORIZON;
  for (;;) {
    const next = nextMatchingWall(s, wall, limit);
    if (next === null) return null;
    const t = instantOfWallClock(timeZone, next);
    if (t > afterMs) return t;
    wall = next + MINUTE;
  }
}

/** The last fire time at or before `atMs` of a cron schedule read in `timeZone`, or null. */
export function previousFireAtOrBefore(expr: string | CronSchedule, timeZone: string, atMs: number): number | null {
  const s = scheduleOf(expr);
  // Every wall time whose instant is at or before `atMs` is at or before this one.
  let wall = Math.floor((atMs + Math.max(...offsetsNear(timeZone, atMs))) / MINUTE) * MINUTE;
  const limit = wall - HORIZON;
  for (;;) {
    const prev = previousMatchingWall(s, wall, limit);
    if (prev === null) return null;
    const t = instantOfWallClock(timeZone, prev);
    if (t <= atMs) return t;
    wall = prev - MINUTE;
  }
}

/** Five-field cron expressions (minute hour day-of-month month day-of-week), as used by heartbeat schedules. */

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

function cronValue(token: string, f: CronField): number | null {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= f.min && n <= f.max ? n : null;
  }
  const i = f.names?.indexOf(token.toUpperCase()) ?? -1;
  return i < 0 ? null : f.min + i;
}

/** One comma-separated item: `*`, `n`, `a-b`, each optionally `/step`. */
function cronItemOk(item: string, f: CronField): boolean {
  const m = /^(?:\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/(\d+))?$/.exec(item);
  if (!m) return false;
  const [, from, to, step] = m;
  if (step !== undefined && (Number(step) < 1 || Number(step) > f.max)) return false;
  if (from === undefined) return true;
  const lo = cronValue(from, f);
  const hi = to === undefined ? lo : cronValue(to, f);
  return lo !== null && hi !== null && lo <= hi;
}

/** Why a 5-field cron expression is invalid, or null when it is valid. */
export function cronError(expr: string): string | null {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== CRON_FIELDS.length) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), found ${parts.length}`;
  }
  for (const [i, f] of CRON_FIELDS.entries()) {
    const part = parts[i] ?? "";
    if (!part.split(",").every((item) => cronItemOk(item, f))) {
      return `invalid ${f.name} field "${part}" (allowed ${f.min}-${f.max}, *, lists, ranges and /steps)`;
    }
  }
  return null;
}

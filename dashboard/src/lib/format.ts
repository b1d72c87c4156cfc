/** Formatting of times and numbers for display. Pure: "now" and the time zone are parameters. */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for null; "in 5 s" for a future time. */
export function formatRelative(iso: string | null, nowMs: number): string {
  if (iso === null) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const diff = nowMs - t;
  const abs = Math.abs(diff);
  if (abs < 5 * SECOND) return "just now";
  const text =
    abs < MINUTE
      ? `${Math.floor(abs / SECOND)} s`
      : abs < HOUR
        ? `${Math.floor(abs / MINUTE)} min`
        : abs < DAY
          ? `${Math.floor(abs / HOUR)} h`
          : `${Math.floor(abs / DAY)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** An absolute timestamp, e.g. "2026-03-01 14:05:09 UTC", in `timeZone` (an IANA name) when valid. */
export function formatDateTime(iso: string | null, timeZone = "UTC"): string {
  if (iso === null) return "never";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "unknown";
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = dateTimeFormat(timeZone).formatToParts(d);
  } catch {
    parts = dateTimeFormat("UTC").formatToParts(d);
  }
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const hour = get("hour") === "24" ? "00" : get("hour");
  return `${get("year")}-${get("month")}-${get("day")} ${hour}:${get("minute")}:${get("second")} ${get("timeZoneName")}`.trim();
}

const formats = new Map<string, Intl.DateTimeFormat>();
function dateTimeFormat(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
    formats.set(timeZone, f);
  }
  return f;
}

/** "84 ms", "1.25 s"; an em dash when there is no measurement. */
export function formatLatency(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "\u2014";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** "97.5 %", "120 ms", "1,234 requests", an em dash for no value. */
export function formatValue(value: number | null | undefined, unit = ""): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "\u2014";
  const abs = Math.abs(value);
  const digits = abs >= 100 || Number.isInteger(value) ? 0 : abs >= 10 ? 1 : 2;
  const text = value.toLocaleString("en-US", { maximumFractionDigits: digits });
  if (!unit) return text;
  return unit === "%" ? `${text} %` : `${text} ${unit}`;
}

/** The browser's time zone ("UTC" when it does not say). */
export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** Every zone the browser knows, with `current` first among them when it is not. */
export function zones(current: string): string[] {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return all.includes(current) ? all : [current, ...all];
}

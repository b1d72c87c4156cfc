/** Instants are epoch milliseconds everywhere inside; the API speaks ISO 8601 UTC. */

/** Renders an epoch-ms instant (or null) as an ISO 8601 UTC string (or null). */
export function toIso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

const ISO_PATTERN = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Reads an input instant: epoch milliseconds (number or digit string) or an
 * ISO 8601 string. Returns null when the value is neither.
 *
 * @example parseInstant("2026-11-26T10:00:00Z") // 1795860000000
 */
export function parseInstant(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isFinite(value) && Number.isInteger(value) && value >= 0 ? value : null;
  }
  if (typeof value !== "string" || value.trim() === "") return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseInstant(Number(text));
  if (!ISO_PATTERN.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/** True when `tz` is an IANA time zone name the runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone.length > 0;
  } catch {
    return false;
  }
}

/** A span of seconds in words, to the unit that reads best: "45 seconds", "3 minutes", "5 hours". */
export function elapsedText(seconds: number): string {
  const s = Math.max(0, seconds);
  const [n, unit] =
    s < 120 ? [Math.round(s), "second"] : s < 7200 ? [Math.floor(s / 60), "minute"] : [Math.floor(s / 3600), "hour"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * Quiet hours: whether an instant falls in an admin's nightly window, when the window
 * ends, and the single digest per admin and channel released at its end.
 */
import { instantOfWallClock, wallClock } from "../cron";
import { NOTIFY_EVENTS, type NotificationJob } from "../alerts/jobs";
import { SEVERITIES } from "../rules/types";
import { toIso } from "../time";
import { fnv1a64 } from "./encoding";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Minutes after midnight of an "HH:MM" clock time, or null when it is not one. */
function clockMinutes(text: string): number | null {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/**
 * When the quiet window containing `at` ends (epoch ms), or null when `at` is outside it.
 *
 * Each night's window is one span of instants [start, end): its wall-clock bounds mapped
 * with instantOfWallClock, so a bound in a skipped hour (clocks forward) falls on the jump
 * and a bound in a repeated hour (clocks back) on its first occurrence. A repeated hour
 * therefore never reopens a window that has already ended. An unreadable or empty window
 * (start equal to end) is no window: notifications then go out rather than being held.
 *
 * @example quietUntil({ start: "22:00", end: "07:00" }, "Asia/Taipei", Date.parse("2026-11-26T15:00:00Z")) // 2026-11-26T23:00:00Z
 */
export function quietUntil(window: { start: string; end: string }, zone: string, at: number): number | null {
  const start = clockMinutes(window.start);
  const end = clockMinutes(window.end);
  if (start === null || end === null || start === end) return null;
  const wall = wallClock(zone, at);
  const today = Math.floor(wall / DAY) * DAY;
  // The window containing `at` began on the local day of `at` or the day before (two days
  // back covers an offset change around midnight); windows of different nights never overlap.
  for (const day of [today, today - DAY, today - 2 * DAY]) {
    const from = instantOfWallClock(zone, day + start * MINUTE);
    const until = instantOfWallClock(zone, day + (end > start ? 0 : DAY) + end * MINUTE);
    if (from <= at && at < until) return until;
  }
  return null;
}

/** One job held during quiet hours, for the admin and channel it was planned for. */
export interface HeldItem {
  job: {
    alertId: number;
    event: string;
    alert: { ruleName: string; severity: string; service: string | null; status: string; value: number | null };
    enqueuedAt: number;
  };
  adminId: number;
  channel: string;
}

export interface Digest {
  adminId: number;
  channel: string;
  title: string;
  lines: string[];
  /** The alerts the digest lists, in line order. */
  alertIds: number[];
  /** Indexes into `held` of items replaced by a later item of the same alert (not listed). */
  superseded: number[];
}

/** Known values first in their declared order, then any others alphabetically. */
function ordered(values: Iterable<string>, known: readonly string[]): string[] {
  const rank = (v: string) => (known.includes(v) ? known.indexOf(v) : known.length);
  return [...new Set(values)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function counts(values: readonly string[], known: readonly string[]): string {
  return ordered(values, known)
    .map((v) => `${values.filter((x) => x === v).length} ${v}`)
    .join(", ");
}

function alertLine({ job }: HeldItem): string {
  const { alert } = job;
  const service = alert.service === null ? "" : ` (${alert.service})`;
  const value = alert.value === null ? "" : `, value ${alert.value}`;
  return `${toIso(job.enqueuedAt)} ${job.event.toUpperCase()} [${alert.severity}] ${alert.ruleName}${service}${value}`;
}

/**
 * The held jobs as ONE digest per (admin, channel), in admin then channel order. Each alert
 * appears once, as its latest held event (one that fired and resolved overnight reads as
 * resolved); its earlier items are reported as superseded. Lines: counts by severity, counts
 * by event, then one line per alert ordered by the time of the event shown.
 */
export function buildDigest(held: readonly HeldItem[]): Digest[] {
  type Entry = { item: HeldItem; index: number };
  const groups = new Map<string, { adminId: number; channel: string; entries: Entry[] }>();
  for (const [index, item] of held.entries()) {
    const key = JSON.stringify([item.adminId, item.channel]);
    const group = groups.get(key) ?? { adminId: item.adminId, channel: item.channel, entries: [] };
    group.entries.push({ item, index });
    groups.set(key, group);
  }
  // By time; equal times keep the order they were held in.
  const byTime = (a: Entry, b: Entry) => a.item.job.enqueuedAt - b.item.job.enqueuedAt || a.index - b.index;
  return [...groups.values()]
    .sort((a, b) => a.adminId - b.adminId || a.channel.localeCompare(b.channel))
    .map(({ adminId, channel, entries }) => {
      const latest = new Map<number, Entry>();
      const superseded: number[] = [];
      for (const entry of entries.sort(byTime)) {
        const previous = latest.get(entry.item.job.alertId);
        if (previous) superseded.push(previous.index);
        latest.set(entry.item.job.alertId, entry);
      }
      const shown = [...latest.values()].sort(byTime).map((e) => e.item);
      const n = shown.length;
      const severities = shown.map((s) => s.job.alert.severity);
      const events = shown.map((s) => s.job.event);
      return {
        adminId,
        channel,
        title: `Quiet hours digest: ${n} alert${n === 1 ? "" : "s"}`,
        lines: [
          `By severity: ${counts(severities, SEVERITIES)}`,
          `By event: ${counts(events, NOTIFY_EVENTS)}`,
          ...shown.map(alertLine),
        ],
        alertIds: shown.map((s) => s.job.alertId),
        superseded: superseded.sort((a, b) => a - b),
      };
    });
}

/** A delivery held through quiet hours, as stored: its row id and the job. */
export interface HeldRow {
  id: number;
  adminId: number;
  channel: string;
  job: NotificationJob;
}

const severityRank = (s: string) => {
  const i = (SEVERITIES as readonly string[]).indexOf(s);
  return i === -1 ? SEVERITIES.length : i;
};

/**
 * The digest jobs for held rows whose quiet hours are over: one per (admin, channel), with
 * the ids of the rows it covers. The job carries its most severe alert (which decides
 * the fallback order should the digest fail) and the digest as its notice. Its idempotency
 * key names the rows it covers, so planning the same rows again gives the same job.
 */
export function digestJobs(rows: readonly HeldRow[], now: number): { job: NotificationJob; rowIds: number[] }[] {
  return buildDigest(rows).map((digest) => {
    const covered = rows.filter((r) => r.adminId === digest.adminId && r.channel === digest.channel);
    const ids = covered.map((r) => r.id).sort((a, b) => a - b);
    const worst = covered.reduce((a, b) =>
      severityRank(b.job.alert.severity) < severityRank(a.job.alert.severity) ? b : a,
    );
    // Every row id, hashed: bounds and count alone would name different sets alike.
    const span = `${ids[0]}-${ids[ids.length - 1]}:${ids.length}:${fnv1a64(ids.join(","))}`;
    return {
      rowIds: ids,
      job: {
        idempotencyKey: `digest|rows:${span}|admin:${digest.adminId}|${digest.channel}`,
        alertId: 0,
        event: "digest",
        occurrence: `digest:${span}`,
        step: 0,
        recipient: { adminId: digest.adminId },
        channel: digest.channel,
        alert: worst.job.alert,
        notice: { title: digest.title, lines: digest.lines },
        enqueuedAt: now,
      },
    };
  });
}

/**
 * The monitor's watch on itself, as samples of its own service that built-in rules
 * (migrations/0009) alert on like any other: how long the cron has been silent, how far
 * queued notifications are past their deadlines, and how many monitors have stored no
 * result for several intervals. The sentinel's alarm loop takes them every WATCH_EVERY_MS,
 * independently of the cron it watches. Probe loops behind schedule are the cron's and
 * the watchdog's `collector_lag_seconds`, which another built-in rule reads. Pure: what was
 * measured comes in, samples go out.
 */
import { CRON_INTERVAL_MS } from "./schedule";
import { CRON_SILENT_MS } from "./self-health";
import type { Sample } from "./series";

/** The service of the monitor's own metrics. */
export const SELF_SERVICE = "edge-monitor";

/** How often the sentinel takes the samples below. */
export const WATCH_EVERY_MS = 20_000;

/** Seconds since the per-minute cron last ran (not taken before the first tick is seen). */
export const CRON_SILENT_METRIC = "cron_silent_seconds";
/** Seconds the most overdue queued notification is past its deadline (0: none is). */
export const DELIVERY_OVERDUE_METRIC = "notifications_overdue_seconds";
/** Active probed monitors without a stored result for STALE_INTERVALS of their intervals. */
export const STALE_MONITORS_METRIC = "monitors_stale";

/** The built-in cron rule's bound (its threshold in migrations/0009): the one /healthz judges by. */
export const CRON_STOPPED_SECONDS = CRON_SILENT_MS / 1000;

/** A monitor's data is stale when its newest result is older than this many intervals… */
export const STALE_INTERVALS = 3;
/** …and older than this, so that one slow run of a fast monitor is not "stale". */
export const STALE_FLOOR_MS = 3 * 60_000;

/** The built-in rules' names (seeded by migrations/0009_add_builtin_rules.sql). */
export const BUILTIN_RULES = {
  cron: "Edge Monitor: cron stopped",
  probeLag: "Edge Monitor: probe loop behind schedule",
  deliveries: "Edge Monitor: notifications stuck",
  stale: "Edge Monitor: collection stale",
} as const;

export interface ProbedMonitor {
  id: number;
  intervalSeconds: number;
  /** When it was created or last re-enabled: staleness is judged from then at the earliest. */
  since: number;
  /** Its newest `probe_up` sample, null when none is stored. */
  lastResultAt: number | null;
}

export interface SelfObservation {
  now: number;
  /** The cron's last tick, null when none was seen yet. */
  cronAt: number | null;
  /** The earliest deadline among queued notifications already past it, null when none. */
  oldestOverdueAt: number | null;
  monitors: readonly ProbedMonitor[];
}

/** Whether a monitor's data is stale at `now`. */
export function isStale(m: ProbedMonitor, now: number): boolean {
  const bound = Math.max(STALE_INTERVALS * m.intervalSeconds * 1000, STALE_FLOOR_MS);
  return now - Math.max(m.lastResultAt ?? 0, m.since) > bound;
}

/**
 * The samples of one watch. While the cron has stopped, the monitors it runs (a minute and
 * slower) are left out of the stale count: the cron's own alert already says they stopped,
 * and one cause pages once.
 */
export function selfSamples(o: SelfObservation): Sample[] {
  const cronStopped = o.cronAt !== null && o.now - o.cronAt > CRON_STOPPED_SECONDS * 1000;
  const explained = (m: ProbedMonitor) => cronStopped && m.intervalSeconds * 1000 >= CRON_INTERVAL_MS;
  const sample = (metric: string, value: number): Sample => ({
    metric,
    service: SELF_SERVICE,
    labels: {},
    value,
    ts: o.now,
  });
  const samples = [
    sample(DELIVERY_OVERDUE_METRIC, o.oldestOverdueAt === null ? 0 : Math.max(0, o.now - o.oldestOverdueAt) / 1000),
    sample(STALE_MONITORS_METRIC, o.monitors.filter((m) => !explained(m) && isStale(m, o.now)).length),
  ];
  if (o.cronAt !== null) samples.unshift(sample(CRON_SILENT_METRIC, Math.max(0, o.now - o.cronAt) / 1000));
  return samples;
}

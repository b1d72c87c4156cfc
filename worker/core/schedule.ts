/**
 * When probes run and where: cron slots (interval ≥ 60 s) and ProbeRunner alarm loops
 * (faster monitors), without drift, skipping missed slots; leases, lag and the watchdog.
 */

/** Cron Triggers fire once a minute: monitors at least this slow run from the cron. */
export const CRON_INTERVAL_MS = 60_000;
/** Simultaneous outgoing connections one Workers invocation may hold; more are queued. */
export const MAX_CONCURRENT_PROBES = 6;
/** A claimed run's lease covers its timeout plus this (diagnosis and recording). */
export const LEASE_MARGIN_MS = 30_000;
/**
 * Monitors per ProbeRunner: at most MAX_CONCURRENT_PROBES, so one alarm invocation can
 * open a connection for every monitor due at once and none waits for a free one.
 */
export const RUNNER_CAPACITY = MAX_CONCURRENT_PROBES;
/**
 * A runner the watchdog has not synced for this long checks its monitors against D1
 * itself: the watchdog only visits runners that should hold monitors, so one left with
 * a deleted or paused monitor (its write's RPC failed) would otherwise never hear of it.
 */
export const RUNNER_SELF_CHECK_MS = 3 * CRON_INTERVAL_MS;

export interface ScheduledKind {
  kind: string;
  isActive: boolean;
  intervalSeconds: number;
}

const isProbe = (m: ScheduledKind) => m.kind === "http" || m.kind === "prometheus";

/** An active probe or scrape slow enough for the per-minute cron. */
export const runsOnCron = (m: ScheduledKind): boolean =>
  isProbe(m) && m.isActive && m.intervalSeconds * 1000 >= CRON_INTERVAL_MS;

/** An active probe or scrape faster than the cron: it runs in a ProbeRunner alarm loop. */
export const runsOnRunner = (m: ScheduledKind): boolean =>
  isProbe(m) && m.isActive && m.intervalSeconds * 1000 < CRON_INTERVAL_MS;

/**
 * The ProbeRunner a monitor belongs to: consecutive ids in groups of RUNNER_CAPACITY.
 * Grouping shares one alarm request and one stretch of billed wall time among monitors
 * whose slots coincide, while the group size keeps every due probe on its own connection.
 * It depends on the id alone, so a monitor never moves between runners.
 *
 * @example runnerName(13) // "runner-2"
 */
export function runnerName(monitorId: number): string {
  return `runner-${Math.floor(monitorId / RUNNER_CAPACITY)}`;
}

/**
 * The next run after `previousDue`: previousDue + k × interval for the smallest k ≥ 1
 * that lies after `now`. Slots missed while the collector was late are skipped, never
 * run in a burst, and the schedule keeps its phase (no drift from late starts).
 *
 * @example nextSlot(0, 10_000, 35_000) // 40_000
 */
export function nextSlot(previousDue: number, intervalMs: number, now: number): number {
  if (!(intervalMs > 0)) throw new RangeError("interval must be positive");
  const next = previousDue + intervalMs;
  if (next > now) return next;
  return previousDue + (Math.floor((now - previousDue) / intervalMs) + 1) * intervalMs;
}

/**
 * A new loop monitor's first run: the next multiple of its interval since the epoch,
 * so monitors of the same interval in one runner share their alarms.
 */
export function firstSlot(now: number, intervalMs: number): number {
  return Math.ceil(now / intervalMs) * intervalMs;
}

/** Until when a run claimed at `now` holds its lease. */
export const leaseUntil = (now: number, timeoutMs: number): number => now + timeoutMs + LEASE_MARGIN_MS;

/**
 * How far behind schedule the cron path is, in seconds: for the most overdue monitor,
 * the time since the first cron tick that could have run it (a monitor due at 10:00:30
 * cannot run before 10:01:00, and is not late then).
 */
export function cronLagSeconds(dueTimes: readonly number[], now: number): number {
  let lag = 0;
  for (const due of dueTimes) {
    const tick = Math.ceil(due / CRON_INTERVAL_MS) * CRON_INTERVAL_MS;
    lag = Math.max(lag, now - tick);
  }
  return lag / 1000;
}

/** How far behind a runner is, in seconds: the age of its earliest pending run (0 when none is overdue). */
export function runnerLagSeconds(earliestDue: number | null, now: number): number {
  return earliestDue === null ? 0 : Math.max(0, now - earliestDue) / 1000;
}

export interface LoopState {
  /** The runner's alarm, null when none is set. */
  alarmAt: number | null;
  /** Its earliest pending run, null when it has no monitors. */
  earliestDue: number | null;
  /** Its shortest monitor interval. */
  minIntervalMs: number;
}

/**
 * The watchdog's decision: when to re-arm a runner's alarm, or null to leave it. A loop
 * with monitors needs an alarm, one not stuck more than an interval in the past, and
 * one no later than its earliest pending run.
 */
export function rearmAt(state: LoopState, now: number): number | null {
  const { alarmAt, earliestDue, minIntervalMs } = state;
  if (earliestDue === null) return null;
  const wanted = Math.max(now, earliestDue);
  if (alarmAt === null) return wanted;
  if (alarmAt < now - minIntervalMs) return wanted;
  if (alarmAt > earliestDue && alarmAt > now) return wanted;
  return null;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; resolves when all have
 * settled, with each outcome in input order (a rejection does not stop the others).
 */
export async function runBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = Array.from({ length: items.length });
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

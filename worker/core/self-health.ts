/**
 * Whether the monitor itself can do its job, from what its health check measured: D1
 * answers, the sentinel answers, and the per-minute cron (probes, heartbeat continuity,
 * retention, the outbox sweep, digests) has run recently. A cron never seen is not judged
 * (a fresh deployment, or local tests, before the first tick).
 */

/**
 * The cron runs every minute: silent for longer than this (a tick missed, and the next one
 * late), it has stopped. /healthz, the dead-man pings and the built-in "cron stopped" rule
 * (migrations/0009, threshold 120 s) all judge by this bound.
 */
export const CRON_SILENT_MS = 2 * 60_000;

export interface SelfCheck {
  now: number;
  /** Null when D1 answered, else why not. */
  d1Error: string | null;
  /** Null when the sentinel answered, else why not. */
  sentinelError: string | null;
  /** The cron's last tick, as the sentinel recorded it (null: never seen). */
  cronAt: number | null;
}

export interface SelfHealth {
  ok: boolean;
  problems: string[];
}

export function judgeSelf(c: SelfCheck): SelfHealth {
  const problems: string[] = [];
  if (c.d1Error !== null) problems.push(`D1 unreachable: ${c.d1Error}`);
  if (c.sentinelError !== null) problems.push(`sentinel unreachable: ${c.sentinelError}`);
  if (c.cronAt !== null && c.now - c.cronAt > CRON_SILENT_MS) {
    const minutes = Math.floor((c.now - c.cronAt) / 60_000);
    problems.push(
      `Cron Triggers have not run for ${minutes} minutes; probes of 60 s and slower, heartbeat checks and the outbox sweep are stopped`,
    );
  }
  return { ok: problems.length === 0, problems };
}

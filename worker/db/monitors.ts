/**
 * Monitor queries for probe scheduling: the cron's due selection, atomic run leases and
 * schedule updates, and the monitors the ProbeRunner loops should hold.
 */
import { and, eq, gte, inArray, isNull, lt, lte, or } from "drizzle-orm";
import type { ProbeKind, ProbeMonitor } from "../core/probe";
import { CRON_INTERVAL_MS } from "../core/schedule";
import { getDb } from "./client";
import { monitors } from "./schema";

type MonitorRow = typeof monitors.$inferSelect;

const PROBE_KINDS: ProbeKind[] = ["http", "prometheus"];
const CRON_MIN_SECONDS = CRON_INTERVAL_MS / 1000;

export function rowToProbeMonitor(row: MonitorRow): ProbeMonitor | null {
  if (row.kind !== "http" && row.kind !== "prometheus") return null;
  return { id: row.id, service: row.service, kind: row.kind, intervalSeconds: row.intervalSeconds, config: row.config };
}

export interface DueMonitor extends ProbeMonitor {
  /** The slot it is due for; null before its first run. */
  nextDueAt: number | null;
}

/** Active monitors that this module probes or scrapes (heartbeats are pinged, not probed). */
const activeProbe = and(eq(monitors.isActive, true), inArray(monitors.kind, PROBE_KINDS));
const dueAt = (now: number) => or(isNull(monitors.nextDueAt), lte(monitors.nextDueAt, now));

/** Active probes and scrapes on the cron path that are due at `now`, most overdue first. */
export async function selectDueCronMonitors(env: Env, now: number): Promise<DueMonitor[]> {
  const rows = await getDb(env.DB)
    .select()
    .from(monitors)
    .where(and(activeProbe, gte(monitors.intervalSeconds, CRON_MIN_SECONDS), dueAt(now)))
    .orderBy(monitors.nextDueAt, monitors.id);
  return rows.flatMap((row) => {
    const m = rowToProbeMonitor(row);
    return m ? [{ ...m, nextDueAt: row.nextDueAt }] : [];
  });
}

/**
 * Takes the run lease of a monitor that is still due at `now`, atomically: true only for
 * the one caller whose UPDATE matched (no lease, or an expired one at `clock`).
 */
export async function claimMonitorRun(
  env: Env,
  id: number,
  at: { now: number; clock: number; leaseUntil: number },
): Promise<boolean> {
  const claimed = await getDb(env.DB)
    .update(monitors)
    .set({ leaseUntil: at.leaseUntil })
    .where(and(eq(monitors.id, id), dueAt(at.now), or(isNull(monitors.leaseUntil), lt(monitors.leaseUntil, at.clock))))
    .returning({ id: monitors.id });
  return claimed.length === 1;
}

/** Ends a claimed run: records it, moves the schedule to the next slot, drops the lease. */
export async function finishMonitorRun(env: Env, id: number, lastRunAt: number, nextDueAt: number): Promise<void> {
  await getDb(env.DB).update(monitors).set({ lastRunAt, nextDueAt, leaseUntil: null }).where(eq(monitors.id, id));
}

/** Forgets a monitor's cron schedule, so its next run is at the next cron tick. */
export async function resetMonitorSchedule(env: Env, id: number): Promise<void> {
  await getDb(env.DB).update(monitors).set({ nextDueAt: null, leaseUntil: null }).where(eq(monitors.id, id));
}

/**
 * Active probes and scrapes faster than the cron: what the ProbeRunner loops should hold
 * (all of them, or those among `ids`).
 */
export async function selectLoopMonitors(env: Env, ids?: readonly number[]): Promise<ProbeMonitor[]> {
  const rows = await getDb(env.DB)
    .select()
    .from(monitors)
    .where(
      and(
        activeProbe,
        lt(monitors.intervalSeconds, CRON_MIN_SECONDS),
        ids ? inArray(monitors.id, [...ids]) : undefined,
      ),
    )
    .orderBy(monitors.id);
  return rows.flatMap((row) => {
    const m = rowToProbeMonitor(row);
    return m ? [m] : [];
  });
}

/**
 * Heartbeat monitors with their state in D1: lookup by slug, the per-minute scan (one
 * query), and state writes guarded by the row's updated_at so a racing ping is never overwritten.
 */
import { and, eq, sql } from "drizzle-orm";
import type { HeartbeatMonitor, HeartbeatSchedule, HeartbeatState } from "../core/heartbeat";
import { initialHeartbeatState } from "../core/heartbeat";
import type { Db } from "./client";
import { heartbeatState, monitors } from "./schema";

export interface StoredHeartbeat {
  monitor: HeartbeatMonitor;
  state: HeartbeatState;
  /** updated_at of the stored state (null: no row yet), the version a write must still find. */
  version: number | null;
}

type MonitorRow = typeof monitors.$inferSelect;
type StateRow = typeof heartbeatState.$inferSelect;

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The schedule in a heartbeat monitor's config (validated on write), or null if it has none. */
export function scheduleOf(config: Record<string, unknown>): HeartbeatSchedule | null {
  const graceSeconds = num(config.grace_seconds) ?? 0;
  const period = num(config.period_seconds);
  if (period !== null) return { kind: "period", periodSeconds: period, graceSeconds };
  if (typeof config.cron === "string") {
    const timeZone = typeof config.timezone === "string" ? config.timezone : "UTC";
    return { kind: "cron", cron: config.cron, timeZone, graceSeconds };
  }
  return null;
}

function toStored(m: MonitorRow, s: StateRow | null): StoredHeartbeat | null {
  const schedule = scheduleOf(m.config);
  if (!schedule) return null;
  const state: HeartbeatState = s
    ? {
        status: s.state,
        lastPingAt: s.lastPingAt,
        lastStartAt: s.lastStartAt,
        lastFailAt: s.lastFailAt,
        lastExitCode: s.lastExitCode,
        lastRuntimeMs: s.lastRuntimeMs,
        recentRuntimesMs: Array.isArray(s.recentRuntimesMs) ? s.recentRuntimesMs : [],
        message: s.message,
      }
    : initialHeartbeatState();
  return {
    monitor: { id: m.id, service: m.service, schedule, since: m.createdAt },
    state,
    version: s?.updatedAt ?? null,
  };
}

const withState = (db: Db) =>
  db
    .select({ monitor: monitors, state: heartbeatState })
    .from(monitors)
    .leftJoin(heartbeatState, eq(heartbeatState.monitorId, monitors.id));
const activeHeartbeat = and(eq(monitors.kind, "heartbeat"), eq(monitors.isActive, true));

/** The active heartbeat monitor whose URL carries `slug`, with its state; null if none. */
export async function findHeartbeatBySlug(db: Db, slug: string): Promise<StoredHeartbeat | null> {
  const [row] = await withState(db)
    .where(and(eq(monitors.heartbeatSlug, slug), activeHeartbeat))
    .limit(1);
  return row ? toStored(row.monitor, row.state) : null;
}

/** Every active heartbeat monitor with its state, in one query. */
export async function listActiveHeartbeats(db: Db): Promise<StoredHeartbeat[]> {
  const rows = await withState(db).where(activeHeartbeat);
  return rows.flatMap((r) => toStored(r.monitor, r.state) ?? []);
}

/**
 * The write of a new state, applied only if the stored row is still at `version` (or,
 * for null, still absent). Its RETURNING row is present exactly when it was applied.
 * The new updated_at is strictly greater than `version`, so every write changes it.
 */
export function saveHeartbeatState(
  db: Db,
  monitorId: number,
  state: HeartbeatState,
  version: number | null,
  now: number,
) {
  const values = {
    state: state.status,
    lastPingAt: state.lastPingAt,
    lastStartAt: state.lastStartAt,
    lastFailAt: state.lastFailAt,
    lastExitCode: state.lastExitCode,
    lastRuntimeMs: state.lastRuntimeMs,
    recentRuntimesMs: state.recentRuntimesMs,
    message: state.message,
    updatedAt: Math.max(now, (version ?? 0) + 1),
  };
  return db
    .insert(heartbeatState)
    .values({ monitorId, ...values })
    .onConflictDoUpdate({
      target: heartbeatState.monitorId,
      set: values,
      setWhere: version === null ? sql`0` : sql`${heartbeatState.updatedAt} = ${version}`,
    })
    .returning({ monitorId: heartbeatState.monitorId });
}

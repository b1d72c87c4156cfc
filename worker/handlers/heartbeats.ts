/**
 * Heartbeat glue: a ping applied to its monitor's state, and the per-minute check that
 * marks silent jobs late and keeps every heartbeat_ok series continuous.
 */
import {
  applyHeartbeatEvent,
  type HeartbeatEvent,
  type HeartbeatStatus,
  heartbeatOkSample,
  lateAt,
} from "../core/heartbeat";
import type { Sample } from "../core/series";
import { getDb } from "../db/client";
import { findHeartbeatBySlug, listActiveHeartbeats, saveHeartbeatState } from "../db/heartbeats";
import { ApiError } from "../lib/errors";
import { recordSamples } from "../lib/series";

/** A ping racing another ping of the same monitor re-reads and re-applies; this many times at most. */
const MAX_ATTEMPTS = 8;

/** Pings are answered after the state is saved; a failure to store samples is logged, not the caller's problem. */
async function recordQuietly(env: Env, samples: Sample[], now: number): Promise<void> {
  try {
    await recordSamples(env, samples, now, "heartbeat");
  } catch (err) {
    console.error("heartbeat samples not recorded", err);
  }
}

/**
 * Applies a ping to the active heartbeat monitor whose URL carries `slug`, saves the new
 * state and records its samples. Throws a 404 ApiError for an unknown or inactive key.
 */
export async function recordHeartbeatPing(
  env: Env,
  slug: string,
  event: Exclude<HeartbeatEvent, { type: "tick" }>,
): Promise<HeartbeatStatus> {
  const db = getDb(env.DB);
  for (let attempt = 1; ; attempt++) {
    const hb = await findHeartbeatBySlug(db, slug);
    if (!hb) throw new ApiError(404, "No active heartbeat monitor has this key.");
    const t = applyHeartbeatEvent(hb.monitor, hb.state, event);
    const [saved] = await saveHeartbeatState(db, hb.monitor.id, t.state, hb.version, event.at);
    if (saved) {
      await recordQuietly(env, t.samples, event.at);
      await armDeadline(env, lateAt(hb.monitor, t.state, event.at));
      return t.state.status;
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new ApiError(409, "Too many simultaneous pings for this monitor; retry.", {
        headers: { "retry-after": "1" },
      });
    }
    // Pings that collided retry at staggered times, so they do not collide again.
    await new Promise((resolve) => setTimeout(resolve, attempt * (5 + Math.random() * 20)));
  }
}

/** Tells the sentinel a heartbeat's next deadline, for its alarm; a failure is logged (the cron is the safety net). */
async function armDeadline(env: Env, at: number | null): Promise<void> {
  if (at === null) return;
  try {
    await env.SENTINEL.getByName("main").heartbeatDue(at);
  } catch (err) {
    console.error("heartbeat deadline not armed", err);
  }
}

/**
 * Applies the passing of time to every active heartbeat monitor, saves the states that
 * changed in one D1 batch and records their samples; with `continuity` (the per-minute
 * job) also one heartbeat_ok sample per unchanged monitor, so absence shows as a 0 and the
 * series has no gaps. A state a ping changed meanwhile is left alone: the ping's view is
 * newer. Returns the next deadline among the monitors (null: none), for the sentinel's alarm.
 */
export async function checkHeartbeats(
  env: Env,
  now: number,
  { continuity = true }: { continuity?: boolean } = {},
): Promise<number | null> {
  const db = getDb(env.DB);
  const checked = (await listActiveHeartbeats(db)).map((hb) => ({
    hb,
    t: applyHeartbeatEvent(hb.monitor, hb.state, { type: "tick", at: now }),
  }));
  const changed = checked.filter((c) => c.t.changed);
  const applied = new Set<number>();
  const [first, ...rest] = changed.map((c) => saveHeartbeatState(db, c.hb.monitor.id, c.t.state, c.hb.version, now));
  if (first) {
    const results = await db.batch([first, ...rest]);
    for (const rows of results) for (const row of rows) applied.add(row.monitorId);
  }
  const samples = checked.flatMap(({ hb, t }) => {
    if (!t.changed) return continuity ? [heartbeatOkSample(hb.monitor, hb.state, now)] : [];
    return applied.has(hb.monitor.id) ? t.samples : [];
  });
  if (samples.length) await recordSamples(env, samples, now, "heartbeat");
  const deadlines = checked.map(({ hb, t }) => lateAt(hb.monitor, t.state, now)).filter((d): d is number => d !== null);
  return deadlines.length ? Math.min(...deadlines) : null;
}

/** The per-minute job: every heartbeat checked and its series kept continuous, and the sentinel armed. */
export async function checkHeartbeatsEveryMinute(env: Env, now: number): Promise<void> {
  await armDeadline(env, await checkHeartbeats(env, now));
}

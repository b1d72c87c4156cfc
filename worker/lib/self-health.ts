/**
 * The monitor's check of itself, for `/healthz`: D1 and the sentinel asked (each bounded
 * by a timeout), judged by core/self-health. Results are kept for a few seconds per
 * environment, so an outside checker polling /healthz costs next to nothing.
 */
import { judgeSelf, type SelfHealth } from "../core/self-health";
import { BUILD_VERSION } from "../core/self-metrics";
import { readSelfMetrics } from "../db/self-metrics";

const KEEP_MS = 5_000;
const TIMEOUT_MS = 2_000;
const kept = new WeakMap<object, { at: number; health: SelfHealth }>();

async function bounded<T>(what: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([what, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A bounded call, with how long it took and why it failed (a binding that throws at once is a failed call). */
async function timed<T>(run: () => Promise<T>): Promise<{ value: T | null; ms: number; error: string | null }> {
  const started = Date.now();
  try {
    return { value: await bounded(Promise.resolve().then(run)), ms: Date.now() - started, error: null };
  } catch (err) {
    return { value: null, ms: Date.now() - started, error: reason(err) };
  }
}

/** What /healthz and health/self both ask: D1, and the sentinel (with the cron's last tick). */
async function askSelf(env: Env, now: number) {
  const [d1, sentinel] = await Promise.all([
    timed(() => env.DB.prepare("SELECT 1 AS one").first()),
    timed(() => env.SENTINEL.getByName("main").status()),
  ]);
  const cronAt = sentinel.value?.cronAt ?? null;
  const health = judgeSelf({ now, d1Error: d1.error, sentinelError: sentinel.error, cronAt });
  return { d1, sentinel, cronAt, health };
}

export async function checkSelf(env: Env, now: number): Promise<SelfHealth> {
  const last = kept.get(env);
  if (last && now - last.at < KEEP_MS) return last.health;
  const { health } = await askSelf(env, now);
  kept.set(env, { at: now, health });
  return health;
}

/** The details behind /healthz, for `GET health/self`: measured now, not kept. */
export async function selfReport(env: Env, now: number) {
  const [{ d1, sentinel, cronAt, health }, metrics] = await Promise.all([
    askSelf(env, now),
    timed(() => readSelfMetrics(env.DB, now)),
  ]);
  return {
    ok: health.ok,
    problems: health.problems,
    version: BUILD_VERSION,
    d1: { round_trip_ms: d1.ms, error: d1.error },
    sentinel: {
      round_trip_ms: sentinel.ms,
      error: sentinel.error,
      next_check_at: sentinel.value?.nextCheck ? new Date(sentinel.value.nextCheck).toISOString() : null,
    },
    cron: {
      last_tick_at: cronAt === null ? null : new Date(cronAt).toISOString(),
      lag_seconds: cronAt === null ? null : Math.max(0, Math.round((now - cronAt) / 1000)),
    },
    notifications: {
      backlog: metrics.value?.backlog ?? null,
      oldest_undelivered_seconds: metrics.value?.oldestUndeliveredSeconds ?? null,
    },
    probes: (metrics.value?.probeLag ?? []).map((p) => ({ id: p.id, monitor: p.monitor, lag_seconds: p.seconds })),
  };
}

/**
 * The monitor's check of itself, for `/healthz`: D1 and the sentinel asked (each bounded
 * by a timeout), judged by core/self-health. Results are kept for a few seconds per
 * environment, so an outside checker polling /healthz costs next to nothing.
 */
import { judgeSelf, type SelfHealth } from "../core/self-health";

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

export async function checkSelf(env: Env, now: number): Promise<SelfHealth> {
  const last = kept.get(env);
  if (last && now - last.at < KEEP_MS) return last.health;
  const [d1, sentinel] = await Promise.allSettled([
    // Started inside a promise, so a binding that throws at once is a failed check, not an error.
    bounded(Promise.resolve().then(() => env.DB.prepare("SELECT 1 AS one").first())),
    bounded(Promise.resolve().then(() => env.SENTINEL.getByName("main").status())),
  ]);
  const health = judgeSelf({
    now,
    d1Error: d1.status === "rejected" ? reason(d1.reason) : null,
    sentinelError: sentinel.status === "rejected" ? reason(sentinel.reason) : null,
    cronAt: sentinel.status === "fulfilled" ? (sentinel.value.cronAt ?? null) : null,
  });
  kept.set(env, { at: now, health });
  return health;
}

/**
 * The brute-force guard as routes use it: `admit` before a credential is checked (429 with
 * Retry-After while the client address or the account is locked out), `refuse` after a
 * failed check (counts the failure in the AuthGuard object, which may lock), `succeeded`
 * after a good one (clears the account's failures).
 *
 * The happy path stays cheap: each isolate remembers subjects the guard had no record of
 * for CLEAN_TTL_MS and admits them without a round trip; so a client that never fails pays
 * one call per isolate per CLEAN_TTL_MS. A lockout holds across isolates because every
 * failure is counted in the object (awaited) and every subject not known clean here is
 * checked there before its credential is. What slips through: an isolate that saw a client
 * clean less than CLEAN_TTL_MS ago checks that client's next credential itself; if wrong,
 * the failure reaches the object, which answers "locked" (429, and the isolate remembers);
 * if right, it is let in. So a lockout costs an attacker all but about one guess per
 * isolate that had seen them clean in the last 10 s, and every guess is still counted.
 */
import type { AuthGuard } from "../../durable-objects/auth-guard";
import {
  clientNetwork,
  type GuardKind,
  type GuardLimits,
  guardLimits,
  isAccount,
  REALM_OF,
  retryAfterSeconds,
  subjectKey,
} from "../core/auth-guard";
import { ApiError } from "./errors";
import { countAuthFailure, countLockout } from "./counters";
import { secretPrefix } from "./secrets";

/** How long an isolate trusts "no record" for a subject. */
export const CLEAN_TTL_MS = 10_000;
/** Bounds each of the isolate's maps against floods of random subjects. */
const MAX_CACHED = 10_000;
/** Failure records are spread over this many named instances by subject. */
const SHARDS = 4;
/**
 * Where a request carries no CF-Connecting-IP (never behind Cloudflare's edge, nor under
 * `wrangler dev`, which sets the local client's; a test's direct calls): every such request
 * counts as this one address.
 */
export const UNKNOWN_ADDRESS = "unknown";

const cleanUntil = new Map<string, number>();
const lockedUntil = new Map<string, number>();

/** Forgets what this isolate knows (tests). */
export function forgetGuardCache(): void {
  cleanUntil.clear();
  lockedUntil.clear();
}

function remember(map: Map<string, number>, subject: string, until: number) {
  if (map.size >= MAX_CACHED) map.clear();
  map.set(subject, until);
}

export interface Guarded {
  kind: GuardKind;
  limits: GuardLimits | null;
  subjects: string[];
  /** Accounts the guard has a record of (so a success should clear it). */
  known: string[];
}

/** The client address Cloudflare saw, or UNKNOWN_ADDRESS. */
export const clientAddress = (req: Request) => req.headers.get("cf-connecting-ip")?.trim() || UNKNOWN_ADDRESS;

/** The subjects a credential presented to `kind` is counted against: the client address (an IPv6 one by its /64) and the secret's prefix. */
export function guardFor(env: Env, req: Request, kind: GuardKind, secret: string): Guarded {
  const realm = REALM_OF[kind];
  return {
    kind,
    limits: guardLimits(env),
    subjects: [
      subjectKey(realm, "addr", clientNetwork(clientAddress(req))),
      subjectKey(realm, "acct", secretPrefix(secret)),
    ],
    known: [],
  };
}

/** FNV-1a, for spreading subjects over the shards. */
function shardOf(subject: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < subject.length; i++) h = Math.imul(h ^ subject.charCodeAt(i), 0x01000193);
  return (h >>> 0) % SHARDS;
}

/** The instance keeping a subject's record. */
export const guardStub = (env: Env, subject: string) => env.AUTH_GUARD.getByName(`failures-${shardOf(subject)}`);

/** Calls `fn` on each shard holding some of `subjects`, in parallel; the answers concatenated. */
async function perShard<T>(
  env: Env,
  subjects: readonly string[],
  fn: (stub: DurableObjectStub<AuthGuard>, subjects: string[]) => Promise<T[]>,
): Promise<T[]> {
  const groups = new Map<number, string[]>();
  for (const s of subjects) groups.set(shardOf(s), [...(groups.get(shardOf(s)) ?? []), s]);
  const answers = await Promise.all(
    [...groups].map(([shard, subs]) => fn(env.AUTH_GUARD.getByName(`failures-${shard}`), subs)),
  );
  return answers.flat();
}

const tooMany = (ms: number) => {
  const seconds = retryAfterSeconds(ms);
  return new ApiError(429, `Too many failed attempts; retry in ${seconds} s.`, {
    headers: { "Retry-After": String(seconds) },
  });
};

/**
 * 429 while any of the subjects is locked out; resolves otherwise. A guard that cannot be
 * reached admits (logged): the credential check still stands, only the limit is missing.
 */
export async function admit(env: Env, g: Guarded, now: number): Promise<void> {
  if (!g.limits) return;
  let locked = 0;
  for (const s of g.subjects) locked = Math.max(locked, (lockedUntil.get(s) ?? 0) - now);
  if (locked > 0) throw tooMany(locked);
  const unknown = g.subjects.filter((s) => (cleanUntil.get(s) ?? 0) <= now);
  if (!unknown.length) return;
  const limits = g.limits;
  let states;
  try {
    states = await perShard(env, unknown, (stub, subs) => stub.check(subs, limits));
  } catch (err) {
    console.error("auth guard unreachable; admitting", err);
    return;
  }
  const known = new Set(states.map((s) => s.subject));
  for (const s of unknown) if (!known.has(s)) remember(cleanUntil, s, now + CLEAN_TTL_MS);
  g.known = [...known].filter(isAccount);
  for (const s of states) {
    if (s.lockedMs <= 0) continue;
    remember(lockedUntil, s.subject, now + s.lockedMs);
    locked = Math.max(locked, s.lockedMs);
  }
  if (locked > 0) throw tooMany(locked);
}

/**
 * A failed credential check: counts it and throws `error` (the 401), or a 429 when a
 * lockout was in force already (the check came through an isolate that had not heard).
 */
export async function refuse(env: Env, g: Guarded, error: ApiError, now: number): Promise<never> {
  countAuthFailure(env, g.kind);
  if (!g.limits) throw error;
  const limits = g.limits;
  for (const s of g.subjects) cleanUntil.delete(s);
  let outcomes;
  try {
    outcomes = await perShard(env, g.subjects, (stub, subs) => stub.fail(subs, limits));
  } catch (err) {
    console.error("auth guard unreachable; failure not counted", err);
    throw error;
  }
  let wasLocked = 0;
  let lockedNow = 0;
  for (const o of outcomes) {
    if (o.lockedMs > 0) remember(lockedUntil, o.subject, now + o.lockedMs);
    if (o.wasLocked) wasLocked = Math.max(wasLocked, o.lockedMs);
    if (o.lockedNow) lockedNow++;
  }
  if (lockedNow) countLockout(env, g.kind, lockedNow);
  throw wasLocked > 0 ? tooMany(wasLocked) : error;
}

/** A good credential: the guard forgets the account's failures, if it had any (no call otherwise). */
export function succeeded(env: Env, g: Guarded, waitUntil: (p: Promise<unknown>) => void): void {
  if (!g.limits || !g.known.length) return;
  waitUntil(
    perShard(env, g.known, async (stub, subs) => [await stub.succeed(subs)]).catch((err: unknown) =>
      console.error("auth guard: clearing failures failed", err),
    ),
  );
}

/**
 * Brute-force limits on credentials: failures are counted per client address and per
 * account (the presented secret's prefix), and a subject with too many of them is locked
 * out for a while that doubles with each lockout. Pure: records are values, the clock is
 * passed in. The AuthGuard Durable Object keeps the records (durable-objects/auth-guard.ts);
 * lib/auth-guard.ts asks it.
 */

/** Where a credential was presented, for the counters; each belongs to a realm. */
export const GUARD_KINDS = ["login", "token", "ingest"] as const;
export type GuardKind = (typeof GUARD_KINDS)[number];

/**
 * Failures of kinds sharing a realm are counted together: a login and a bearer token both
 * present an admin token, so guessing through either path draws on one allowance; an
 * ingest key lives apart, so a pusher with a stale key does not lock its address out of
 * the dashboard.
 */
export const REALM_OF: Record<GuardKind, "admin" | "ingest"> = { login: "admin", token: "admin", ingest: "ingest" };

export interface GuardLimits {
  /** Failures from one client address within the window before it is locked out. */
  perAddress: number;
  /** Failures against one account (secret prefix) within the window before it is locked out. */
  perAccount: number;
  windowMs: number;
  /** The first lockout; each further one doubles it, up to `maxLockoutMs`. */
  firstLockoutMs: number;
  maxLockoutMs: number;
}

export const DEFAULT_GUARD_LIMITS: GuardLimits = {
  perAddress: 10,
  perAccount: 5,
  windowMs: 10 * 60_000,
  firstLockoutMs: 30_000,
  maxLockoutMs: 60 * 60_000,
};

/** What is known of one subject (an address or an account in a realm). */
export interface FailureRecord {
  /** Failures counted in the current window (0 once a lockout began). */
  failures: number;
  windowStart: number;
  /** Lockouts so far; while the record lives, each further failure locks again, twice as long. */
  lockouts: number;
  /** Epoch ms until which the subject is refused; 0 when never locked. */
  lockedUntil: number;
}

/** A subject is named by realm, what it is, and its value: `admin:addr:203.0.113.9`, `ingest:acct:emk_3q2abc`. */
export function subjectKey(realm: string, what: "addr" | "acct", value: string): string {
  return `${realm}:${what}:${value}`;
}

/**
 * The address failures are counted under: an IPv4 address as is, an IPv6 one by its /64
 * (one client usually holds a whole /64 and could otherwise take a fresh address per try).
 *
 * @example clientNetwork("2001:db8:1:2:aaaa::1") // "2001:db8:1:2::/64"
 */
export function clientNetwork(address: string): string {
  const ip = address.trim().toLowerCase();
  if (!ip.includes(":") || ip.includes(".")) return ip; // IPv4, or IPv4-mapped: kept whole
  const [head = "", tail] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g: string) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Whether a subject key names an account (its record is cleared by a success). */
export const isAccount = (subject: string) => subject.split(":")[1] === "acct";

/** The limit that applies to a subject key. */
export const limitOf = (subject: string, limits: GuardLimits) =>
  isAccount(subject) ? limits.perAccount : limits.perAddress;

/** The length of lockout number `lockouts + 1`: the first, then doubling, capped. */
export function lockoutMs(lockouts: number, limits: GuardLimits): number {
  return Math.min(limits.maxLockoutMs, limits.firstLockoutMs * 2 ** Math.min(lockouts, 30));
}

/**
 * When the record may be forgotten: a window after its last failure, or after its lockout
 * ends, whichever is later. Forgetting resets the doubling: quiet time is the reset.
 */
export function forgetAt(record: FailureRecord, limits: GuardLimits): number {
  return Math.max(record.windowStart, record.lockedUntil) + limits.windowMs;
}

/** The record as it stands at `now`: null once forgotten. */
export function live(record: FailureRecord | null, limits: GuardLimits, now: number): FailureRecord | null {
  return record && now < forgetAt(record, limits) ? record : null;
}

/** Milliseconds the subject stays locked out at `now` (0 when not locked). */
export function lockedFor(record: FailureRecord | null, now: number): number {
  return record ? Math.max(0, record.lockedUntil - now) : 0;
}

export interface FailureOutcome {
  record: FailureRecord;
  /** This failure began a lockout. */
  lockedNow: boolean;
}

/**
 * Counts one failure of a subject whose limit is `limit`. Within a window the `limit`-th
 * failure locks the subject out for the first lockout; after that, until the record is
 * forgotten, every further failure locks it again for twice the previous length (so a
 * patient guesser gets one try per lockout, not `limit`).
 *
 * @example recordFailure(null, 1, DEFAULT_GUARD_LIMITS, 0).record.lockedUntil // 30_000
 */
export function recordFailure(
  previous: FailureRecord | null,
  limit: number,
  limits: GuardLimits,
  now: number,
): FailureOutcome {
  const record = live(previous, limits, now);
  const lock = (lockouts: number): FailureOutcome => ({
    record: {
      failures: 0,
      windowStart: now,
      lockouts: lockouts + 1,
      lockedUntil: Math.max(record?.lockedUntil ?? 0, now + lockoutMs(lockouts, limits)),
    },
    lockedNow: true,
  });
  if (record && record.lockouts > 0) return lock(record.lockouts);
  const fresh = !record || now - record.windowStart >= limits.windowMs;
  const failures = fresh ? 1 : record.failures + 1;
  if (failures >= limit) return lock(0);
  return {
    record: { failures, windowStart: fresh ? now : record.windowStart, lockouts: 0, lockedUntil: 0 },
    lockedNow: false,
  };
}

/** Whole seconds for a Retry-After header: at least 1. */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** A positive integer setting, or `fallback` when unset or not one. */
function positive(raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * The limits from the environment: AUTH_LOCKOUT "off" turns lockouts off (failures are still
 * counted for the self-metric); AUTH_FAILURES_PER_ADDRESS and AUTH_FAILURES_PER_ACCOUNT
 * raise (or lower) the two allowances. Null when off.
 */
export function guardLimits(settings: {
  AUTH_LOCKOUT?: string;
  AUTH_FAILURES_PER_ADDRESS?: string;
  AUTH_FAILURES_PER_ACCOUNT?: string;
}): GuardLimits | null {
  if (settings.AUTH_LOCKOUT?.trim().toLowerCase() === "off") return null;
  return {
    ...DEFAULT_GUARD_LIMITS,
    perAddress: positive(settings.AUTH_FAILURES_PER_ADDRESS, DEFAULT_GUARD_LIMITS.perAddress),
    perAccount: positive(settings.AUTH_FAILURES_PER_ACCOUNT, DEFAULT_GUARD_LIMITS.perAccount),
  };
}

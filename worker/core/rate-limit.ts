/**
 * Token bucket as a value: `capacity` tokens, refilled continuously at
 * `capacity` per minute. Every function returns a new bucket; time is passed in.
 */

export interface TokenBucket {
  readonly capacity: number;
  readonly tokens: number;
  /** Tokens added per millisecond. */
  readonly refillPerMs: number;
  /** When `tokens` was last brought up to date, epoch ms. */
  readonly updatedAt: number;
}

export interface TakeResult {
  ok: boolean;
  bucket: TokenBucket;
  /** Whole seconds until `n` tokens are available: 0 when ok, Infinity when `n` exceeds the capacity. */
  retryAfterSeconds: number;
}

/** A full bucket allowing `perMinute` tokens per minute, with bursts up to `perMinute`. */
export function createBucket(perMinute: number, now: number): TokenBucket {
  return { capacity: perMinute, tokens: perMinute, refillPerMs: perMinute / 60_000, updatedAt: now };
}

/** The bucket with tokens added for the time since `updatedAt` (a clock going backwards adds nothing). */
export function refill(bucket: TokenBucket, now: number): TokenBucket {
  const elapsed = Math.max(0, now - bucket.updatedAt);
  const tokens = Math.min(bucket.capacity, bucket.tokens + elapsed * bucket.refillPerMs);
  return { ...bucket, tokens, updatedAt: Math.max(now, bucket.updatedAt) };
}

/**
 * Takes `n` tokens if they are there; otherwise takes none and says how long to wait.
 *
 * @example take(createBucket(60, 0), 61, 0).retryAfterSeconds // Infinity: 61 never fit in 60
 */
export function take(bucket: TokenBucket, n: number, now: number): TakeResult {
  const current = refill(bucket, now);
  if (n <= current.tokens)
    return { ok: true, bucket: { ...current, tokens: current.tokens - n }, retryAfterSeconds: 0 };
  if (n > current.capacity) return { ok: false, bucket: current, retryAfterSeconds: Number.POSITIVE_INFINITY };
  const waitMs = (n - current.tokens) / current.refillPerMs;
  return { ok: false, bucket: current, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/** Gives back `n` tokens taken for work that did not happen (capped at the capacity). */
export function giveBack(bucket: TokenBucket, n: number): TokenBucket {
  return { ...bucket, tokens: Math.min(bucket.capacity, bucket.tokens + n) };
}

/**
 * The bucket under a new per-minute limit (an admin changed it): tokens already
 * earned are kept up to the new capacity, so lowering a limit takes effect at once.
 */
export function resize(bucket: TokenBucket, perMinute: number, now: number): TokenBucket {
  const current = refill(bucket, now);
  return {
    ...current,
    capacity: perMinute,
    refillPerMs: perMinute / 60_000,
    tokens: Math.min(perMinute, current.tokens),
  };
}

// ---------------------------------------------------------------- leases

/**
 * A key's bucket lives in one place (the key's AuthGuard object) so its limit holds across
 * isolates; asking it per request would cost a round trip each. So an isolate reserves a
 * lease, a slice of the key's allowance, and spends it locally until it runs out or
 * `LEASE_MS` passes; leftovers go back with the next reservation.
 */
export const LEASE_MS = 1_000;

/** What an isolate asks for when it needs `n`: at least about one second of the key's refill. */
export function leaseSize(n: number, perMinute: number): number {
  return Math.max(n, Math.ceil(perMinute / 60));
}

export interface Reservation {
  bucket: TokenBucket;
  /** Tokens handed out: 0 when refused, else between `need` and `want`. */
  granted: number;
  retryAfterSeconds: number;
}

/**
 * Takes `need` tokens, or none (with the wait, as `take`); when taken, also hands out
 * whatever more is there, up to `want` in all.
 */
export function reserve(bucket: TokenBucket, need: number, want: number, now: number): Reservation {
  const result = take(bucket, need, now);
  if (!result.ok) return { bucket: result.bucket, granted: 0, retryAfterSeconds: result.retryAfterSeconds };
  const extra = Math.max(0, Math.min(Math.floor(result.bucket.tokens), want - need));
  return {
    bucket: { ...result.bucket, tokens: result.bucket.tokens - extra },
    granted: need + extra,
    retryAfterSeconds: 0,
  };
}

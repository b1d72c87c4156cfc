/**
 * Ingest keys' per-minute sample limits, global: each key's token bucket lives in its own
 * AuthGuard instance (`ingest-key:<id>`), and each isolate spends a lease, a slice of the
 * bucket reserved for LEASE_MS (core/rate-limit.ts), so a busy key costs about one round
 * trip per isolate per second rather than one per request. Tokens leased and not spent go
 * back with the isolate's next reservation (or are lost with the isolate: the key is then
 * briefly under its limit, never over).
 */
import { LEASE_MS, leaseSize } from "../core/rate-limit";

interface Lease {
  tokens: number;
  expiresAt: number;
  perMinute: number;
}

const leases = new Map<number, Lease>();

/** Forgets this isolate's leases (tests). */
export function forgetLeases(): void {
  leases.clear();
}

export type Charge = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * Takes `n` samples of key `keyId`'s `perMinute` allowance: from this isolate's lease when
 * it holds enough, else by reserving from the key's bucket. `retryAfterSeconds` is
 * Infinity for a batch larger than the allowance. A bucket that cannot be reached admits
 * (logged): the limit protects capacity, and refusing every push over it would lose data.
 */
export async function chargeKey(env: Env, keyId: number, perMinute: number, n: number, now: number): Promise<Charge> {
  const lease = leases.get(keyId);
  const current = lease && lease.perMinute === perMinute && lease.expiresAt > now;
  if (current && lease.tokens >= n) {
    lease.tokens -= n;
    return { ok: true };
  }
  // Not enough here: what is left goes back to the bucket with this reservation.
  const returned = lease && lease.perMinute === perMinute ? Math.floor(lease.tokens) : 0;
  leases.delete(keyId);
  let answer: { granted: number; retryAfterSeconds: number };
  try {
    answer = await env.AUTH_GUARD.getByName(`ingest-key:${keyId}`).reserve(
      perMinute,
      n,
      leaseSize(n, perMinute),
      returned,
    );
  } catch (err) {
    console.error("ingest: the key's rate limit cannot be reached; admitting", err);
    return { ok: true };
  }
  if (answer.granted === 0) return { ok: false, retryAfterSeconds: answer.retryAfterSeconds };
  // Another request of this isolate may have reserved meanwhile: its lease is kept too.
  const other = leases.get(keyId);
  const kept = other && other.perMinute === perMinute && other.expiresAt > now ? other.tokens : 0;
  leases.set(keyId, { tokens: kept + answer.granted - n, expiresAt: now + LEASE_MS, perMinute });
  return { ok: true };
}

/** Gives back `n` samples charged for a batch that was not stored (to this isolate's lease). */
export function refundKey(keyId: number, n: number): void {
  const lease = leases.get(keyId);
  if (lease) lease.tokens += n;
}

/**
 * Scoped-key authentication for collection endpoints: `Authorization: Bearer <key>`,
 * looked up by SHA-256 through an isolate-local cache so the hot path rarely touches D1.
 */
import { createMiddleware } from "hono/factory";
import { getDb } from "../db/client";
import { findIngestKeyByHash, type IngestKey, type IngestScope, touchIngestKey } from "../db/ingest-keys";
import { admit, guardFor, refuse, succeeded } from "../lib/auth-guard";
import { ApiError } from "../lib/errors";
import { hashSecret } from "../lib/secrets";

/**
 * A found key is trusted this long: revoking a key, or changing its limit, takes
 * effect within this time in every isolate (each isolate has its own cache).
 */
const FOUND_TTL_MS = 30_000;
/** Unknown keys are remembered briefly, so a misconfigured client does not query D1 per request. */
const UNKNOWN_TTL_MS = 5_000;
/** Bounds the cache against floods of random keys. */
const MAX_CACHED = 10_000;
/** last_used_at is written at most this often per key (and isolate). */
const TOUCH_EVERY_MS = 60_000;

interface CacheEntry {
  key: IngestKey | null;
  expiresAt: number;
}

// Values, not promises: a promise from one request's I/O must not be awaited by another.
const byHash = new Map<string, CacheEntry>();
const touchedAt = new Map<number, number>();

export type IngestAuthEnv = { Bindings: Env; Variables: { ingestKey: IngestKey } };

/** Forgets every cached key (tests, or after an admin changes keys in this isolate). */
export function forgetIngestKeys(): void {
  byHash.clear();
}

/**
 * The key behind `secret` (revoked ones included, so callers can say so), or null.
 * Stamps last_used_at through `waitUntil` at most once a minute.
 */
export async function resolveIngestKey(
  env: Env,
  secret: string,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<IngestKey | null> {
  const hash = await hashSecret(secret);
  let entry = byHash.get(hash);
  if (!entry || entry.expiresAt <= now) {
    const key = await findIngestKeyByHash(getDb(env.DB), hash);
    if (byHash.size >= MAX_CACHED) byHash.clear();
    entry = { key, expiresAt: now + (key ? FOUND_TTL_MS : UNKNOWN_TTL_MS) };
    byHash.set(hash, entry);
  }
  const key = entry.key;
  if (key && key.revokedAt === null) {
    const last = touchedAt.get(key.id) ?? key.lastUsedAt ?? 0;
    if (now - last >= TOUCH_EVERY_MS) {
      touchedAt.set(key.id, now);
      waitUntil(touchIngestKey(getDb(env.DB), key.id, now).catch((err: unknown) => console.warn("touch key", err)));
    }
  }
  return key;
}

const unauthorized = (message: string) =>
  new ApiError(401, message, { headers: { "WWW-Authenticate": 'Bearer realm="ingest"' } });

/**
 * Requires a live key of one of `scopes` and sets `ingestKey`: 401 without a known live key,
 * 403 for another scope, 429 while the client address or the key's prefix is locked out (checked
 * before the key is: lib/auth-guard.ts). An unknown key counts as a failure; a revoked one
 * does not (it is no guess: its holder had it, and a forgotten pusher must not lock its
 * address out for the keys that still work).
 */
export const requireIngestKey = (...scopes: [IngestScope, ...IngestScope[]]) => {
  const wanted = scopes.join(" or ");
  return createMiddleware<IngestAuthEnv>(async (c, next) => {
    const header = c.req.header("authorization");
    const secret = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!secret) throw unauthorized(`Send an ${wanted} key as "Authorization: Bearer <key>".`);
    const now = Date.now();
    const guard = guardFor(c.env, c.req.raw, "ingest", secret);
    await admit(c.env, guard, now);
    let key: IngestKey | null;
    try {
      key = await resolveIngestKey(c.env, secret, now, (p) => c.executionCtx.waitUntil(p));
    } catch (err) {
      console.error("ingest key lookup failed", err);
      throw new ApiError(503, "Keys cannot be checked right now; retry shortly.", {
        code: "unavailable",
        headers: { "Retry-After": "5" },
        cause: err,
      });
    }
    if (!key) return refuse(c.env, guard, unauthorized("Unknown key."), now);
    if (key.revokedAt !== null) throw unauthorized("This key has been revoked.");
    succeeded(c.env, guard, (p) => c.executionCtx.waitUntil(p));
    if (!scopes.includes(key.scope)) {
      throw new ApiError(403, `This is a ${key.scope} key; this endpoint needs an ${wanted} key.`);
    }
    c.set("ingestKey", key);
    await next();
  });
};

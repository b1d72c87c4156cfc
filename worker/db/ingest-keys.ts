/** Ingest and heartbeat keys as authentication sees them: lookup by hash, last-use stamps. */
import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { type INGEST_SCOPES, ingestKeys } from "./schema";

export type IngestScope = (typeof INGEST_SCOPES)[number];

export interface IngestKey {
  id: number;
  name: string;
  scope: IngestScope;
  /** Samples per minute; null means the global default. */
  rateLimitPerMinute: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** The key whose secret hashes to `keyHash` (revoked ones included), or null. */
export async function findIngestKeyByHash(db: Db, keyHash: string): Promise<IngestKey | null> {
  const [row] = await db
    .select({
      id: ingestKeys.id,
      name: ingestKeys.name,
      scope: ingestKeys.scope,
      rateLimitPerMinute: ingestKeys.rateLimitPerMinute,
      revokedAt: ingestKeys.revokedAt,
      lastUsedAt: ingestKeys.lastUsedAt,
    })
    .from(ingestKeys)
    .where(eq(ingestKeys.keyHash, keyHash))
    .limit(1);
  return row ?? null;
}

export async function touchIngestKey(db: Db, id: number, now: number): Promise<void> {
  await db.update(ingestKeys).set({ lastUsedAt: now }).where(eq(ingestKeys.id, id));
}

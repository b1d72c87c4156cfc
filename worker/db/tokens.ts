/**
 * Admin API tokens (kind "token"): created with a secret shown once and stored
 * only as its SHA-256, listed per admin, revoked by stamping `revoked_at`.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import { hashSecret, newSecret, secretPrefix } from "../lib/secrets";
import type { Db } from "./client";
import { apiTokens } from "./schema";

export type TokenRow = typeof apiTokens.$inferSelect;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Creates a token for `adminId`; the plaintext `token` exists only in the return value. */
export async function createApiToken(
  db: Db,
  adminId: number,
  opts: { name: string; expiresInDays?: number | undefined },
  now: number,
): Promise<{ row: TokenRow; token: string }> {
  const token = newSecret("token");
  const [row] = await db
    .insert(apiTokens)
    .values({
      adminId,
      kind: "token",
      name: opts.name,
      tokenHash: await hashSecret(token),
      prefix: secretPrefix(token),
      createdAt: now,
      expiresAt: opts.expiresInDays === undefined ? null : now + opts.expiresInDays * DAY_MS,
    })
    .returning();
  if (!row) throw new Error("inserting the API token returned no row");
  return { row, token };
}

/** The admin's API tokens (not sessions), oldest first, revoked and expired ones included. */
export function listApiTokens(db: Db, adminId: number): Promise<TokenRow[]> {
  return db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.adminId, adminId), eq(apiTokens.kind, "token")))
    .orderBy(asc(apiTokens.id));
}

/** Revokes one of the admin's API tokens; false when the admin has no such token. Revoking twice keeps the first time. */
export async function revokeApiToken(db: Db, adminId: number, id: number, now: number): Promise<boolean> {
  const mine = and(eq(apiTokens.id, id), eq(apiTokens.adminId, adminId), eq(apiTokens.kind, "token"));
  const [found] = await db.select({ id: apiTokens.id }).from(apiTokens).where(mine).limit(1);
  if (!found) return false;
  await db
    .update(apiTokens)
    .set({ revokedAt: now })
    .where(and(mine, isNull(apiTokens.revokedAt)));
  return true;
}

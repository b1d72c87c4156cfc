/** Lookups behind authentication: tokens and sessions by hash, admins by email. */
import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Role } from "../core/roles";
import type { Db } from "./client";
import { adminUsers, apiTokens } from "./schema";

export interface AdminIdentity {
  adminId: number;
  email: string;
  name: string;
  role: Role;
  timezone: string;
}

const identityColumns = {
  adminId: adminUsers.id,
  email: adminUsers.email,
  name: adminUsers.name,
  role: adminUsers.role,
  timezone: adminUsers.timezone,
};

/** The admin behind a live (unrevoked, unexpired) token or session of `kind`. */
export async function findAdminBySecretHash(db: Db, kind: "token" | "session", hash: string, now: number) {
  const [row] = await db
    .select({ ...identityColumns, tokenId: apiTokens.id, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .innerJoin(adminUsers, eq(adminUsers.id, apiTokens.adminId))
    .where(
      and(
        eq(apiTokens.tokenHash, hash),
        eq(apiTokens.kind, kind),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
      ),
    )
    .limit(1);
  return row ?? null;
}

/**
 * Whether a token of `kind` with this hash was ever issued (revoked or expired ones too): such
 * a token is no guess, so the brute-force guard does not count it (lib/auth-guard.ts). Asked
 * only after a failed lookup.
 */
export async function wasIssued(db: Db, kind: "token" | "session", hash: string): Promise<boolean> {
  const [row] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hash), eq(apiTokens.kind, kind)))
    .limit(1);
  return row !== undefined;
}

export async function touchToken(db: Db, tokenId: number, now: number) {
  await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, tokenId));
}

export async function findAdminByEmail(db: Db, email: string): Promise<AdminIdentity | null> {
  const [row] = await db
    .select(identityColumns)
    .from(adminUsers)
    .where(eq(adminUsers.email, email.toLowerCase()))
    .limit(1);
  return row ?? null;
}

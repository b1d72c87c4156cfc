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

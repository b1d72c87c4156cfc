/**
 * The caller's own API tokens: list, create (the secret is shown once) and
 * revoke. `users.ts` issues tokens for other admins through `issueToken`.
 */
import { type AuditActor, auditActorOf, recordAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { toIso } from "../core/time";
import { type Db, getDb } from "../db/client";
import { createApiToken, listApiTokens, revokeApiToken } from "../db/tokens";
import { notFound } from "../lib/errors";
import { commonErrors, createApi, IdParams, jsonBody, jsonResponse, notFoundError } from "./api";
import { iso } from "./fields";

export const NewToken = z
  .object({
    name: z.string().trim().min(1, "must not be empty").max(100),
    expires_in_days: z.number().int().min(1).max(3650).optional().openapi({ description: "Never expires when absent" }),
  })
  .strict()
  .openapi("NewTokenInput");

export const CreatedToken = z
  .object({
    id: z.number().int(),
    name: z.string(),
    prefix: z.string(),
    created_at: z.string(),
    expires_at: z.string().nullable(),
    token: z.string().openapi({ description: "The secret; shown only in this response" }),
  })
  .openapi("CreatedToken");

export const Token = z
  .object({
    id: z.number().int(),
    name: z.string(),
    prefix: z.string(),
    kind: z.enum(["token", "session"]),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    expires_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi("ApiToken");

/** Creates a token for `adminId` and renders the one response that carries its secret. */
export async function issueToken(
  db: Db,
  adminId: number,
  input: z.output<typeof NewToken>,
): Promise<z.output<typeof CreatedToken>> {
  const { row, token } = await createApiToken(
    db,
    adminId,
    { name: input.name, expiresInDays: input.expires_in_days },
    Date.now(),
  );
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: iso(row.createdAt),
    expires_at: toIso(row.expiresAt),
    token,
  };
}

/** An admin's API tokens as the API shows them (never their secrets). */
export async function tokensOf(db: Db, adminId: number): Promise<z.output<typeof Token>[]> {
  return (await listApiTokens(db, adminId)).map((row) => ({
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    kind: row.kind,
    created_at: iso(row.createdAt),
    last_used_at: toIso(row.lastUsedAt),
    expires_at: toIso(row.expiresAt),
    revoked_at: toIso(row.revokedAt),
  }));
}

/**
 * A token's issue or revocation in the audit trail: whose token, its name and prefix; never
 * the secret (dropped here, and redacted by name should it slip through).
 */
export function recordTokenAudit(
  d1: D1Database,
  who: AuditActor,
  ownerId: number,
  action: "token.create" | "token.revoke",
  tokenId: number,
  created: { name: string; prefix: string; expires_at: string | null } | null,
) {
  const after = created && {
    admin_id: ownerId,
    name: created.name,
    prefix: created.prefix,
    expires_at: created.expires_at,
  };
  return recordAudit(d1, who, {
    action,
    targetType: "token",
    targetId: tokenId,
    after: after ?? { admin_id: ownerId, revoked: true },
  });
}

export const tokens = createApi();

tokens.openapi(
  createRoute({
    method: "get",
    path: "/tokens",
    tags: ["tokens"],
    summary: "The caller's API tokens (never their secrets)",
    responses: {
      200: jsonResponse(z.object({ tokens: z.array(Token) }), "The tokens, revoked ones included"),
      ...commonErrors,
    },
  }),
  async (c) => c.json({ tokens: await tokensOf(getDb(c.env.DB), c.get("actor").adminId) }, 200),
);

tokens.openapi(
  createRoute({
    method: "post",
    path: "/tokens",
    tags: ["tokens"],
    summary: "Create an API token for the caller; the secret is shown once",
    request: jsonBody(NewToken),
    responses: { 201: jsonResponse(CreatedToken, "The new token with its secret"), ...commonErrors },
  }),
  async (c) => {
    const actor = c.get("actor");
    const created = await issueToken(getDb(c.env.DB), actor.adminId, c.req.valid("json"));
    await recordTokenAudit(c.env.DB, auditActorOf(actor), actor.adminId, "token.create", created.id, created);
    return c.json(created, 201);
  },
);

tokens.openapi(
  createRoute({
    method: "delete",
    path: "/tokens/{id}",
    tags: ["tokens"],
    summary: "Revoke one of the caller's API tokens",
    request: { params: IdParams },
    responses: { 204: { description: "Revoked" }, ...commonErrors, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const actor = c.get("actor");
    if (!(await revokeApiToken(getDb(c.env.DB), actor.adminId, id, Date.now()))) throw notFound(`Token ${id}`);
    await recordTokenAudit(c.env.DB, auditActorOf(actor), actor.adminId, "token.revoke", id, null);
    return c.body(null, 204);
  },
);

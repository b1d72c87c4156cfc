/**
 * The caller's own API tokens: list, create (the secret is shown once) and
 * revoke. `users.ts` issues tokens for other admins through `issueToken`.
 */
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
  async (c) => c.json(await issueToken(getDb(c.env.DB), c.get("actor").adminId, c.req.valid("json")), 201),
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
    if (!(await revokeApiToken(getDb(c.env.DB), c.get("actor").adminId, id, Date.now()))) throw notFound(`Token ${id}`);
    return c.body(null, 204);
  },
);

/**
 * Admin management (owner only, enforced in app.ts): CRUD on admins with guards
 * that keep at least one owner, and each admin's API tokens: list, issue (the secret is
 * shown once) and revoke.
 */
import { auditActorOf } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { and, count, eq, ne } from "drizzle-orm";
import { ROLE_RANK, type Role } from "../core/roles";
import { type Db, getDb } from "../db/client";
import { adminUsers } from "../db/schema";
import { conflict, notFound } from "../lib/errors";
import { commonErrors, IdParams, jsonBody, jsonResponse, notFoundError } from "./api";
import { crudRoutes } from "./crud";
import { Email, TimeZone, Timestamps } from "./fields";
import { revokeApiToken } from "../db/tokens";
import { CreatedToken, issueToken, NewToken, recordTokenAudit, Token, tokensOf } from "./tokens";

const ROLES = Object.keys(ROLE_RANK) as [Role, ...Role[]];

const UserFields = z
  .object({
    email: Email.openapi({ example: "ops@example.com" }),
    name: z.string().trim().max(200).default(""),
    role: z.enum(ROLES),
    timezone: TimeZone.default("UTC").openapi({ example: "Asia/Taipei" }),
  })
  .openapi("UserInput");

const UserOut = z
  .object({
    id: z.number().int(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    timezone: z.string(),
    ...Timestamps,
  })
  .openapi("User");

type UserRow = typeof adminUsers.$inferSelect;

/** Refuses a change that would leave no owner once admin `id` stops being one. */
async function ensureAnotherOwner(db: Db, id: number) {
  const [others] = await db
    .select({ n: count() })
    .from(adminUsers)
    .where(and(eq(adminUsers.role, "owner"), ne(adminUsers.id, id)));
  if (!others || others.n === 0) {
    throw conflict("That would remove the last owner; make another admin an owner first.", [
      { field: "role", reason: "the last owner must stay an owner" },
    ]);
  }
}

const rowToInput = (row: UserRow) => ({ email: row.email, name: row.name, role: row.role, timezone: row.timezone });

export const users = crudRoutes({
  noun: "User",
  collection: "users",
  table: adminUsers,
  fields: UserFields,
  output: UserOut,
  async check(input, { env, existing }) {
    const db = getDb(env.DB);
    const sameEmail = eq(adminUsers.email, input.email);
    const [taken] = await db
      .select({ id: adminUsers.id })
      .from(adminUsers)
      .where(existing ? and(sameEmail, ne(adminUsers.id, existing.id)) : sameEmail)
      .limit(1);
    if (taken) throw conflict("Another admin already has that email.", [{ field: "email", reason: "already in use" }]);
    if (existing?.role === "owner" && input.role !== "owner") await ensureAnotherOwner(db, existing.id);
  },
  async beforeDelete(row, { env, actor }) {
    if (row.id === actor.adminId) throw conflict("You cannot delete yourself; another owner can.");
    if (row.role === "owner") await ensureAnotherOwner(getDb(env.DB), row.id);
  },
  toInput: rowToInput,
  toValues: (input) => ({
    values: { email: input.email, name: input.name, role: input.role, timezone: input.timezone },
  }),
});

users.openapi(
  createRoute({
    method: "post",
    path: "/users/{id}/tokens",
    tags: ["users"],
    summary: "Create an API token for an admin; the secret is shown once",
    request: { params: IdParams, ...jsonBody(NewToken) },
    responses: { 201: jsonResponse(CreatedToken, "The new token with its secret"), ...commonErrors, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = getDb(c.env.DB);
    await mustExist(db, id);
    const created = await issueToken(db, id, c.req.valid("json"));
    await recordTokenAudit(c.env.DB, auditActorOf(c.get("actor")), id, "token.create", created.id, created);
    return c.json(created, 201);
  },
);

/** The admin, or 404. */
async function mustExist(db: Db, id: number): Promise<void> {
  const [admin] = await db.select({ id: adminUsers.id }).from(adminUsers).where(eq(adminUsers.id, id)).limit(1);
  if (!admin) throw notFound(`User ${id}`);
}

users.openapi(
  createRoute({
    method: "get",
    path: "/users/{id}/tokens",
    tags: ["users"],
    summary: "An admin's API tokens (never their secrets), revoked ones included",
    request: { params: IdParams },
    responses: {
      200: jsonResponse(z.object({ tokens: z.array(Token) }), "The tokens"),
      ...commonErrors,
      ...notFoundError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = getDb(c.env.DB);
    await mustExist(db, id);
    return c.json({ tokens: await tokensOf(db, id) }, 200);
  },
);

const TokenParams = z.object({
  id: z.coerce.number().int().positive(),
  tokenId: z.coerce.number().int().positive(),
});

users.openapi(
  createRoute({
    method: "delete",
    path: "/users/{id}/tokens/{tokenId}",
    tags: ["users"],
    summary: "Revoke one of an admin's API tokens",
    request: { params: TokenParams },
    responses: { 204: { description: "Revoked" }, ...commonErrors, ...notFoundError },
  }),
  async (c) => {
    const { id, tokenId } = c.req.valid("param");
    if (!(await revokeApiToken(getDb(c.env.DB), id, tokenId, Date.now())))
      throw notFound(`Token ${tokenId} of user ${id}`);
    await recordTokenAudit(c.env.DB, auditActorOf(c.get("actor")), id, "token.revoke", tokenId, null);
    return c.body(null, 204);
  },
);

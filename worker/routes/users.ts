/**
 * Admin management (owner only, enforced in app.ts): CRUD on admins with guards
 * that keep at least one owner, each admin's API tokens: list, issue (the secret is
 * shown once) and revoke, and setting an admin's Slack member id directly.
 */
import { auditActorOf, recordAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, ne, sql } from "drizzle-orm";
import { ROLE_RANK, type Role } from "../core/roles";
import { type Db, getDb } from "../db/client";
import { adminUsers } from "../db/schema";
import { setSlackMember } from "../db/slack-link";
import { conflict, notFound } from "../lib/errors";
import { memberTaken } from "./preferences";
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

const lastOwner = () =>
  conflict("That would remove the last owner; make another admin an owner first.", [
    { field: "role", reason: "the last owner must stay an owner" },
  ]);

/**
 * The write's own condition that an owner remains: the row is not an owner, or another
 * owner exists, evaluated by the UPDATE or DELETE itself. Two owners demoting each other
 * at once are two statements D1 runs one after the other; the second finds no other
 * owner and changes nothing (409). No condition when the row stays an owner.
 */
const anotherOwnerRemains = (id: number, role: Role | null) =>
  role === "owner"
    ? undefined
    : sql`(${adminUsers.role} != 'owner' OR EXISTS (SELECT 1 FROM admin_users other WHERE other.role = 'owner' AND other.id != ${id}))`;

const rowToInput = (row: UserRow) => ({ email: row.email, name: row.name, role: row.role, timezone: row.timezone });

export const users = crudRoutes({
  noun: "User",
  collection: "users",
  table: adminUsers,
  fields: UserFields,
  output: UserOut,
  async check(input, { env, existing }) {
    const db = getDb(env.DB);
    // Case-insensitive: an address is one mailbox however it is spelt.
    const sameEmail = sql`lower(${adminUsers.email}) = lower(${input.email})`;
    const [taken] = await db
      .select({ id: adminUsers.id })
      .from(adminUsers)
      .where(existing ? and(sameEmail, ne(adminUsers.id, existing.id)) : sameEmail)
      .limit(1);
    if (taken) throw conflict("Another admin already has that email.", [{ field: "email", reason: "already in use" }]);
  },
  async beforeDelete(row, { actor }) {
    if (row.id === actor.adminId) throw conflict("You cannot delete yourself; another owner can.");
  },
  writeGuard: {
    where: (id, values) => anotherOwnerRemains(id, values ? (values.role ?? null) : null),
    refused: lastOwner,
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

const SlackMember = z
  .object({
    slack_member_id: z
      .string()
      .regex(/^[UW][A-Z0-9]{2,20}$/, "must be a Slack member id such as U024BE7LH")
      .nullable(),
  })
  .strict()
  .openapi("SlackMemberInput");

users.openapi(
  createRoute({
    method: "put",
    path: "/users/{id}/slack",
    tags: ["users"],
    summary: "Set (or clear with null) an admin's Slack member id directly; 409 when another admin holds it",
    request: { params: IdParams, ...jsonBody(SlackMember) },
    responses: {
      200: jsonResponse(z.object({ admin_id: z.number().int(), slack_member_id: z.string().nullable() }), "Set"),
      ...commonErrors,
      ...notFoundError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { slack_member_id: member } = c.req.valid("json");
    const now = Date.now();
    const result = await setSlackMember(c.env.DB, id, member, now);
    if (result === "no_admin") throw notFound(`User ${id}`);
    if (result === "taken") throw memberTaken();
    await recordAudit(
      c.env.DB,
      auditActorOf(c.get("actor")),
      { action: "slack_identity.set", targetType: "admin", targetId: id, after: { slack_member_id: member } },
      now,
    );
    return c.json({ admin_id: id, slack_member_id: member }, 200);
  },
);

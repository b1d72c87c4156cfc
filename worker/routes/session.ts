/**
 * Dashboard login: exchanges an admin token for a session cookie (HttpOnly,
 * SameSite=Strict, Secure except on localhost) and logs out again.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { findAdminBySecretHash, touchToken, wasIssued } from "../db/auth";
import { getDb } from "../db/client";
import { apiTokens } from "../db/schema";
import { admit, guardFor, refuse, succeeded } from "../lib/auth-guard";
import { ApiError } from "../lib/errors";
import { hashSecret, newSecret, secretPrefix } from "../lib/secrets";
import { SESSION_COOKIE } from "../middleware/auth";
import { createApi, ErrorSchema, jsonBody, jsonResponse } from "./api";

export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const isLocalHost = (url: string) => ["localhost", "127.0.0.1", "[::1]"].includes(new URL(url).hostname);

export const Me = z
  .object({
    id: z.number().int(),
    email: z.string(),
    name: z.string(),
    role: z.enum(["viewer", "admin", "owner"]),
    timezone: z.string(),
  })
  .openapi("Me");

export const session = createApi();

session.openapi(
  createRoute({
    method: "post",
    path: "/session",
    tags: ["auth"],
    summary: "Log in with an admin token; sets the session cookie",
    request: jsonBody(z.object({ token: z.string().min(1).max(200) })),
    responses: {
      200: jsonResponse(z.object({ admin: Me, expires_at: z.string() }), "Logged in"),
      400: jsonResponse(ErrorSchema, "No token sent"),
      401: jsonResponse(ErrorSchema, "Unknown or revoked token"),
      429: jsonResponse(ErrorSchema, "Too many failed attempts from this address or with this token; see Retry-After"),
    },
  }),
  async (c) => {
    const now = Date.now();
    const db = getDb(c.env.DB);
    const token = c.req.valid("json").token;
    // A locked-out client is refused before its token is looked at, so it learns nothing.
    const guard = guardFor(c.env, c.req.raw, "login", token);
    await admit(c.env, guard, now);
    const hash = await hashSecret(token);
    const admin = await findAdminBySecretHash(db, "token", hash, now);
    if (!admin) {
      const error = new ApiError(401, "That token is unknown, expired or revoked.");
      // An expired or revoked token is no guess: refused, not counted.
      if (await wasIssued(db, "token", hash)) throw error;
      return refuse(c.env, guard, error, now);
    }
    succeeded(c.env, guard, (p) => c.executionCtx.waitUntil(p));
    // Logging in is a use of the token: its last use would otherwise stay at its last API call.
    await touchToken(db, admin.tokenId, now);
    const secret = newSecret("session");
    const expiresAt = now + SESSION_TTL_MS;
    await db.insert(apiTokens).values({
      adminId: admin.adminId,
      kind: "session",
      name: "dashboard session",
      tokenHash: await hashSecret(secret),
      prefix: secretPrefix(secret),
      expiresAt,
    });
    setCookie(c, SESSION_COOKIE, secret, {
      httpOnly: true,
      sameSite: "Strict",
      secure: !isLocalHost(c.req.url),
      path: "/",
      maxAge: SESSION_TTL_MS / 1000,
    });
    const { adminId, email, name, role, timezone } = admin;
    return c.json(
      { admin: { id: adminId, email, name, role, timezone }, expires_at: new Date(expiresAt).toISOString() },
      200,
    );
  },
);

session.openapi(
  createRoute({
    method: "delete",
    path: "/session",
    tags: ["auth"],
    summary: "Log out: revokes the session and clears the cookie",
    responses: { 204: { description: "Logged out" } },
  }),
  async (c) => {
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie) {
      await getDb(c.env.DB)
        .update(apiTokens)
        .set({ revokedAt: Date.now() })
        .where(and(eq(apiTokens.tokenHash, await hashSecret(cookie)), eq(apiTokens.kind, "session")));
    }
    deleteCookie(c, SESSION_COOKIE, { path: "/", secure: !isLocalHost(c.req.url) });
    return c.body(null, 204);
  },
);

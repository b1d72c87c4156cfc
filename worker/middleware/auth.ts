/**
 * Admin authentication, fail-closed: a bearer token, the dashboard's session
 * cookie, or (when configured) a Cloudflare Access JWT for a known admin email.
 * Nothing else gets in; there is no development bypass.
 */
import { createMiddleware } from "hono/factory";
import { parse as parseCookies } from "hono/utils/cookie";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { requiredRoleForMethod, type Role, roleAllows } from "../core/roles";
import { type AdminIdentity, findAdminByEmail, findAdminBySecretHash, touchToken, wasIssued } from "../db/auth";
import { getDb } from "../db/client";
import type { AppEnv } from "../env";
import { admit, guardFor, refuse, succeeded } from "../lib/auth-guard";
import { ApiError } from "../lib/errors";
import { hashSecret } from "../lib/secrets";

export interface Actor extends AdminIdentity {
  via: "token" | "session" | "access";
}

export const SESSION_COOKIE = "em_session";
/** A token's last-use time is refreshed at most this often, to spare D1 a write per request. */
const TOUCH_EVERY_MS = 60_000;

const jwksByTeam = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

async function verifyAccessJwt(jwt: string, teamDomain: string, audience: string): Promise<string | null> {
  const issuer = teamDomain.replace(/\/+$/, "");
  let jwks = jwksByTeam.get(issuer);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(`${issuer}/cdn-cgi/access/certs`));
    jwksByTeam.set(issuer, jwks);
  }
  try {
    const { payload } = await jwtVerify(jwt, jwks, { issuer, audience });
    return typeof payload.email === "string" ? payload.email : null;
  } catch {
    return null;
  }
}

/** The bearer token and the session cookie a request presents, as authentication reads them. */
export function presentedSecrets(headers: Headers): { bearer?: string; cookie?: string } {
  return {
    bearer: headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1],
    cookie: parseCookies(headers.get("cookie") ?? "", SESSION_COOKIE)[SESSION_COOKIE],
  };
}

/**
 * Resolves the caller of a request to an admin, or null. Shared by the API and `/ws`.
 * Bearer tokens go through the brute-force guard (lib/auth-guard.ts): a locked-out client
 * gets a 429 before its token is looked up. Session cookies do not: they are minted only
 * by a login (which is guarded), and an expired one is what every returning browser sends,
 * so counting them would lock the dashboard's own reconnecting socket out.
 */
export async function resolveActor(
  req: Request,
  env: Env,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Actor | null> {
  const db = getDb(env.DB);
  const { bearer, cookie } = presentedSecrets(req.headers);
  for (const [via, secret] of [
    ["token", bearer],
    ["session", cookie],
  ] as const) {
    if (!secret) continue;
    const guard = via === "token" ? guardFor(env, req, "token", secret) : null;
    if (guard) await admit(env, guard, now);
    const hash = await hashSecret(secret);
    const row = await findAdminBySecretHash(db, via, hash, now);
    if (!row) {
      // A presented but unknown credential never falls through to another. An expired or
      // revoked token (a forgotten script) is no guess: refused, not counted.
      if (!guard || (await wasIssued(db, via, hash))) return null;
      return refuse(env, guard, unauthorized(), now);
    }
    if (guard) succeeded(env, guard, waitUntil);
    const { tokenId, lastUsedAt, ...identity } = row;
    if (lastUsedAt === null || now - lastUsedAt > TOUCH_EVERY_MS) waitUntil(touchToken(db, tokenId, now));
    return { ...identity, via };
  }
  const accessJwt = req.headers.get("cf-access-jwt-assertion");
  if (accessJwt && env.ACCESS_TEAM_DOMAIN && env.ACCESS_AUD) {
    const email = await verifyAccessJwt(accessJwt, env.ACCESS_TEAM_DOMAIN, env.ACCESS_AUD);
    const admin = email ? await findAdminByEmail(db, email) : null;
    return admin ? { ...admin, via: "access" } : null;
  }
  return null;
}

const unauthorized = () =>
  new ApiError(401, "Authentication required: send a bearer token or log in.", {
    headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
  });

/** Requires an authenticated admin and sets `actor`; 401 otherwise (429 while locked out). */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const actor = await resolveActor(c.req.raw, c.env, Date.now(), (p) => c.executionCtx.waitUntil(p));
  if (!actor) throw unauthorized();
  c.set("actor", actor);
  await next();
});

function checkRole(actor: Actor, role: Role) {
  if (!roleAllows(actor.role, role)) {
    throw new ApiError(403, `This needs the ${role} role; you are ${actor.role}.`);
  }
}

/** Requires at least `role`; 403 otherwise. */
export const requireRole = (role: Role) =>
  createMiddleware<AppEnv>(async (c, next) => {
    checkRole(c.get("actor"), role);
    await next();
  });

/** Viewers read, admins write: the role the request method needs; 403 otherwise. */
export const authorizeByMethod = createMiddleware<AppEnv>(async (c, next) => {
  checkRole(c.get("actor"), requiredRoleForMethod(c.req.method));
  await next();
});

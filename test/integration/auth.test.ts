/**
 * Fail-closed auth across the whole admin API. The route list comes from the
 * served OpenAPI document, so a newly added route is covered automatically.
 */
import { env } from "cloudflare:workers";
import { importJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

type Route = { method: string; path: string };

/** Routes every role may use on its own behalf (they act on the caller, not on shared configuration). */
const SELF_SERVICE = new Set([
  "PUT /api/admin/monitoring/preferences",
  "POST /api/admin/monitoring/preferences/slack-link",
  "POST /api/admin/monitoring/notifications/test",
  "POST /api/admin/tokens",
  "DELETE /api/admin/tokens/{id}",
]);
const OWNER_ONLY = (path: string) => path.startsWith("/api/admin/users");
/** Reads that need the admin role: the audit trail (it shows other admins' preferences and tokens). */
const ADMIN_READS = (path: string) => path.startsWith("/api/admin/monitoring/audit");

let routes: Route[];
let viewer: TestAdmin;
let admin: TestAdmin;
let owner: TestAdmin;

beforeAll(async () => {
  const doc = await callJson<{ paths: Record<string, Record<string, unknown>> }>("GET", "/api/openapi.json");
  routes = Object.entries(doc.body.paths)
    .filter(([path]) => path.startsWith("/api/admin/"))
    .flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, "999999") })),
    );
  [viewer, admin, owner] = await Promise.all([createAdmin("viewer"), createAdmin("admin"), createAdmin("owner")]);
});

const send = (r: Route, token?: string) =>
  call(r.method, r.path, { token, body: ["POST", "PUT", "PATCH"].includes(r.method) ? {} : undefined });
const routeKey = (r: Route) => `${r.method} ${r.path.replace(/999999/g, "{id}")}`;

/**
 * Sends every admin route with `token` and lists the routes whose status breaks
 * the rule: `forbidden(route)` routes must answer 403, all others neither 401 nor 403.
 */
async function violations(token: string, forbidden: (r: Route) => boolean): Promise<string[]> {
  const wrong: string[] = [];
  for (const r of routes) {
    const status = (await send(r, token)).status;
    const ok = forbidden(r) ? status === 403 : status !== 401 && status !== 403;
    if (!ok) wrong.push(`${routeKey(r)} answered ${status}`);
  }
  return wrong;
}

describe("admin API auth matrix", () => {
  it("documents every configuration resource", () => {
    const documented = routes.map(routeKey);
    expect(documented).toEqual(
      expect.arrayContaining([
        "GET /api/admin/monitoring/rules",
        "POST /api/admin/monitoring/rules",
        "PUT /api/admin/monitoring/rules/{id}",
        "DELETE /api/admin/monitoring/rules/{id}",
        "POST /api/admin/monitoring/rules/{id}/test",
        "GET /api/admin/monitoring/monitors",
        "POST /api/admin/monitoring/keys",
        "GET /api/admin/monitoring/escalation-policies",
        "POST /api/admin/monitoring/silences",
        "GET /api/admin/monitoring/preferences",
        "PUT /api/admin/monitoring/preferences",
        "POST /api/admin/monitoring/preferences/slack-link",
        "GET /api/admin/monitoring/health/services",
        "GET /api/admin/monitoring/dashboard",
        "PUT /api/admin/monitoring/dashboard",
        "GET /api/admin/monitoring/config",
        "POST /api/admin/monitoring/config/import",
        "GET /api/admin/monitoring/performance/trends",
        "GET /api/admin/users",
        "POST /api/admin/users/{id}/tokens",
        "GET /api/admin/tokens",
        "GET /api/admin/me",
        "GET /api/admin/monitoring/audit",
      ]),
    );
  });

  it("answers 401 on every admin route without credentials or with an unknown token", async () => {
    const wrong: string[] = [];
    for (const [i, r] of routes.entries()) {
      const anonymous = await send(r);
      const body = (await anonymous.json()) as { error?: string };
      if (anonymous.status !== 401 || body.error !== "unauthorized")
        wrong.push(`${routeKey(r)} anonymous → ${anonymous.status}`);
      // Each from its own address with its own token: the brute-force guard would lock out
      // one client sending this many (integration/auth-guard.test.ts).
      const unknown = (
        await call(r.method, r.path, {
          token: `emt_${String(i).padStart(6, "0")}-not-a-real-token`,
          headers: { "cf-connecting-ip": `198.51.100.${i}` },
          body: ["POST", "PUT", "PATCH"].includes(r.method) ? {} : undefined,
        })
      ).status;
      if (unknown !== 401) wrong.push(`${routeKey(r)} unknown token → ${unknown}`);
    }
    expect(routes.length).toBeGreaterThan(30);
    expect(wrong).toEqual([]);
  });

  it("lets a viewer read but answers 403 to a viewer's writes", async () => {
    const forbidden = (r: Route) =>
      OWNER_ONLY(r.path) || ADMIN_READS(r.path) || (r.method !== "GET" && !SELF_SERVICE.has(routeKey(r)));
    expect(await violations(viewer.token, forbidden)).toEqual([]);
  });

  it("lets an admin write configuration but not manage admins", async () => {
    expect(await violations(admin.token, (r) => OWNER_ONLY(r.path))).toEqual([]);
  });

  it("lets an owner do everything", async () => {
    expect(await violations(owner.token, () => false)).toEqual([]);
  });
});

describe("dashboard session", () => {
  it("exchanges a token for an HttpOnly, SameSite=Strict cookie that authenticates, then logs out", async () => {
    const login = await call("POST", "/api/auth/session", { body: { token: admin.token } });
    expect(login.status).toBe(200);
    const cookie = login.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^em_session=ems_[\w-]+;/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).not.toContain("Secure"); // plain http://localhost in local development
    const session = cookie.split(";")[0] ?? "";
    const me = await callJson("GET", "/api/admin/me", { headers: { cookie: session } });
    expect(me).toMatchObject({ status: 200, body: { email: admin.email, role: "admin" } });

    const logout = await call("DELETE", "/api/auth/session", {
      headers: { cookie: session, origin: "http://localhost" },
    });
    expect(logout.status).toBe(204);
    expect((await call("GET", "/api/admin/me", { headers: { cookie: session } })).status).toBe(401);
  });

  it("marks the cookie Secure outside localhost", async () => {
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(
      new Request("https://monitor.example.com/api/auth/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: admin.token }),
      }),
    );
    expect(res.headers.get("set-cookie")).toContain("Secure");
  });

  it("refuses an unknown token and a missing one", async () => {
    expect((await callJson("POST", "/api/auth/session", { body: { token: "emt_nope" } })).status).toBe(401);
    const missing = await callJson<{ details: { field: string }[] }>("POST", "/api/auth/session", { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.details.map((d) => d.field)).toEqual(["token"]);
  });

  it("stores only a hash of tokens and sessions", async () => {
    const rows = await env.DB.prepare("SELECT * FROM api_tokens").all<Record<string, unknown>>();
    expect(rows.results.length).toBeGreaterThan(0);
    const dump = JSON.stringify(rows.results);
    for (const who of [viewer, admin, owner]) expect(dump).not.toContain(who.token);
    for (const row of rows.results) expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("Cloudflare Access", () => {
  const sign = async (claims: Record<string, unknown>, opts: { aud?: string; exp?: string; jwk?: JWK } = {}) => {
    const jwk = opts.jwk ?? (JSON.parse(env.TEST_ACCESS_PRIVATE_JWK) as JWK);
    const signingKey = await importJWK(jwk, "RS256");
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "test-key" })
      .setIssuer(env.ACCESS_TEAM_DOMAIN ?? "")
      .setAudience(opts.aud ?? env.ACCESS_AUD ?? "")
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? "5m")
      .sign(signingKey);
  };
  const asAccess = (jwt: string) => call("GET", "/api/admin/me", { headers: { "cf-access-jwt-assertion": jwt } });

  it("accepts a valid Access JWT for a known admin email", async () => {
    const res = await asAccess(await sign({ email: owner.email.toUpperCase() }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ email: owner.email, role: "owner" });
  });

  it("rejects a wrong audience, an expired token, an unknown email and a foreign key", async () => {
    expect((await asAccess(await sign({ email: owner.email }, { aud: "other-app" }))).status).toBe(401);
    expect((await asAccess(await sign({ email: owner.email }, { exp: "-1m" }))).status).toBe(401);
    expect((await asAccess(await sign({ email: "stranger@example.com" }))).status).toBe(401);
    const { generateKeyPair, exportJWK } = await import("jose");
    const foreign = await exportJWK((await generateKeyPair("RS256", { extractable: true })).privateKey);
    expect((await asAccess(await sign({ email: owner.email }, { jwk: foreign }))).status).toBe(401);
    expect((await asAccess("not.a.jwt")).status).toBe(401);
  });

  it("never trusts the plain identity header without a JWT", async () => {
    const res = await call("GET", "/api/admin/me", { headers: { "cf-access-authenticated-user-email": owner.email } });
    expect(res.status).toBe(401);
  });
});

describe("WebSocket", () => {
  it("refuses /ws without credentials and sends a snapshot to an authenticated client", async () => {
    expect((await call("GET", "/ws", { headers: { upgrade: "websocket" } })).status).toBe(401);
    const res = await call("GET", "/ws", { token: viewer.token, headers: { upgrade: "websocket" } });
    expect(res.status).toBe(101);
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))));
    ws.accept();
    expect(JSON.parse(await first)).toMatchObject({ type: "snapshot", seq: 0 });
    ws.close();
  });
});

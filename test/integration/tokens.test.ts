import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callJson, createAdmin, type ErrorBody, sha256Hex } from "./helpers";

interface Token {
  id: number;
  name: string;
  prefix: string;
  kind: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

interface CreatedToken {
  id: number;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  token: string;
}

const listTokens = async (token: string) =>
  (await callJson<{ tokens: Token[] }>("GET", "/api/admin/tokens", { token })).body.tokens;

describe("own API tokens", () => {
  it("lists only the caller's tokens, without sessions or secrets", async () => {
    const viewer = await createAdmin("viewer");
    await createAdmin("admin");
    const login = await call("POST", "/api/auth/session", { body: { token: viewer.token } });
    expect(login.status).toBe(200);

    const res = await callJson<{ tokens: Record<string, unknown>[] }>("GET", "/api/admin/tokens", {
      token: viewer.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.tokens).toHaveLength(1);
    // last_used_at is refreshed in the background (waitUntil), so it may or may not be set yet.
    const { last_used_at: lastUsedAt, ...token } = res.body.tokens[0] ?? {};
    expect(lastUsedAt === null || typeof lastUsedAt === "string").toBe(true);
    expect(token).toEqual({
      id: expect.any(Number),
      name: "test",
      prefix: viewer.token.slice(0, 10),
      kind: "token",
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      expires_at: null,
      revoked_at: null,
    });
    expect(JSON.stringify(res.body)).not.toContain(viewer.token);
    expect(JSON.stringify(res.body)).not.toContain(await sha256Hex(viewer.token));
  });

  it("creates a token shown once, stored only as its SHA-256, that works as a Bearer", async () => {
    const admin = await createAdmin("admin");
    const res = await callJson<CreatedToken>("POST", "/api/admin/tokens", {
      token: admin.token,
      body: { name: "deploy bot", expires_in_days: 7 },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      name: "deploy bot",
      prefix: res.body.token.slice(0, 10),
      created_at: expect.any(String),
      expires_at: expect.any(String),
      token: expect.stringMatching(/^emt_[A-Za-z0-9_-]{43}$/),
    });
    expect(Date.parse(res.body.expires_at ?? "") - Date.parse(res.body.created_at)).toBe(7 * 86_400_000);

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?")
      .bind(res.body.id)
      .first<Record<string, unknown>>();
    expect(row?.token_hash).toBe(await sha256Hex(res.body.token));
    expect(row?.admin_id).toBe(admin.id);
    for (const value of Object.values(row ?? {})) expect(String(value)).not.toContain(res.body.token);

    const me = await callJson<{ id: number }>("GET", "/api/admin/me", { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(admin.id);

    const listed = (await listTokens(admin.token)).find((t) => t.id === res.body.id);
    expect(listed).toMatchObject({
      name: "deploy bot",
      kind: "token",
      expires_at: res.body.expires_at,
      revoked_at: null,
    });
  });

  it("creates a token without expiry when expires_in_days is absent", async () => {
    const admin = await createAdmin("admin");
    const res = await callJson<CreatedToken>("POST", "/api/admin/tokens", {
      token: admin.token,
      body: { name: "forever" },
    });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBeNull();
  });

  it("lets a viewer manage its own tokens, which stay read-only", async () => {
    const viewer = await createAdmin("viewer");
    const created = await callJson<CreatedToken>("POST", "/api/admin/tokens", {
      token: viewer.token,
      body: { name: "mine" },
    });
    expect(created.status).toBe(201);
    expect(await listTokens(viewer.token)).toHaveLength(2);
    const write = await call("POST", "/api/admin/monitoring/silences", { token: created.body.token, body: {} });
    expect(write.status).toBe(403);
    expect((await call("DELETE", `/api/admin/tokens/${created.body.id}`, { token: viewer.token })).status).toBe(204);
    expect((await call("GET", "/api/admin/me", { token: created.body.token })).status).toBe(401);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["no name", {}, "name"],
    ["a blank name", { name: "   " }, "name"],
    ["a name over 100 characters", { name: "n".repeat(101) }, "name"],
    ["zero days", { name: "t", expires_in_days: 0 }, "expires_in_days"],
    ["more than 3650 days", { name: "t", expires_in_days: 3651 }, "expires_in_days"],
    ["fractional days", { name: "t", expires_in_days: 1.5 }, "expires_in_days"],
  ];
  for (const [what, body, field] of invalid) {
    it(`rejects ${what} with a 400 naming ${field}`, async () => {
      const admin = await createAdmin("admin");
      const res = await callJson<ErrorBody>("POST", "/api/admin/tokens", { token: admin.token, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.details.find((d) => d.field === field)?.reason.length).toBeGreaterThan(0);
      expect(await listTokens(admin.token)).toHaveLength(1);
    });
  }

  it("revokes a token: it is marked revoked and then gets 401", async () => {
    const admin = await createAdmin("admin");
    const created = await callJson<CreatedToken>("POST", "/api/admin/tokens", {
      token: admin.token,
      body: { name: "short-lived" },
    });
    expect((await call("GET", "/api/admin/me", { token: created.body.token })).status).toBe(200);

    expect((await call("DELETE", `/api/admin/tokens/${created.body.id}`, { token: admin.token })).status).toBe(204);
    const listed = (await listTokens(admin.token)).find((t) => t.id === created.body.id);
    expect(Date.parse(listed?.revoked_at ?? "")).toBeGreaterThan(Date.now() - 60_000);

    expect((await call("GET", "/api/admin/me", { token: created.body.token })).status).toBe(401);
    expect((await call("GET", "/api/admin/tokens", { token: created.body.token })).status).toBe(401);
    // The caller's other token is untouched.
    expect((await call("GET", "/api/admin/me", { token: admin.token })).status).toBe(200);
  });

  it("answers 404 for another admin's token or an unknown id, and leaves the other token working", async () => {
    const admin = await createAdmin("admin");
    const other = await createAdmin("admin");
    const theirs = await listTokens(other.token);
    const theirId = theirs[0]?.id ?? 0;
    expect((await call("DELETE", `/api/admin/tokens/${theirId}`, { token: admin.token })).status).toBe(404);
    expect((await call("DELETE", "/api/admin/tokens/999999", { token: admin.token })).status).toBe(404);
    expect((await call("GET", "/api/admin/me", { token: other.token })).status).toBe(200);
  });

  it("does not revoke sessions through the token route", async () => {
    const admin = await createAdmin("admin");
    const login = await call("POST", "/api/auth/session", { body: { token: admin.token } });
    const cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
    const session = await env.DB.prepare("SELECT id FROM api_tokens WHERE admin_id = ? AND kind = 'session'")
      .bind(admin.id)
      .first<{ id: number }>();
    expect((await call("DELETE", `/api/admin/tokens/${session?.id ?? 0}`, { token: admin.token })).status).toBe(404);
    expect((await call("GET", "/api/admin/me", { headers: { cookie } })).status).toBe(200);
  });
});

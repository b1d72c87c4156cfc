import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callJson, createAdmin, type ErrorBody, sha256Hex } from "./helpers";

interface User {
  id: number;
  email: string;
  name: string;
  role: string;
  timezone: string;
  created_at: string;
  updated_at: string;
}

/** Makes `keep` the only owner, whatever earlier tests left behind. */
async function onlyOwner(keep: number) {
  await env.DB.prepare("UPDATE admin_users SET role = 'admin' WHERE role = 'owner' AND id != ?").bind(keep).run();
}

describe("admin users", () => {
  it("is for owners only: admins and viewers get 403", async () => {
    for (const role of ["admin", "viewer"] as const) {
      const who = await createAdmin(role);
      expect((await call("GET", "/api/admin/users", { token: who.token })).status).toBe(403);
      expect((await call("GET", `/api/admin/users/${who.id}`, { token: who.token })).status).toBe(403);
      const create = await call("POST", "/api/admin/users", {
        token: who.token,
        body: { email: "x@example.com", role: "viewer" },
      });
      expect(create.status).toBe(403);
      const token = await call("POST", `/api/admin/users/${who.id}/tokens`, {
        token: who.token,
        body: { name: "mine" },
      });
      expect(token.status).toBe(403);
    }
  });

  it("creates, lists, reads, updates and deletes an admin", async () => {
    const owner = await createAdmin("owner");
    const created = await callJson<User>("POST", "/api/admin/users", {
      token: owner.token,
      body: { email: "New.Person@Example.com", role: "admin" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      email: "new.person@example.com",
      name: "",
      role: "admin",
      timezone: "UTC",
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      updated_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const id = created.body.id;

    const list = await callJson<{ users: User[]; next_cursor: string | null }>("GET", "/api/admin/users", {
      token: owner.token,
    });
    expect(list.status).toBe(200);
    expect(list.body.users.map((u) => u.email)).toEqual(
      expect.arrayContaining([owner.email, "new.person@example.com"]),
    );

    expect((await callJson<User>("GET", `/api/admin/users/${id}`, { token: owner.token })).body).toEqual(created.body);

    const updated = await callJson<User>("PUT", `/api/admin/users/${id}`, {
      token: owner.token,
      body: { name: "New Person", timezone: "Asia/Taipei" },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      id,
      email: "new.person@example.com",
      name: "New Person",
      role: "admin",
      timezone: "Asia/Taipei",
    });

    expect((await call("DELETE", `/api/admin/users/${id}`, { token: owner.token })).status).toBe(204);
    expect((await call("GET", `/api/admin/users/${id}`, { token: owner.token })).status).toBe(404);
  });

  it("refuses a second admin with the same email, whatever its case", async () => {
    const owner = await createAdmin("owner");
    const other = await createAdmin("viewer");
    const dup = await callJson<ErrorBody>("POST", "/api/admin/users", {
      token: owner.token,
      body: { email: other.email.toUpperCase(), role: "viewer" },
    });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe("conflict");
    expect(dup.body.details).toContainEqual({ field: "email", reason: expect.any(String) });

    const moved = await callJson<ErrorBody>("PUT", `/api/admin/users/${owner.id}`, {
      token: owner.token,
      body: { email: other.email },
    });
    expect(moved.status).toBe(409);
    expect(moved.body.details.map((d) => d.field)).toEqual(["email"]);

    const same = await callJson<User>("PUT", `/api/admin/users/${other.id}`, {
      token: owner.token,
      body: { email: other.email, name: "Kept" },
    });
    expect(same.status).toBe(200);
    expect(same.body.name).toBe("Kept");
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["a malformed email", { email: "nobody", role: "viewer" }, "email"],
    ["an unknown role", { email: "r@example.com", role: "superuser" }, "role"],
    ["no role", { email: "r@example.com" }, "role"],
    ["an unknown time zone", { email: "r@example.com", role: "viewer", timezone: "Nowhere/Town" }, "timezone"],
    ["a name over 200 characters", { email: "r@example.com", role: "viewer", name: "n".repeat(201) }, "name"],
  ];
  for (const [what, body, field] of invalid) {
    it(`rejects ${what} with a 400 naming ${field}`, async () => {
      const owner = await createAdmin("owner");
      const res = await callJson<ErrorBody>("POST", "/api/admin/users", { token: owner.token, body });
      expect(res.status).toBe(400);
      const detail = res.body.details.find((d) => d.field === field);
      expect(detail?.reason.length).toBeGreaterThan(0);
    });
  }

  it("answers 404 for an unknown admin", async () => {
    const owner = await createAdmin("owner");
    expect((await call("GET", "/api/admin/users/999999", { token: owner.token })).status).toBe(404);
    expect((await call("PUT", "/api/admin/users/999999", { token: owner.token, body: { name: "x" } })).status).toBe(
      404,
    );
    expect((await call("DELETE", "/api/admin/users/999999", { token: owner.token })).status).toBe(404);
    expect(
      (await call("POST", "/api/admin/users/999999/tokens", { token: owner.token, body: { name: "t" } })).status,
    ).toBe(404);
  });

  it("never demotes the last owner, but lets an owner step down once another exists", async () => {
    const owner = await createAdmin("owner");
    await onlyOwner(owner.id);
    const res = await callJson<ErrorBody>("PUT", `/api/admin/users/${owner.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(res.status).toBe(409);
    expect(res.body.message).toContain("last owner");
    expect((await callJson<User>("GET", `/api/admin/users/${owner.id}`, { token: owner.token })).body.role).toBe(
      "owner",
    );

    const second = await createAdmin("owner");
    const stepDown = await callJson<User>("PUT", `/api/admin/users/${owner.id}`, {
      token: owner.token,
      body: { role: "admin" },
    });
    expect(stepDown.status).toBe(200);
    expect(stepDown.body.role).toBe("admin");
    // The demotion takes effect at once: the former owner is now locked out of /users.
    expect((await call("GET", "/api/admin/users", { token: owner.token })).status).toBe(403);
    expect((await call("GET", "/api/admin/users", { token: second.token })).status).toBe(200);
  });

  it("refuses self-deletion, and deletes another owner while one remains", async () => {
    const owner = await createAdmin("owner");
    const other = await createAdmin("owner");
    await onlyOwner(owner.id);
    await env.DB.prepare("UPDATE admin_users SET role = 'owner' WHERE id = ?").bind(other.id).run();
    // Another owner exists, so only the self rule can refuse this.
    const self = await callJson<ErrorBody>("DELETE", `/api/admin/users/${owner.id}`, { token: owner.token });
    expect(self.status).toBe(409);
    expect(self.body.message).toContain("yourself");
    expect((await call("GET", "/api/admin/me", { token: owner.token })).status).toBe(200);

    expect((await call("DELETE", `/api/admin/users/${other.id}`, { token: owner.token })).status).toBe(204);
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM admin_users WHERE role = 'owner'").first<{
      n: number;
    }>();
    expect(left?.n).toBe(1);
  });

  it("issues an API token for another admin: shown once, stored hashed, usable as a Bearer", async () => {
    const owner = await createAdmin("owner");
    const target = await createAdmin("viewer");
    const res = await callJson<{
      id: number;
      name: string;
      prefix: string;
      created_at: string;
      expires_at: string | null;
      token: string;
    }>("POST", `/api/admin/users/${target.id}/tokens`, {
      token: owner.token,
      body: { name: "ci", expires_in_days: 30 },
    });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^emt_[A-Za-z0-9_-]{43}$/);
    expect(res.body.prefix).toBe(res.body.token.slice(0, 10));
    expect(Date.parse(res.body.expires_at ?? "") - Date.parse(res.body.created_at)).toBe(30 * 86_400_000);

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?")
      .bind(res.body.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({
      admin_id: target.id,
      kind: "token",
      name: "ci",
      token_hash: await sha256Hex(res.body.token),
    });
    expect(Object.values(row ?? {})).not.toContain(res.body.token);

    const me = await callJson<{ id: number; email: string }>("GET", "/api/admin/me", { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: target.id, email: target.email });
  });

  it("validates the token request", async () => {
    const owner = await createAdmin("owner");
    const path = `/api/admin/users/${owner.id}/tokens`;
    const noName = await callJson<ErrorBody>("POST", path, { token: owner.token, body: { name: " " } });
    expect(noName.status).toBe(400);
    expect(noName.body.details.map((d) => d.field)).toContain("name");
    const tooLong = await callJson<ErrorBody>("POST", path, {
      token: owner.token,
      body: { name: "ci", expires_in_days: 3651 },
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.details.map((d) => d.field)).toContain("expires_in_days");
  });
});

describe("an admin's tokens, for the owner", () => {
  it("lists them without secrets, issues one shown once, and revokes it so it stops working", async () => {
    const owner = await createAdmin("owner");
    const someone = await createAdmin("admin");
    const issued = await callJson<{ id: number; token: string }>("POST", `/api/admin/users/${someone.id}/tokens`, {
      token: owner.token,
      body: { name: "ci" },
    });
    expect(issued.status).toBe(201);
    expect((await call("GET", "/api/admin/me", { token: issued.body.token })).status).toBe(200);

    const list = await callJson<{ tokens: Record<string, unknown>[] }>("GET", `/api/admin/users/${someone.id}/tokens`, {
      token: owner.token,
    });
    expect(list.status).toBe(200);
    const ci = list.body.tokens.find((t) => t.id === issued.body.id);
    expect(ci).toMatchObject({ name: "ci", kind: "token", revoked_at: null });
    expect(JSON.stringify(list.body)).not.toContain(issued.body.token);

    // Another admin's token id under the wrong user is not found, and stays valid.
    const wrongUser = await call("DELETE", `/api/admin/users/${owner.id}/tokens/${issued.body.id}`, {
      token: owner.token,
    });
    expect(wrongUser.status).toBe(404);
    expect((await call("GET", "/api/admin/me", { token: issued.body.token })).status).toBe(200);

    const revoked = await call("DELETE", `/api/admin/users/${someone.id}/tokens/${issued.body.id}`, {
      token: owner.token,
    });
    expect(revoked.status).toBe(204);
    expect((await call("GET", "/api/admin/me", { token: issued.body.token })).status).toBe(401);
    const after = await callJson<{ tokens: Record<string, unknown>[] }>(
      "GET",
      `/api/admin/users/${someone.id}/tokens`,
      {
        token: owner.token,
      },
    );
    expect(after.body.tokens.find((t) => t.id === issued.body.id)?.revoked_at).toEqual(expect.any(String));
    expect((await call("GET", `/api/admin/users/999999/tokens`, { token: owner.token })).status).toBe(404);
  });
});

describe("the last owner, under concurrent writes", () => {
  it("keeps one owner when two owners demote each other at the same moment", async () => {
    for (let round = 0; round < 5; round++) {
      const a = await createAdmin("owner");
      const b = await createAdmin("owner");
      await onlyOwner(a.id);
      await env.DB.prepare("UPDATE admin_users SET role = 'owner' WHERE id = ?").bind(b.id).run();
      // Each demotes the other, both requests in flight together.
      const [ab, ba] = await Promise.all([
        callJson<ErrorBody>("PUT", `/api/admin/users/${b.id}`, { token: a.token, body: { role: "admin" } }),
        callJson<ErrorBody>("PUT", `/api/admin/users/${a.id}`, { token: b.token, body: { role: "admin" } }),
      ]);
      const statuses = [ab.status, ba.status].sort();
      // One passes; the other is refused, by the write itself, or (when it arrives after the
      // first has committed) by the role check as its caller is no longer an owner.
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      const owners = await env.DB.prepare("SELECT count(*) AS n FROM admin_users WHERE role = 'owner'").first<{
        n: number;
      }>();
      expect(owners?.n).toBe(1);
    }
  });

  it("lets only one of two owners stepping down at once go: the other's write finds no other owner (409)", async () => {
    const a = await createAdmin("owner");
    const b = await createAdmin("owner");
    await onlyOwner(a.id);
    await env.DB.prepare("UPDATE admin_users SET role = 'owner' WHERE id = ?").bind(b.id).run();
    // Both demotions authorized while both are owners, then run concurrently: one write must fail.
    const [x, y] = await Promise.all([
      callJson<ErrorBody>("PUT", `/api/admin/users/${a.id}`, { token: a.token, body: { role: "viewer" } }),
      callJson<ErrorBody>("PUT", `/api/admin/users/${b.id}`, { token: b.token, body: { role: "viewer" } }),
    ]);
    const refused = [x, y].filter((r) => r.status !== 200);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.status).toBe(409);
    expect(refused[0]?.body.message).toContain("last owner");
    const owners = await env.DB.prepare("SELECT id FROM admin_users WHERE role = 'owner'").all<{ id: number }>();
    expect(owners.results).toHaveLength(1);
    // The audit trail records the demotion that happened, and not the one its write refused.
    const audited = await env.DB.prepare(
      "SELECT target_id FROM audit_log WHERE action = 'user.update' AND target_id IN (?, ?)",
    )
      .bind(String(a.id), String(b.id))
      .all<{ target_id: string }>();
    const demoted = x.status === 200 ? a.id : b.id;
    expect(audited.results).toEqual([{ target_id: String(demoted) }]);
  });

  it("refuses deleting an owner when the delete finds no other owner", async () => {
    const a = await createAdmin("owner");
    const b = await createAdmin("owner");
    await onlyOwner(a.id);
    await env.DB.prepare("UPDATE admin_users SET role = 'owner' WHERE id = ?").bind(b.id).run();
    const [x, y] = await Promise.all([
      call("DELETE", `/api/admin/users/${b.id}`, { token: a.token }),
      call("DELETE", `/api/admin/users/${a.id}`, { token: b.token }),
    ]);
    const statuses = [x.status, y.status].sort();
    expect(statuses[0]).toBe(204);
    expect([401, 403, 404, 409]).toContain(statuses[1]);
    const owners = await env.DB.prepare("SELECT id FROM admin_users WHERE role = 'owner'").all<{ id: number }>();
    expect(owners.results).toHaveLength(1);
  });
});

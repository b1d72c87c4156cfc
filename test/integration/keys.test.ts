import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  call,
  callJson,
  createAdmin,
  type TestAdmin,
  type ErrorBody,
  sha256Hex,
  expectUnknownIdNotFound,
} from "./helpers";

const BASE = "/api/admin/monitoring/keys";

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

/** A body that must be refused, the field the 400 must name, and the reason it must give. */
type Case = [label: string, body: unknown, field: string, reason: RegExp];

const readRow = (id: unknown) =>
  env.DB.prepare("SELECT * FROM ingest_keys WHERE id = ?").bind(id).first<Record<string, unknown>>();

describe("ingest keys", () => {
  it("shows the key once, stores only its hash, and supports read, update and delete", async () => {
    const created = await callJson("POST", BASE, {
      token: admin.token,
      body: { name: "shop-backend", scope: "ingest" },
    });
    expect(created.status).toBe(201);
    const { id, key } = created.body;
    expect(id).toEqual(expect.any(Number));
    expect(key).toMatch(/^emk_[A-Za-z0-9_-]{43}$/);
    const secret = String(key);
    expect(created.body).toMatchObject({
      name: "shop-backend",
      scope: "ingest",
      prefix: secret.slice(0, 10),
      rate_limit_per_minute: null,
      created_by: admin.id,
      last_used_at: null,
      revoked_at: null,
    });
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(created.body).not.toHaveProperty("key_hash");

    const row = await readRow(id);
    expect(row?.key_hash).toBe(await sha256Hex(secret));
    expect(row?.prefix).toBe(secret.slice(0, 10));
    const leaks = Object.values(row ?? {}).filter((v) => typeof v === "string" && v.includes(secret.slice(4)));
    expect(leaks).toEqual([]);

    const got = await callJson("GET", `${BASE}/${id}`, { token: admin.token });
    expect(got.status).toBe(200);
    const { key: _shownOnce, ...withoutKey } = created.body;
    expect(got.body).toEqual(withoutKey);

    const listRes = await call("GET", BASE, { token: admin.token });
    const listText = await listRes.text();
    expect(listRes.status).toBe(200);
    expect(listText).not.toContain(secret);
    expect(listText).not.toContain(String(row?.key_hash));
    const list = JSON.parse(listText) as { keys: { id: number }[] };
    expect(list.keys.map((k) => k.id)).toContain(id);
    expect(list.keys[0]).not.toHaveProperty("key");

    const put = await callJson("PUT", `${BASE}/${id}`, { token: admin.token, body: { rate_limit_per_minute: 600 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      name: "shop-backend",
      scope: "ingest",
      rate_limit_per_minute: 600,
      prefix: secret.slice(0, 10),
    });
    expect(put.body).not.toHaveProperty("key");
    expect(JSON.stringify(put.body)).not.toContain(secret);
    // The secret does not change on update.
    expect((await readRow(id))?.key_hash).toBe(await sha256Hex(secret));

    const renamed = await callJson("PUT", `${BASE}/${id}`, {
      token: admin.token,
      body: { name: "shop-heartbeats", scope: "heartbeat", rate_limit_per_minute: null },
    });
    expect(renamed.body).toMatchObject({ name: "shop-heartbeats", scope: "heartbeat", rate_limit_per_minute: null });

    expect((await callJson("DELETE", `${BASE}/${id}`, { token: admin.token })).status).toBe(204);
    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).status).toBe(404);
    expect(await readRow(id)).toBeNull();
  });

  it("makes a different key each time", async () => {
    const body = { name: "twice", scope: "heartbeat", rate_limit_per_minute: 1_000_000 };
    const a = await callJson("POST", BASE, { token: admin.token, body });
    const b = await callJson("POST", BASE, { token: admin.token, body });
    expect(a.status).toBe(201);
    expect(a.body.rate_limit_per_minute).toBe(1_000_000);
    expect(a.body.key).not.toBe(b.body.key);
  });

  const invalid: Case[] = [
    ["an unknown scope", { name: "x", scope: "admin" }, "scope", /./],
    ["a missing scope", { name: "x" }, "scope", /./],
    ["a blank name", { name: "   ", scope: "ingest" }, "name", /empty/],
    ["a missing name", { scope: "ingest" }, "name", /./],
    ["a rate limit of 0", { name: "x", scope: "ingest", rate_limit_per_minute: 0 }, "rate_limit_per_minute", /./],
    [
      "a rate limit above 1,000,000",
      { name: "x", scope: "ingest", rate_limit_per_minute: 1_000_001 },
      "rate_limit_per_minute",
      /./,
    ],
    [
      "a fractional rate limit",
      { name: "x", scope: "ingest", rate_limit_per_minute: 1.5 },
      "rate_limit_per_minute",
      /./,
    ],
  ];

  it.each(invalid)("rejects %s", async (_label, body, field, reason) => {
    const res = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body });
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("validates a partial update", async () => {
    const { body } = await callJson("POST", BASE, { token: admin.token, body: { name: "ok", scope: "ingest" } });
    const res = await callJson<ErrorBody>("PUT", `${BASE}/${body.id}`, {
      token: admin.token,
      body: { scope: "everything" },
    });
    expect(res.body.details).toContainEqual({ field: "scope", reason: expect.any(String) });
    expect(res.status).toBe(400);
    expect((await callJson("GET", `${BASE}/${body.id}`, { token: admin.token })).body.scope).toBe("ingest");
  });

  it("ignores a key sent by the client and refuses to be given a hash", async () => {
    const res = await callJson("POST", BASE, {
      token: admin.token,
      body: { name: "sneaky", scope: "ingest", key: "emk_chosen", prefix: "emk_chosen" },
    });
    expect(res.status).toBe(201);
    expect(res.body.key).not.toBe("emk_chosen");
    const row = await readRow(res.body.id);
    expect(row?.key_hash).toBe(await sha256Hex(String(res.body.key)));

    const hashed = await callJson<ErrorBody>("POST", BASE, {
      token: admin.token,
      body: { name: "sneaky", scope: "ingest", key_hash: "00" },
    });
    expect(hashed.status).toBe(400);
    expect(hashed.body.details).toEqual([{ field: "key_hash", reason: "is not a known field" }]);
  });

  it("answers 404 for an unknown id", async () => {
    await expectUnknownIdNotFound(BASE, admin.token, { name: "x" });
  });

  it("lets only admins create keys", async () => {
    const viewer = await createAdmin("viewer");
    const res = await callJson("POST", BASE, { token: viewer.token, body: { name: "x", scope: "ingest" } });
    expect(res.status).toBe(403);
  });
});

/**
 * last_used_at of ingest keys and API tokens: written at most once a minute per key, but
 * written again on a use more than that interval after the last write, and on every
 * dashboard login with the token (which once left it at the token's last API call).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, callJson, createAdmin } from "./helpers";

afterEach(() => {
  vi.useRealTimers();
});

const TOUCH_INTERVAL_MS = 60_000;

async function lastUsed(table: "ingest_keys" | "api_tokens", column: string, value: unknown): Promise<number | null> {
  const row = await env.DB.prepare(`SELECT last_used_at FROM ${table} WHERE ${column} = ?`)
    .bind(value)
    .first<{ last_used_at: number | null }>();
  return row?.last_used_at ?? null;
}

/** Waits until the background write (waitUntil) has stamped `at`. */
async function stamped(read: () => Promise<number | null>, at: number) {
  await vi.waitFor(async () => expect(await read()).toBe(at), { timeout: 5_000, interval: 50 });
}

describe("last_used_at", () => {
  it("moves on for an ingest key used again more than the touch interval later", async () => {
    const admin = await createAdmin("admin");
    const created = await callJson<{ id: number; key: string }>("POST", "/api/admin/monitoring/keys", {
      token: admin.token,
      body: { name: `last-use-${Date.now()}`, scope: "ingest" },
    });
    expect(created.status).toBe(201);
    const read = () => lastUsed("ingest_keys", "id", created.body.id);
    const push = () => call("POST", "/api/ingest", { token: created.body.key, body: { samples: [] } });

    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    expect((await push()).status).toBe(202);
    await stamped(read, t0);

    // Within the interval: not written again.
    vi.setSystemTime(t0 + TOUCH_INTERVAL_MS / 2);
    expect((await push()).status).toBe(202);
    // Past it: written again, and again after that.
    const t1 = t0 + TOUCH_INTERVAL_MS + 1_000;
    vi.setSystemTime(t1);
    expect((await push()).status).toBe(202);
    await stamped(read, t1);
    const t2 = t1 + 10 * TOUCH_INTERVAL_MS;
    vi.setSystemTime(t2);
    expect((await push()).status).toBe(202);
    await stamped(read, t2);
  });

  it("moves on for an API token used again more than the touch interval later", async () => {
    const admin = await createAdmin("viewer");
    const read = () => lastUsed("api_tokens", "admin_id", admin.id);
    const me = () => call("GET", "/api/admin/me", { token: admin.token });

    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    expect((await me()).status).toBe(200);
    await stamped(read, t0);
    const t1 = t0 + TOUCH_INTERVAL_MS + 1_000;
    vi.setSystemTime(t1);
    expect((await me()).status).toBe(200);
    await stamped(read, t1);
  });

  it("moves on for an API token exchanged for a dashboard session", async () => {
    const admin = await createAdmin("viewer");
    const read = () => lastUsed("api_tokens", "admin_id", admin.id);
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    expect((await call("GET", "/api/admin/me", { token: admin.token })).status).toBe(200);
    await stamped(read, t0);
    // Logging in to the dashboard with the token is a use of it.
    const t1 = t0 + TOUCH_INTERVAL_MS + 1_000;
    vi.setSystemTime(t1);
    expect((await call("POST", "/api/auth/session", { body: { token: admin.token } })).status).toBe(200);
    await stamped(read, t1);
  });
});

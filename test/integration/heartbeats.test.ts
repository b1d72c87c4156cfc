import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../../worker/db/client";
import { saveHeartbeatState } from "../../worker/db/heartbeats";
import { checkHeartbeats } from "../../worker/handlers/heartbeats";
import { readSeries, seriesStub } from "../../worker/lib/series";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const MONITORS = "/api/admin/monitoring/monitors";
const SERVICE = "celery-beat";

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

interface Created {
  id: number;
  slug: string;
  path: string;
  createdAt: number;
}

async function createMonitor(body: Record<string, unknown>): Promise<Created> {
  const res = await callJson<{ id: number; heartbeat_url: string; created_at: string }>("POST", MONITORS, {
    token: admin.token,
    body: { name: "Nightly export", service: SERVICE, kind: "heartbeat", ...body },
  });
  expect(res.status).toBe(201);
  const url = new URL(res.body.heartbeat_url);
  return {
    id: res.body.id,
    slug: url.pathname.split("/").at(-1) ?? "",
    path: url.pathname,
    createdAt: Date.parse(res.body.created_at),
  };
}

const periodMonitor = () => createMonitor({ period_seconds: 300, grace_seconds: 60 });

interface StateRow {
  state: string;
  last_ping_at: number | null;
  last_start_at: number | null;
  last_fail_at: number | null;
  last_exit_code: number | null;
  last_runtime_ms: number | null;
  recent_runtimes_ms: string;
  message: string | null;
  updated_at: number;
}

const stateOf = (id: number) =>
  env.DB.prepare("SELECT * FROM heartbeat_state WHERE monitor_id = ?").bind(id).first<StateRow>();

const series = (metric: string, id: number) => readSeries(env, metric, SERVICE, { monitor: String(id) }, 0);

/** The newest sample of a monitor's series, with its message (the series keeps the latest one's). */
const latest = (metric: string, id: number) => seriesStub(env, metric, SERVICE, { monitor: String(id) }).latest();

type PingBody = { ok: boolean; state: string };

describe("ping endpoints", () => {
  it("records a success by GET and by POST, state and sample at once", async () => {
    const m = await periodMonitor();
    const before = Date.now();
    const res = await callJson<PingBody>("GET", m.path);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, state: "ok" });
    const row = await stateOf(m.id);
    expect(row).toMatchObject({ state: "ok", last_exit_code: null, message: null });
    expect(row?.last_ping_at).toBeGreaterThanOrEqual(before);

    const post = await callJson<PingBody>("POST", m.path);
    expect(post.body).toEqual({ ok: true, state: "ok" });
    const ok = await series("heartbeat_ok", m.id);
    expect(ok.map((s) => s.value)).toEqual([1, 1]);
    expect(ok[1]?.ts).toBe((await stateOf(m.id))?.last_ping_at);
  });

  it("measures start → success as the runtime", async () => {
    const m = await periodMonitor();
    const start = await callJson<PingBody>("POST", `${m.path}/start`);
    expect(start.body).toEqual({ ok: true, state: "running" });
    expect((await stateOf(m.id))?.state).toBe("running");
    await new Promise((r) => setTimeout(r, 30));
    expect((await callJson<PingBody>("GET", m.path)).body.state).toBe("ok");

    const row = await stateOf(m.id);
    const runtime = (row?.last_ping_at ?? 0) - (row?.last_start_at ?? 0);
    expect(runtime).toBeGreaterThanOrEqual(30);
    expect(row?.last_runtime_ms).toBe(runtime);
    expect(JSON.parse(row?.recent_runtimes_ms ?? "[]")).toEqual([runtime]);
    expect((await series("heartbeat_runtime_ms", m.id)).map((s) => s.value)).toEqual([runtime]);
    expect((await series("heartbeat_runtime_anomaly", m.id)).map((s) => s.value)).toEqual([0]);
  });

  it("records a failure with its exit code from the query, the body or the path", async () => {
    const m = await periodMonitor();
    const cases: [method: string, path: string, body: string | undefined, code: number | null, message: string][] = [
      ["GET", `${m.path}/fail?exit_code=3`, undefined, 3, "failed: exit code 3"],
      ["POST", `${m.path}/fail`, "2", 2, "failed: exit code 2"],
      ["POST", m.path, JSON.stringify({ exit_code: 5 }), 5, "failed: exit code 5"],
      ["GET", `${m.path}/1`, undefined, 1, "failed: exit code 1"],
      [
        "POST",
        `${m.path}/fail`,
        "Traceback (most recent call last):\n  File x",
        null,
        "failed: Traceback (most recent call last):",
      ],
      ["GET", `${m.path}/fail`, undefined, null, "failed"],
    ];
    for (const [method, path, body, code, message] of cases) {
      const res = await callJson<PingBody>(method, path, { body, headers: { "content-type": "text/plain" } });
      expect(res.body, path).toEqual({ ok: true, state: "failed" });
      expect(await stateOf(m.id), path).toMatchObject({ state: "failed", last_exit_code: code, message });
    }
    const ok = await series("heartbeat_ok", m.id);
    expect(ok.map((s) => s.value)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ok.at(-1)?.ts).toBe((await stateOf(m.id))?.last_fail_at);
    await call("GET", `${m.path}/fail?exit_code=4`);
    expect(await latest("heartbeat_ok", m.id)).toMatchObject({ value: 0, message: "failed: exit code 4" });
  });

  it("treats exit code 0 as a success, like a plain ping", async () => {
    const m = await periodMonitor();
    await call("GET", `${m.path}/fail`);
    const res = await callJson<PingBody>("GET", `${m.path}/0`);
    expect(res.body).toEqual({ ok: true, state: "ok" });
    expect(await stateOf(m.id)).toMatchObject({ state: "ok", last_exit_code: 0, message: null });
    expect((await callJson<PingBody>("GET", `${m.path}?exit_code=0`)).body.state).toBe("ok");
    expect((await series("heartbeat_ok", m.id)).map((s) => s.value)).toEqual([0, 1, 1]);
  });

  it("answers 404 for an unknown key, an inactive monitor and an unknown sub-path", async () => {
    for (const path of ["/api/heartbeat/not-a-real-key", "/api/heartbeat/not-a-real-key/start"]) {
      const res = await callJson<ErrorBody>("GET", path);
      expect(res.status).toBe(404);
      expect(res.body.error).toBe("not_found");
    }
    const m = await createMonitor({ period_seconds: 60, is_active: false });
    for (const sub of ["", "/start", "/fail", "/0"]) {
      expect((await call("POST", `${m.path}${sub}`)).status, sub).toBe(404);
    }
    expect(await stateOf(m.id)).toBeNull();

    const active = await periodMonitor();
    const put = await callJson("PUT", `${MONITORS}/${active.id}`, { token: admin.token, body: { is_active: false } });
    expect(put.status).toBe(200);
    expect((await call("GET", active.path)).status).toBe(404);
    expect((await call("GET", `${active.path}/restart`)).status).toBe(404);
  });

  it("refuses an exit code that is not one, and a body over 10 KB", async () => {
    const m = await periodMonitor();
    for (const [method, path, body] of [
      ["GET", `${m.path}/256`, undefined],
      ["GET", `${m.path}?exit_code=abc`, undefined],
      ["GET", `${m.path}/fail?exit_code=-1`, undefined],
      ["POST", m.path, JSON.stringify({ exit_code: "x" })],
    ] as const) {
      const res = await callJson<ErrorBody>(method, path, { body });
      expect(res.status, path).toBe(400);
      expect(res.body.details).toEqual([{ field: "exit_code", reason: "must be an integer from 0 to 255" }]);
    }
    const big = await callJson<ErrorBody>("POST", `${m.path}/fail`, {
      body: "x".repeat(10 * 1024 + 1),
      headers: { "content-type": "text/plain" },
    });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe("payload_too_large");
    expect((await call("POST", `${m.path}/fail`, { body: "x".repeat(10 * 1024) })).status).toBe(200);
    expect((await stateOf(m.id))?.message).toBe(`failed: ${"x".repeat(200)}`);
  });

  it("keeps every ping of a burst (concurrent writes are retried, none lost)", async () => {
    const m = await periodMonitor();
    // Each ping at its own millisecond: workerd's clock stands still between I/O, so the
    // burst would share one instant, and a series holds one sample per instant.
    let clock = Date.now();
    const now = vi.spyOn(Date, "now").mockImplementation(() => ++clock);
    const results = await Promise.all(Array.from({ length: 6 }, () => call("GET", m.path))).finally(() =>
      now.mockRestore(),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect((await series("heartbeat_ok", m.id)).length).toBe(6);
  });

  it("flags a suspiciously fast run without failing the heartbeat", async () => {
    const m = await periodMonitor();
    await call("GET", m.path);
    await env.DB.prepare("UPDATE heartbeat_state SET recent_runtimes_ms = ? WHERE monitor_id = ?")
      .bind(JSON.stringify([60_000, 62_000, 58_000, 61_000, 65_000, 59_000]), m.id)
      .run();
    await call("GET", `${m.path}/start`);
    const res = await callJson<PingBody>("GET", m.path);
    expect(res.body.state).toBe("ok");
    const row = await stateOf(m.id);
    expect(row?.message).toMatch(/^run took \d+ ms, suspiciously fast \(median of the last 6 runs: 60\.5 s\)$/);
    expect((await series("heartbeat_runtime_anomaly", m.id)).map((s) => s.value)).toEqual([1]);
    expect((await latest("heartbeat_runtime_anomaly", m.id))?.message).toBe(row?.message);
    expect((await series("heartbeat_ok", m.id)).map((s) => s.value)).toEqual([1, 1, 1]);
    expect(JSON.parse(row?.recent_runtimes_ms ?? "[]")).toHaveLength(7);
  });
});

describe("checkHeartbeats", () => {
  it("keeps a new monitor new, then marks it late after its window with the reason", async () => {
    const m = await createMonitor({ period_seconds: 300, grace_seconds: 120 });
    const row = await env.DB.prepare("SELECT created_at FROM monitors WHERE id = ?")
      .bind(m.id)
      .first<{ created_at: number }>();
    const created = row?.created_at ?? 0;

    await checkHeartbeats(env, created + 7 * 60_000);
    expect(await stateOf(m.id)).toBeNull();
    expect((await series("heartbeat_ok", m.id)).map((s) => [s.ts, s.value])).toEqual([[created + 7 * 60_000, 1]]);

    const lateAt = created + 7 * 60_000 + 60_000;
    await checkHeartbeats(env, lateAt);
    const state = await stateOf(m.id);
    expect(state?.state).toBe("late");
    expect(state?.message).toBe(`late: expected by ${new Date(created + 300_000).toISOString()}, last ping never`);
    expect((await series("heartbeat_ok", m.id)).map((s) => [s.ts, s.value])).toEqual([
      [created + 7 * 60_000, 1],
      [lateAt, 0],
    ]);

    // A minute later nothing changes, and the series still gets its 0.
    const version = state?.updated_at;
    await checkHeartbeats(env, lateAt + 60_000);
    expect((await stateOf(m.id))?.updated_at).toBe(version);
    expect((await series("heartbeat_ok", m.id)).map((s) => s.value)).toEqual([1, 0, 0]);
    expect(await latest("heartbeat_ok", m.id)).toMatchObject({ value: 0, message: state?.message });

    // The job comes back.
    expect((await callJson<PingBody>("GET", m.path)).body.state).toBe("ok");
  });

  it("marks a cron job late after its fire time + grace, and a job that pinged stays ok", async () => {
    const cron = await createMonitor({ cron: "*/15 * * * *", timezone: "Asia/Taipei", grace_seconds: 120 });
    const pinged = await createMonitor({ period_seconds: 3600, grace_seconds: 60 });
    await call("GET", pinged.path);
    // The first quarter hour after creation, plus grace, plus a minute.
    const fire = Math.ceil((cron.createdAt + 1) / 900_000) * 900_000;
    const now = fire + 3 * 60_000;
    await checkHeartbeats(env, now);
    expect(await stateOf(cron.id)).toMatchObject({
      state: "late",
      message: `late: expected by ${new Date(fire).toISOString()}, last ping never`,
    });
    expect((await stateOf(pinged.id))?.state).toBe("ok");
    expect((await series("heartbeat_ok", cron.id)).map((s) => s.value)).toEqual([0]);
    expect((await series("heartbeat_ok", pinged.id)).map((s) => [s.ts, s.value]).at(-1)).toEqual([now, 1]);
  });

  it("keeps a failed monitor at 0 with its exit code until its next window is missed", async () => {
    const m = await periodMonitor();
    await call("GET", `${m.path}/fail?exit_code=7`);
    const failedAt = (await stateOf(m.id))?.last_fail_at ?? 0;
    await checkHeartbeats(env, failedAt + 60_000);
    expect(await stateOf(m.id)).toMatchObject({ state: "failed", message: "failed: exit code 7" });
    expect((await series("heartbeat_ok", m.id)).map((s) => s.value)).toEqual([0, 0]);
    expect(await latest("heartbeat_ok", m.id)).toMatchObject({ value: 0, message: "failed: exit code 7" });
    await checkHeartbeats(env, failedAt + 6 * 60_000 + 1);
    expect((await stateOf(m.id))?.state).toBe("late");
  });

  it("never overwrites a state a ping saved after it was read", async () => {
    const m = await periodMonitor();
    await call("GET", m.path);
    const read = await stateOf(m.id);
    await call("GET", `${m.path}/start`);
    const db = getDb(env.DB);
    const stale = await saveHeartbeatState(
      db,
      m.id,
      {
        status: "late",
        lastPingAt: read?.last_ping_at ?? null,
        lastStartAt: null,
        lastFailAt: null,
        lastExitCode: null,
        lastRuntimeMs: null,
        recentRuntimesMs: [],
        message: "late",
      },
      read?.updated_at ?? null,
      Date.now(),
    );
    expect(stale).toEqual([]);
    expect((await stateOf(m.id))?.state).toBe("running");
  });
});

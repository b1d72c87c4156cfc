import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const KEYS = "/api/admin/monitoring/keys";
const MONITORS = "/api/admin/monitoring/monitors";
const heartbeat = (name: string) => `/api/integration/heartbeats/${encodeURIComponent(name)}`;

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

async function newKey(scope: string, name = `${scope}-key`): Promise<string> {
  const res = await callJson<{ key: string }>("POST", KEYS, { token: admin.token, body: { name, scope } });
  expect(res.status).toBe(201);
  return res.body.key;
}

interface Heartbeat {
  id: number;
  name: string;
  service: string;
  period_seconds: number | null;
  cron: string | null;
  timezone: string | null;
  grace_seconds: number | null;
  is_active: boolean;
  heartbeat_url: string;
}

const put = (key: string, name: string, body: unknown) =>
  callJson<Heartbeat>("PUT", heartbeat(name), { token: key, body });

describe("integration keys", () => {
  it("push samples like an ingest key", async () => {
    const key = await newKey("integration");
    const res = await callJson("POST", "/api/ingest", {
      token: key,
      body: { samples: [{ metric: "celery_task_runs_total", service: "celery", value: 1, labels: { task: "a" } }] },
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1 });
  });

  it("create a heartbeat monitor they own, update its schedule, and answer unchanged without a write", async () => {
    const key = await newKey("integration", "shop-celery");
    const nightly = { service: "celery", cron: "30 3 * * *", timezone: "Asia/Taipei", grace_seconds: 60 };
    const created = await put(key, "beat: nightly-report", nightly);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "beat: nightly-report",
      service: "celery",
      cron: "30 3 * * *",
      timezone: "Asia/Taipei",
      period_seconds: null,
      grace_seconds: 60,
      is_active: true,
    });
    expect(created.body.heartbeat_url).toMatch(/^http:\/\/localhost\/api\/heartbeat\/[A-Za-z0-9_-]{32}$/);
    // The admin API sees it as any heartbeat monitor, with the same URL.
    const listed = await callJson<Heartbeat>("GET", `${MONITORS}/${created.body.id}`, { token: admin.token });
    expect(listed.body).toMatchObject({
      kind: "heartbeat",
      cron: "30 3 * * *",
      heartbeat_url: created.body.heartbeat_url,
    });
    const row = await env.DB.prepare("SELECT owner_key_id FROM monitors WHERE id = ?").bind(created.body.id).first();
    const keyId = await env.DB.prepare("SELECT id FROM ingest_keys WHERE name = 'shop-celery'").first<{ id: number }>();
    expect(row).toEqual({ owner_key_id: keyId?.id });

    const audits = async () =>
      (
        await env.DB.prepare(
          "SELECT action, via, actor_label FROM audit_log WHERE target_type = 'monitor' AND target_id = ?",
        )
          .bind(String(created.body.id))
          .all()
      ).results;
    expect(await audits()).toEqual([{ action: "monitor.create", via: "integration", actor_label: "key:shop-celery" }]);

    // Every worker process says the same when it starts: nothing is written.
    const again = await put(key, "beat: nightly-report", nightly);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);
    expect(await audits()).toHaveLength(1);

    // A new schedule replaces the old one, the URL stays.
    const changed = await put(key, "beat: nightly-report", {
      service: "celery",
      period_seconds: 600,
      grace_seconds: 120,
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      id: created.body.id,
      period_seconds: 600,
      cron: null,
      timezone: null,
      grace_seconds: 120,
    });
    expect(changed.body.heartbeat_url).toBe(created.body.heartbeat_url);
    expect((await audits()).map((a) => a.action)).toEqual(["monitor.create", "monitor.update"]);

    // An admin's pause stays: the integration updates the schedule only.
    const paused = await call("PUT", `${MONITORS}/${created.body.id}`, {
      token: admin.token,
      body: { is_active: false },
    });
    expect(paused.status).toBe(200);
    const afterPause = await put(key, "beat: nightly-report", { service: "celery", period_seconds: 900 });
    expect(afterPause.body).toMatchObject({ period_seconds: 900, is_active: false });
  });

  it("ping their monitors through its URL: start, then fail with the reason", async () => {
    const key = await newKey("integration");
    const hb = await put(key, "beat: cleanup", { service: "celery", period_seconds: 60, grace_seconds: 10 });
    const path = new URL(hb.body.heartbeat_url).pathname;
    expect((await callJson("POST", `${path}/start`)).body).toMatchObject({ state: "running" });
    const failed = await call("POST", `${path}/fail`, {
      body: "ZeroDivisionError: division by zero",
      headers: { "content-type": "text/plain" },
    });
    expect(await failed.json()).toMatchObject({ state: "failed" });
    const state = await env.DB.prepare("SELECT * FROM heartbeat_state WHERE monitor_id = ?").bind(hb.body.id).first();
    expect(JSON.stringify(state)).toContain("ZeroDivisionError: division by zero");
  });

  it("make one monitor when two processes create it at once", async () => {
    const key = await newKey("integration");
    const body = { service: "celery", period_seconds: 30 };
    const answers = await Promise.all([put(key, "beat: race", body), put(key, "beat: race", body)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 201]);
    expect(answers[0]?.body.id).toBe(answers[1]?.body.id);
    const count = await env.DB.prepare("SELECT count(*) AS n FROM monitors WHERE name = 'beat: race'").first();
    expect(count).toEqual({ n: 1 });
    // What holds when both look before either writes: the store takes one monitor per key and name.
    const copy = env.DB.prepare(
      `INSERT INTO monitors (name, service, kind, config, heartbeat_slug, owner_key_id)
       SELECT name, service, kind, config, 'other-slug', owner_key_id FROM monitors WHERE id = ?`,
    ).bind(answers[0]?.body.id);
    await expect(copy.run()).rejects.toThrow(/UNIQUE constraint failed/);
  });

  it("do not take over a monitor an admin or another key made (409)", async () => {
    const made = await callJson<{ id: number }>("POST", MONITORS, {
      token: admin.token,
      body: { name: "beat: admin-made", service: "celery", kind: "heartbeat", period_seconds: 60 },
    });
    expect(made.status).toBe(201);
    const key = await newKey("integration");
    const res = await put(key, "beat: admin-made", { service: "celery", period_seconds: 120 });
    expect(res.status).toBe(409);
    expect((res.body as unknown as ErrorBody).details).toEqual([
      { field: "name", reason: "taken by a monitor this key does not own" },
    ]);
    const other = await newKey("integration");
    expect((await put(key, "beat: mine", { service: "celery", period_seconds: 60 })).status).toBe(201);
    expect((await put(other, "beat: mine", { service: "celery", period_seconds: 60 })).status).toBe(409);
    const stored = await callJson<Heartbeat>("GET", `${MONITORS}/${made.body.id}`, { token: admin.token });
    expect(stored.body.period_seconds).toBe(60);
  });

  it("refuse invalid schedules with the field and reason", async () => {
    const key = await newKey("integration");
    const cases: [unknown, string, RegExp][] = [
      [{ service: "celery" }, "period_seconds", /needs period_seconds or cron/],
      [{ service: "celery", period_seconds: 60, cron: "* * * * *" }, "cron", /not both/],
      [{ service: "celery", period_seconds: 5 }, "period_seconds", />=\s*10|at least 10|too small/i],
      [{ service: "celery", cron: "every day" }, "cron", /./],
      [{ service: "celery", cron: "0 3 * * *", timezone: "Mars/Olympus" }, "timezone", /IANA/],
      [{ service: "Celery Workers", period_seconds: 60 }, "service", /lowercase/],
      [{ service: "celery", period_seconds: 60, url: "http://x" }, "url", /not a known field/],
    ];
    for (const [body, field, reason] of cases) {
      const res = await callJson<ErrorBody>("PUT", heartbeat("beat: bad"), { token: key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const detail = res.body.details?.find((d) => d.field === field);
      expect(detail?.reason, JSON.stringify(res.body)).toMatch(reason);
    }
    const long = await callJson<ErrorBody>("PUT", heartbeat("x".repeat(201)), {
      token: key,
      body: { service: "celery", period_seconds: 60 },
    });
    expect(long.status).toBe(400);
    expect(long.body.details?.[0]?.field).toBe("name");
    expect((await callJson("GET", MONITORS, { token: admin.token })).body).not.toMatchObject({
      monitors: expect.arrayContaining([expect.objectContaining({ name: "beat: bad" })]),
    });
  });

  it("do nothing else: no admin API, no self-metrics; ingest and heartbeat keys cannot manage heartbeats", async () => {
    const key = await newKey("integration");
    expect((await call("GET", MONITORS, { token: key })).status).toBe(401);
    expect((await call("GET", "/metrics", { token: key })).status).toBe(403);
    for (const scope of ["ingest", "heartbeat"]) {
      const other = await newKey(scope);
      const res = await callJson<ErrorBody>("PUT", heartbeat("beat: x"), {
        token: other,
        body: { service: "celery", period_seconds: 60 },
      });
      expect(res.status).toBe(403);
      expect(res.body.message).toContain("needs an integration key");
    }
    expect((await call("PUT", heartbeat("beat: x"), { body: { service: "celery", period_seconds: 60 } })).status).toBe(
      401,
    );
    const big = await call("PUT", heartbeat("beat: x"), {
      token: key,
      body: { service: "celery", period_seconds: 60, pad: "x".repeat(20_000) },
    });
    expect(big.status).toBe(413);
  });
});

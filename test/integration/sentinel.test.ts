/**
 * Deadline-exact heartbeats in workerd: a ping arms the sentinel's alarm at the job's
 * deadline (period + grace), and at that alarm, with no cron run at all, the job is late,
 * its heartbeat_ok is 0 and a heartbeat rule on it fires.
 */
import { createExecutionContext, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

let admin: TestAdmin;
beforeAll(async () => {
  admin = await createAdmin("admin");
});
afterEach(() => {
  vi.useRealTimers();
});

const sentinel = () => env.SENTINEL.getByName("main");

describe("a heartbeat's deadline", () => {
  it("marks a job late within a second of period + grace, without the cron, and fires its rule", async () => {
    const service = `celery-${Date.now().toString(36)}`;
    const created = await callJson<{ id: number; heartbeat_url: string }>("POST", "/api/admin/monitoring/monitors", {
      token: admin.token,
      body: { name: "Settle payments", service, kind: "heartbeat", period_seconds: 10, grace_seconds: 5 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const monitorId = created.body.id;
    const rule = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
      token: admin.token,
      body: {
        rule_name: `Settle payments silent ${service}`,
        kind: "heartbeat",
        metric_name: "heartbeat_ok",
        service,
        params: { monitor_id: monitorId },
        comparison_operator: "<",
        threshold_value: 1,
        severity: "critical",
        notification_channels: ["email"],
      },
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);

    const pingedAt = Date.now();
    const ping = await call("GET", new URL(created.body.heartbeat_url).pathname);
    expect(ping.status).toBe(200);
    const armed = (await sentinel().status()).nextCheck;
    // The deadline: the ping + 10 s period + 5 s grace (the first instant it is late).
    expect(armed).toBeGreaterThanOrEqual(pingedAt + 15_000);
    expect(armed).toBeLessThanOrEqual(Date.now() + 15_001);

    const stateOf = () =>
      env.DB.prepare("SELECT state FROM heartbeat_state WHERE monitor_id = ?")
        .bind(monitorId)
        .first<{ state: string }>();
    expect((await stateOf())?.state).toBe("ok");

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime((armed ?? 0) + 1);
    expect(await runDurableObjectAlarm(sentinel())).toBe(true);
    expect((await stateOf())?.state).toBe("late");
    const alert = await vi.waitUntil(
      async () =>
        (await env.DB.prepare("SELECT status FROM alert_history WHERE alert_rule_id = ?")
          .bind(rule.body.id)
          .first<{ status: string }>()) ?? false,
      { timeout: 5_000, interval: 20 },
    );
    expect(alert.status).toBe("firing");
  });
});

/** /healthz as the Worker answers it with `over` replacing bindings (a fresh env: nothing kept from earlier checks). */
async function healthz(over: Partial<Env> = {}) {
  const res = await worker.fetch(
    new Request("http://localhost/healthz"),
    { ...env, ...over },
    createExecutionContext(),
  );
  return { status: res.status, body: (await res.json()) as { ok: boolean; problems?: string[] } };
}

describe("/healthz", () => {
  it("answers 200 while the monitor can work", async () => {
    await sentinel().cronTicked(Date.now());
    expect(await healthz()).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("answers 503 with the reason when D1 fails", async () => {
    const broken = {
      prepare: () => {
        throw new Error("D1 is down");
      },
    } as unknown as D1Database;
    const { status, body } = await healthz({ DB: broken });
    expect(status).toBe(503);
    expect(body.problems).toEqual(["D1 unreachable: D1 is down"]);
  });

  it("answers 503 once the cron has been silent for over 2 minutes", async () => {
    await sentinel().cronTicked(Date.now() - 4 * 60_000);
    const { status, body } = await healthz();
    expect(status).toBe(503);
    expect(body.problems?.[0]).toMatch(/^Cron Triggers have not run for 4 minutes/);
    await sentinel().cronTicked(Date.now());
    expect((await healthz()).status).toBe(200);
  });
});

describe("GET health/self", () => {
  it("reports the cron's lag, the round trips, the delivery backlog and the version, for admins", async () => {
    await sentinel().cronTicked(Date.now() - 30_000);
    const res = await callJson<{
      ok: boolean;
      version: string;
      cron: { lag_seconds: number };
      d1: { round_trip_ms: number; error: string | null };
      sentinel: { error: string | null };
      notifications: { backlog: number };
    }>("GET", "/api/admin/monitoring/health/self", { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, d1: { error: null }, sentinel: { error: null } });
    expect(res.body.cron.lag_seconds).toBeGreaterThanOrEqual(30);
    expect(res.body.d1.round_trip_ms).toBeGreaterThanOrEqual(0);
    expect(res.body.notifications.backlog).toBeGreaterThanOrEqual(0);
    expect(res.body.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await call("GET", "/api/admin/monitoring/health/self")).status).toBe(401);
  });
});

import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { DEMO_RULES, demoMonitors, seedDemo } from "../../scripts/lib/seed.mjs";
import { type Incident, incidentsBetween, shopCounters } from "../../worker/core/demo-shop";
import { parseExposition } from "../../worker/core/prometheus/parse";
import { pushDemoMetrics } from "../../worker/demo/push";
import { demo } from "../../worker/demo/routes";
import worker from "../../worker/index";
import { readSeries } from "../../worker/lib/series";
import { callJson, createAdmin, type ErrorBody } from "./helpers";

const MINUTE = 60_000;
const demoEnv = { ...env, DEMO_MODE: "1", DEMO_BASE_URL: "http://demo.test" };

/** A minute-aligned instant before `from` with no scheduled incident in the 20 minutes around it. */
function quietMinute(from: number): number {
  for (let t = Math.floor(from / MINUTE) * MINUTE; ; t -= MINUTE) {
    if (incidentsBetween(t - 20 * MINUTE, t + 2 * MINUTE).length === 0) return t;
  }
}

/**
 * Sends requests straight into the real Worker in demo mode (seedDemo's fetch): the seeded
 * monitors probe the product's own /demo/* targets, which only demo mode allows.
 */
const intoWorker = async (url: string, init?: RequestInit) =>
  worker.fetch(new Request(url, init), demoEnv, createExecutionContext());

const get = (path: string, e: Env = demoEnv) => demo.request(path, {}, e);

afterEach(() => {
  vi.useRealTimers();
});

describe("outside demo mode", () => {
  it("the Worker answers 404 under /demo", async () => {
    expect(env.DEMO_MODE).toBe("0");
    for (const path of ["/demo/ecpay/health", "/demo/metrics", "/demo/state"]) {
      const res = await callJson<ErrorBody>("GET", path);
      expect(res.status, path).toBe(404);
      expect(res.body.error).toBe("not_found");
    }
  });

  it("the demo app itself stays closed", async () => {
    const res = await get("/ecpay/health", { ...env, DEMO_MODE: "0" });
    expect(res.status).toBe(404);
  });
});

describe("demo routes", () => {
  it("answer every health endpoint with ok at a quiet time", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(quietMinute(Date.now()) + 10_000);
    for (const service of ["ecpay", "api", "database", "redis", "celery", "email"]) {
      const res = await get(`/${service}/health`);
      expect(res.status, service).toBe(200);
      const body = await res.json<Record<string, unknown>>();
      expect(body, service).toMatchObject({ status: "ok", service });
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const db = await (await get("/database/health")).json<{ pool_in_use: number; pool_size: number }>();
    expect(db.pool_size).toBe(20);
    expect(db.pool_in_use).toBeLessThan(20);
  });

  it("degrade on ?incident=: ECPay slow with 503, Redis down, the pool saturated", async () => {
    const started = Date.now();
    const ecpay = await get("/ecpay/health?incident=ecpay");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(ecpay.status).toBe(503);
    const text = await ecpay.text();
    expect(JSON.parse(text)).toMatchObject({ status: "degraded", service: "ecpay" });
    expect(text).not.toContain("ok");

    const redis = await get("/redis/health?incident=redis");
    expect(redis.status).toBe(503);
    expect(await redis.json()).toMatchObject({ status: "down" });

    const db = await get("/database/health?incident=database");
    expect(db.status).toBe(503);
    expect(await db.json()).toMatchObject({ status: "degraded", pool_in_use: 20, pool_size: 20 });

    // an incident of another service leaves this one alone
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(quietMinute(Date.now()) + 10_000);
    expect((await get("/email/health?incident=ecpay")).status).toBe(200);
  });

  it("slow the API health endpoint by at most 3 s", async () => {
    const started = Date.now();
    const res = await get("/api/health?incident=api");
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(3500);
    const body = await res.json<{ p95_ms: number }>();
    expect(body.p95_ms).toBeGreaterThan(1500);
  });

  it("refuse unknown incidents and services", async () => {
    const bad = await get("/ecpay/health?incident=meteor");
    expect(bad.status).toBe(400);
    const body = await bad.json<ErrorBody>();
    expect(body.details).toEqual([{ field: "incident", reason: expect.stringContaining("ecpay") }]);
    expect((await get("/kitchen/health")).status).toBe(404);
  });

  it("serve Prometheus text whose counters grow and whose queue backs up in a Celery incident", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t = quietMinute(Date.now()) + 5_000;
    vi.setSystemTime(t);
    const first = await get("/metrics");
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const a = parseExposition(await first.text());
    expect(a.errors).toEqual([]);
    vi.setSystemTime(t + MINUTE);
    const b = parseExposition(await (await get("/metrics")).text());
    const value = (r: typeof a, name: string, label?: string) =>
      r.samples.find((s) => s.name === name && (label === undefined || s.labels.state === label))?.value ?? Number.NaN;
    expect(value(b, "celery_tasks_total", "succeeded")).toBeGreaterThan(value(a, "celery_tasks_total", "succeeded"));
    expect(value(b, "celery_task_runtime_seconds_count")).toBeGreaterThan(
      value(a, "celery_task_runtime_seconds_count"),
    );
    expect(value(a, "db_pool_size")).toBe(20);
    expect(value(a, "celery_workers")).toBe(4);

    const c = parseExposition(await (await get("/metrics?incident=celery")).text());
    expect(value(c, "celery_workers")).toBe(1);
    expect(value(c, "celery_queue_length")).toBeGreaterThan(value(b, "celery_queue_length") + 20);
  });

  it("describe the whole shop and the next scheduled incident", async () => {
    const res = await get("/state");
    expect(res.status).toBe(200);
    const body = await res.json<{
      services: Record<string, { status: string }>;
      next_incident: { starts_at: string };
    }>();
    expect(Object.keys(body.services).sort()).toEqual(["api", "celery", "database", "ecpay", "email", "redis"]);
    expect(Date.parse(body.next_incident.starts_at)).toBeGreaterThan(Date.now());
  });
});

describe("seed", () => {
  it("creates the demo rules and monitors through the API, once", async () => {
    const owner = await createAdmin("owner");
    // an origin that answers (the local target server), so probes of the seeded monitors run cleanly
    const origin = `http://127.0.0.1:${inject("targetsPort")}`;
    const created = await seedDemo(origin, owner.token, intoWorker);
    const monitors = demoMonitors(origin);
    expect(created.sort()).toEqual([...DEMO_RULES.map((r) => r.rule_name), ...monitors.map((m) => m.name)].sort());
    expect(await seedDemo(origin, owner.token, intoWorker)).toEqual([]);

    const list = await callJson<{
      monitors: { name: string; kind: string; url: string | null; heartbeat_url: string | null }[];
    }>("GET", "/api/admin/monitoring/monitors", { token: owner.token });
    const byName = new Map(list.body.monitors.map((m) => [m.name, m]));
    expect(byName.get("ECPay gateway")?.url).toBe(`${origin}/demo/ecpay/health`);
    expect(byName.get("Celery metrics")).toMatchObject({ kind: "prometheus" });
    expect(byName.get("Celery beat: settle payments")?.heartbeat_url).toMatch(/\/api\/heartbeat\/[\w-]+$/);
  });
});

describe("pushDemoMetrics", () => {
  let slug: string;
  let pinged: string[];
  // other tests in this file add heartbeat monitors too: only this one's pings are checked
  const fetcher = async (url: string) => {
    if (url.includes(`/${slug}`)) pinged.push(url);
    return new Response("OK");
  };

  beforeAll(async () => {
    const admin = await createAdmin("admin");
    const res = await callJson<{ heartbeat_url: string }>("POST", "/api/admin/monitoring/monitors", {
      token: admin.token,
      body: { name: "beat under test", service: "celery", kind: "heartbeat", period_seconds: 60, grace_seconds: 45 },
    });
    if (res.status !== 201) throw new Error(`monitor create failed: ${res.status}`);
    slug = res.body.heartbeat_url.split("/").at(-1) ?? "";
  });

  const series = async (metric: string, service: string, from: number, to: number) =>
    (await readSeries(env, metric, service, {}, from)).filter((s) => s.ts <= to);

  it("stores the shop's series, with history for windowed rates, and pings the beat heartbeat", async () => {
    pinged = [];
    const now = quietMinute(Date.now() - 3 * 60 * MINUTE) + 7_000;
    await pushDemoMetrics(demoEnv, now, { fetcher });

    const payments = await series("payments_total", "ecpay", now - 10 * MINUTE, now);
    expect(payments.map((s) => s.ts)).toEqual([5, 4, 3, 2, 1, 0].map((m) => now - m * MINUTE));
    expect(payments.at(-1)?.value).toBe(shopCounters(now).payments);
    const failed = await series("payments_failed_total", "ecpay", now - 10 * MINUTE, now);
    const rate =
      (100 * ((failed.at(-1)?.value ?? 0) - (failed[0]?.value ?? 0))) /
      ((payments.at(-1)?.value ?? 0) - (payments[0]?.value ?? 0));
    expect(rate).toBeLessThan(4);

    const latencies = await series("api_response_ms", "api", now - 2 * MINUTE, now);
    expect(latencies.length).toBe(12);
    expect(latencies.every((s) => s.ts > now - MINUTE && s.value > 0)).toBe(true);
    expect((await series("db_pool_size", "database", now - MINUTE, now)).at(-1)?.value).toBe(20);
    const inUse = (await series("db_pool_in_use", "database", now - MINUTE, now)).at(-1)?.value;
    expect(inUse).toBeGreaterThan(0);
    expect(inUse).toBeLessThan(20);
    const requests = await series("http_requests_total", "api", now - 10 * MINUTE, now);
    const errors = await series("http_errors_total", "api", now - 10 * MINUTE, now);
    expect(requests).toHaveLength(6);
    expect(errors.at(-1)?.value).toBeLessThan((requests.at(-1)?.value ?? 0) * 0.05);
    const success = (await series("payment_success_rate", "ecpay", now - MINUTE, now)).at(-1)?.value;
    expect(success).toBeGreaterThan(95);
    expect(success).toBeLessThanOrEqual(100);

    expect(pinged).toEqual([`http://demo.test/api/heartbeat/${slug}/start`, `http://demo.test/api/heartbeat/${slug}`]);

    // a minute later: no second backfill, counters moved on
    pinged = [];
    await pushDemoMetrics(demoEnv, now + MINUTE, { fetcher });
    const after = await series("payments_total", "ecpay", now - 10 * MINUTE, now + MINUTE);
    expect(after.map((s) => s.ts)).toEqual([...payments.map((s) => s.ts), now + MINUTE]);
    expect(after.at(-1)?.value).toBeGreaterThanOrEqual(payments.at(-1)?.value ?? Number.POSITIVE_INFINITY);
  });

  it("shows an ECPay incident as a failure rate far above 5%", async () => {
    pinged = [];
    const now = quietMinute(Date.now() - 60 * MINUTE) + 3_000;
    const incident: Incident = { kind: "ecpay", start: now - 10 * MINUTE, end: now + MINUTE };
    await pushDemoMetrics(demoEnv, now, { fetcher, incidents: [incident] });
    const payments = await series("payments_total", "ecpay", now - 5 * MINUTE, now);
    const failed = await series("payments_failed_total", "ecpay", now - 5 * MINUTE, now);
    expect(payments).toHaveLength(6);
    const increase = (xs: typeof payments) => (xs.at(-1)?.value ?? 0) - (xs[0]?.value ?? 0);
    expect((100 * increase(failed)) / increase(payments)).toBeGreaterThan(8);
    const success = (await series("payment_success_rate", "ecpay", now, now)).at(-1)?.value;
    expect(success).toBeLessThan(92);
  });

  it("leaves the beat heartbeat without its success during a Celery incident", async () => {
    pinged = [];
    const now = quietMinute(Date.now() - 30 * MINUTE);
    await pushDemoMetrics(demoEnv, now, {
      fetcher,
      incidents: [{ kind: "celery", start: now - 2 * MINUTE, end: now + 5 * MINUTE }],
    });
    expect(pinged).toEqual([`http://demo.test/api/heartbeat/${slug}/start`]);
  });

  it("does not ping without DEMO_BASE_URL, and reports failed pings", async () => {
    pinged = [];
    const now = quietMinute(Date.now() - 20 * MINUTE);
    await pushDemoMetrics({ ...demoEnv, DEMO_BASE_URL: "" }, now, { fetcher });
    expect(pinged).toEqual([]);
    await expect(
      pushDemoMetrics(demoEnv, now + MINUTE, { fetcher: async () => new Response("gone", { status: 404 }) }),
    ).rejects.toThrow(/heartbeat pings failed.*404/);
  });
});

describe("the cron", () => {
  it("pushes the demo shop's metrics only in demo mode", async () => {
    const at = quietMinute(Date.now() - 6 * 60 * MINUTE) + 11_000;
    const run = async (e: Env) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: at, cron: "* * * * *" }), e, ctx);
      await waitOnExecutionContext(ctx);
    };
    const storedAt = async () =>
      (await readSeries(env, "payments_total", "ecpay", {}, at - MINUTE)).filter((s) => s.ts === at);
    await run(env);
    expect(await storedAt()).toEqual([]);
    await run({ ...env, DEMO_MODE: "1" });
    expect((await storedAt()).map((s) => s.value)).toEqual([shopCounters(at).payments]);
  });
});

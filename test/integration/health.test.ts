import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { PUBLISH_INTERVAL_MS } from "../../durable-objects/series-index";
import { INDEX_DELAY_MS } from "../../worker/core/rollup";
import worker from "../../worker/index";
import { call, callJson, createAdmin, type TestAdmin, recordIndexed } from "./helpers";

type Services = {
  services: {
    service: string;
    status: string;
    latency_ms: number | null;
    message: string;
    last_checked_at: string | null;
  }[];
};

let viewer: TestAdmin;

async function addMonitor(name: string, service: string, kind = "http", config: Record<string, unknown> = {}) {
  const row = await env.DB.prepare(
    "INSERT INTO monitors (name, service, kind, config, interval_seconds) VALUES (?, ?, ?, ?, 60) RETURNING id",
  )
    .bind(name, service, kind, JSON.stringify(config))
    .first<{ id: number }>();
  if (!row) throw new Error("insert failed");
  return row.id;
}

/** Stores probe results the way the probes do: through the series store, which indexes the latest. */
async function probe(monitorId: number, service: string, up: 0 | 1, latency: number, ts: number, message?: string) {
  const labels = { monitor: String(monitorId) };
  await recordIndexed(
    [
      { metric: "probe_up", service, labels, value: up, ts, ...(message ? { message } : {}) },
      { metric: "probe_latency_ms", service, labels, value: latency, ts },
    ],
    ts,
  );
}

async function heartbeat(monitorId: number, service: string, ok: 0 | 1, ts: number, message?: string) {
  const labels = { monitor: String(monitorId) };
  await recordIndexed(
    [{ metric: "heartbeat_ok", service, labels, value: ok, ts, ...(message ? { message } : {}) }],
    ts,
  );
}

beforeAll(async () => {
  viewer = await createAdmin("viewer");
  const now = Date.now();
  const api1 = await addMonitor("api health", "api");
  const api2 = await addMonitor("api search", "api");
  const db = await addMonitor("postgres", "database");
  await addMonitor("email relay", "email");
  // A nightly-style task: pinged every 10 minutes with 5 minutes' grace, checked 20 minutes ago.
  const beat = await addMonitor("celery beat", "celery", "heartbeat", { period_seconds: 600, grace_seconds: 300 });
  const report = await addMonitor("daily report", "reports", "heartbeat", { period_seconds: 60, grace_seconds: 30 });
  await probe(api1, "api", 1, 120, now - 5_000);
  await probe(api2, "api", 1, 340, now - 5_000);
  await probe(db, "database", 0, 5000, now - 5_000, "status 503");
  await heartbeat(beat, "celery", 1, now - 20 * 60_000);
  await heartbeat(report, "reports", 0, now - 10_000, "no ping for 95 s");
});

describe("GET /health/services", () => {
  it("derives each service's health from its monitors' latest probes and heartbeats", async () => {
    const res = await callJson<Services>("GET", "/api/admin/monitoring/health/services", { token: viewer.token });
    expect(res.status).toBe(200);
    expect(res.body.services.map((s) => [s.service, s.status])).toEqual([
      ["api", "healthy"],
      ["celery", "healthy"],
      ["database", "down"],
      ["email", "unknown"],
      ["reports", "down"],
    ]);
    expect(res.body.services[0]).toMatchObject({ latency_ms: 340, message: "2/2 monitors up" });
    // A failing service says why, from the message of its latest probe.
    expect(res.body.services[2]).toMatchObject({ latency_ms: 5000, message: "postgres: status 503" });
    expect(res.body.services[3]).toMatchObject({ last_checked_at: null, message: "not checked yet" });
    expect(res.body.services[4]).toMatchObject({ latency_ms: null, message: "daily report: no ping for 95 s" });
  });
});

describe("cron", () => {
  it("publishes service health to the live dashboard every minute", async () => {
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    // The cron's samples reach the index a moment later, which publishes at most once a
    // second: let that settle, so the hub is quiet while this test drives it.
    await new Promise((resolve) => setTimeout(resolve, INDEX_DELAY_MS + PUBLISH_INTERVAL_MS + 300));

    const res = await call("GET", "/ws", { token: viewer.token, headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const messages: string[] = [];
    const next = () =>
      new Promise<Record<string, unknown>>((resolve) => {
        const check = () => (messages.length ? resolve(JSON.parse(messages.shift() ?? "")) : setTimeout(check, 5));
        check();
      });
    // Metrics deltas from the cron's samples arrive on their own schedule; this test follows the others.
    ws.addEventListener("message", (e) => {
      const text = String(e.data);
      if ((JSON.parse(text) as { topic?: string }).topic !== "metrics") messages.push(text);
    });
    ws.accept();
    const snapshot = (await next()) as { type: string; seq: number; state: { services: Services["services"] } };
    expect(snapshot.type).toBe("snapshot");
    expect(snapshot.seq).toBeGreaterThanOrEqual(1);
    // The snapshot shows what the API shows (the cron's heartbeat check included).
    const api = await callJson<Services>("GET", "/api/admin/monitoring/health/services", { token: viewer.token });
    expect(snapshot.state.services.map((s) => [s.service, s.status])).toEqual(
      api.body.services.map((s) => [s.service, s.status]),
    );
    expect(snapshot.state.services).toHaveLength(5);

    // The next publish arrives as a delta with the following seq.
    const seq = await env.DASHBOARD_HUB.getByName("main").publish("services", []);
    expect(seq).toBeGreaterThan(snapshot.seq);
    // Deltas the cron's own samples caused may come first; ours carries the seq publish returned.
    let delta = await next();
    while (delta.type === "delta" && (delta.seq as number) < seq) delta = await next();
    expect(delta).toMatchObject({ type: "delta", seq, topic: "services", data: [] });
    ws.send(JSON.stringify({ type: "resync" }));
    const resynced = (await next()) as { type: string; seq: number; state: { services: unknown[] } };
    expect(resynced).toMatchObject({ type: "snapshot", state: { services: [] } });
    expect(resynced.seq).toBeGreaterThanOrEqual(seq);
    ws.send("nonsense");
    expect(await next()).toMatchObject({ type: "error" });
    ws.close();
  });
});

describe("public endpoints", () => {
  it("serves a tiny /healthz without secrets and JSON 404s for unknown API paths", async () => {
    const res = await exports.default.fetch(new Request("http://localhost/healthz"));
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(Object.keys(JSON.parse(text)).sort()).toEqual(["ok", "time"]);
    expect(text.length).toBeLessThan(100);
    const missing = await callJson("GET", "/api/nope");
    expect(missing).toMatchObject({ status: 404, body: { error: "not_found" } });
  });

  it("serves the OpenAPI document", async () => {
    const doc = await callJson<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>("GET", "/api/openapi.json");
    expect(doc.body.openapi).toBe("3.1.0");
    expect(Object.keys(doc.body.paths)).toContain("/api/admin/monitoring/rules/{id}/test");
    expect(Object.keys(doc.body.components.schemas)).toEqual(expect.arrayContaining(["Rule", "RuleInput", "Error"]));
  });
});

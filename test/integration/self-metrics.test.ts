/**
 * `GET /metrics` through the real Worker: an ingest key's scrape of the product's own state,
 * parsed with the product's own exposition parser, after a pushed sample fired a rule; and
 * its counters of samples and rule evaluations (SELF_METRICS_FLUSH_MS is 0 here: each count
 * goes to the Sentinel at once, in the background, so the scrape is polled until it lands).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { type ExpositionSample, parseExposition } from "../../worker/core/prometheus/parse";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";

let admin: TestAdmin;
let ingestKey: string;
let heartbeatKey: string;

async function createKey(scope: "ingest" | "heartbeat") {
  const res = await callJson<{ key: string }>("POST", `${BASE}/keys`, {
    token: admin.token,
    body: { name: `self-metrics ${scope}`, scope },
  });
  expect(res.status).toBe(201);
  return res.body.key;
}

beforeAll(async () => {
  admin = await createAdmin("admin");
  ingestKey = await createKey("ingest");
  heartbeatKey = await createKey("heartbeat");
});

/** Scrapes /metrics with the ingest key and parses the body, failing on any malformed line. */
async function scrape(): Promise<ExpositionSample[]> {
  const res = await call("GET", "/metrics", { token: ingestKey });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  const parsed = parseExposition(await res.text());
  expect(parsed.errors).toEqual([]);
  return parsed.samples;
}

const valueOf = (samples: ExpositionSample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;

const waitFor = <T>(fn: () => Promise<T | false | undefined | null>, timeout = 5000) =>
  vi.waitUntil(fn, { timeout, interval: 20 }) as Promise<T>;

describe("GET /metrics", () => {
  it("refuses a request without a key, with an unknown key, and with a heartbeat key", async () => {
    const none = await call("GET", "/metrics");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await call("GET", "/metrics", { token: "im_not_a_key" })).status).toBe(401);
    expect((await call("GET", "/metrics", { token: heartbeatKey })).status).toBe(403);
  });

  it("answers every family, counting the alert a pushed sample fired and the deliveries it made", async () => {
    const before = await scrape();
    const families = new Set(before.map((s) => s.name));
    for (const name of [
      "edge_monitor_alerts",
      "edge_monitor_notification_backlog",
      "edge_monitor_notification_oldest_undelivered_seconds",
      "edge_monitor_delivery_latency_seconds_bucket",
      "edge_monitor_delivery_latency_seconds_sum",
      "edge_monitor_delivery_latency_seconds_count",
      "edge_monitor_rules",
      "edge_monitor_build_info",
    ]) {
      expect(families, name).toContain(name);
    }
    expect(before.find((s) => s.name === "edge_monitor_build_info")?.labels.version).toMatch(/^\d+\.\d+\.\d+/);

    const metric = `self_metrics_errors_${Date.now().toString(36)}`;
    const rule = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
      token: admin.token,
      body: {
        rule_name: "Self-metrics errors",
        metric_name: metric,
        service: "shop",
        comparison_operator: ">",
        threshold_value: 10,
        severity: "critical",
        notification_channels: ["email"],
      },
    });
    expect(rule.status).toBe(201);
    const pushed = await callJson("POST", "/api/ingest", {
      token: ingestKey,
      body: { samples: [{ metric, service: "shop", value: 25 }] },
    });
    expect(pushed.status).toBe(202);

    // Fired, and its email deliveries written (email is unconfigured in tests: they wait in the outbox).
    const alertId = await waitFor(async () => {
      const row = await env.DB.prepare("SELECT id, firing_notified FROM alert_history WHERE alert_rule_id = ?")
        .bind(rule.body.id)
        .first<{ id: number; firing_notified: number }>();
      return row?.firing_notified ? row.id : false;
    });
    const deliveries = await waitFor(async () => {
      const { results } = await env.DB.prepare("SELECT status FROM notification_deliveries WHERE alert_id = ?")
        .bind(alertId)
        .all<{ status: string }>();
      return results.length > 0 && results.every((r) => r.status !== "queued") ? results : false;
    });

    const after = await scrape();
    expect(valueOf(after, "edge_monitor_alerts", { state: "firing" })).toBe(
      valueOf(before, "edge_monitor_alerts", { state: "firing" }) + 1,
    );
    expect(valueOf(after, "edge_monitor_rules", { state: "active" })).toBe(
      valueOf(before, "edge_monitor_rules", { state: "active" }) + 1,
    );
    for (const status of new Set(deliveries.map((d) => d.status))) {
      const added = deliveries.filter((d) => d.status === status).length;
      expect(valueOf(after, "edge_monitor_notifications", { channel: "email", status }), status).toBe(
        valueOf(before, "edge_monitor_notifications", { channel: "email", status }) + added,
      );
    }
  });

  it("reports the queued backlog, the latency of sent deliveries and cron-run probe lag", async () => {
    const now = Date.now();
    const before = await scrape();
    // A row of two days ago (outside every window), then a job stuck for two minutes, one sent
    // 2 s after it was enqueued, and a cron probe 4 minutes late.
    const old = await env.DB.prepare(
      `INSERT INTO notification_deliveries (recipient, channel, event, idempotency_key, status, enqueued_at, delivered_at)
       VALUES ('shared:webhook', 'webhook', 'firing', ?, 'sent', ?, ?) RETURNING id`,
    )
      .bind(`self-metrics-old-${now}`, now - 2 * 86_400_000, now - 2 * 86_400_000 + 500)
      .first<{ id: number }>();
    const queued = await env.DB.prepare(
      `INSERT INTO notification_deliveries (recipient, channel, event, idempotency_key, status, enqueued_at)
       VALUES ('shared:webhook', 'webhook', 'firing', ?, 'queued', ?) RETURNING id`,
    )
      .bind(`self-metrics-queued-${now}`, now - 120_000)
      .first<{ id: number }>();
    const sent = await env.DB.prepare(
      `INSERT INTO notification_deliveries (recipient, channel, event, idempotency_key, status, enqueued_at, delivered_at)
       VALUES ('shared:webhook', 'webhook', 'firing', ?, 'sent', ?, ?) RETURNING id`,
    )
      .bind(`self-metrics-sent-${now}`, now - 10_000, now - 8_000)
      .first<{ id: number }>();
    const monitorName = 'Checkout "eu"';
    const monitor = await env.DB.prepare(
      `INSERT INTO monitors (name, service, kind, config, interval_seconds, is_active, last_run_at, next_due_at)
       VALUES (?, 'shop', 'http', '{"url":"https://example.com"}', 60, 1, ?, ?) RETURNING id`,
    )
      .bind(monitorName, now - 300_000, now - 240_000)
      .first<{ id: number }>();

    try {
      const after = await scrape();
      expect(valueOf(after, "edge_monitor_notification_backlog")).toBe(
        valueOf(before, "edge_monitor_notification_backlog") + 1,
      );
      expect(valueOf(after, "edge_monitor_notification_oldest_undelivered_seconds")).toBeGreaterThanOrEqual(120);
      const bucket = (le: string) =>
        valueOf(after, "edge_monitor_delivery_latency_seconds_bucket", { le }) -
        valueOf(before, "edge_monitor_delivery_latency_seconds_bucket", { le });
      expect(bucket("1")).toBe(0);
      expect(bucket("5")).toBe(1);
      expect(bucket("+Inf")).toBe(1);
      expect(valueOf(after, "edge_monitor_delivery_latency_seconds_count")).toBe(
        valueOf(before, "edge_monitor_delivery_latency_seconds_count") + 1,
      );
      expect(valueOf(after, "edge_monitor_notifications", { channel: "webhook", status: "sent" })).toBe(
        valueOf(before, "edge_monitor_notifications", { channel: "webhook", status: "sent" }) + 1,
      );
      expect(valueOf(after, "edge_monitor_monitors", { kind: "http" })).toBe(
        valueOf(before, "edge_monitor_monitors", { kind: "http" }) + 1,
      );
      const lag = valueOf(after, "edge_monitor_probe_lag_seconds", { monitor: monitorName, id: String(monitor?.id) });
      expect(lag).toBeGreaterThanOrEqual(240);
      expect(lag).toBeLessThan(260);
    } finally {
      await env.DB.batch([
        env.DB.prepare("DELETE FROM notification_deliveries WHERE id IN (?, ?, ?)").bind(old?.id, queued?.id, sent?.id),
        env.DB.prepare("DELETE FROM monitors WHERE id = ?").bind(monitor?.id),
      ]);
    }
  });

  it("counts pushed samples as accepted or refused by reason, exactly, and rule evaluations", async () => {
    const metric = `self_metrics_counted_${Date.now().toString(36)}`;
    const now = Date.now();
    const sample = (over: Record<string, unknown> = {}) => ({ metric, service: "shop", value: 1, ts: now, ...over });
    const push = async (samples: unknown[], status: number) => {
      const res = await callJson("POST", "/api/ingest", { token: ingestKey, body: { samples } });
      expect(res.status, JSON.stringify(res.body)).toBe(status);
    };
    const accepted = (s: ExpositionSample[]) => valueOf(s, "edge_monitor_samples_accepted_total", { source: "push" });
    const refused = (s: ExpositionSample[], reason: string) =>
      valueOf(s, "edge_monitor_samples_refused_total", { reason });
    const evaluations = (s: ExpositionSample[]) =>
      valueOf(s, "edge_monitor_rule_evaluations_total", { kind: "threshold" });

    const before = await scrape();
    for (const name of [
      "edge_monitor_samples_accepted_total",
      "edge_monitor_samples_refused_total",
      "edge_monitor_rule_evaluations_total",
    ]) {
      expect(before.some((s) => s.name === name)).toBe(true);
    }

    // One stored; the same again (a duplicate, answered 202); a batch of three refused for one
    // sample 48 h old (the whole batch is refused); two refused for a bad value and a bad service.
    await push([sample()], 202);
    await push([sample()], 202);
    await push([sample({ ts: now - 1 }), sample({ ts: now - 48 * 3_600_000 }), sample({ ts: now - 2 })], 400);
    await push([sample({ value: "high" }), sample({ service: "Shop", ts: now - 3 })], 400);

    // The counts reach the Sentinel's totals by themselves (each isolate's background flush),
    // read here without a scrape, which would send this isolate's pending counts along.
    const durable = async () => {
      const totals = await env.SENTINEL.getByName("main").addCounts([]);
      const total = (counter: string, label: string) =>
        totals.find((t) => t.counter === counter && t.label === label)?.n ?? 0;
      return (
        total("samples_accepted", "push") === accepted(before) + 1 &&
        total("samples_refused", "duplicate") === refused(before, "duplicate") + 1 &&
        total("samples_refused", "timestamp") === refused(before, "timestamp") + 3 &&
        total("samples_refused", "invalid") === refused(before, "invalid") + 2
      );
    };
    await waitFor(durable);
    const after = await scrape();
    // Still exactly so a moment later: nothing counted twice.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const settled = await scrape();
    for (const s of [after, settled]) {
      expect(accepted(s)).toBe(accepted(before) + 1);
      expect(refused(s, "duplicate")).toBe(refused(before, "duplicate") + 1);
      expect(refused(s, "timestamp")).toBe(refused(before, "timestamp") + 3);
      expect(refused(s, "invalid")).toBe(refused(before, "invalid") + 2);
      expect(refused(s, "rate_limited")).toBe(refused(before, "rate_limited"));
    }

    // A threshold rule on the metric is evaluated by its series store on the next push.
    const rule = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
      token: admin.token,
      body: {
        rule_name: "Self-metrics counted",
        metric_name: metric,
        service: "shop",
        comparison_operator: ">",
        threshold_value: 10,
        severity: "info",
        notification_channels: ["email"],
      },
    });
    expect(rule.status).toBe(201);
    const ruleBefore = await scrape();
    await push([sample({ ts: now + 1 })], 202);
    // Counted inside the Durable Objects, flushed by them.
    await waitFor(async () => {
      const totals = await env.SENTINEL.getByName("main").addCounts([]);
      const n = totals.find((t) => t.counter === "rule_evaluations" && t.label === "threshold")?.n ?? 0;
      return n > evaluations(ruleBefore);
    });
    expect(evaluations(await scrape())).toBeGreaterThan(evaluations(ruleBefore));
  });
});

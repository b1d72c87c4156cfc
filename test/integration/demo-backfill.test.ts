import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_RULES } from "../../scripts/lib/seed.mjs";
import { demoHistory, historyRange } from "../../worker/core/demo-history";
import { demoPushSamples, incidentsBetween } from "../../worker/core/demo-shop";
import { bucketStart, HOUR_MS, MINUTE_MS } from "../../worker/core/rollup";
import { seriesKey } from "../../worker/core/series";
import { BACKFILL_NOTE } from "../../worker/demo/backfill";
import { demo } from "../../worker/demo/routes";
import worker from "../../worker/index";
import { familyStub, readSeries, recordSamples } from "../../worker/lib/series";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

const DAY = 24 * HOUR_MS;
const demoEnv = { ...env, DEMO_MODE: "1", DEMO_BASE_URL: "" };

interface Backfill {
  status: string;
  from: string;
  to: string;
  raw_samples: number;
  rollup_rows: number;
  alerts: number;
  duration_ms: number;
}

async function backfill(token?: string) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = await demo.request("/backfill", { method: "POST", headers }, demoEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json<Backfill>() };
}

const count = async (table: string) =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())?.n ?? 0;

interface Row {
  bucket_start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  sketch: string;
}
const rows = async (key: string, resolution: number, from: number, to: number) =>
  (
    await env.DB.prepare(
      `SELECT bucket_start, count, sum, min, max, p50, p95, p99, sketch FROM system_metrics
       WHERE series_key = ? AND resolution_seconds = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start`,
    )
      .bind(key, resolution, from, to)
      .all<Row>()
  ).results;

interface HistoryBody {
  resolution_seconds: number;
  points: { ts: string; count: number; avg: number }[];
}

describe("derived metrics of the history", () => {
  it("equal what the live cron derives at the same minutes", async () => {
    // The live demo for a quarter of an hour, half an hour ago: the cron pushes and derives every minute.
    const t0 = bucketStart(Date.now(), 60) - 30 * MINUTE_MS;
    for (let t = t0; t <= t0 + 15 * MINUTE_MS; t += MINUTE_MS) {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ scheduledTime: t, cron: "* * * * *" }), demoEnv, ctx);
      await waitOnExecutionContext(ctx);
    }
    const history = demoHistory(t0 - 20 * MINUTE_MS, t0 + 16 * MINUTE_MS);
    const compared = t0 + 6 * MINUTE_MS; // from here on the live windows hold whole pushes
    for (const [metric, service] of [
      ["payment_failure_rate", "ecpay"],
      ["error_rate", "api"],
      ["db_pool_utilization", "database"],
      ["api_response_p95_ms", "api"],
    ] as const) {
      const live = (await readSeries(env, metric, service, {}, compared)).map((s) => [s.ts, s.value]);
      const h = history.find((s) => s.metric === metric);
      const backfilled = (h?.ts ?? []).flatMap((ts, i) => (ts >= compared ? [[ts, h?.values[i]]] : []));
      expect(live, metric).toHaveLength(10);
      expect(backfilled, metric).toEqual(live);
    }
  }, 60_000);
});

describe("demo backfill", () => {
  let owner: TestAdmin;
  let viewer: TestAdmin;
  let first: { status: number; body: Backfill };
  let tookMs: number;
  let from: number;
  let to: number;
  const ruleIds = new Map<string, number>();
  let ecpayMonitor: string;

  beforeAll(async () => {
    owner = await createAdmin("owner");
    viewer = await createAdmin("viewer");
    for (const rule of DEMO_RULES) {
      const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
        token: owner.token,
        body: rule,
      });
      if (res.status !== 201) throw new Error(`seeding ${rule.rule_name}: ${res.status}`);
      ruleIds.set(String(rule.metric_name), res.body.id);
    }
    // The seeded ECPay monitor, written straight to D1 so no live probe runs meanwhile.
    const monitor = await env.DB.prepare(
      "INSERT INTO monitors (name, service, kind, config, interval_seconds) VALUES (?, 'ecpay', 'http', ?, 30) RETURNING id",
    )
      .bind(
        "ECPay gateway",
        JSON.stringify({
          url: "http://127.0.0.1:8787/demo/ecpay/health",
          method: "GET",
          timeout_ms: 5000,
          expect: { status: [200], body_contains: "ok" },
        }),
      )
      .first<{ id: number }>();
    ecpayMonitor = String(monitor?.id);
    const started = Date.now();
    first = await backfill(owner.token);
    tookMs = Date.now() - started;
    ({ from, to } = historyRange(Date.parse(first.body.to) + 30_000));
  }, 120_000);

  it("runs once, in seconds, for an admin in demo mode", async () => {
    console.log(`demo backfill took ${tookMs} ms in workerd: ${JSON.stringify(first.body)}`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "completed", from: new Date(from).toISOString() });
    expect(to - from).toBeGreaterThanOrEqual(30 * DAY);
    expect(first.body.rollup_rows).toBeGreaterThan(200_000);
    expect(first.body.alerts).toBeGreaterThan(20);
    expect(tookMs).toBeLessThan(60_000);

    expect((await backfill()).status).toBe(401);
    expect((await backfill(viewer.token)).status).toBe(403);
    // outside demo mode the route does not exist
    expect((await call("POST", "/demo/backfill", { token: owner.token })).status).toBe(404);
  });

  it("gives 30 and 7 days of hourly history, and 24 hours by 5 minutes", async () => {
    const history = (metric: string, service: string, period: string) =>
      callJson<HistoryBody>(
        "GET",
        `/api/admin/monitoring/metrics/history?${new URLSearchParams({ metric, service, period })}`,
        { token: viewer.token },
      );
    for (const [metric, service] of [
      ["payment_success_rate", "ecpay"],
      ["payment_failure_rate", "ecpay"],
      ["api_response_p95_ms", "api"],
      ["db_query_ms", "database"],
    ] as const) {
      const month = await history(metric, service, "30d");
      expect(month.status).toBe(200);
      const ts = month.body.points.map((p) => Date.parse(p.ts));
      expect(ts.length, metric).toBeGreaterThanOrEqual(30 * 24 - 1);
      expect(ts[0], metric).toBeLessThanOrEqual(Date.now() - 30 * DAY + 2 * HOUR_MS);
      expect(ts.at(-1), metric).toBeGreaterThanOrEqual(to - 2 * HOUR_MS);
      const week = await history(metric, service, "7d");
      expect(week.body.points.length, metric).toBeGreaterThanOrEqual(7 * 24 - 1);
      const day = await history(metric, service, "24h");
      expect(day.body.resolution_seconds).toBe(300);
      expect(day.body.points.length, metric).toBeGreaterThanOrEqual(287);
    }
  });

  it("gives the ECPay monitor's availability and latency for 30 days, down in the incidents", async () => {
    const key = seriesKey("probe_up", "ecpay", { monitor: ecpayMonitor });
    const hours = await rows(key, 3600, from, bucketStart(to, 3600));
    expect(hours).toHaveLength((bucketStart(to, 3600) - from) / HOUR_MS);
    expect(hours.filter((r) => r.count !== 120)).toEqual([]);
    const incidents = incidentsBetween(from, to).filter((i) => i.kind === "ecpay");
    for (const r of hours) {
      const hit = incidents.some((i) => i.start < r.bucket_start + HOUR_MS && i.end > r.bucket_start);
      expect(r.min, new Date(r.bucket_start).toISOString()).toBe(hit ? 0 : 1);
    }
    const latency = await rows(seriesKey("probe_latency_ms", "ecpay", { monitor: ecpayMonitor }), 60, to - 2 * DAY, to);
    expect(latency.length).toBeGreaterThan(2 * 24 * 60 - 5);
    const [raw] = await familyStub(env, "probe_up", "ecpay").stats([key]);
    expect(raw?.count).toBeGreaterThanOrEqual(2 * (24 * 60 - 2));
  });

  it("writes every whole hour with every minute's sample, the raw window's first hour included", async () => {
    const hours = await rows(seriesKey("payment_success_rate", "ecpay"), 3600, from, bucketStart(to, 3600));
    expect(hours.map((r) => r.bucket_start)).toEqual(
      Array.from({ length: (bucketStart(to, 3600) - from) / HOUR_MS }, (_, i) => from + i * HOUR_MS),
    );
    expect(hours.filter((r) => r.count !== 60)).toEqual([]);
    const minutes = await rows(seriesKey("payment_success_rate", "ecpay"), 60, to - 14 * DAY + HOUR_MS, to);
    expect(minutes.length).toBeGreaterThanOrEqual((14 * DAY - HOUR_MS) / MINUTE_MS - 1);
    expect(minutes.filter((r) => r.count !== 1)).toEqual([]);
  });

  it("writes the same minute and hour rows as the live rollup path for the same samples", async () => {
    // An hour three days back (rolled up by the import) against the same samples ingested now.
    const hour = bucketStart(Date.now(), 3600) - 3 * DAY - 3 * HOUR_MS;
    const shift = 3 * DAY;
    const samples = [];
    for (let t = hour; t <= hour + HOUR_MS; t += MINUTE_MS) {
      for (const s of demoPushSamples(t)) {
        if (s.metric === "api_response_ms" && s.ts >= hour && s.ts < hour + HOUR_MS) {
          samples.push({ ...s, service: "api-replay", ts: s.ts + shift });
        }
      }
    }
    expect(samples.length).toBe(720);
    await recordSamples(env, samples, Date.now(), "push");
    expect(await runDurableObjectAlarm(familyStub(env, "api_response_ms", "api-replay"))).toBe(true);

    for (const resolution of [60, 3600]) {
      const backfilled = await rows(seriesKey("api_response_ms", "api"), resolution, hour, hour + HOUR_MS);
      const live = await rows(
        seriesKey("api_response_ms", "api-replay"),
        resolution,
        hour + shift,
        hour + shift + HOUR_MS,
      );
      expect(backfilled.length).toBe(resolution === 60 ? 60 : 1);
      expect(backfilled).toEqual(live.map((r) => ({ ...r, bucket_start: r.bucket_start - shift })));
    }
  });

  it("keeps raw samples for the raw window", async () => {
    const [payments, latencies] = await familyStub(env, "payments_total", "ecpay")
      .stats([seriesKey("payments_total", "ecpay")])
      .then(async (a) => [
        a[0],
        (await familyStub(env, "api_response_ms", "api").stats([seriesKey("api_response_ms", "api")]))[0],
      ]);
    expect(payments?.newest).toBe(to - MINUTE_MS);
    expect(payments?.oldest).toBeGreaterThanOrEqual(Date.now() - DAY - 2 * MINUTE_MS);
    expect(payments?.oldest).toBeLessThanOrEqual(Date.now() - DAY + 2 * MINUTE_MS);
    // Every minute from the first whole one of the raw window (as of now, later than the import's) to the history's end.
    const minutes = (to - (bucketStart(Date.now() - DAY, 60) + MINUTE_MS)) / MINUTE_MS;
    expect(minutes).toBeGreaterThan(24 * 60 - 5);
    expect(payments?.count).toBeGreaterThanOrEqual(minutes);
    // (the last minute's latencies come with the push at `to`, the live cron's, but for the one at its start)
    expect(latencies?.count).toBeGreaterThanOrEqual(12 * (minutes - 1) + 1);
    const latest = await familyStub(env, "payment_failure_rate", "ecpay").latest(
      seriesKey("payment_failure_rate", "ecpay"),
    );
    expect(latest?.ts).toBe(to - MINUTE_MS);
  });

  it("records the alerts of the ECPay incidents as resolved history, sending nothing", async () => {
    const ruleId = ruleIds.get("payment_failure_rate");
    const alerts = (
      await env.DB.prepare("SELECT * FROM alert_history WHERE alert_rule_id = ? ORDER BY triggered_at")
        .bind(ruleId)
        .all<Record<string, number | string>>()
    ).results;
    const ecpay = (a: number, b: number) => incidentsBetween(a, b).filter((i) => i.kind === "ecpay");
    // Every incident that ended an hour before the history does has its alert; one in the last
    // hour may still be open at the end, and only resolved alerts are recorded.
    const incidents = ecpay(from + 10 * MINUTE_MS, to - HOUR_MS);
    expect(incidents.length).toBeGreaterThan(20);
    // And every alert sits on an incident: any in the history, the last hour's included.
    const all = ecpay(from, to);
    const during = (t: number) => all.some((i) => t >= i.start && t <= i.end + 5 * MINUTE_MS);
    for (const i of incidents) {
      expect(
        alerts.some((a) => Number(a.triggered_at) >= i.start && Number(a.triggered_at) <= i.end + 5 * MINUTE_MS),
        `incident at ${new Date(i.start).toISOString()}`,
      ).toBe(true);
    }
    for (const a of alerts) {
      expect(during(Number(a.triggered_at)) || Number(a.triggered_at) < from + 10 * MINUTE_MS).toBe(true);
      expect(a).toMatchObject({
        status: "resolved",
        auto_resolved: 1,
        alert_severity: "critical",
        notifications_sent: 0,
        firing_notified: 0,
        service: "ecpay",
      });
      expect(Number(a.resolved_at)).toBeGreaterThan(Number(a.triggered_at));
      expect(Number(a.resolved_at)).toBeLessThan(to);
    }
    const sample = alerts[0];
    const detail = await callJson<{ timeline: { type: string; at: string; note: string | null }[] }>(
      "GET",
      `/api/admin/monitoring/alerts/${sample?.id}`,
      { token: viewer.token },
    );
    expect(detail.status).toBe(200);
    expect(detail.body.timeline.map((e) => e.type)).toEqual(["pending", "fired", "resolved"]);
    expect(detail.body.timeline.at(-1)?.note).toBe(BACKFILL_NOTE);
    expect(Date.parse(detail.body.timeline[1]?.at ?? "")).toBe(Number(sample?.triggered_at));

    // The API rule's alerts sit on the API incidents; nothing was queued for anyone.
    const api = (
      await env.DB.prepare("SELECT triggered_at FROM alert_history WHERE alert_rule_id = ?")
        .bind(ruleIds.get("api_response_ms"))
        .all<{ triggered_at: number }>()
    ).results;
    const apiIncidents = incidentsBetween(from, to).filter((i) => i.kind === "api");
    expect(api.length).toBeGreaterThan(0);
    for (const a of api) {
      expect(apiIncidents.some((i) => a.triggered_at >= i.start && a.triggered_at <= i.end + 5 * MINUTE_MS)).toBe(true);
    }
    // (Only the demo rules' alerts: the built-in "cron stopped" rule may rightly page here, the
    // first test having run the cron at times half an hour ago, once the sentinel's watch comes round.)
    const ids = [...ruleIds.values()];
    const sent = await env.DB.prepare(
      `SELECT count(*) AS n FROM notification_deliveries d JOIN alert_history h ON h.id = d.alert_id
       WHERE h.alert_rule_id IN (${ids.map(() => "?").join(", ")})`,
    )
      .bind(...ids)
      .first<{ n: number }>();
    expect(sent?.n).toBe(0);
    const active = await callJson<{ alerts: { triggered_at: string }[] }>(
      "GET",
      "/api/admin/monitoring/alerts/active",
      {
        token: viewer.token,
      },
    );
    expect(active.body.alerts.filter((a) => Date.parse(a.triggered_at) < to)).toEqual([]);
  });

  it("does nothing the second time, and an interrupted run completes without duplicates", async () => {
    const key = seriesKey("payments_total", "ecpay");
    const closedBefore = bucketStart(Date.now(), 3600) - HOUR_MS;
    const snapshot = async () => ({
      // (closed hours only: the store writes the hour in progress when it closes, whatever the backfill does)
      rows: (
        await env.DB.prepare("SELECT count(*) AS n FROM system_metrics WHERE bucket_start < ?")
          .bind(closedBefore)
          .first<{ n: number }>()
      )?.n,
      alerts: await count("alert_history"),
      events: await count("alert_events"),
      raw: (await familyStub(env, "payments_total", "ecpay").stats([key]))[0]?.count,
    });
    const before = await snapshot();
    const again = await backfill(owner.token);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "already_done", from: first.body.from, to: first.body.to });
    expect(await snapshot()).toEqual(before);

    // As if the first run had stopped before completing: it is redone over the same range.
    await env.DB.prepare("UPDATE demo_backfill SET completed_at = NULL").run();
    const resumed = await backfill(owner.token);
    expect(resumed.body).toMatchObject({ status: "completed", from: first.body.from, to: first.body.to });
    expect(resumed.body.alerts).toBe(first.body.alerts);
    expect(await snapshot()).toEqual(before);
  }, 120_000);
});

import { describe, expect, it } from "vitest";
import {
  API_LATENCY_SAMPLES_PER_MINUTE,
  apiLatencySamples,
  DB_POOL_SIZE,
  DEMO_SERVICES,
  demoHealth,
  demoPushSamples,
  INCIDENT_KINDS,
  type Incident,
  type IncidentKind,
  incidentAround,
  incidentsBetween,
  nextIncident,
  renderShopMetrics,
  shopCounters,
  shopState,
  trafficAt,
} from "../../../worker/core/demo-shop";
import { parseExposition } from "../../../worker/core/prometheus/parse";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 2026-11-20 00:00 in Asia/Taipei (UTC+8). */
const TAIPEI_MIDNIGHT = Date.UTC(2026, 10, 19, 16);
const taipei = (hour: number, minute = 0) => TAIPEI_MIDNIGHT + hour * HOUR + minute * MINUTE;

const scheduled = incidentsBetween(TAIPEI_MIDNIGHT, TAIPEI_MIDNIGHT + 60 * DAY);
const firstOf = (kind: IncidentKind): Incident => {
  const found = scheduled.find((i) => i.kind === kind);
  if (!found) throw new Error(`no ${kind} incident in 60 days`);
  return found;
};
const quietAround = (t: number, before = 15 * MINUTE, after = MINUTE) =>
  incidentsBetween(t - before - 2 * HOUR, t + after).every(
    (i) => i.end + 30 * MINUTE < t - before || i.start > t + after,
  );

/** Payments per minute averaged over the hour starting at `t`. */
const paymentsPerMinute = (t: number) => (shopCounters(t + HOUR).payments - shopCounters(t).payments) / 60;

describe("daily shape (Asia/Taipei)", () => {
  it("is quiet at night and peaks at lunch and in the evening", () => {
    expect(trafficAt(taipei(4))).toBeLessThan(0.2);
    expect(trafficAt(taipei(21))).toBe(1);
    expect(trafficAt(taipei(12))).toBeGreaterThan(trafficAt(taipei(10)));
    expect(trafficAt(taipei(12))).toBeGreaterThan(trafficAt(taipei(15)));
    for (const h of [20, 21, 22]) expect(trafficAt(taipei(h))).toBeGreaterThan(trafficAt(taipei(12)) - 0.01);
  });

  it("drives payments, requests and the DB pool", () => {
    const night = paymentsPerMinute(taipei(3));
    const peak = paymentsPerMinute(taipei(20, 30));
    expect(night).toBeGreaterThan(3);
    expect(peak).toBeGreaterThan(4 * night);
    const at = (t: number) => shopState(t);
    expect(at(taipei(21, 30)).api.requestsPerMinute).toBeGreaterThan(3 * at(taipei(4, 30)).api.requestsPerMinute);
  });

  it("is the same every day, shifted by the time zone", () => {
    expect(trafficAt(taipei(20) + 3 * DAY)).toBeCloseTo(trafficAt(taipei(20)), 12);
    // 21:00 in Taipei is 13:00 UTC
    expect(trafficAt(Date.UTC(2026, 10, 20, 13))).toBe(1);
  });
});

describe("determinism", () => {
  it("gives the same state for the same instant and the same gauges within a minute", () => {
    const t = taipei(13, 7) + 5_000;
    expect(shopState(t)).toEqual(shopState(t));
    const a = shopState(t);
    const b = shopState(t + 40_000);
    expect([b.database.poolInUse, b.celery.queueLength, b.redis.connectedClients, b.api.p95Ms]).toEqual([
      a.database.poolInUse,
      a.celery.queueLength,
      a.redis.connectedClients,
      a.api.p95Ms,
    ]);
    expect(apiLatencySamples(t, 12)).toEqual(apiLatencySamples(t, 12));
    expect(renderShopMetrics(a)).toBe(renderShopMetrics(shopState(t)));
  });

  it("varies from minute to minute", () => {
    const pools = new Set(Array.from({ length: 30 }, (_, i) => shopState(taipei(20, i)).database.poolInUse));
    expect(pools.size).toBeGreaterThan(3);
  });
});

describe("normal operation", () => {
  it("fails about 1% of payments and never crosses the 5% alert threshold outside incidents", () => {
    const rates: number[] = [];
    for (let t = TAIPEI_MIDNIGHT; t < TAIPEI_MIDNIGHT + 2 * DAY; t += MINUTE) {
      if (scheduled.some((i) => i.kind === "ecpay" && i.start < t && t - 5 * MINUTE < i.end + MINUTE)) continue;
      rates.push(shopState(t).ecpay.failureRatePct);
    }
    expect(rates.length).toBeGreaterThan(2500);
    expect(Math.max(...rates)).toBeLessThanOrEqual(5);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    expect(mean).toBeGreaterThan(0.6);
    expect(mean).toBeLessThan(1.4);
  });

  it("answers API requests in ~150 ms at the median with a lognormal tail", () => {
    const t = taipei(14);
    expect(quietAround(t, HOUR)).toBe(true);
    const values = Array.from({ length: 60 }, (_, i) => apiLatencySamples(t - i * MINUTE, 12))
      .flat()
      .map((s) => s.value)
      .sort((a, b) => a - b);
    const quantile = (q: number) => values[Math.floor(q * (values.length - 1))] ?? Number.NaN;
    expect(quantile(0.5)).toBeGreaterThan(120);
    expect(quantile(0.5)).toBeLessThan(180);
    expect(quantile(0.95)).toBeGreaterThan(1.8 * quantile(0.5));
    expect(quantile(0.95)).toBeLessThan(600);
  });

  it("reports every service healthy", () => {
    const t = taipei(11, 30);
    expect(quietAround(t)).toBe(true);
    const state = shopState(t);
    for (const service of DEMO_SERVICES) {
      const health = demoHealth(state, service);
      expect(health.httpStatus, service).toBe(200);
      expect(health.body.status, service).toBe("ok");
      expect(health.delayMs).toBe(0);
    }
    expect(state.database.poolInUse).toBeLessThan(DB_POOL_SIZE);
    expect(state.celery.beatSucceeds).toBe(true);
  });
});

describe("incidents", () => {
  it("come roughly every three hours, last 5–10 minutes, never overlap and cover every kind", () => {
    const perDay = scheduled.length / 60;
    expect(perDay).toBeGreaterThan(6);
    expect(perDay).toBeLessThan(8.5);
    for (const i of scheduled) {
      const minutes = (i.end - i.start) / MINUTE;
      expect(minutes).toBeGreaterThanOrEqual(5);
      expect(minutes).toBeLessThanOrEqual(10);
      expect(i.start % MINUTE).toBe(0);
    }
    for (let k = 1; k < scheduled.length; k++) {
      expect(scheduled[k]?.start).toBeGreaterThan(scheduled[k - 1]?.end ?? Number.POSITIVE_INFINITY);
    }
    const kinds = new Map<string, number>();
    for (const i of scheduled) kinds.set(i.kind, (kinds.get(i.kind) ?? 0) + 1);
    expect([...kinds.keys()].sort()).toEqual([...INCIDENT_KINDS].sort());
    for (const count of kinds.values()) expect(count).toBeGreaterThan(scheduled.length / 10);
  });

  it("are a function of the clock: the next one is the first scheduled after now", () => {
    const t = taipei(9, 13);
    const next = nextIncident(t);
    expect(next.start).toBeGreaterThanOrEqual(t);
    expect(next.start - t).toBeLessThan(7 * HOUR);
    expect(incidentsBetween(t, next.start).filter((i) => i.start >= t)).toEqual([]);
    expect(incidentsBetween(next.start, next.start + 1)).toEqual([next]);
  });

  const during = (i: Incident) => i.start + 4.5 * MINUTE;
  const before = (i: Incident) => i.start - 30 * MINUTE;

  it("ecpay: payments fail at ~12%, the gateway answers 503 slowly", () => {
    const i = firstOf("ecpay");
    const bad = shopState(during(i));
    const good = shopState(before(i));
    expect(bad.ecpay.failureRatePct).toBeGreaterThan(8);
    expect(good.ecpay.failureRatePct).toBeLessThan(4);
    const health = demoHealth(bad, "ecpay");
    expect(health.httpStatus).toBe(503);
    expect(health.body.status).toBe("degraded");
    expect(health.delayMs).toBeGreaterThan(0);
    expect(health.delayMs).toBeLessThanOrEqual(3000);
  });

  it("api: p95 above 1.5 s and the health endpoint slow", () => {
    const i = firstOf("api");
    const bad = shopState(during(i));
    expect(bad.api.p95Ms).toBeGreaterThan(1500);
    expect(shopState(before(i)).api.p95Ms).toBeLessThan(600);
    const inside = apiLatencySamples(i.start + 5 * MINUTE, 12).filter((s) => s.ts > i.start && s.ts < i.end);
    expect(inside.filter((s) => s.value > 1000).length).toBeGreaterThan(inside.length * 0.8);
    expect(demoHealth(bad, "api").delayMs).toBeGreaterThan(1000);
    expect(bad.api.errorRatePct).toBeGreaterThan(shopState(before(i)).api.errorRatePct);
  });

  it("database: the pool saturates", () => {
    const i = firstOf("database");
    expect(shopState(during(i)).database.poolInUse).toBe(DB_POOL_SIZE);
    expect(shopState(before(i)).database.poolInUse).toBeLessThan(DB_POOL_SIZE - 1);
    expect(demoHealth(shopState(during(i)), "database").httpStatus).toBe(503);
  });

  it("redis: down", () => {
    const i = firstOf("redis");
    const health = demoHealth(shopState(during(i)), "redis");
    expect(health.httpStatus).toBe(503);
    expect(health.body.status).toBe("down");
  });

  it("celery: workers lost, the queue backs up and drains after, the beat task stops succeeding", () => {
    const i = firstOf("celery");
    const bad = shopState(i.end - 1);
    const good = shopState(before(i));
    expect(bad.celery.workers).toBeLessThan(good.celery.workers);
    expect(bad.celery.queueLength).toBeGreaterThan(good.celery.queueLength + 50);
    expect(bad.celery.beatSucceeds).toBe(false);
    const drained = shopState(i.end + 3 * (i.end - i.start));
    expect(drained.celery.queueLength).toBeLessThan(good.celery.queueLength + 10);
    expect(drained.celery.beatSucceeds).toBe(true);
  });

  it("each touches only its own service's health", () => {
    for (const kind of INCIDENT_KINDS) {
      const state = shopState(during(firstOf(kind)));
      const unhealthy = DEMO_SERVICES.filter((s) => demoHealth(state, s).httpStatus !== 200);
      expect(unhealthy, kind).toEqual([kind]);
    }
  });

  it("can be forced without touching the clock", () => {
    const t = taipei(11, 30);
    for (const kind of INCIDENT_KINDS) {
      const state = shopState(t, [incidentAround(kind, t)]);
      expect(state.incidents.map((x) => x.kind)).toEqual([kind]);
      expect(demoHealth(state, kind).httpStatus).toBe(503);
    }
    expect(shopState(t, [incidentAround("ecpay", t)]).ecpay.failureRatePct).toBeGreaterThan(5);
  });

  it("degraded bodies never contain the 'ok' a probe looks for", () => {
    for (const kind of INCIDENT_KINDS) {
      const state = shopState(during(firstOf(kind)));
      const body = JSON.stringify(demoHealth(state, kind).body);
      expect(body.toLowerCase()).not.toContain("ok");
    }
    expect(JSON.stringify(demoHealth(shopState(taipei(11)), "ecpay").body)).toContain('"status":"ok"');
  });
});

describe("counters", () => {
  const celery = firstOf("celery");
  const ecpay = firstOf("ecpay");
  const forced: Incident[] = INCIDENT_KINDS.map((kind, k) => incidentAround(kind, ecpay.start + (k + 1) * HOUR));

  it("never decrease, through incidents and their aftermath", () => {
    for (const [from, extra] of [
      [celery.start - HOUR, []],
      [ecpay.start - HOUR, forced],
    ] as const) {
      let prev = shopCounters(from, extra);
      for (let t = from + 7_000; t < from + 8 * HOUR; t += 7_000) {
        const cur = shopCounters(t, extra);
        for (const key of Object.keys(cur) as (keyof typeof cur)[]) {
          if (cur[key] < prev[key]) throw new Error(`${key} fell from ${prev[key]} to ${cur[key]} at ${t}`);
        }
        prev = cur;
      }
      expect(prev.payments).toBeGreaterThan(shopCounters(from, extra).payments);
    }
  });

  it("are consistent: failures are a small share of payments, errors of requests", () => {
    const c = shopCounters(taipei(20));
    expect(c.paymentsFailed).toBeLessThan(c.payments * 0.05);
    expect(c.httpErrors).toBeLessThan(c.httpRequests * 0.05);
    expect(c.celerySucceeded).toBeGreaterThan(c.celeryFailed * 10);
  });
});

describe("exposition", () => {
  const text = renderShopMetrics(shopState(taipei(20, 15)));

  it("is valid Prometheus text with HELP and TYPE for every family", () => {
    const parsed = parseExposition(text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.format).toBe("prometheus");
    const types = new Map(parsed.samples.map((s) => [s.name, s.type]));
    expect(types.get("celery_workers")).toBe("gauge");
    expect(types.get("celery_tasks_total")).toBe("counter");
    expect(types.get("celery_task_runtime_seconds_bucket")).toBe("histogram");
    expect(types.get("db_pool_size")).toBe("gauge");
    for (const family of ["celery_workers", "celery_queue_length", "celery_tasks_total", "db_pool_in_use"]) {
      expect(text).toContain(`# HELP ${family} `);
      expect(text).toContain(`# TYPE ${family} `);
    }
    const states = parsed.samples.filter((s) => s.name === "celery_tasks_total").map((s) => s.labels.state);
    expect(states).toEqual(["succeeded", "failed", "retried"]);
  });

  it("has a cumulative histogram whose +Inf bucket is the count", () => {
    const parsed = parseExposition(text);
    const buckets = parsed.samples.filter((s) => s.name === "celery_task_runtime_seconds_bucket");
    const values = buckets.map((b) => b.value);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(buckets.at(-1)?.labels.le).toBe("+Inf");
    const count = parsed.samples.find((s) => s.name === "celery_task_runtime_seconds_count")?.value;
    expect(buckets.at(-1)?.value).toBe(count);
  });

  it("counters in the exposition grow between scrapes", () => {
    const read = (t: number) =>
      parseExposition(renderShopMetrics(shopState(t))).samples.filter((s) => s.type !== "gauge");
    const a = read(taipei(20, 15));
    const b = read(taipei(20, 16));
    expect(b.map((s) => s.name)).toEqual(a.map((s) => s.name));
    b.forEach((s, k) => expect(s.value).toBeGreaterThanOrEqual(a[k]?.value ?? Number.POSITIVE_INFINITY));
    expect(b.find((s) => s.labels.state === "succeeded")?.value).toBeGreaterThan(
      a.find((s) => s.labels.state === "succeeded")?.value ?? 0,
    );
  });
});

describe("push samples", () => {
  it("carry the payment, API and DB-pool series, with API response times spread over the past minute", () => {
    const now = taipei(20, 15) + 123;
    const samples = demoPushSamples(now);
    const names = (service: string) => [...new Set(samples.filter((s) => s.service === service).map((s) => s.metric))];
    expect(names("ecpay").sort()).toEqual(["payment_success_rate", "payments_failed_total", "payments_total"]);
    expect(names("api").sort()).toEqual(["api_response_ms", "http_errors_total", "http_requests_total"]);
    expect(names("database").sort()).toEqual(["db_pool_in_use", "db_pool_size", "db_query_ms"]);
    const latencies = samples.filter((s) => s.metric === "api_response_ms");
    expect(latencies).toHaveLength(API_LATENCY_SAMPLES_PER_MINUTE);
    for (const s of latencies) {
      expect(s.ts).toBeGreaterThan(now - MINUTE);
      expect(s.ts).toBeLessThanOrEqual(now);
    }
    expect(new Set(latencies.map((s) => s.value)).size).toBeGreaterThan(6);
    const payments = samples.find((s) => s.metric === "payments_total");
    expect(payments).toMatchObject({ ts: now, value: shopCounters(now).payments, labels: {} });
  });

  it("carry the database's query latency: a few ms normally, far higher while the database is in trouble", () => {
    const queryMs = (t: number, extra: Incident[] = []) =>
      demoPushSamples(t, { extra }).find((s) => s.metric === "db_query_ms" && s.service === "database");
    const quiet = taipei(20, 15);
    expect(quiet).toSatisfy((t: number) => quietAround(t));
    const normal = queryMs(quiet);
    expect(normal).toMatchObject({ ts: quiet, labels: {}, value: shopState(quiet).database.queryMs });
    expect(normal?.value).toBeGreaterThanOrEqual(2);
    expect(normal?.value).toBeLessThan(20);
    const slow = queryMs(quiet, [incidentAround("database", quiet)]);
    expect(slow?.value).toBeGreaterThan(500);
    // the scheduled database incidents push the same way
    const incident = firstOf("database");
    expect(queryMs(incident.start + MINUTE)?.value).toBeGreaterThan(500);
    expect(queryMs(incident.end + MINUTE)?.value).toBeLessThan(20);
  });

  it("backfill whole minutes of counters, oldest first", () => {
    const now = taipei(20, 15);
    const totals = demoPushSamples(now, { backfillMinutes: 5 }).filter((s) => s.metric === "payments_total");
    expect(totals.map((s) => s.ts)).toEqual([5, 4, 3, 2, 1, 0].map((m) => now - m * MINUTE));
    expect(totals.map((s) => s.value)).toEqual(totals.map((s) => s.value).sort((a, b) => a - b));
  });
});

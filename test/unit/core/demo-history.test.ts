import { describe, expect, it } from "vitest";
import { computeDerived, DERIVED_LOOKBACK_MS, inputKey, type SeriesWindow } from "../../../worker/core/derived";
import {
  demoHistory,
  demoProbeHistory,
  type HistorySeries,
  HISTORY_DAYS,
  historyRange,
  replayRule,
} from "../../../worker/core/demo-history";
import { demoPushSamples, incidentsBetween } from "../../../worker/core/demo-shop";
import {
  addToRollup,
  emptyRollup,
  foldByBucket,
  HOUR_MS,
  loadRollup,
  MINUTE_MS,
  mergeRollups,
  parseRetention,
  planHistoryImport,
  storeRollup,
} from "../../../worker/core/rollup";
import type { ThresholdRule } from "../../../worker/core/rules/types";
import { serializeSketch } from "../../../worker/core/sketch";

const MINUTE = MINUTE_MS;
const HOUR = HOUR_MS;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 11, 3, 18, 7, 42);

/** A history series as points. */
const pointsOf = (s: HistorySeries | undefined) => s?.ts.map((ts, i) => ({ ts, value: s.values[i] as number })) ?? [];

const rule = (over: Partial<ThresholdRule> = {}): ThresholdRule => ({
  id: 7,
  ruleName: "Payment Failure Rate > 5%",
  metricName: "payment_failure_rate",
  service: "ecpay",
  labels: {},
  kind: "threshold",
  comparisonOperator: ">",
  thresholdValue: 5,
  forSeconds: 60,
  resolveForSeconds: 0,
  resolveThresholdValue: null,
  dependsOn: [],
  severity: "critical",
  notificationChannels: ["email"],
  cooldownMinutes: 15,
  maxAlertsPerHour: 4,
  escalationPolicyId: null,
  params: { aggregation: "last", windowSeconds: 0 },
  ...over,
});

describe("history range", () => {
  it("ends before the current minute (the live cron's) and starts on the hour 30 days back", () => {
    const { from, to } = historyRange(NOW);
    expect(to).toBe(Date.UTC(2026, 11, 3, 18, 7));
    expect(from).toBe(Date.UTC(2026, 10, 3, 18));
    expect(from % HOUR).toBe(0);
    expect(to - from).toBeGreaterThanOrEqual(HISTORY_DAYS * DAY);
    expect(to - from).toBeLessThan(HISTORY_DAYS * DAY + HOUR);
  });
});

describe("demo history", () => {
  const from = Date.UTC(2026, 11, 1, 10);
  const to = from + 3 * HOUR;
  const history = demoHistory(from, to);
  const series = (metric: string) => pointsOf(history.find((s) => s.metric === metric));

  it("holds every minute's push, exactly as the shop pushes it, db_query_ms included", () => {
    const pushed = new Map<string, { ts: number; value: number }[]>();
    for (let t = from; t < to; t += MINUTE) {
      for (const s of demoPushSamples(t)) {
        if (s.ts < from) continue;
        pushed.set(s.metric, [...(pushed.get(s.metric) ?? []), { ts: s.ts, value: s.value }]);
      }
    }
    expect(pushed.has("db_query_ms")).toBe(true);
    for (const [metric, points] of pushed) {
      expect(series(metric), metric).toEqual(points.sort((a, b) => a.ts - b.ts));
    }
    expect(series("payments_total")).toHaveLength(180);
    expect(series("api_response_ms").length).toBeGreaterThan(180 * 11);
  });

  it("derives each minute from the pushes before it, as the cron's derivation reads them", () => {
    const t = from + 97 * MINUTE;
    const inputs = new Map<string, SeriesWindow[]>();
    // The cron derives alongside the minute's push, reading before it lands: the pushes up to the minute before.
    for (let tick = t - DERIVED_LOOKBACK_MS - MINUTE; tick < t; tick += MINUTE) {
      for (const s of demoPushSamples(tick)) {
        if (s.ts < t - DERIVED_LOOKBACK_MS || s.ts < from) continue;
        const key = inputKey(s.metric, s.service);
        const points = [...(inputs.get(key)?.[0]?.points ?? []), { ts: s.ts, value: s.value }];
        inputs.set(key, [{ labels: {}, points }]);
      }
    }
    const expected = computeDerived(inputs, t);
    expect(expected.map((s) => s.metric).sort()).toEqual([
      "api_response_p95_ms",
      "db_pool_utilization",
      "error_rate",
      "payment_failure_rate",
    ]);
    for (const d of expected) {
      expect(series(d.metric).find((p) => p.ts === t)?.value, d.metric).toBe(d.value);
    }
  });
});

describe("probe history", () => {
  const http = (
    id: number,
    service: string,
    path: string,
    intervalSeconds: number,
    expected: object = { status: [200] },
  ) => ({
    id,
    service,
    kind: "http" as const,
    intervalSeconds,
    config: { url: `http://127.0.0.1:8787${path}`, method: "GET", timeout_ms: 5000, expect: expected },
  });
  const monitors = [
    http(1, "ecpay", "/demo/ecpay/health", 30, { status: [200], body_contains: "ok" }),
    http(2, "api", "/demo/api/health", 15),
    http(3, "shop", "/elsewhere/health", 60),
    {
      id: 4,
      service: "celery",
      kind: "prometheus" as const,
      intervalSeconds: 60,
      config: { url: "http://127.0.0.1:8787/demo/metrics" },
    },
  ];
  const incident = incidentsBetween(Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)).find((i) => i.kind === "ecpay");
  if (!incident) throw new Error("no ECPay incident in November");
  const from = incident.start - HOUR;
  const to = incident.end + HOUR;
  const history = demoProbeHistory(monitors, from, to);
  const points = (metric: string, monitor: string) =>
    pointsOf(history.find((s) => s.metric === metric && s.labels.monitor === monitor));

  it("runs each demo health monitor at every slot of its interval, and no other monitor", () => {
    expect(history.map((s) => `${s.metric}|${s.service}|${s.labels.monitor}`).sort()).toEqual([
      "probe_latency_ms|api|2",
      "probe_latency_ms|ecpay|1",
      "probe_up|api|2",
      "probe_up|ecpay|1",
    ]);
    expect(points("probe_up", "1").map((p) => p.ts)).toEqual(
      Array.from({ length: (to - from) / 30_000 }, (_, i) => from + i * 30_000),
    );
    expect(points("probe_up", "2")).toHaveLength((to - from) / 15_000);
  });

  it("is down, and slow, while its service has an incident, as the monitor judges the endpoint", () => {
    const during = (p: { ts: number }) => p.ts >= incident.start && p.ts < incident.end;
    const up = points("probe_up", "1");
    expect(up.filter(during).every((p) => p.value === 0)).toBe(true);
    expect(up.filter((p) => !during(p)).every((p) => p.value === 1)).toBe(true);
    const latency = points("probe_latency_ms", "1");
    expect(latency.filter(during).every((p) => p.value >= 1200)).toBe(true);
    expect(latency.filter((p) => !during(p)).every((p) => p.value >= 2 && p.value < 10)).toBe(true);
    // the API was fine meanwhile
    expect(points("probe_up", "2").every((p) => p.value === 1)).toBe(true);
  });
});

describe("history import plan", () => {
  const retention = parseRetention({
    RETENTION_RAW_HOURS: "24",
    RETENTION_MINUTE_DAYS: "14",
    RETENTION_HOUR_DAYS: "400",
  });
  const points: { ts: number; value: number }[] = [];
  for (let t = NOW - 20 * DAY; t < NOW - MINUTE; t += 20_000) points.push({ ts: t, value: (t / 1000) % 977 });
  const plan = planHistoryImport(
    points.map((p) => p.ts),
    points.map((p) => p.value),
    NOW,
    retention,
  );
  const rawFrom = Math.floor((NOW - 24 * HOUR) / MINUTE) * MINUTE + MINUTE;

  it("keeps raw samples from the first whole minute of the raw window on", () => {
    expect(plan.raw).toEqual(points.filter((p) => p.ts >= rawFrom));
    expect(plan.raw[0]?.ts).toBeGreaterThanOrEqual(NOW - 24 * HOUR);
  });

  it("writes minute rows D1 keeps, as folded from the samples", () => {
    const minutes = plan.rows.filter((r) => r.resolution === 60);
    const expected = foldByBucket(
      points.filter((p) => p.ts >= Math.ceil((NOW - 14 * DAY) / MINUTE) * MINUTE && p.ts < rawFrom),
      60,
    );
    expect(minutes.map((r) => r.start)).toEqual([...expected.keys()]);
    for (const r of minutes) expect(storeRollup(r.rollup)).toEqual(storeRollup(expected.get(r.start) ?? emptyRollup()));
  });

  it("merges hours from their stored minutes, as the store does, up to the hour the store rolls up itself", () => {
    const hours = plan.rows.filter((r) => r.resolution === 3600);
    const firstStoreHour = Math.floor(rawFrom / HOUR) * HOUR;
    expect(hours[0]?.start).toBe(Math.floor((NOW - 20 * DAY) / HOUR) * HOUR);
    expect(hours.at(-1)?.start).toBe(firstStoreHour - HOUR);
    const hour = hours[100];
    if (!hour) throw new Error("no hour 100");
    const merged = emptyRollup();
    for (const [start, r] of foldByBucket(points, 60)) {
      if (start >= hour.start && start < hour.start + HOUR) mergeRollups(merged, loadRollup(storeRollup(r)));
    }
    expect(storeRollup(hour.rollup)).toEqual(storeRollup(merged));
    // the same data folded directly: the same counts and extremes
    const direct = emptyRollup();
    for (const p of points) if (p.ts >= hour.start && p.ts < hour.start + HOUR) addToRollup(direct, p.value);
    expect([hour.rollup.count, hour.rollup.min, hour.rollup.max]).toEqual([direct.count, direct.min, direct.max]);
    // the raw window's first hour: its earlier minutes are held by the store instead
    expect(plan.heldMinutes.map(([start]) => start)).toEqual(
      [...foldByBucket(points, 60).keys()].filter((s) => s >= firstStoreHour && s < rawFrom),
    );
    expect(serializeSketch(plan.heldMinutes[0]?.[1].sketch ?? emptyRollup().sketch)).not.toBe(
      serializeSketch(emptyRollup().sketch),
    );
  });

  it("leaves out hours past the hour retention", () => {
    const short = planHistoryImport(
      points.map((p) => p.ts),
      points.map((p) => p.value),
      NOW,
      { ...retention, hourMs: 5 * DAY },
    );
    const hours = short.rows.filter((r) => r.resolution === 3600);
    expect(hours[0]?.start).toBeGreaterThanOrEqual(NOW - 5 * DAY);
  });
});

describe("alert replay", () => {
  const from = Date.UTC(2026, 11, 1, 0);
  const at = (m: number) => from + m * MINUTE;
  /** payment_failure_rate: 1 % except `high` (minute → value). */
  const series = (high: Record<number, number>, minutes = 120) => [
    {
      metric: "payment_failure_rate",
      service: "ecpay",
      labels: {},
      ts: Array.from({ length: minutes }, (_, m) => at(m)),
      values: Array.from({ length: minutes }, (_, m) => high[m] ?? 1),
    },
  ];

  it("raises, after for_seconds, and resolves an alert with its timeline", () => {
    const alerts = replayRule(rule(), series({ 30: 7, 31: 9, 32: 12, 33: 8 }), from, at(120));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      ruleId: 7,
      fingerprint: "payment_failure_rate|ecpay|",
      service: "ecpay",
      severity: "critical",
      triggeredAt: at(31),
      observedAt: at(31),
      resolvedAt: at(34),
      value: 1,
      peakValue: 12,
      breaches: 3,
      message: "latest value 9 > 5",
    });
    expect(alerts[0]?.events.map((e) => [e.type, e.at])).toEqual([
      ["pending", at(30)],
      ["fired", at(31)],
      ["resolved", at(34)],
    ]);
  });

  it("ignores a blip shorter than for_seconds and re-opens within cooldown", () => {
    const alerts = replayRule(rule(), series({ 10: 9, 30: 7, 31: 9, 40: 8, 41: 8 }), from, at(120));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.reopened).toBe(1);
    expect(alerts[0]?.events.map((e) => e.type)).toEqual(["pending", "fired", "resolved", "reopened", "resolved"]);
    expect(alerts[0]?.resolvedAt).toBe(at(42));
  });

  it("leaves an alert still open at the end to the live engine", () => {
    expect(replayRule(rule(), series({ 117: 9, 118: 9, 119: 9 }), from, at(120))).toEqual([]);
  });

  it("raises one alert per scheduled ECPay incident of the shop's history", () => {
    const start = Date.UTC(2026, 10, 20);
    const end = start + 3 * DAY;
    const alerts = replayRule(rule(), demoHistory(start, end), start, end);
    const incidents = incidentsBetween(start + 10 * MINUTE, end - HOUR).filter((i) => i.kind === "ecpay");
    expect(incidents.length).toBeGreaterThan(0);
    for (const i of incidents) {
      expect(alerts.some((a) => a.triggeredAt >= i.start && a.triggeredAt <= i.end + 5 * MINUTE)).toBe(true);
    }
    for (const a of alerts) {
      expect(incidents.some((i) => a.triggeredAt >= i.start && a.triggeredAt <= i.end + 5 * MINUTE)).toBe(true);
    }
  });
});

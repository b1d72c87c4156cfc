import { beforeAll, describe, expect, it } from "vitest";
import type { HistorySeries } from "../../../../worker/core/demo-history";
import type { ProbeMonitor } from "../../../../worker/core/probe";
import { buildScenario, type LabelledIncident, type Scenario } from "../../../../worker/core/quality/scenario";
import { demoMonitors } from "../../../../scripts/lib/seed.mjs";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const monitors: ProbeMonitor[] = demoMonitors("http://localhost:8787")
  .filter((m) => m.kind === "http")
  .map((m, i) => ({
    id: i + 1,
    service: String(m.service),
    kind: "http",
    intervalSeconds: Number(m.interval_seconds),
    config: m,
  }));

const find = (s: Scenario, metric: string, service: string) =>
  s.series.find((x) => x.metric === metric && x.service === service) as HistorySeries;

/** Values of a series with from <= ts < to. */
const between = (x: HistorySeries, from: number, to: number) =>
  x.values.filter((_, i) => x.ts[i]! >= from && x.ts[i]! < to);
const max = (xs: number[]) => Math.max(...xs);
const min = (xs: number[]) => Math.min(...xs);

/** How each kind of incident shows in the data during [start, end + 5 min). */
function visible(s: Scenario, i: LabelledIncident): boolean {
  const win = (metric: string, service: string) => between(find(s, metric, service), i.start, i.end + 5 * MINUTE);
  const kind = i.kind.replace(/-3am$/, "");
  switch (kind) {
    case "ecpay":
      return min(win("probe_up", "ecpay")) === 0 && max(win("payment_failure_rate", "ecpay")) > 5;
    case "api":
      return min(win("probe_up", "api")) === 0 && max(win("api_response_p95_ms", "api")) > 2000;
    case "database":
      return min(win("probe_up", "database")) === 0 && max(win("db_pool_in_use", "database")) === 20;
    case "redis":
      return min(win("probe_up", "redis")) === 0 && max(win("error_rate", "api")) > 1;
    case "celery":
      return min(win("celery_workers", "celery")) === 1;
    case "ecpay-creep":
      return max(win("payment_failure_rate", "ecpay")) > 15 && min(win("probe_up", "ecpay")) === 1;
    case "ecpay-partial":
      return max(win("payment_failure_rate", "ecpay")) > 6 && min(win("probe_up", "ecpay")) === 1;
    case "checkout-partial":
      return max(win("error_rate", "api")) > 2.5 && min(win("probe_up", "api")) === 1;
    case "db-pool-leak": {
      const pool = find(s, "db_pool_in_use", "database");
      const before = max(between(pool, i.start - 10 * MINUTE, i.start));
      return (
        max(between(pool, i.start + 25 * MINUTE, i.start + 30 * MINUTE)) > before &&
        max(win("db_pool_in_use", "database")) === 20
      );
    }
    case "api-latency-creep":
      return max(win("api_response_p95_ms", "api")) > 2000 && min(win("probe_up", "api")) === 1;
    default:
      return false;
  }
}

describe("the quality scenario", () => {
  let month: Scenario;
  beforeAll(() => {
    month = buildScenario({ monitors, warmupDays: 0 });
  });

  it("is deterministic", () => {
    const a = buildScenario({ monitors, days: 1, warmupDays: 1 });
    const b = buildScenario({ monitors, days: 1, warmupDays: 1 });
    expect(b.incidents).toEqual(a.incidents);
    expect(b.benign).toEqual(a.benign);
    expect(b.series).toEqual(a.series);
  });

  it("labels incidents and non-incidents inside the data's range", () => {
    expect(month.incidents.length).toBeGreaterThan(150);
    for (const i of [...month.incidents, ...month.benign]) {
      expect(i.end).toBeGreaterThan(i.start);
      expect(i.start).toBeLessThan(month.to);
      expect(i.end).toBeGreaterThan(month.seriesFrom);
    }
    for (const i of month.incidents.filter((x) => x.source === "scenario")) {
      expect(i.start).toBeGreaterThanOrEqual(month.from);
      expect(i.end).toBeLessThanOrEqual(month.to);
    }
    for (const x of month.series) {
      expect(x.ts[0]).toBeGreaterThanOrEqual(month.seriesFrom);
      expect(x.ts.at(-1)).toBeLessThan(month.to);
    }
  });

  it("has every kind of hard incident and non-incident", () => {
    const kinds = new Set(month.incidents.map((i) => i.kind));
    for (const k of [
      "ecpay-creep",
      "ecpay-partial",
      "checkout-partial",
      "db-pool-leak",
      "api-latency-creep",
      "redis-3am",
    ]) {
      expect(kinds).toContain(k);
    }
    expect(new Set(month.benign.map((b) => b.kind))).toEqual(
      new Set(["deploy", "payment-dip", "health-flap", "weekend"]),
    );
  });

  it("shows each incident in its metrics", () => {
    const hidden = month.incidents.filter((i) => i.start >= month.from && !visible(month, i)).map((i) => i.id);
    expect(hidden).toEqual([]);
  });

  it("keeps a deploy's bump short and a flapping health endpoint failing every other probe only", () => {
    const deploy = month.benign.find((b) => b.kind === "deploy" && !b.id.endsWith("restart"))!;
    const errors = between(find(month, "error_rate", "api"), deploy.start, deploy.start + 10 * MINUTE);
    expect(max(errors)).toBeGreaterThan(1.5);
    expect(errors.at(-1)).toBeLessThan(1);
    const flap = month.benign.find((b) => b.kind === "health-flap")!;
    const up = between(find(month, "probe_up", "ecpay"), flap.start, flap.end);
    expect(up.filter((v) => v === 0).length).toBe(up.length / 2);
  });

  it("has probe noise that the confirming location mostly dismisses", () => {
    const { runs, blips, recordedDown } = month.probeNoise;
    expect(blips / runs).toBeGreaterThan(0.01);
    expect(recordedDown).toBeGreaterThan(0);
    expect(recordedDown / blips).toBeLessThan(0.1);
  });

  it("has 30 % more payments on a weekend day than on the weekday before at the same hour", () => {
    const payments = find(month, "payments_total", "ecpay");
    const perDay = (day: number) => {
      const [a, b] = [month.from + day * DAY + 12 * 3600_000, month.from + day * DAY + 13 * 3600_000];
      const xs = between(payments, a, b);
      return xs.at(-1)! - xs[0]!;
    };
    expect(perDay(5) / perDay(4)).toBeGreaterThan(1.15);
  });
});

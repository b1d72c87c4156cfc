import { describe, expect, it } from "vitest";
import {
  canAct,
  countAlerts,
  formatValue,
  latestOf,
  mergeSamples,
  parseAlerts,
  parseSamples,
  recentAlerts,
} from "../../../dashboard/src/lib/alerts";
import { cardLevel, displayName, overallState, sparklinePath } from "../../../dashboard/src/lib/overview";
import type { Alert, LatestSample, RuleSummary, ServiceHealth } from "../../../dashboard/src/lib/types";

const alert = (over: Partial<Alert>): Alert => ({
  id: 1,
  alert_rule_id: 1,
  rule_name: "r",
  metric_name: "m",
  service: "ecpay",
  fingerprint: "f",
  labels: {},
  metric_value: 1,
  peak_value: 1,
  breach_count: 1,
  reopen_count: 0,
  flapping: false,
  alert_severity: "critical",
  status: "firing",
  message: "",
  observed_at: null,
  triggered_at: "2026-01-01T00:00:00.000Z",
  acknowledged_at: null,
  acknowledged_by: null,
  resolved_at: null,
  auto_resolved: false,
  resolution_notes: null,
  escalation_step: 0,
  notifications_sent: 0,
  notification_attempts: 0,
  notifications_failed: 0,
  ...over,
});
const svc = (service: string, status: ServiceHealth["status"]): ServiceHealth => ({
  service,
  status,
  last_checked_at: null,
  latency_ms: null,
  message: "",
});
const rule = (over: Partial<RuleSummary>): RuleSummary => ({
  id: 7,
  rule_name: "r",
  metric_name: "payment_success_rate",
  service: "ecpay",
  kind: "threshold",
  comparison_operator: "<",
  threshold_value: 95,
  severity: "critical",
  is_active: true,
  ...over,
});
const sample = (metric: string, value: number, ts: string, labels: Record<string, string> = {}): LatestSample => ({
  metric,
  service: "database",
  labels,
  value,
  ts,
});

describe("overallState", () => {
  it("is an outage with a service down or a critical alert open, degraded on warnings", () => {
    expect(overallState([svc("a", "healthy")], [])).toBe("operational");
    expect(overallState([svc("a", "healthy"), svc("b", "down")], [])).toBe("outage");
    expect(overallState([svc("a", "warning")], [])).toBe("degraded");
    expect(overallState([], [alert({ alert_severity: "warning" })])).toBe("degraded");
    expect(overallState([], [alert({ alert_severity: "critical", status: "acknowledged" })])).toBe("outage");
    expect(overallState([], [alert({ alert_severity: "critical", status: "resolved" })])).toBe("operational");
    expect(overallState([svc("a", "unknown")], [alert({ alert_severity: "info" })])).toBe("operational");
  });
});

describe("cardLevel", () => {
  const card = { metric: "payment_success_rate", service: "ecpay" };
  it("takes the worst of the rules its value crosses and the alerts open on its service", () => {
    expect(cardLevel(card, 99, [rule({})], [])).toBe("ok");
    expect(cardLevel(card, 90, [rule({})], [])).toBe("critical");
    expect(cardLevel(card, 90, [rule({ severity: "warning" })], [])).toBe("warning");
    expect(cardLevel(card, 90, [rule({ is_active: false })], [])).toBe("ok");
    expect(cardLevel(card, 90, [rule({ service: "other" })], [])).toBe("ok");
    expect(cardLevel(card, null, [rule({})], [])).toBe("ok");
    expect(cardLevel(card, 99, [], [alert({ service: "ecpay", alert_severity: "warning" })])).toBe("warning");
    expect(cardLevel(card, 99, [], [alert({ service: "api" })])).toBe("ok");
    expect(cardLevel(card, 99, [], [alert({ service: "ecpay", status: "resolved" })])).toBe("ok");
    expect(cardLevel(card, 99, [rule({ id: 9 })], [alert({ alert_rule_id: 9, service: null })])).toBe("critical");
  });
});

describe("samples", () => {
  it("keeps the newest sample per series and finds a card's value", () => {
    let held = mergeSamples(new Map(), [sample("db_pool_in_use", 3, "2026-01-01T00:00:00Z")]);
    held = mergeSamples(held, [sample("db_pool_in_use", 1, "2025-12-31T00:00:00Z")]);
    expect(latestOf(held, "db_pool_in_use", "database")?.value).toBe(3);
    held = mergeSamples(held, [sample("db_pool_in_use", 9, "2026-01-01T00:01:00Z")]);
    expect(latestOf(held, "db_pool_in_use", "database")?.value).toBe(9);
    const labelled = mergeSamples(new Map(), [
      sample("x", 1, "2026-01-01T00:00:00Z", { host: "a" }),
      sample("x", 2, "2026-01-01T00:00:05Z", { host: "b" }),
    ]);
    expect(latestOf(labelled, "x", "database")?.value).toBe(2);
    expect(latestOf(labelled, "y", "database")).toBeNull();
  });

  it("refuses malformed socket data", () => {
    expect(parseSamples([{ metric: "m" }])).toBeNull();
    expect(parseSamples("nope")).toBeNull();
    expect(parseAlerts([alert({})])).toHaveLength(1);
    expect(parseAlerts([{ ...alert({}), status: "bogus" }])).toBeNull();
  });
});

describe("alerts", () => {
  const now = Date.parse("2026-01-02T00:00:00Z");
  it("counts active and acknowledged, lets admins and owners act", () => {
    expect(
      countAlerts([
        alert({}),
        alert({ status: "acknowledged" }),
        alert({ status: "acknowledged", alert_severity: "info" }),
      ]),
    ).toEqual({ firing: 1, acknowledged: 2, critical: 2 });
    expect([canAct("viewer"), canAct("admin"), canAct("owner")]).toEqual([false, true, true]);
  });

  it("merges history with the live list, newest first, dropping what resolved over 24 h ago", () => {
    const history = [
      alert({ id: 1, status: "resolved", resolved_at: "2026-01-01T20:00:00Z", triggered_at: "2026-01-01T19:00:00Z" }),
      alert({ id: 2, status: "firing", triggered_at: "2026-01-01T21:00:00Z" }),
      alert({ id: 3, status: "resolved", resolved_at: "2025-12-31T20:00:00Z", triggered_at: "2025-12-31T19:00:00Z" }),
    ];
    const active = [
      alert({ id: 2, status: "acknowledged", triggered_at: "2026-01-01T21:00:00Z" }),
      alert({ id: 4, triggered_at: "2026-01-01T23:00:00Z" }),
    ];
    const merged = recentAlerts(history, active, now);
    expect(merged.map((a) => [a.id, a.status])).toEqual([
      [4, "firing"],
      [2, "acknowledged"],
      [1, "resolved"],
    ]);
  });

  it("formats values with their unit", () => {
    expect([formatValue(98.7654, "%"), formatValue(357, "ms"), formatValue(null), formatValue(3)]).toEqual([
      "98.77%",
      "357 ms",
      "\u2014",
      "3",
    ]);
    expect(displayName({ ecpay: "ECPay Integration" }, "ecpay")).toBe("ECPay Integration");
    expect(displayName({}, "redis")).toBe("redis");
  });
});

describe("sparklinePath", () => {
  it("draws the points across the box, highest at the top, skipping gaps", () => {
    expect(sparklinePath([1], 100, 10)).toBe("");
    expect(sparklinePath([0, 10], 100, 10)).toBe("M0.0,9.0 L100.0,1.0");
    expect(sparklinePath([0, null, 10], 100, 10)).toBe("M0.0,9.0 L100.0,1.0");
  });
});

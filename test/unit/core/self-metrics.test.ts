import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseExposition } from "../../../worker/core/prometheus/parse";
import {
  BUILD_VERSION,
  escapeLabelValue,
  formatValue,
  renderSelfMetrics,
  type SelfMetrics,
} from "../../../worker/core/self-metrics";

const metrics = (over: Partial<SelfMetrics> = {}): SelfMetrics => ({
  alerts: { firing: 3, acknowledged: 1, resolved: 7 },
  notifications: [
    { channel: "slack", status: "sent", count: 5 },
    { channel: "email", status: "outbox", count: 2 },
  ],
  backlog: 4,
  oldestUndeliveredSeconds: 12.3456,
  deliveryLatency: { cumulative: [1, 2, 3, 3, 4, 4, 5], count: 6, sumSeconds: 95.5 },
  rules: { active: 2, inactive: 1 },
  monitors: [
    { kind: "heartbeat", count: 1 },
    { kind: "http", count: 3 },
  ],
  probeLag: [{ id: 9, monitor: "checkout", seconds: 42 }],
  counters: [
    { counter: "samples_accepted", label: "push", n: 12 },
    { counter: "samples_refused", label: "timestamp", n: 3 },
    { counter: "rule_evaluations", label: "threshold", n: 40 },
  ],
  version: "1.2.3",
  ...over,
});

const value = (text: string, name: string, labels: Record<string, string> = {}) => {
  const parsed = parseExposition(text);
  expect(parsed.errors).toEqual([]);
  const found = parsed.samples.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels));
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]?.value;
};

describe("renderSelfMetrics", () => {
  it("writes every family once, with HELP and TYPE, in text format 0.0.4", () => {
    const text = renderSelfMetrics(metrics());
    expect(text.endsWith("\n")).toBe(true);
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(types).toEqual([
      ["edge_monitor_alerts", "gauge"],
      ["edge_monitor_notifications", "gauge"],
      ["edge_monitor_notification_backlog", "gauge"],
      ["edge_monitor_notification_oldest_undelivered_seconds", "gauge"],
      ["edge_monitor_delivery_latency_seconds", "histogram"],
      ["edge_monitor_rules", "gauge"],
      ["edge_monitor_monitors", "gauge"],
      ["edge_monitor_probe_lag_seconds", "gauge"],
      ["edge_monitor_samples_accepted_total", "counter"],
      ["edge_monitor_samples_refused_total", "counter"],
      ["edge_monitor_rule_evaluations_total", "counter"],
      ["edge_monitor_auth_failures_total", "counter"],
      ["edge_monitor_auth_lockouts_total", "counter"],
      ["edge_monitor_build_info", "gauge"],
    ]);
    expect(text.match(/^# HELP /gm)).toHaveLength(types.length);
    expect(parseExposition(text).errors).toEqual([]);
  });

  it("puts the numbers under their labels", () => {
    const text = renderSelfMetrics(metrics());
    expect(value(text, "edge_monitor_alerts", { state: "firing" })).toBe(3);
    expect(value(text, "edge_monitor_alerts", { state: "acknowledged" })).toBe(1);
    expect(value(text, "edge_monitor_alerts", { state: "resolved" })).toBe(7);
    expect(value(text, "edge_monitor_notifications", { channel: "email", status: "outbox" })).toBe(2);
    expect(value(text, "edge_monitor_notification_backlog")).toBe(4);
    expect(value(text, "edge_monitor_notification_oldest_undelivered_seconds")).toBe(12.346);
    expect(value(text, "edge_monitor_rules", { state: "inactive" })).toBe(1);
    expect(value(text, "edge_monitor_monitors", { kind: "http" })).toBe(3);
    expect(value(text, "edge_monitor_probe_lag_seconds", { monitor: "checkout", id: "9" })).toBe(42);
    expect(value(text, "edge_monitor_build_info", { version: "1.2.3" })).toBe(1);
  });

  it("writes every known series of each counter, 0 when never counted", () => {
    const text = renderSelfMetrics(metrics());
    expect(value(text, "edge_monitor_samples_accepted_total", { source: "push" })).toBe(12);
    expect(value(text, "edge_monitor_samples_accepted_total", { source: "heartbeat" })).toBe(0);
    expect(value(text, "edge_monitor_samples_refused_total", { reason: "timestamp" })).toBe(3);
    expect(value(text, "edge_monitor_samples_refused_total", { reason: "rate_limited" })).toBe(0);
    expect(value(text, "edge_monitor_rule_evaluations_total", { kind: "threshold" })).toBe(40);
    expect(value(text, "edge_monitor_rule_evaluations_total", { kind: "absence" })).toBe(0);
    const samples = parseExposition(text).samples;
    expect(samples.filter((s) => s.name === "edge_monitor_samples_accepted_total")).toHaveLength(7);
    expect(samples.filter((s) => s.name === "edge_monitor_samples_refused_total")).toHaveLength(6);
    expect(samples.filter((s) => s.name === "edge_monitor_rule_evaluations_total")).toHaveLength(5);
  });

  it("writes the histogram as cumulative buckets ending in +Inf, with _sum and _count", () => {
    const text = renderSelfMetrics(metrics());
    const buckets = text.split("\n").filter((l) => l.startsWith("edge_monitor_delivery_latency_seconds_bucket"));
    expect(buckets).toEqual([
      'edge_monitor_delivery_latency_seconds_bucket{le="0.1"} 1',
      'edge_monitor_delivery_latency_seconds_bucket{le="0.5"} 2',
      'edge_monitor_delivery_latency_seconds_bucket{le="1"} 3',
      'edge_monitor_delivery_latency_seconds_bucket{le="5"} 3',
      'edge_monitor_delivery_latency_seconds_bucket{le="10"} 4',
      'edge_monitor_delivery_latency_seconds_bucket{le="30"} 4',
      'edge_monitor_delivery_latency_seconds_bucket{le="60"} 5',
      'edge_monitor_delivery_latency_seconds_bucket{le="+Inf"} 6',
    ]);
    expect(value(text, "edge_monitor_delivery_latency_seconds_sum")).toBe(95.5);
    expect(value(text, "edge_monitor_delivery_latency_seconds_count")).toBe(6);
  });

  it("escapes label values, and a monitor name survives a round trip through the parser", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const name = 'shop "main" \\ eu\nwest';
    const text = renderSelfMetrics(metrics({ probeLag: [{ id: 1, monitor: name, seconds: 5 }] }));
    expect(text).toContain('edge_monitor_probe_lag_seconds{monitor="shop \\"main\\" \\\\ eu\\nwest",id="1"} 5');
    expect(value(text, "edge_monitor_probe_lag_seconds", { monitor: name, id: "1" })).toBe(5);
  });

  it("floors probe lag at 0 and keeps empty families declared", () => {
    const text = renderSelfMetrics(
      metrics({ notifications: [], monitors: [], probeLag: [{ id: 2, monitor: "early", seconds: -3 }] }),
    );
    expect(value(text, "edge_monitor_probe_lag_seconds", { monitor: "early", id: "2" })).toBe(0);
    expect(text).toContain("# TYPE edge_monitor_notifications gauge\n# HELP edge_monitor_notification_backlog");
  });

  it("spells special values as the format does", () => {
    expect([NaN, Infinity, -Infinity, 0.5, 3].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0.5", "3"]);
  });
});

describe("BUILD_VERSION", () => {
  it("is package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(BUILD_VERSION).toBe(pkg.version);
  });
});

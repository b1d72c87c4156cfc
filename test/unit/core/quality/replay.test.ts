import { describe, expect, it } from "vitest";
import type { HistorySeries } from "../../../../worker/core/demo-history";
import { replayRules } from "../../../../worker/core/quality/replay";
import type { RatioRule, ThresholdRule } from "../../../../worker/core/rules/types";

const SECOND = 1000;
const T0 = Date.UTC(2026, 2, 1, 16);

const rule = (over: Partial<ThresholdRule> = {}): ThresholdRule => ({
  id: 1,
  ruleName: "API health down",
  description: "",
  metricName: "probe_up",
  service: "api",
  labels: {},
  kind: "threshold",
  comparisonOperator: "<",
  thresholdValue: 1,
  forSeconds: 45,
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

/** A probe every 15 s for 10 minutes; `up(k)` gives run k's result. */
function probes(up: (k: number) => boolean): HistorySeries {
  const ts: number[] = [];
  const values: number[] = [];
  for (let k = 0; k < 40; k++) {
    ts.push(T0 + k * 15 * SECOND);
    values.push(up(k) ? 1 : 0);
  }
  return { metric: "probe_up", service: "api", labels: { monitor: "2" }, ts, values };
}

describe("replayRules", () => {
  it("fires when the breach has held for_seconds, at that deadline (the rule's alarm), not at the next sample", () => {
    // Down from run 8 (2 minutes in) to run 20.
    const series = probes((k) => k < 8 || k >= 20);
    const { pages, alertsByRule } = replayRules([rule()], [series], T0, T0 + 10 * 60 * SECOND);
    expect(pages.map((p) => p.at - T0)).toEqual([(120 + 45) * SECOND]);
    expect(pages[0]).toMatchObject({ ruleId: 1, severity: "critical", service: "api", kind: "fired", value: 0 });
    expect(alertsByRule.get(1)).toBe(1);
  });

  it("never fires on a flapping probe that never stays down for_seconds", () => {
    const series = probes((k) => k % 2 === 0);
    expect(replayRules([rule()], [series], T0, T0 + 10 * 60 * SECOND).pages).toEqual([]);
  });

  it("pages again when a resolved alert comes back after its resolve notice went out", () => {
    // Down 2:00–3:00, up until 6:00, down again: re-opened within the 15-minute cooldown.
    const series = probes((k) => !((k >= 8 && k < 12) || k >= 24));
    const kinds = replayRules([rule()], [series], T0, T0 + 10 * 60 * SECOND).pages.map((p) => p.kind);
    expect(kinds).toEqual(["fired", "reopened"]);
  });

  it("evaluates a ratio rule over both of its metrics", () => {
    const ratio: RatioRule = {
      ...rule(),
      kind: "ratio",
      metricName: "failed",
      comparisonOperator: ">",
      thresholdValue: 5,
      forSeconds: 0,
      params: { denominatorMetric: "total", windowSeconds: 300, minDenominator: 10 },
    };
    const minute = (k: number) => T0 + k * 60 * SECOND;
    const total: HistorySeries = { metric: "total", service: "api", labels: {}, ts: [], values: [] };
    const failed: HistorySeries = { metric: "failed", service: "api", labels: {}, ts: [], values: [] };
    for (let k = 0; k < 10; k++) {
      total.ts.push(minute(k));
      total.values.push(100);
      failed.ts.push(minute(k));
      failed.values.push(k >= 5 ? 20 : 1);
    }
    const { pages } = replayRules([ratio], [total, failed], T0, minute(10));
    // Over the 5-minute window (6 minute samples): 25/600 = 4.2 % at minute 5, 44/600 = 7.3 % at minute 6.
    expect(pages.map((p) => p.at)).toEqual([minute(6)]);
  });
});

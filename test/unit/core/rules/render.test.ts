import { describe, expect, it } from "vitest";
import { alertMessage, renderAlertText } from "../../../../worker/core/rules/render";
import type { Rule, ThresholdRule } from "../../../../worker/core/rules/types";
import { makeRule } from "../../../fixtures/rules";

const engineFields = {
  resolveForSeconds: 0,
  resolveThresholdValue: null,
  dependsOn: [],
  cooldownMinutes: 15,
  maxAlertsPerHour: 4,
  escalationPolicyId: null,
};
const threshold = (over: Partial<ThresholdRule> = {}) =>
  makeRule<ThresholdRule>({
    kind: "threshold",
    params: { aggregation: "last", windowSeconds: 0 },
    ...engineFields,
    ...over,
  });

describe("renderAlertText", () => {
  it("names the rule, service, value, condition and observation time", () => {
    const rule = threshold({ forSeconds: 60 });
    const text = renderAlertText(
      rule,
      { value: 7.123456, observedAt: Date.UTC(2026, 10, 26, 10, 0, 0), reason: "latest value 7.123 > 5" },
      0,
    );
    expect(text.title).toBe("[CRITICAL] Payment Failure Rate > 5% on ecpay");
    expect(text.body.split("\n")).toEqual([
      "payment_failure_rate on ecpay: 7.123 (latest value 7.123 > 5)",
      "Condition: threshold > 5 for 60s",
      "Severity: critical",
      "Observed at: 2026-11-26T10:00:00.000Z",
    ]);
  });

  it("says 'no data' and uses the evaluation time when nothing was observed", () => {
    const rule = threshold({ service: null, severity: "warning" });
    const text = renderAlertText(rule, { value: null, observedAt: null, reason: "no samples yet" }, 0);
    expect(text.title).toBe("[WARNING] Payment Failure Rate > 5%");
    expect(text.body).toContain("payment_failure_rate: no data (no samples yet)");
    expect(text.body).toContain("Observed at: 1970-01-01T00:00:00.000Z");
  });

  it("names the series' service and labels when the rule spans several", () => {
    const rule = threshold({ service: null });
    const text = renderAlertText(
      rule,
      { value: 9, observedAt: 0, reason: "latest value 9 > 5", service: "linepay", labels: { region: "tw", pod: "a" } },
      0,
    );
    expect(text.title).toBe("[CRITICAL] Payment Failure Rate > 5% on linepay");
    expect(text.body.split("\n")[0]).toBe(
      'payment_failure_rate{pod="a", region="tw"} on linepay: 9 (latest value 9 > 5)',
    );
  });

  it.each<[string, Rule, string]>([
    [
      "an aggregate with hysteresis",
      threshold({ params: { aggregation: "p95", windowSeconds: 300 }, resolveThresholdValue: 4 }),
      "Condition: threshold p95 over 300s > 5; resolves once back across 4",
    ],
    [
      "a ratio",
      makeRule({
        kind: "ratio",
        ...engineFields,
        params: { denominatorMetric: "payments_total", windowSeconds: 300, minDenominator: 10 },
      }),
      "Condition: ratio to payments_total over 300s > 5 %",
    ],
    [
      "an absence",
      makeRule({ kind: "absence", ...engineFields, params: { absentForSeconds: 600 } }),
      "Condition: absence: no sample for 600s",
    ],
    [
      "a heartbeat",
      makeRule({ kind: "heartbeat", ...engineFields, params: { monitorId: 3 } }),
      "Condition: heartbeat: heartbeat_ok is 0 (late or failed)",
    ],
    [
      "an anomaly",
      makeRule({
        kind: "anomaly",
        ...engineFields,
        params: { method: "zscore", sensitivity: "medium", windowSeconds: 3600, minSamples: 30, direction: "up" },
      }),
      "Condition: anomaly (robust z-score, up) > 5",
    ],
  ])("describes %s", (_label, rule, condition) => {
    const text = renderAlertText(rule, { value: 1, observedAt: 0, reason: "x" }, 0);
    expect(text.body.split("\n")[1]).toBe(condition);
  });
});

describe("alertMessage", () => {
  const subject = { value: 185, labels: { runner: "runner-2" }, reason: "latest value 185 > 120" };

  it("is the evaluation alone without a description", () => {
    expect(alertMessage({ description: "" }, subject)).toBe("latest value 185 > 120");
    expect(alertMessage({}, subject)).toBe("latest value 185 > 120");
  });

  it("leads with the description, its value, duration and labels filled in", () => {
    expect(
      alertMessage(
        { description: "Loop {{labels.runner}}{{ labels.collector }} is {{duration}} late ({{value}} s)." },
        subject,
      ),
    ).toBe("Loop runner-2 is 3 minutes late (185 s). (latest value 185 > 120)");
  });

  it("says no data for a missing value and leaves unknown placeholders alone", () => {
    expect(alertMessage({ description: "{{value}} {{other}}" }, { ...subject, value: null })).toBe(
      "no data {{other}} (latest value 185 > 120)",
    );
  });
});

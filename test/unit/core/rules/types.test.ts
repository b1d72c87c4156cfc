import { describe, expect, it } from "vitest";
import { lookbackSeconds, matchesRule, type Rule, ruleMetrics } from "../../../../worker/core/rules/types";
import { makeRule } from "../../../fixtures/rules";

const rules = {
  last: makeRule({ kind: "threshold", params: { aggregation: "last", windowSeconds: 0 } }),
  avg: makeRule({ kind: "threshold", params: { aggregation: "avg", windowSeconds: 600 } }),
  ratio: makeRule({
    kind: "ratio",
    metricName: "payments_failed",
    params: { denominatorMetric: "payments_total", windowSeconds: 300, minDenominator: 10 },
  }),
  absence: makeRule({ kind: "absence", params: { absentForSeconds: 900 } }),
  heartbeat: makeRule({ kind: "heartbeat", metricName: "heartbeat_ok", params: { monitorId: 3 } }),
  anyHeartbeat: makeRule({ kind: "heartbeat", metricName: "heartbeat_ok", service: null, params: { monitorId: null } }),
  anomaly: makeRule({
    kind: "anomaly",
    params: { method: "zscore", sensitivity: "medium", windowSeconds: 3600, minSamples: 30, direction: "both" },
  }),
} satisfies Record<string, Rule>;

describe("rule inputs", () => {
  it.each<[keyof typeof rules, number, string[]]>([
    ["last", 0, ["payment_failure_rate"]],
    ["avg", 600, ["payment_failure_rate"]],
    ["ratio", 300, ["payments_failed", "payments_total"]],
    ["absence", 900, ["payment_failure_rate"]],
    ["heartbeat", 0, ["heartbeat_ok"]],
    ["anomaly", 3600, ["payment_failure_rate"]],
  ])("%s looks back %ds at %j", (name, seconds, metrics) => {
    expect(lookbackSeconds(rules[name])).toBe(seconds);
    expect(ruleMetrics(rules[name])).toEqual(metrics);
  });

  const labelled = makeRule({
    kind: "threshold",
    labels: { region: "tw" },
    params: { aggregation: "last", windowSeconds: 0 },
  });
  it.each<[string, Rule, { metric: string; service: string; labels: Record<string, string> }, boolean]>([
    [
      "its metric, service and labels",
      labelled,
      { metric: "payment_failure_rate", service: "ecpay", labels: { region: "tw", pod: "a" } },
      true,
    ],
    ["another metric", labelled, { metric: "other", service: "ecpay", labels: { region: "tw" } }, false],
    [
      "another service",
      labelled,
      { metric: "payment_failure_rate", service: "linepay", labels: { region: "tw" } },
      false,
    ],
    ["a missing label", labelled, { metric: "payment_failure_rate", service: "ecpay", labels: {} }, false],
    [
      "a different label value",
      labelled,
      { metric: "payment_failure_rate", service: "ecpay", labels: { region: "jp" } },
      false,
    ],
    ["the ratio's denominator", rules.ratio, { metric: "payments_total", service: "ecpay", labels: {} }, true],
    ["the ratio's numerator", rules.ratio, { metric: "payments_failed", service: "ecpay", labels: {} }, true],
    [
      "its heartbeat monitor",
      rules.heartbeat,
      { metric: "heartbeat_ok", service: "ecpay", labels: { monitor: "3" } },
      true,
    ],
    [
      "another heartbeat monitor",
      rules.heartbeat,
      { metric: "heartbeat_ok", service: "ecpay", labels: { monitor: "4" } },
      false,
    ],
    [
      "any heartbeat on any service",
      rules.anyHeartbeat,
      { metric: "heartbeat_ok", service: "cron", labels: { monitor: "9" } },
      true,
    ],
  ])("matches %s", (_label, rule, series, expected) => {
    expect(matchesRule(rule, series)).toBe(expected);
  });
});

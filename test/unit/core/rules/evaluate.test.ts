import { describe, expect, it } from "vitest";
import { compare, evaluateRule } from "../../../../worker/core/rules/evaluate";
import type { Operator } from "../../../../worker/core/rules/types";
import { makeRule, makeSamples } from "../../../fixtures/rules";

describe("compare", () => {
  it.each<[number, Operator, number, boolean]>([
    [6, ">", 5, true],
    [5, ">", 5, false],
    [5, ">=", 5, true],
    [4, "<", 5, true],
    [5, "<=", 5, true],
    [6, "<=", 5, false],
    [5, "==", 5, true],
    [5, "!=", 5, false],
    [4, "!=", 5, true],
  ])("%d %s %d is %s", (value, op, threshold, expected) => {
    expect(compare(value, op, threshold)).toBe(expected);
  });
});

describe("evaluateRule", () => {
  const now = 2_000_000;

  it("fires a threshold rule on the latest sample only", () => {
    const rule = makeRule({ kind: "threshold", thresholdValue: 5 });
    const firing = evaluateRule(rule, { samples: makeSamples([1, 2, 7.25]) }, now);
    expect(firing).toMatchObject({ state: "firing", value: 7.25, observedAt: 1_020_000 });
    expect(firing.reason).toBe("latest value 7.25 > 5");
    const ok = evaluateRule(rule, { samples: makeSamples([9, 9, 3]) }, now);
    expect(ok).toMatchObject({ state: "ok", value: 3 });
    expect(ok.reason).toBe("latest value 3 not > 5");
  });

  it("reports no data when a threshold rule has no samples", () => {
    expect(evaluateRule(makeRule({ kind: "threshold" }), { samples: [] }, now)).toEqual({
      state: "no_data",
      value: null,
      observedAt: null,
      reason: "no samples yet",
    });
  });

  it("computes a ratio over the window only, as a percentage", () => {
    const rule = makeRule({
      kind: "ratio",
      thresholdValue: 5,
      params: { denominatorMetric: "payments_total", windowSeconds: 60 },
    });
    // 60 s window ending at now: samples at now-50s and now-10s count, now-120s does not.
    const at = (ageS: number, value: number) => ({
      metric: "x",
      service: "ecpay",
      labels: {},
      value,
      ts: now - ageS * 1000,
    });
    const result = evaluateRule(
      rule,
      { samples: [at(120, 100), at(50, 3), at(10, 4)], denominator: [at(120, 100), at(50, 50), at(10, 50)] },
      now,
    );
    expect(result).toMatchObject({ state: "firing", value: 7, observedAt: now - 10_000 });
  });

  it("treats a ratio without denominator samples as no data rather than dividing by zero", () => {
    const rule = makeRule({ kind: "ratio", params: { denominatorMetric: "payments_total", windowSeconds: 60 } });
    const result = evaluateRule(rule, { samples: makeSamples([3], { start: now - 1000 }), denominator: [] }, now);
    expect(result.state).toBe("no_data");
    expect(result.reason).toContain("payments_total");
  });

  it("fires an absence rule once the newest sample is older than the window", () => {
    const rule = makeRule({ kind: "absence", params: { windowSeconds: 120 } });
    const fresh = evaluateRule(rule, { samples: makeSamples([1], { start: now - 60_000 }) }, now);
    expect(fresh).toMatchObject({ state: "ok", value: 60 });
    const stale = evaluateRule(rule, { samples: makeSamples([1], { start: now - 121_000 }) }, now);
    expect(stale).toMatchObject({ state: "firing", value: 121 });
    const never = evaluateRule(rule, { samples: [] }, now);
    expect(never).toMatchObject({ state: "firing", reason: "no sample at all (limit 120s)" });
  });

  it("scores an anomaly with a robust z-score and respects the direction", () => {
    const history = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101];
    const base = { kind: "anomaly" as const, thresholdValue: 4, comparisonOperator: ">" as const };
    const samples = (last: number) => makeSamples([...history, last], { start: now - 200_000 });
    const up = makeRule({ ...base, params: { windowSeconds: 3600, minSamples: 5, direction: "up" } });
    const spike = evaluateRule(up, { samples: samples(130) }, now);
    expect(spike.state).toBe("firing");
    expect(spike.value).toBeGreaterThan(10);
    expect(evaluateRule(up, { samples: samples(101) }, now).state).toBe("ok");
    // A drop is not an "up" anomaly, but is one for "both".
    expect(evaluateRule(up, { samples: samples(70) }, now).state).toBe("ok");
    const both = makeRule({ ...base, params: { windowSeconds: 3600, minSamples: 5, direction: "both" } });
    expect(evaluateRule(both, { samples: samples(70) }, now).state).toBe("firing");
  });

  it("needs minSamples of history before judging an anomaly", () => {
    const rule = makeRule({ kind: "anomaly", params: { windowSeconds: 3600, minSamples: 30, direction: "both" } });
    const result = evaluateRule(rule, { samples: makeSamples([1, 2, 3, 100], { start: now - 50_000 }) }, now);
    expect(result).toMatchObject({ state: "no_data", reason: "fewer than 30 samples in the window" });
  });
});

/**
 * Anomaly rules: method "detector" (the series store's judgement of the newest sample,
 * compared with the sensitivity's threshold) and method "zscore" (a robust z-score over a
 * window, fixed for flat windows, with defaults that can fire). Thresholds are read from
 * SENSITIVITY_THRESHOLDS, never written here: they move as the detector is tuned.
 */
import { describe, expect, it } from "vitest";
import { SENSITIVITY_THRESHOLDS } from "../../../../worker/core/anomaly";
import { backtestRule, detectorJudgements, historySeconds } from "../../../../worker/core/rules/backtest";
import {
  evaluateFingerprints,
  type FingerprintEvaluation,
  robustScale,
  type SeriesAnomaly,
  type SeriesWindow,
} from "../../../../worker/core/rules/evaluate";
import { type AnomalyRule, lookbackSeconds, ZSCORE_DEFAULTS } from "../../../../worker/core/rules/types";
import { renderAlertText } from "../../../../worker/core/rules/render";
import { paramsToWire, rowToRule, type RuleRow } from "../../../../worker/db/rules";
import type { Sample } from "../../../../worker/core/series";
import { makeRule } from "../../../fixtures/rules";

const now = 2_000_000_000_000;
const MIN = 60_000;

function anomalyRule(params: Partial<AnomalyRule["params"]> = {}, over: Partial<AnomalyRule> = {}): AnomalyRule {
  return makeRule<AnomalyRule>({
    kind: "anomaly",
    metricName: "m",
    service: "svc",
    comparisonOperator: ">",
    thresholdValue: ZSCORE_DEFAULTS.threshold,
    resolveForSeconds: 0,
    resolveThresholdValue: null,
    dependsOn: [],
    cooldownMinutes: 15,
    maxAlertsPerHour: 4,
    escalationPolicyId: null,
    params: {
      method: "detector",
      sensitivity: "medium",
      direction: "both",
      windowSeconds: ZSCORE_DEFAULTS.windowSeconds,
      minSamples: ZSCORE_DEFAULTS.minSamples,
      ...params,
    },
    ...over,
  });
}

const sample = (ts: number, value: number): Sample => ({ metric: "m", service: "svc", labels: {}, ts, value });

/** `values` one every `stepMs`, the last at `end`. */
const seriesOf = (values: number[], stepMs = 5 * MIN, end = now): Sample[] =>
  values.map((v, i) => sample(end - (values.length - 1 - i) * stepMs, v));

function only(rule: AnomalyRule, window: SeriesWindow, at = now): FingerprintEvaluation {
  const out = evaluateFingerprints(rule, { series: [window] }, at);
  expect(out).toHaveLength(1);
  return out[0] as FingerprintEvaluation;
}

/** A deterministic normal(0, 1) source (mulberry32 and Box-Muller). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

describe("anomaly rules, method detector", () => {
  const levels = (["low", "medium", "high"] as const).map((s) => SENSITIVITY_THRESHOLDS[s]);
  const samples = seriesOf([118, 121, 119, 412]);
  const judged = (a: Partial<SeriesAnomaly>): SeriesWindow => ({
    service: "svc",
    labels: {},
    samples,
    anomaly: { ts: now, score: 0.99, direction: "up", expected: 120, ...a },
  });

  it("reads its lookback as the newest sample only (the detector holds the past)", () => {
    expect(lookbackSeconds(anomalyRule())).toBe(0);
    expect(lookbackSeconds(anomalyRule({ method: "zscore" }))).toBe(ZSCORE_DEFAULTS.windowSeconds);
    expect(historySeconds(anomalyRule())).toBeGreaterThanOrEqual(86_400);
  });

  it("fires at or above the sensitivity's threshold, with the observed value and a reason naming both", () => {
    const threshold = SENSITIVITY_THRESHOLDS.medium;
    const at = only(anomalyRule(), judged({ score: threshold }));
    expect(at).toMatchObject({ state: "firing", breached: true, cleared: false, value: 412, observedAt: now });
    expect(at.reason).toBe(
      `score ${threshold.toFixed(2)} ≥ ${threshold.toFixed(2)} (medium): 412 is above the expected 120`,
    );
    const below = only(anomalyRule(), judged({ score: threshold - 0.01 }));
    expect(below).toMatchObject({ state: "ok", breached: false, cleared: true, value: 412 });
    expect(below.reason).toMatch(/^score [\d.]+ < [\d.]+ \(medium\)/);
  });

  it("counts only anomalies in its direction", () => {
    const up = judged({ direction: "up" });
    const down = judged({ direction: "down", expected: 700 });
    expect(only(anomalyRule({ direction: "up" }), up).state).toBe("firing");
    expect(only(anomalyRule({ direction: "down" }), up)).toMatchObject({ state: "ok", cleared: true });
    expect(only(anomalyRule({ direction: "down" }), up).reason).toMatch(/the rule watches down/);
    expect(only(anomalyRule({ direction: "down" }), down).state).toBe("firing");
    expect(only(anomalyRule({ direction: "down" }), down).reason).toMatch(/412 is below the expected 700/);
    expect(only(anomalyRule({ direction: "both" }), up).state).toBe("firing");
    expect(only(anomalyRule({ direction: "both" }), down).state).toBe("firing");
    // A sample as expected has no direction: never an anomaly, whatever its score.
    expect(only(anomalyRule({ direction: "both" }), judged({ direction: null })).state).toBe("ok");
  });

  it("orders its sensitivities: high fires on less than medium, medium on less than low", () => {
    const [low, medium, high] = levels as [number, number, number];
    expect(low).toBeGreaterThan(medium);
    expect(medium).toBeGreaterThan(high);
    const between = (medium + high) / 2;
    const state = (sensitivity: "low" | "medium" | "high") =>
      only(anomalyRule({ sensitivity }), judged({ score: between })).state;
    expect([state("low"), state("medium"), state("high")]).toEqual(["ok", "ok", "firing"]);
    const strong = (low + 1) / 2;
    expect(only(anomalyRule({ sensitivity: "low" }), judged({ score: strong })).state).toBe("firing");
  });

  it("is no data without a judgement of the newest sample, or when that sample is stale", () => {
    expect(only(anomalyRule(), { service: "svc", labels: {}, samples })).toMatchObject({
      state: "no_data",
      cleared: false,
    });
    // Judged an earlier sample: the newest is not scored yet.
    expect(only(anomalyRule(), judged({ ts: now - 5 * MIN })).state).toBe("no_data");
    // The newest sample (and its judgement) is older than the freshness bound (twice 5 min).
    expect(only(anomalyRule(), judged({}), now + 11 * MIN)).toMatchObject({
      state: "no_data",
      reason: expect.stringMatching(/older than the freshness bound/),
    });
    expect(only(anomalyRule(), judged({}), now + 9 * MIN).state).toBe("firing");
  });

  it("states its condition in notifications as the sensitivity, its threshold and the direction", () => {
    const rule = anomalyRule({ sensitivity: "high", direction: "up" }, { forSeconds: 120 });
    const text = renderAlertText(rule, only(rule, judged({})), now);
    expect(text.body).toContain(
      `Condition: anomaly (high sensitivity, up): detector score ≥ ${SENSITIVITY_THRESHOLDS.high} for 120s`,
    );
    expect(text.body).toContain("svc: 412 (score 0.99 ≥");
  });

  it("says when the detector is still learning", () => {
    expect(only(anomalyRule(), judged({ score: 0, learning: true })).reason).toMatch(/still learning/);
    expect(only(anomalyRule(), judged({ score: 0 })).reason).not.toMatch(/learning/);
  });

  it("backtests by running a detector over the history: it fires at a spike", () => {
    const noise = gaussian(7);
    const from = now - 2 * 86_400_000;
    const spikeAt = now - 6 * 3_600_000;
    // A day of warm-up before `from`, then two days; one sample a minute around 100 ± 2.
    const history: Sample[] = [];
    for (let t = from - 86_400_000; t < now; t += MIN) {
      const spike = t >= spikeAt && t < spikeAt + 3 * MIN;
      history.push(sample(t, spike ? 400 : 100 + 2 * noise()));
    }
    const rule = anomalyRule({ direction: "up" }, { forSeconds: 0 });
    const result = backtestRule({ rule, series: [{ service: "svc", labels: {}, samples: history }], from, to: now });
    const fired = result.series.flatMap((s) => s.episodes.map((e) => e.firedAt));
    // It fires during the spike (a detector may need a sample or two to be sure)…
    expect(fired.some((t) => t >= spikeAt && t < spikeAt + 3 * MIN)).toBe(true);
    // …by the judgement of a spike sample, in the rule's direction.
    const judgements = detectorJudgements(history);
    const start = history.findIndex((s) => s.ts === spikeAt);
    const strongest = judgements.slice(start, start + 3).reduce((a, b) => (b.score > a.score ? b : a));
    expect(strongest.score).toBeGreaterThanOrEqual(SENSITIVITY_THRESHOLDS.medium);
    expect(strongest.direction).toBe("up");
  });
});

describe("anomaly rules, method zscore", () => {
  const zscore = (params: Partial<AnomalyRule["params"]> = {}) => anomalyRule({ method: "zscore", ...params });
  const window = (samples: Sample[]): SeriesWindow => ({ service: "svc", labels: {}, samples });

  it("gives a flat window a finite scale, and an unchanged value z 0", () => {
    expect(robustScale([5, 5, 5, 5], 5)).toBeCloseTo(0.05);
    expect(robustScale([0, 0, 0], 0)).toBe(1e-9);
    // Over half the window one value (MAD 0): the mean absolute deviation.
    expect(robustScale([5, 5, 5, 5, 9], 5)).toBeGreaterThan(0);
    const flat = Array.from({ length: 30 }, () => 100);
    const moved = only(zscore(), window(seriesOf([...flat, 110])));
    expect(Number.isFinite(moved.value)).toBe(true);
    expect(moved.value).toBe(10);
    expect(moved.state).toBe("firing");
    expect(only(zscore(), window(seriesOf([...flat, 100])))).toMatchObject({ state: "ok", value: 0 });
    // Flat at 0: large, finite.
    const zero = only(zscore(), window(seriesOf([...flat.map(() => 0), 1])));
    expect(zero.value).toBeGreaterThan(1e6);
    expect(Number.isFinite(zero.value)).toBe(true);
  });

  it("holds enough samples of a 5-minute series in its default window", () => {
    const noise = gaussian(1);
    const values = Array.from({ length: 100 }, () => 50 + noise());
    const e = only(zscore(), window(seriesOf(values)));
    expect(e.state).not.toBe("no_data");
    // 6 hours of 5-minute samples: 72 before the newest, against 12 needed.
    expect(ZSCORE_DEFAULTS.windowSeconds / 300).toBeGreaterThanOrEqual(ZSCORE_DEFAULTS.minSamples * 2);
  });

  it("fires on a spike, and on noise breaches on at most 1 % of samples", () => {
    const noise = gaussian(42);
    const values = Array.from({ length: 2000 }, () => 100 + 5 * noise());
    const samples = seriesOf(values);
    const rule = zscore();
    let judged = 0;
    let breaches = 0;
    const lookback = ZSCORE_DEFAULTS.windowSeconds * 1000;
    for (let i = 0; i < samples.length; i++) {
      const at = (samples[i] as Sample).ts;
      const w = samples.slice(0, i + 1).filter((s) => s.ts >= at - lookback);
      const e = only(rule, window(w), at);
      if (e.state === "no_data") continue;
      judged += 1;
      if (e.breached) breaches += 1;
    }
    expect(judged).toBeGreaterThan(1900);
    expect(breaches / judged).toBeLessThanOrEqual(0.01);
    const spike = only(rule, window(seriesOf([...values.slice(-80), 160])));
    expect(spike.state).toBe("firing");
    expect(only(zscore({ direction: "down" }), window(seriesOf([...values.slice(-80), 160]))).state).toBe("ok");
  });
});

describe("stored anomaly rules", () => {
  const row = (params: Record<string, unknown>) =>
    ({
      id: 1,
      ruleName: "r",
      description: "",
      metricName: "m",
      service: null,
      labels: {},
      kind: "anomaly",
      comparisonOperator: ">",
      thresholdValue: 4,
      forSeconds: 0,
      resolveForSeconds: 0,
      resolveThresholdValue: null,
      dependsOn: [],
      params,
      severity: "warning",
      notificationChannels: ["email"],
      cooldownMinutes: 15,
      maxAlertsPerHour: 4,
      escalationPolicyId: null,
    }) as unknown as RuleRow;

  it("reads a rule stored before methods existed as a z-score rule, keeping its window", () => {
    const rule = rowToRule(row({ window_seconds: 3600, min_samples: 30, direction: "up" }));
    expect(rule.kind === "anomaly" && rule.params).toEqual({
      method: "zscore",
      sensitivity: "medium",
      direction: "up",
      windowSeconds: 3600,
      minSamples: 30,
    });
    expect(paramsToWire(rule)).toEqual({
      method: "zscore",
      sensitivity: "medium",
      direction: "up",
      window_seconds: 3600,
      min_samples: 30,
    });
  });

  it("reads a detector rule's sensitivity and direction", () => {
    const rule = rowToRule(row({ method: "detector", sensitivity: "low", direction: "down" }));
    expect(rule.kind === "anomaly" && rule.params).toMatchObject({
      method: "detector",
      sensitivity: "low",
      direction: "down",
    });
  });
});

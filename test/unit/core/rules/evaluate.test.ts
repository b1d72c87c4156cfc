import { describe, expect, it } from "vitest";
import { compare } from "../../../../worker/core/rules/compare";
import {
  evaluateFingerprints,
  type FingerprintEvaluation,
  freshnessBoundMs,
  type SeriesWindow,
  worseFor,
  worstEvaluation,
} from "../../../../worker/core/rules/evaluate";
import type { Aggregation, Operator, Rule } from "../../../../worker/core/rules/types";
import { type Labels, type Sample, seriesKey } from "../../../../worker/core/series";
import { makeRule } from "../../../fixtures/rules";

const now = 2_000_000_000;

/** A complete rule of `kind` (the shared fixture predates the engine fields). */
function rule<K extends Rule["kind"]>(kind: K, over: Partial<Extract<Rule, { kind: K }>> = {}) {
  const params = {
    threshold: { aggregation: "last", windowSeconds: 0 },
    ratio: { denominatorMetric: "payments_total", windowSeconds: 300, minDenominator: 10 },
    absence: { absentForSeconds: 120 },
    heartbeat: { monitorId: null },
    anomaly: { method: "zscore", sensitivity: "medium", windowSeconds: 3600, minSamples: 5, direction: "both" },
  }[kind];
  return makeRule<Extract<Rule, { kind: K }>>({
    kind,
    params,
    resolveForSeconds: 0,
    resolveThresholdValue: null,
    dependsOn: [],
    cooldownMinutes: 15,
    maxAlertsPerHour: 4,
    escalationPolicyId: null,
    ...over,
    // The builder's override type cannot follow a generic kind.
  } as never);
}

/** A sample `ageS` seconds before `now`. */
const at = (ageS: number, value: number, message?: string): Sample => ({
  metric: "m",
  service: "ecpay",
  labels: {},
  value,
  ts: now - ageS * 1000,
  ...(message === undefined ? {} : { message }),
});

const series = (samples: Sample[], labels: Labels = {}, service = "ecpay"): SeriesWindow => ({
  service,
  labels,
  samples,
});

/** The one evaluation a single-series input must give. */
function only(r: Rule, windows: SeriesWindow[], extra: { denominator?: SeriesWindow[] } = {}): FingerprintEvaluation {
  const out = evaluateFingerprints(r, { series: windows, ...extra }, now);
  expect(out).toHaveLength(1);
  return out[0] as FingerprintEvaluation;
}

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

describe("threshold rules", () => {
  // 1…20 every 10 s inside a 300 s window, and an old 1000 outside it.
  const window = series([at(900, 1000), ...Array.from({ length: 20 }, (_, i) => at(200 - i * 10, i + 1))]);

  it.each<[Aggregation, number, number, "firing" | "ok"]>([
    ["last", 0, 20, "firing"],
    ["last", 300, 20, "firing"],
    ["avg", 300, 10.5, "ok"],
    ["min", 300, 1, "ok"],
    ["max", 300, 20, "firing"],
    ["sum", 300, 210, "firing"],
    ["count", 300, 20, "firing"],
    ["p95", 300, 19, "firing"],
    ["p99", 300, 20, "firing"],
    // A window covering the old sample too.
    ["max", 1000, 1000, "firing"],
    ["avg", 1000, 1210 / 21, "firing"],
  ])("%s over %ds is %d", (aggregation, windowSeconds, value, state) => {
    const e = only(rule("threshold", { thresholdValue: 15, params: { aggregation, windowSeconds } }), [window]);
    expect(e).toMatchObject({ state, breached: state === "firing", value, observedAt: now - 10_000 });
    const what = aggregation === "last" ? "latest value" : `${aggregation} over ${windowSeconds}s`;
    expect(e.reason).toMatch(new RegExp(`^${what} `));
  });

  it("reads the newest sample for last without a window, with the reason text naming it", () => {
    const e = only(rule("threshold", { thresholdValue: 5 }), [series([at(120, 1), at(60, 7.25)])]);
    expect(e).toMatchObject({ state: "firing", value: 7.25, observedAt: now - 60_000 });
    expect(e.reason).toBe("latest value 7.25 > 5");
    expect(only(rule("threshold"), [series([at(10, 3)])]).reason).toBe("latest value 3 not > 5");
  });

  it("judges the newest sample only within the freshness bound: 5 minutes, or twice the usual interval", () => {
    const r = rule("threshold", { thresholdValue: 5 });
    // Re-enabled on a breaching sample pushed every minute until 15 minutes ago: no data, not a breach.
    const stale = only(r, [series([at(960, 9), at(900, 9)])]);
    expect(stale).toMatchObject({ state: "no_data", breached: false, cleared: false, value: null, observedAt: null });
    expect(stale.reason).toBe("latest sample 900s old, older than the freshness bound of 300s");
    // A lone sample has no interval: the 5-minute floor, inclusive.
    expect(only(r, [series([at(300, 9)])]).state).toBe("firing");
    expect(only(r, [series([at(301, 9)])]).state).toBe("no_data");
    // Every 10 minutes (median gap of the newest 5 samples): judged up to 20 minutes old.
    const slow = [at(4800, 1), at(3000, 1), at(2400, 1), at(1800, 1), at(1200, 9)];
    expect(only(r, [series(slow)]).state).toBe("firing");
    expect(freshnessBoundMs(slow)).toBe(1_200_000);
    expect(only(r, [series([at(3000, 1), at(2400, 1), at(1800, 9)])])).toMatchObject({ state: "no_data" });
    // One long gap among steady ones does not stretch the bound (median, not mean).
    expect(freshnessBoundMs([at(80_000, 1), at(1020, 1), at(960, 1), at(900, 1)])).toBe(300_000);
  });

  it("keeps windowed aggregations to their window, last included", () => {
    const old = series([at(900, 99), at(800, 99)]);
    for (const aggregation of ["last", "avg", "max", "p99"] as const) {
      const e = only(rule("threshold", { thresholdValue: 5, params: { aggregation, windowSeconds: 300 } }), [old]);
      expect(e).toMatchObject({ state: "no_data", reason: "no sample in the last 300s" });
    }
  });

  it.each<[Aggregation, number, string]>([
    ["last", 0, "no samples yet"],
    ["last", 60, "no sample in the last 60s"],
    ["avg", 60, "no sample in the last 60s"],
    ["p99", 60, "no sample in the last 60s"],
  ])("has no data for %s over %ds without samples", (aggregation, windowSeconds, reason) => {
    const samples = windowSeconds === 0 ? [] : [at(61, 99)];
    const e = only(rule("threshold", { params: { aggregation, windowSeconds } }), [series(samples)]);
    expect(e).toEqual(expect.objectContaining({ state: "no_data", value: null, observedAt: null, reason }));
    expect(e.breached || e.cleared).toBe(false);
  });

  it("counts an empty window as 0 samples, which a < rule can fire on", () => {
    const r = rule("threshold", {
      comparisonOperator: "<",
      thresholdValue: 1,
      params: { aggregation: "count", windowSeconds: 60 },
    });
    expect(only(r, [series([at(61, 5)])])).toMatchObject({ state: "firing", value: 0, observedAt: now });
  });

  const rate = (values: number[], windowSeconds: number) =>
    only(rule("threshold", { thresholdValue: 0.3, params: { aggregation: "rate", windowSeconds } }), [
      // Counter values every 60 s, the newest 10 s ago.
      series(values.map((v, i) => at(10 + (values.length - 1 - i) * 60, v))),
    ]);

  it.each<[string, number[], number, number, "firing" | "ok"]>([
    // [label, counter values, window, expected per-second rate, state against > 0.3]
    ["a steady counter", [100, 130, 160, 190, 220], 300, 120 / 300, "firing"],
    ["a counter reset to 0", [100, 130, 5, 35, 65], 300, (30 + 5 + 30 + 30) / 300, "firing"],
    ["a reset right after the start", [100, 4, 10], 300, (4 + 6) / 300, "ok"],
    ["only the samples inside the window", [0, 1000, 1030, 1060], 150, 60 / 150, "firing"],
    ["a flat counter", [7, 7, 7], 300, 0, "ok"],
  ])("rates %s", (_label, values, windowSeconds, expected, state) => {
    const e = rate(values, windowSeconds);
    expect(e.value).toBeCloseTo(expected, 10);
    expect(e.state).toBe(state);
  });

  it("needs two samples for a rate", () => {
    expect(rate([42], 300)).toMatchObject({
      state: "no_data",
      value: null,
      reason: "a rate needs 2 samples in the last 300s, got 1",
    });
  });
});

describe("ratio rules", () => {
  const ratio = (over: Partial<Extract<Rule, { kind: "ratio" }>["params"]> = {}) =>
    rule("ratio", {
      metricName: "payments_failed",
      thresholdValue: 5,
      params: { denominatorMetric: "payments_total", windowSeconds: 300, minDenominator: 10, ...over },
    });

  it("is 100 × Σ numerator / Σ denominator over the window", () => {
    const e = only(ratio(), [series([at(900, 50), at(200, 1), at(20, 2)])], {
      denominator: [series([at(900, 100), at(200, 20), at(30, 20)])],
    });
    expect(e).toMatchObject({
      fingerprint: seriesKey("payments_failed", "ecpay", {}),
      state: "firing",
      value: 7.5,
      observedAt: now - 20_000,
      reason: "ratio over 300s 7.5 > 5",
    });
  });

  const short = (reason: string): Partial<FingerprintEvaluation> => ({
    state: "no_data",
    value: null,
    cleared: false,
    reason,
  });
  it.each<[string, number[], number, Partial<FingerprintEvaluation>]>([
    ["below min_denominator", [1, 1], 10, short("only 2 payments_total in the last 300s; need 10")],
    ["exactly min_denominator", [4, 6], 10, { state: "firing", value: 10 }],
    ["an empty denominator", [], 10, short("no payments_total in the last 300s")],
    ["an empty denominator with min_denominator 0", [], 0, short("no payments_total in the last 300s")],
    ["a denominator summing to 0", [0, 0], 0, short("no payments_total in the last 300s")],
    ["a small denominator with min_denominator 0", [2], 0, { state: "firing", value: 50 }],
  ])("judges %s", (_label, totals, minDenominator, expected) => {
    const e = only(ratio({ minDenominator }), [series([at(10, 1)])], {
      denominator: [series(totals.map((v, i) => at(10 + i, v)))],
    });
    expect(e).toMatchObject(expected);
  });

  it("pairs series by service and labels; a denominator alone is 0 failures", () => {
    const out = evaluateFingerprints(
      ratio(),
      {
        series: [series([at(10, 3)], { region: "tw" }), series([at(10, 1)], { region: "us" })],
        denominator: [
          series([at(10, 20)], { region: "tw" }),
          series([at(10, 100)], { region: "jp" }),
          series([at(10, 50)], { region: "us" }),
        ],
      },
      now,
    );
    const byRegion = Object.fromEntries(out.map((e) => [e.labels.region, e]));
    expect(Object.keys(byRegion).sort()).toEqual(["jp", "tw", "us"]);
    expect(byRegion.tw).toMatchObject({ state: "firing", value: 15 });
    expect(byRegion.us).toMatchObject({ state: "ok", value: 2 });
    expect(byRegion.jp).toMatchObject({
      state: "ok",
      value: 0,
      fingerprint: seriesKey("payments_failed", "ecpay", { region: "jp" }),
    });
  });
});

describe("hysteresis", () => {
  it.each<[Operator, number, number | null, number, "firing" | "ok", boolean]>([
    // [operator, threshold, resolve threshold, value, state, cleared]
    [">", 90, 80, 95, "firing", false],
    [">", 90, 80, 90, "ok", false],
    [">", 90, 80, 85, "ok", false],
    [">", 90, 80, 80, "ok", true],
    [">", 90, 80, 70, "ok", true],
    [">=", 90, 80, 80, "ok", false],
    [">=", 90, 80, 79, "ok", true],
    ["<", 10, 20, 5, "firing", false],
    ["<", 10, 20, 15, "ok", false],
    ["<", 10, 20, 20, "ok", true],
    ["<=", 10, 20, 20, "ok", false],
    ["<=", 10, 20, 21, "ok", true],
    [">", 90, null, 95, "firing", false],
    [">", 90, null, 90, "ok", true],
    ["==", 1, null, 1, "firing", false],
    ["==", 1, null, 0, "ok", true],
  ])("%s %d resolving at %s: %d is %s, cleared %s", (op, threshold, resolve, value, state, cleared) => {
    const r = rule("threshold", { comparisonOperator: op, thresholdValue: threshold, resolveThresholdValue: resolve });
    const e = only(r, [series([at(1, value)])]);
    expect(e).toMatchObject({ state, breached: state === "firing", cleared });
  });

  it("says where an alert in the band between the two values clears", () => {
    const r = rule("threshold", { thresholdValue: 90, resolveThresholdValue: 80 });
    expect(only(r, [series([at(1, 85)])]).reason).toBe("latest value 85 not > 90 (clears at <= 80)");
    expect(only(r, [series([at(1, 75)])]).reason).toBe("latest value 75 not > 90");
  });
});

describe("absence rules", () => {
  const absence = rule("absence", { metricName: "orders_total", params: { absentForSeconds: 120 } });

  it("judges every series passed or known, including those that stopped reporting", () => {
    const out = evaluateFingerprints(
      absence,
      {
        series: [series([at(300, 1), at(60, 1)], { shop: "a" }), series([], { shop: "d" })],
        known: [
          { service: "ecpay", labels: { shop: "a" }, lastSeenAt: now - 90_000_000 },
          { service: "ecpay", labels: { shop: "b" }, lastSeenAt: now - 600_000 },
          { service: "ecpay", labels: { shop: "c" } },
          { service: "ecpay", labels: { shop: "d" }, lastSeenAt: now - 30_000 },
        ],
      },
      now,
    );
    const byShop = Object.fromEntries(out.map((e) => [e.labels.shop, e]));
    expect(out).toHaveLength(4);
    expect(byShop.a).toMatchObject({
      fingerprint: seriesKey("orders_total", "ecpay", { shop: "a" }),
      state: "ok",
      cleared: true,
      value: 60,
      reason: "last sample 60s ago (limit 120s)",
    });
    expect(byShop.b).toMatchObject({ state: "firing", breached: true, cleared: false, value: 600 });
    expect(byShop.c).toMatchObject({ state: "firing", value: null, reason: "no sample in the last 120s" });
    // An empty window does not hide what the engine knew of the series.
    expect(byShop.d).toMatchObject({ state: "ok", value: 30, observedAt: now - 30_000 });
  });

  it("fires exactly at the limit", () => {
    expect(only(absence, [series([at(120, 1)])])).toMatchObject({ state: "firing", value: 120 });
    expect(only(absence, [series([at(119, 1)])])).toMatchObject({ state: "ok", value: 119 });
  });

  it("watches the rule's own series when nothing at all is known, but needs a service for that", () => {
    const r = rule("absence", { metricName: "orders_total", labels: { shop: "a" } });
    expect(evaluateFingerprints(r, { series: [], known: [] }, now)).toEqual([
      {
        fingerprint: seriesKey("orders_total", "ecpay", { shop: "a" }),
        service: "ecpay",
        labels: { shop: "a" },
        state: "firing",
        breached: true,
        cleared: false,
        value: null,
        observedAt: null,
        reason: "no sample at all (limit 120s)",
      },
    ]);
    expect(evaluateFingerprints({ ...r, service: null }, { series: [] }, now)).toEqual([]);
  });

  it("ignores known series the rule does not select", () => {
    const r = rule("absence", { labels: { shop: "a" } });
    const out = evaluateFingerprints(
      r,
      { series: [], known: [{ service: "other", labels: { shop: "a" }, lastSeenAt: now }] },
      now,
    );
    expect(out.map((e) => e.reason)).toEqual(["no sample at all (limit 120s)"]);
  });
});

describe("heartbeat rules", () => {
  const hb = (monitorId: number | null) => rule("heartbeat", { metricName: "heartbeat_ok", params: { monitorId } });
  const windows = [
    series([at(120, 1), at(60, 0, "late: no ping since 2033-05-18T03:31:00.000Z")], { monitor: "3" }),
    series([at(60, 0, "failed: exit code 2"), at(1, 0, "failed: exit code 2")], { monitor: "4" }),
    series([at(60, 0, "late: …"), at(5, 1)], { monitor: "5" }),
    series([at(5, 0)], { monitor: "6" }),
    series([], { monitor: "7" }),
  ];

  it("fires on a latest heartbeat_ok of 0, with that sample's message as the reason", () => {
    const out = evaluateFingerprints(hb(null), { series: windows }, now);
    expect(out.map((e) => [e.labels.monitor, e.state, e.value, e.reason, e.cleared])).toEqual([
      ["3", "firing", 0, "late: no ping since 2033-05-18T03:31:00.000Z", false],
      ["4", "firing", 0, "failed: exit code 2", false],
      ["5", "ok", 1, "on time", true],
      ["6", "firing", 0, "heartbeat_ok is 0", false],
      ["7", "no_data", null, "no heartbeat_ok sample yet", false],
    ]);
    expect(out[1]).toMatchObject({
      fingerprint: seriesKey("heartbeat_ok", "ecpay", { monitor: "4" }),
      observedAt: now - 1000,
    });
  });

  it("has no data once the newest heartbeat_ok is older than the freshness bound", () => {
    const e = only(hb(null), [series([at(960, 0, "late: …"), at(900, 0, "late: …")], { monitor: "8" })]);
    expect(e).toMatchObject({ state: "no_data", breached: false, value: null });
    expect(e.reason).toBe("latest sample 900s old, older than the freshness bound of 300s");
  });

  it("watches only its monitor when it names one", () => {
    const out = evaluateFingerprints(hb(4), { series: windows }, now);
    expect(out.map((e) => e.labels.monitor)).toEqual(["4"]);
  });
});

describe("anomaly rules", () => {
  const history = [100, 102, 98, 101, 99, 100, 103, 97, 100, 101];
  const windowOf = (last: number) => series([...history, last].map((v, i) => at(200 - i * 10, v)));
  const anomaly = (direction: "up" | "down" | "both", minSamples = 5) =>
    rule("anomaly", {
      thresholdValue: 4,
      params: { method: "zscore", sensitivity: "medium", windowSeconds: 3600, minSamples, direction },
    });

  it("scores the latest value with a robust z-score and respects the direction", () => {
    const spike = only(anomaly("up"), [windowOf(130)]);
    expect(spike.state).toBe("firing");
    expect(spike.value).toBeGreaterThan(10);
    expect(only(anomaly("up"), [windowOf(101)]).state).toBe("ok");
    // A drop is not an "up" anomaly, but is one for "both" and "down".
    expect(only(anomaly("up"), [windowOf(70)]).state).toBe("ok");
    expect(only(anomaly("both"), [windowOf(70)]).state).toBe("firing");
    expect(only(anomaly("down"), [windowOf(70)]).state).toBe("firing");
  });

  it("scores only a newest sample inside the window", () => {
    const r = rule("anomaly", {
      thresholdValue: 4,
      params: { method: "zscore", sensitivity: "medium", windowSeconds: 60, minSamples: 0, direction: "both" },
    });
    expect(only(r, [series([at(200, 100), at(120, 500)])])).toMatchObject({
      state: "no_data",
      reason: "no sample in the last 60s",
    });
  });

  it("needs minSamples of history before judging", () => {
    expect(only(anomaly("both", 30), [windowOf(130)])).toMatchObject({
      state: "no_data",
      reason: "fewer than 30 samples in the window",
    });
  });
});

describe("several series", () => {
  it("gives one evaluation per series the rule selects, named by its fingerprint", () => {
    const r = rule("threshold", { service: null, labels: { region: "tw" }, thresholdValue: 5 });
    const out = evaluateFingerprints(
      r,
      {
        series: [
          series([at(5, 9)], { region: "tw", pod: "a" }, "ecpay"),
          series([at(5, 1)], { region: "tw" }, "linepay"),
          series([at(5, 99)], { region: "jp" }, "ecpay"),
          series([at(5, 99)], {}, "ecpay"),
        ],
      },
      now,
    );
    expect(out.map((e) => [e.fingerprint, e.state, e.value])).toEqual([
      [seriesKey("payment_failure_rate", "ecpay", { region: "tw", pod: "a" }), "firing", 9],
      [seriesKey("payment_failure_rate", "linepay", { region: "tw" }), "ok", 1],
    ]);
  });

  it("keeps to the rule's service when it names one", () => {
    const out = evaluateFingerprints(
      rule("threshold"),
      { series: [series([at(5, 9)], {}, "ecpay"), series([at(5, 9)], {}, "linepay")] },
      now,
    );
    expect(out.map((e) => e.service)).toEqual(["ecpay"]);
  });

  it("merges windows of the same series in time order", () => {
    const e = only(rule("threshold"), [series([at(5, 9)]), series([at(50, 1)])]);
    expect(e).toMatchObject({ value: 9, observedAt: now - 5000 });
  });
});

describe("worseFor and worstEvaluation", () => {
  it.each<[Rule["kind"], Operator, number, number, boolean]>([
    ["threshold", ">", 9, 8, true],
    ["threshold", ">=", 8, 9, false],
    ["threshold", "<", 1, 2, true],
    ["threshold", "<=", 2, 1, false],
    // Threshold 5: 1 is farther than 8.
    ["threshold", "==", 1, 8, true],
    ["threshold", "!=", 6, 2, false],
    ["absence", "<", 600, 60, true],
    ["heartbeat", ">", 0, 1, true],
  ])("%s %s: %d worse than %d is %s", (kind, op, a, b, expected) => {
    expect(worseFor(rule(kind, { comparisonOperator: op }))(a, b)).toBe(expected);
  });

  it("speaks for the rule with a firing series first, then the worst value", () => {
    const r = rule("threshold", { service: null, thresholdValue: 5 });
    const out = evaluateFingerprints(
      r,
      {
        series: [
          series([], {}, "a"),
          series([at(5, 3)], {}, "b"),
          series([at(5, 6)], {}, "c"),
          series([at(5, 8)], {}, "d"),
          series([at(5, 4)], {}, "e"),
        ],
      },
      now,
    );
    expect(worstEvaluation(r, out)?.service).toBe("d");
    expect(
      worstEvaluation(
        r,
        out.filter((e) => e.state !== "firing"),
      )?.service,
    ).toBe("e");
    expect(worstEvaluation(r, out.slice(0, 1))?.state).toBe("no_data");
    expect(worstEvaluation(r, [])).toBeNull();
  });
});

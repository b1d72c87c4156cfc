import { describe, expect, it } from "vitest";
import {
  type FingerprintState,
  initialState,
  type LifecycleConfig,
  type LifecycleEvent,
  observe,
  tick,
} from "../../../../worker/core/alerts/lifecycle";
import { rateLimit } from "../../../../worker/core/alerts/notify-policy";
import { type Band, backtestCost, backtestRule, type BandState } from "../../../../worker/core/rules/backtest";
import { evaluateFingerprints, worseFor } from "../../../../worker/core/rules/evaluate";
import type { Rule, ThresholdRule } from "../../../../worker/core/rules/types";
import type { Sample } from "../../../../worker/core/series";
import { makeRule } from "../../../fixtures/rules";

const T0 = 1_800_000_000_000;
const S = 1000;
const MIN = 60 * S;

function rule(over: Partial<ThresholdRule> = {}): ThresholdRule {
  return makeRule<ThresholdRule>({
    kind: "threshold",
    metricName: "m",
    service: "svc",
    params: { aggregation: "last", windowSeconds: 0 },
    comparisonOperator: ">",
    thresholdValue: 5,
    forSeconds: 0,
    resolveForSeconds: 0,
    resolveThresholdValue: null,
    dependsOn: [],
    cooldownMinutes: 15,
    maxAlertsPerHour: 4,
    escalationPolicyId: null,
    ...over,
  });
}

/** One sample a minute from T0, one value each. */
const minutely = (values: number[], labels: Record<string, string> = {}): Sample[] =>
  values.map((value, i) => ({ metric: "m", service: "svc", labels, value, ts: T0 + i * MIN }));

const band = (state: BandState, fromMs: number, toMs: number): Band => ({ state, from: T0 + fromMs, to: T0 + toMs });

function bandOf(s: FingerprintState): BandState | null {
  if (s.phase !== "ok") return s.phase;
  return s.alert !== null && s.resolvedAt !== null ? "resolved" : null;
}

/**
 * The live lifecycle fed step by step, independently of the backtest's schedule: at every
 * second, the evaluation of a sample stored then (observe), then the timers (tick). Returns
 * the lifecycle's events, the state bands, and the notifications the rule would send
 * (firing, a re-open after a sent resolve, a resolve of a notified firing; the hourly limit).
 */
function stepByStep(r: Rule, samples: Sample[], from: number, to: number) {
  const cfg: LifecycleConfig = {
    forSeconds: r.forSeconds,
    resolveForSeconds: r.resolveForSeconds,
    cooldownMinutes: r.cooldownMinutes,
  };
  const worse = worseFor(r);
  let state = initialState();
  const events: LifecycleEvent[] = [];
  const bands: Band[] = [];
  let current = null as { state: BandState; from: number } | null;
  let log: number[] = [];
  let firingNotified = false;
  const sent: { event: string; at: number }[] = [];
  let limited = 0;
  for (let t = from; t < to; t += S) {
    const step: LifecycleEvent[] = [];
    const sample = samples.find((s) => s.ts === t);
    if (sample) {
      const [ev] = evaluateFingerprints(
        r,
        { series: [{ service: "svc", labels: sample.labels, samples: samples.filter((s) => s.ts <= t) }] },
        t,
      );
      if (!ev) throw new Error("no evaluation");
      const o = observe(
        state,
        {
          at: t,
          observedAt: ev.observedAt,
          value: ev.value,
          breached: ev.breached,
          cleared: ev.cleared,
          noData: ev.state === "no_data",
        },
        cfg,
        worse,
      );
      state = o.state;
      step.push(...o.events);
    }
    const k = tick(state, t, cfg, worse);
    state = k.state;
    step.push(...k.events);
    for (const e of step) {
      const firing = e.type === "fired" || (e.type === "reopened" && e.resolveNoticeSent);
      if (e.type === "fired") firingNotified = false;
      if (firing) {
        const corrects = e.type === "reopened";
        const limit = rateLimit(log, r.maxAlertsPerHour, t);
        if (limit.allowed || corrects) {
          if (limit.allowed) log = limit.recent;
          firingNotified = true;
          sent.push({ event: "firing", at: t });
        } else limited += 1;
      }
      if (e.type === "resolve_notice" && firingNotified) {
        firingNotified = false;
        sent.push({ event: "resolved", at: t });
      }
    }
    events.push(...step);
    const b = bandOf(state);
    if (current?.state !== b) {
      if (current) bands.push({ state: current.state, from: current.from, to: t });
      current = b === null ? null : { state: b, from: t };
    }
  }
  if (current) bands.push({ state: current.state, from: current.from, to });
  const times = (type: LifecycleEvent["type"]) => events.filter((e) => e.type === type).map((e) => e.at);
  return { events, bands, sent, limited, times };
}

/** The backtest's one series, with the transitions it reports in the step-by-step shape. */
function replay(r: Rule, samples: Sample[], from: number, to: number) {
  const result = backtestRule({ rule: r, series: [{ service: "svc", labels: {}, samples }], from, to });
  expect(result.series).toHaveLength(1);
  const s = result.series[0];
  if (!s) throw new Error("no series");
  const notes = s.episodes.flatMap((e) => e.notifications);
  return {
    result,
    series: s,
    fired: s.episodes.map((e) => e.firedAt),
    reopened: s.episodes.flatMap((e) => e.reopenedAt),
    resolved: s.episodes.flatMap((e) => (e.resolvedAt === null ? [] : [e.resolvedAt])),
    sent: notes.filter((n) => n.outcome === "sent").map((n) => ({ event: n.event, at: n.at })),
    limited: notes.filter((n) => n.outcome === "rate_limited").length,
  };
}

/** The backtest agrees with the step-by-step lifecycle on every transition and notification. */
function expectSameAsLive(r: Rule, samples: Sample[], from: number, to: number) {
  const live = stepByStep(r, samples, from, to);
  const bt = replay(r, samples, from, to);
  expect(bt.series.bands).toEqual(live.bands);
  expect(bt.fired).toEqual(live.times("fired"));
  expect(bt.reopened).toEqual(live.times("reopened"));
  // A resolve that a re-open undid is not the episode's end, but it was a transition.
  expect(bt.resolved).toEqual(
    live
      .times("resolved")
      .filter((at) => !live.times("reopened").some((re) => re > at && re - at < r.cooldownMinutes * MIN)),
  );
  expect(bt.sent).toEqual(live.sent);
  expect(bt.limited).toBe(live.limited);
  return { live, bt };
}

describe("backtestRule", () => {
  it("for_seconds: pending from the first breach, firing when it has held that long (between samples)", () => {
    const r = rule({ forSeconds: 150 });
    const samples = minutely([1, 1, 9, 9, 9, 9, 1, 1, 1, 1]);
    const { bt } = expectSameAsLive(r, samples, T0, T0 + 10 * MIN);
    // Pending at 2 min, fires at 2 min + 150 s (the rule's alarm, not the next sample), resolves at 6 min.
    expect(bt.series.bands).toEqual([
      band("pending", 2 * MIN, 2 * MIN + 150 * S),
      band("firing", 2 * MIN + 150 * S, 6 * MIN),
      band("resolved", 6 * MIN, 10 * MIN),
    ]);
    // A young alert's resolve notice waits a minute (RESOLVE_NOTICE_DELAY_MS).
    expect(bt.sent).toEqual([
      { event: "firing", at: T0 + 2 * MIN + 150 * S },
      { event: "resolved", at: T0 + 7 * MIN },
    ]);
    expect(bt.result.summary).toMatchObject({ alerts: 1, notifications: 2, firingMs: 90 * S, pendingMs: 150 * S });
  });

  it("for_seconds: a breach shorter than for_seconds never fires", () => {
    const r = rule({ forSeconds: 150 });
    const { bt } = expectSameAsLive(r, minutely([1, 9, 9, 1, 1]), T0, T0 + 5 * MIN);
    expect(bt.series.bands).toEqual([band("pending", MIN, 3 * MIN)]);
    expect(bt.result.summary).toMatchObject({ alerts: 0, notifications: 0 });
  });

  it("hysteresis: a value between the threshold and resolve_threshold_value keeps the alert open", () => {
    const r = rule({ thresholdValue: 80, resolveThresholdValue: 60 });
    const samples = minutely([50, 90, 70, 70, 70, 55, 50, 50]);
    const { bt } = expectSameAsLive(r, samples, T0, T0 + 8 * MIN);
    expect(bt.fired).toEqual([T0 + MIN]);
    expect(bt.resolved).toEqual([T0 + 5 * MIN]);
    expect(bt.series.episodes[0]).toMatchObject({ peakValue: 90 });
  });

  it("resolve_for_seconds: resolving while clear, resolved once it has been clear that long", () => {
    const r = rule({ resolveForSeconds: 90 });
    const { bt } = expectSameAsLive(r, minutely([9, 9, 1, 1, 1, 1]), T0, T0 + 6 * MIN);
    expect(bt.series.bands.map((b) => b.state)).toEqual(["firing", "resolving", "resolved"]);
    expect(bt.resolved).toEqual([T0 + 2 * MIN + 90 * S]);
  });

  it("cooldown: a breach before the resolve notice went out re-opens the alert without a new firing notification", () => {
    const r = rule({ cooldownMinutes: 15 });
    // Fires at 0, resolves at 2 min (young: its notice waits a minute), breaches again at 2.5 min.
    const samples = [...minutely([9, 9, 1, 9, 1, 1, 1, 1, 1, 1, 1])];
    samples.splice(3, 0, { metric: "m", service: "svc", labels: {}, value: 9, ts: T0 + 2 * MIN + 30 * S });
    const { bt } = expectSameAsLive(r, samples, T0, T0 + 11 * MIN);
    expect(bt.fired).toEqual([T0]);
    expect(bt.reopened).toEqual([T0 + 2 * MIN + 30 * S]);
    expect(bt.result.summary).toMatchObject({
      alerts: 1,
      reopens: 1,
      firingNotifications: 1,
      resolvedNotifications: 1,
    });
  });

  it("cooldown: a re-open after the resolve was sent tells people it is back, outside the hourly limit", () => {
    // Stable for 6 minutes, so its resolve goes at once; breaches again 3 minutes later.
    const r = rule({ cooldownMinutes: 15, maxAlertsPerHour: 1 });
    const samples = minutely([9, 9, 9, 9, 9, 9, 1, 1, 1, 9, 9, 1, 1]);
    const { bt } = expectSameAsLive(r, samples, T0, T0 + 13 * MIN);
    expect(bt.series.episodes).toHaveLength(1);
    expect(bt.sent).toEqual([
      { event: "firing", at: T0 },
      { event: "resolved", at: T0 + 6 * MIN },
      { event: "firing", at: T0 + 9 * MIN },
      { event: "resolved", at: T0 + 12 * MIN },
    ]);
    expect(bt.series.episodes[0]?.notifications[2]).toMatchObject({ reopen: true });
  });

  it("max_alerts_per_hour: firings over the limit are held back, and so are their resolves", () => {
    // No cooldown: every breach is a new alert. Four alerts within the hour, limit 2.
    const r = rule({ cooldownMinutes: 0, maxAlertsPerHour: 2 });
    const samples = minutely([9, 1, 1, 9, 1, 1, 9, 1, 1, 9, 1, 1]);
    const { bt } = expectSameAsLive(r, samples, T0, T0 + 12 * MIN);
    expect(bt.fired).toHaveLength(4);
    expect(bt.limited).toBe(2);
    expect(bt.result.summary).toMatchObject({
      alerts: 4,
      notifications: 4,
      firingNotifications: 2,
      resolvedNotifications: 2,
      rateLimited: 2,
    });
  });

  it("the hourly limit is the rule's, across its series", () => {
    const r = rule({ cooldownMinutes: 0, maxAlertsPerHour: 1 });
    const a = minutely([9, 1, 1], { host: "a" });
    const b = minutely([1, 9, 1], { host: "b" });
    const result = backtestRule({
      rule: r,
      series: [
        { service: "svc", labels: { host: "a" }, samples: a },
        { service: "svc", labels: { host: "b" }, samples: b },
      ],
      from: T0,
      to: T0 + 3 * MIN,
    });
    expect(result.series.map((s) => s.episodes.length)).toEqual([1, 1]);
    expect(result.summary).toMatchObject({ alerts: 2, firingNotifications: 1, rateLimited: 1, seriesAlerting: 2 });
  });

  it("stale data: a pending breach whose series stops reporting is dropped when the rule next looks, never fired", () => {
    const r = rule({ forSeconds: 600 });
    // One breach at 1 min, then silence. The rule's alarm looks at the backstop (6 min: the
    // sample is 5 minutes old, still within its freshness bound) and at the for_seconds
    // deadline (11 min): the sample is stale by then, so the breach is dropped, not fired.
    // (Timers alone, without the alarm's evaluation, would fire it: the engine does not.)
    const bt = replay(r, minutely([1, 9]), T0, T0 + 20 * MIN);
    expect(bt.result.summary.alerts).toBe(0);
    expect(bt.series.bands).toEqual([band("pending", MIN, 11 * MIN)]);
    expect(stepByStep(r, minutely([1, 9]), T0, T0 + 20 * MIN).times("fired")).toEqual([T0 + 11 * MIN]);
  });

  it("an alert still open at the end has no resolve time", () => {
    const { bt } = expectSameAsLive(rule(), minutely([1, 9, 9]), T0, T0 + 3 * MIN);
    expect(bt.series.episodes).toEqual([expect.objectContaining({ firedAt: T0 + MIN, resolvedAt: null })]);
    expect(bt.series.bands).toEqual([band("firing", MIN, 3 * MIN)]);
  });

  it("a windowed aggregate over samples before the range: the window reaches back", () => {
    const r = rule({ params: { aggregation: "avg", windowSeconds: 300 } });
    // Breaching before `from`: at the first sample in the range the average already breaches.
    const samples = minutely([9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1, 1]);
    const result = backtestRule({
      rule: r,
      series: [{ service: "svc", labels: {}, samples }],
      from: T0 + 5 * MIN,
      to: T0 + 13 * MIN,
    });
    expect(result.series[0]?.episodes[0]).toMatchObject({ firedAt: T0 + 5 * MIN, resolvedAt: T0 + 8 * MIN });
  });

  it("ratio rules are evaluated on their numerator and denominator", () => {
    const r = makeRule<Rule>({
      kind: "ratio",
      metricName: "fail",
      service: "svc",
      params: { denominatorMetric: "total", windowSeconds: 120, minDenominator: 1 },
      thresholdValue: 10,
      resolveForSeconds: 0,
      resolveThresholdValue: null,
      dependsOn: [],
      cooldownMinutes: 0,
      maxAlertsPerHour: 4,
      escalationPolicyId: null,
    } as never);
    const at = (metric: string, i: number, value: number): Sample => ({
      metric,
      service: "svc",
      labels: {},
      value,
      ts: T0 + i * MIN,
    });
    const fail = [0, 0, 5, 5, 0, 0, 0].map((v, i) => at("fail", i, v));
    const total = [0, 1, 2, 3, 4, 5, 6].map((i) => at("total", i, 20));
    const result = backtestRule({
      rule: r,
      series: [{ service: "svc", labels: {}, samples: fail }],
      denominator: [{ service: "svc", labels: {}, samples: total }],
      from: T0,
      to: T0 + 7 * MIN,
    });
    // 10 of 60 in the 2-minute window at 3 minutes (16.7%); 5 of 60 (8.3%) again at 5.
    expect(result.series[0]?.episodes).toEqual([
      expect.objectContaining({ firedAt: T0 + 3 * MIN, resolvedAt: T0 + 5 * MIN }),
    ]);
  });

  it("absence rules fire when the series has been quiet for absent_for_seconds, on the rule's alarm", () => {
    const r = makeRule<Rule>({
      kind: "absence",
      metricName: "m",
      service: "svc",
      params: { absentForSeconds: 150 },
      resolveForSeconds: 0,
      resolveThresholdValue: null,
      dependsOn: [],
      cooldownMinutes: 15,
      maxAlertsPerHour: 4,
      escalationPolicyId: null,
    } as never);
    // A sample a minute up to 9 minutes, then silence: absent from 9 min + 150 s (not the next backstop).
    const result = backtestRule({
      rule: r,
      series: [{ service: "svc", labels: {}, samples: minutely(Array.from({ length: 10 }, () => 1)) }],
      from: T0,
      to: T0 + 20 * MIN,
    });
    expect(result.series[0]?.episodes).toEqual([
      expect.objectContaining({ firedAt: T0 + 9 * MIN + 150 * S, resolvedAt: null }),
    ]);
  });

  it("backtestCost grows with the samples each evaluation reads", () => {
    const samples = minutely(Array.from({ length: 100 }, () => 1));
    const input = (windowSeconds: number) => ({
      rule: rule({ params: { aggregation: "avg" as const, windowSeconds } }),
      series: [{ service: "svc", labels: {}, samples }],
      from: T0,
      to: T0 + 100 * MIN,
    });
    expect(backtestCost(input(600))).toBeGreaterThan(backtestCost(input(60)));
  });
});

/**
 * Replays stored series through alert rules with the engine's own pieces: the evaluation the
 * series store (or, for ratio rules, the rule itself) makes when a sample arrives
 * (`evaluateFingerprints`), and the alert lifecycle (`observe` on each evaluation, `tick` at
 * each deadline the rule's alarm would wake for). Unlike the demo backfill's minute-by-minute
 * replay (demo-history.ts), evaluations happen when each sample lands (a probe every 15 s,
 * a push every minute), so detection delays are those the product would have.
 *
 * Anomaly rules of method "detector" are judged from each series' own detector
 * (`createDetector`, every sample scored in order, as the series store does), passed as
 * `SeriesWindow.anomaly`.
 */
import {
  type FingerprintState,
  initialState,
  type LifecycleConfig,
  nextDeadline,
  observe,
  tick,
} from "../alerts/lifecycle";
import { createDetector } from "../anomaly";
import type { HistorySeries } from "../demo-history";
import {
  evaluateFingerprints,
  type FingerprintEvaluation,
  type SeriesAnomaly,
  type SeriesWindow,
  worseFor,
} from "../rules/evaluate";
import { evaluatedBySeries, lookbackSeconds, matchesRule, type Rule } from "../rules/types";
import type { Sample } from "../series";
import { searchSorted } from "../sorted";

/** A notification of a rule's alert: a new alert firing, or one re-opened after its resolve was announced. */
export interface Page {
  ruleId: number;
  ruleName: string;
  severity: Rule["severity"];
  service: string;
  fingerprint: string;
  at: number;
  kind: "fired" | "reopened";
  value: number | null;
  reason: string;
}

export interface ReplayResult {
  pages: Page[];
  /** Alerts opened (fired) in [from, to) per rule id. */
  alertsByRule: Map<number, number>;
}

/** Whether a rule is an anomaly rule judged by the series' detector. */
const byDetector = (rule: Rule): boolean => rule.kind === "anomaly" && rule.params.method === "detector";

/** Each series' detector judgement of each of its samples, in order (computed once per series). */
const judgements = new WeakMap<HistorySeries, { score: Float64Array; direction: Int8Array; expected: Float64Array }>();

function judged(s: HistorySeries) {
  let j = judgements.get(s);
  if (!j) {
    const detector = createDetector();
    const n = s.ts.length;
    j = { score: new Float64Array(n), direction: new Int8Array(n), expected: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const r = detector.judge(s.ts[i] as number, s.values[i] as number);
      j.score[i] = r.level;
      j.direction[i] = r.direction === "up" ? 1 : r.direction === "down" ? -1 : 0;
      j.expected[i] = r.expected ?? Number.NaN;
    }
    judgements.set(s, j);
  }
  return j;
}

/** The window a rule is evaluated on when sample `i` of `s` arrives: its lookback, or the newest sample. */
function windowAt(s: HistorySeries, i: number, lookbackMs: number, withAnomaly: boolean): SeriesWindow {
  const t = s.ts[i] as number;
  const first = lookbackMs > 0 ? searchSorted(s.ts, t - lookbackMs) : i;
  const samples: Sample[] = [];
  for (let k = first; k <= i; k++) {
    samples.push({
      metric: s.metric,
      service: s.service,
      labels: s.labels,
      ts: s.ts[k] as number,
      value: s.values[k] as number,
    });
  }
  const w: SeriesWindow = { service: s.service, labels: s.labels, samples };
  if (withAnomaly) {
    const j = judged(s);
    const d = j.direction[i];
    const e = j.expected[i] as number;
    const anomaly: SeriesAnomaly = {
      ts: t,
      score: j.score[i] as number,
      direction: d === 1 ? "up" : d === -1 ? "down" : null,
      expected: Number.isNaN(e) ? null : e,
    };
    w.anomaly = anomaly;
  }
  return w;
}

/** One rule over the series, from their first sample until `to`; pages at or after `from` only. */
function replayOne(rule: Rule, series: readonly HistorySeries[], from: number, to: number, result: ReplayResult) {
  const mine = series.filter((s) => matchesRule(rule, s));
  if (!mine.length) return;
  const cfg: LifecycleConfig = {
    forSeconds: rule.forSeconds,
    resolveForSeconds: rule.resolveForSeconds,
    cooldownMinutes: rule.cooldownMinutes,
  };
  const worse = worseFor(rule);
  const lookbackMs = lookbackSeconds(rule) * 1000;
  const detector = byDetector(rule);
  const bySeries = evaluatedBySeries(rule);
  const states = new Map<string, { state: FingerprintState; service: string; reason: string }>();

  const record = (fp: string, events: ReturnType<typeof observe>["events"]) => {
    const entry = states.get(fp);
    if (!entry) return;
    for (const e of events) {
      if (e.at < from || e.at >= to) continue;
      if (e.type === "fired") result.alertsByRule.set(rule.id, (result.alertsByRule.get(rule.id) ?? 0) + 1);
      const pages = e.type === "fired" || (e.type === "reopened" && e.resolveNoticeSent);
      if (!pages) continue;
      result.pages.push({
        ruleId: rule.id,
        ruleName: rule.ruleName,
        severity: rule.severity,
        service: entry.service,
        fingerprint: fp,
        at: e.at,
        kind: e.type,
        value: e.value,
        reason: entry.reason,
      });
    }
  };
  /** Timers due up to `t`, each at its own deadline (the rule's alarm). */
  const tickUntil = (t: number) => {
    for (const [fp, entry] of states) {
      for (let guard = 0; guard < 100; guard++) {
        const due = nextDeadline(entry.state, cfg);
        if (due === null || due > t) break;
        const ticked = tick(entry.state, due, cfg, worse);
        entry.state = ticked.state;
        record(fp, ticked.events);
        if (nextDeadline(entry.state, cfg) === due) break;
      }
    }
  };
  const apply = (ev: FingerprintEvaluation, at: number) => {
    let entry = states.get(ev.fingerprint);
    if (!entry) states.set(ev.fingerprint, (entry = { state: initialState(), service: ev.service, reason: ev.reason }));
    if (ev.breached) entry.reason = ev.reason;
    const obs = {
      at,
      observedAt: ev.observedAt,
      value: ev.value,
      breached: ev.breached,
      cleared: ev.cleared,
      noData: ev.state === "no_data",
    };
    const observed = observe(entry.state, obs, cfg, worse);
    const ticked = tick(observed.state, at, cfg, worse);
    entry.state = ticked.state;
    record(ev.fingerprint, [...observed.events, ...ticked.events]);
  };

  // Every sample of the rule's series in arrival order (ties: series order, as one push lands).
  const arrivals: [ts: number, series: number, index: number][] = [];
  mine.forEach((s, k) => {
    for (let i = 0; i < s.ts.length; i++) arrivals.push([s.ts[i] as number, k, i]);
  });
  arrivals.sort((a, b) => a[0] - b[0] || a[1] - b[1]);

  for (const [t, k, i] of arrivals) {
    const s = mine[k] as HistorySeries;
    if (t >= to) break;
    tickUntil(t);
    if (bySeries) {
      // The series store evaluates the series whose sample just arrived.
      const w = windowAt(s, i, lookbackMs, detector);
      const evs = evaluateFingerprints(rule, { series: [w] }, t);
      for (const ev of evs) apply(ev, t);
    } else {
      // Ratio rules: the rule evaluates all its series over its buffered window.
      const windows = (metric: string) =>
        mine.flatMap((m) => {
          if (m.metric !== metric) return [];
          const end = searchSorted(m.ts, t + 1);
          return end ? [windowAt(m, end - 1, lookbackMs, false)] : [];
        });
      const denominator = rule.kind === "ratio" ? windows(rule.params.denominatorMetric) : [];
      for (const ev of evaluateFingerprints(rule, { series: windows(rule.metricName), denominator }, t)) apply(ev, t);
    }
  }
  tickUntil(to - 1);
}

/** Replays every rule over the series; pages in [from, to), oldest first. */
export function replayRules(
  rules: readonly Rule[],
  series: readonly HistorySeries[],
  from: number,
  to: number,
): ReplayResult {
  const result: ReplayResult = { pages: [], alertsByRule: new Map() };
  for (const rule of rules) replayOne(rule, series, from, to, result);
  result.pages.sort((a, b) => a.at - b.at || a.ruleId - b.ruleId);
  return result;
}

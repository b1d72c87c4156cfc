/**
 * Backtest: what a rule would have done over stored history, had it been running. The
 * replay drives the live engine's own code (evaluateFingerprints, the lifecycle's observe
 * and tick, stepEvents, planNotification, nextWake) in the order the AlertRule object
 * calls it, on the schedule it is called:
 *
 * - on every sample as it is stored: a threshold, anomaly or heartbeat rule hears the
 *   evaluation of the series that sample belongs to (the series store evaluates it); a
 *   ratio or absence rule evaluates all its series (it keeps their samples itself);
 * - on its alarm: the nearest lifecycle deadline (for_seconds, resolve_for, a held resolve
 *   notice, the end of cooldown, flapping), an absence's deadline, else the backstop after
 *   the last evaluation; the alarm evaluates every series, and those without data get the
 *   lifecycle's no-data observation, as in `applyEvaluations`.
 *
 * Notifications are planned as the engine plans them, with no silence, no inhibition and
 * no storm grouping (the past of those is not replayed): a new alert's "firing", a
 * re-open's "firing" after people were told it resolved, and a "resolved" once its
 * notice is due and its firing was sent; firings over max_alerts_per_hour are counted as
 * rate limited, not sent. Escalation steps, reminders and acknowledgements are not
 * counted (they depend on people and policies, not on the data).
 *
 * Anomaly rules of method "detector" judge each series' newest sample by the series
 * store's detector: the replay runs a fresh detector over each series' history in order
 * (from the day before `from`, see historySeconds), and every evaluation sees the
 * judgement of its newest sample, as the live engine does.
 *
 * Pure: the history and the range are passed in. The replay starts from a quiet rule at
 * `from` (nothing pending, no alert), as a new rule would.
 */
import { type FingerprintState, type LifecycleConfig, type LifecycleEvent, observe, tick } from "../alerts/lifecycle";
import type { NotifyEvent } from "../alerts/jobs";
import {
  BACKSTOP_MS,
  nextWake,
  planNotification,
  SERIES_BACKSTOP_MS,
  stepEvents,
  type Tracked,
  track,
} from "../alerts/step";
import { createDetector } from "../anomaly";
import type { Labels, Sample } from "../series";
import {
  evaluateFingerprints,
  FRESHNESS_SAMPLES,
  type FingerprintEvaluation,
  type KnownSeries,
  type SeriesAnomaly,
  type SeriesWindow,
  worseFor,
} from "./evaluate";
import { alertMessage } from "./render";
import { evaluatedBySeries, lookbackSeconds, type Rule } from "./types";
import { searchSorted } from "../sorted";

/**
 * History a detector learns a series from before a backtest's range: a day (it then knows
 * the series' level and noise, though not yet its daily shape). The live detector has been
 * learning all along, so the first hours of a replay without it would be its learning period.
 */
export const DETECTOR_WARMUP_SECONDS = 86_400;

/** Whether a rule judges samples by the series' detector. */
export const usesDetector = (rule: Rule) => rule.kind === "anomaly" && rule.params.method === "detector";

/** How far before `from` a backtest reads history: the rule's lookback, or a detector's warm-up. */
export function historySeconds(rule: Rule): number {
  return usesDetector(rule) ? Math.max(lookbackSeconds(rule), DETECTOR_WARMUP_SECONDS) : lookbackSeconds(rule);
}

/**
 * A fresh detector's judgement of each sample (oldest first), as the series store would
 * have scored them: for replays and dry runs, which have no stored judgements of the past.
 */
export function detectorJudgements(samples: readonly Pick<Sample, "ts" | "value">[]): SeriesAnomaly[] {
  const detector = createDetector();
  return samples.map((s) => {
    const j = detector.judge(s.ts, s.value);
    return { ts: s.ts, score: j.level, direction: j.direction, expected: j.expected, learning: j.learning };
  });
}

export interface BacktestInput {
  rule: Rule;
  /** The series of the rule's metric, samples oldest first, from `from` minus the rule's lookback. */
  series: readonly SeriesWindow[];
  /** Ratio rules: the denominator's series, likewise. */
  denominator?: readonly SeriesWindow[];
  /** Epoch ms; the replay covers [from, to). */
  from: number;
  to: number;
}

/**
 * A stretch of one series' state, for a chart's bands. pending: breaching, for_seconds not
 * yet elapsed; firing: an open alert; resolving: open, clear, resolve_for (or a flapping
 * hold) not yet elapsed; resolved: closed, within its cooldown (a breach now re-opens it).
 * Between bands the series is ok.
 */
export type BandState = "pending" | "firing" | "resolving" | "resolved";

export interface Band {
  state: BandState;
  from: number;
  to: number;
}

export type NotificationOutcome = "sent" | "rate_limited" | "skipped";

export interface BacktestNotification {
  at: number;
  event: "firing" | "resolved";
  /** sent; rate_limited (over max_alerts_per_hour); skipped (a resolve nobody was told the firing of). */
  outcome: NotificationOutcome;
  /** A firing that tells people an alert they heard resolved is back (exempt from the hourly limit). */
  reopen?: true;
}

/** One alert the rule would have raised. */
export interface Episode {
  firedAt: number;
  /** Null: still open at `to`. */
  resolvedAt: number | null;
  /** When it re-opened within cooldown (the same alert, no new firing unless its resolve had been sent). */
  reopenedAt: number[];
  /** The most extreme breaching value and the breaching evaluations, as the alert row would hold them. */
  peakValue: number | null;
  breaches: number;
  flapping: boolean;
  notifications: BacktestNotification[];
}

export interface SeriesBacktest {
  fingerprint: string;
  service: string;
  labels: Labels;
  bands: Band[];
  episodes: Episode[];
  /** Sent notifications (firing and resolved). */
  notifications: number;
  /** Firings the hourly limit would have held back. */
  rateLimited: number;
}

export interface BacktestSummary {
  alerts: number;
  reopens: number;
  notifications: number;
  firingNotifications: number;
  resolvedNotifications: number;
  rateLimited: number;
  /** Time with an alert open (firing or resolving), summed over series, ms. */
  firingMs: number;
  pendingMs: number;
  /** Series with at least one alert. */
  seriesAlerting: number;
  /** Rule evaluations replayed (pushes and alarms). */
  evaluations: number;
}

export interface BacktestResult {
  from: number;
  to: number;
  series: SeriesBacktest[];
  summary: BacktestSummary;
}

/** A series' samples, oldest first, with their times apart for binary search. */
interface Prepared {
  service: string;
  labels: Labels;
  samples: Sample[];
  ts: number[];
  /** A detector rule's judgement of each sample. */
  judged?: SeriesAnomaly[];
}

/** Per fingerprint: what the replay records besides the live engine's tracked state. */
interface Replayed {
  fingerprint: string;
  service: string;
  labels: Labels;
  bands: Band[];
  current: { state: BandState; from: number } | null;
  episodes: Episode[];
  episode: Episode | null;
  /** The alert row's firing_notified flag. */
  firingNotified: boolean;
}

function prepare(series: readonly SeriesWindow[], judge = false): Prepared[] {
  return series.map((s) => {
    const samples = [...s.samples].sort((a, b) => a.ts - b.ts);
    const prepared: Prepared = { service: s.service, labels: s.labels, samples, ts: samples.map((x) => x.ts) };
    if (judge) prepared.judged = detectorJudgements(samples);
    return prepared;
  });
}

/**
 * What the engine holds of a series at `now`, as the series store (and the rule's buffer)
 * hands it over: the lookback window and always the newest sample; for a rule on the newest
 * sample, the few newest, which give its freshness bound. Null before the series' first sample.
 */
function windowAt(s: Prepared, now: number, lookbackMs: number): SeriesWindow | null {
  const end = searchSorted(s.ts, now, true);
  if (end === 0) return null;
  const start =
    lookbackMs > 0
      ? Math.min(searchSorted(s.ts, now - lookbackMs, false), end - 1)
      : Math.max(0, end - FRESHNESS_SAMPLES);
  const anomaly = s.judged?.[end - 1];
  return { service: s.service, labels: s.labels, samples: s.samples.slice(start, end), ...(anomaly && { anomaly }) };
}

function bandOf(state: FingerprintState): BandState | null {
  switch (state.phase) {
    case "pending":
      return "pending";
    case "firing":
      return "firing";
    case "resolving":
      return "resolving";
    case "ok":
      return state.alert !== null && state.resolvedAt !== null ? "resolved" : null;
  }
}

/** Work the replay would do: evaluations times the samples each reads (for bounding a request). */
export function backtestCost(input: BacktestInput): number {
  const lookbackMs = lookbackSeconds(input.rule) * 1000;
  let cost = 0;
  for (const s of [...input.series, ...(input.denominator ?? [])]) {
    const n = s.samples.length;
    if (n < 2) {
      cost += n;
      continue;
    }
    const first = s.samples[0] as Sample;
    const last = s.samples[n - 1] as Sample;
    const gap = Math.max(1, (last.ts - first.ts) / (n - 1));
    const perWindow = lookbackMs > 0 ? Math.min(n, Math.ceil(lookbackMs / gap) + 1) : FRESHNESS_SAMPLES;
    cost += n * perWindow;
  }
  return cost;
}

export function backtestRule(input: BacktestInput): BacktestResult {
  const { rule, from, to } = input;
  const cfg: LifecycleConfig = {
    forSeconds: rule.forSeconds,
    resolveForSeconds: rule.resolveForSeconds,
    cooldownMinutes: rule.cooldownMinutes,
  };
  const worse = worseFor(rule);
  const lookbackMs = lookbackSeconds(rule) * 1000;
  const bySeries = evaluatedBySeries(rule);
  const backstopMs = bySeries ? SERIES_BACKSTOP_MS : BACKSTOP_MS;
  const numerators = prepare(input.series, usesDetector(rule));
  const denominators = prepare(input.denominator ?? []);

  /** The live engine's tracked fingerprints (forgotten when idle, as there). */
  const tracked = new Map<string, Tracked>();
  const records = new Map<string, Replayed>();
  /** The rule's notify log: when its counted notifications went (max_alerts_per_hour). */
  let log: number[] = [];
  let evaluations = 0;

  const recordOf = (fp: Tracked): Replayed => {
    let r = records.get(fp.fingerprint);
    if (!r) {
      r = {
        fingerprint: fp.fingerprint,
        service: fp.service,
        labels: fp.labels,
        bands: [],
        current: null,
        episodes: [],
        episode: null,
        firingNotified: false,
      };
      records.set(fp.fingerprint, r);
    }
    return r;
  };

  const markBand = (r: Replayed, state: FingerprintState, at: number) => {
    const band = bandOf(state);
    if (r.current?.state === band) return;
    if (r.current && at > r.current.from) r.bands.push({ state: r.current.state, from: r.current.from, to: at });
    r.current = band === null ? null : { state: band, from: at };
  };

  /** The notify effect as AlertRule.notify decides it (no silence, inhibition or storm group). */
  const notify = (r: Replayed, fp: Tracked, event: NotifyEvent, occurrence: string, now: number, corrects: boolean) => {
    if (event !== "firing" && event !== "resolved") return;
    const plan = planNotification({
      event,
      occurrence,
      step: 0,
      now,
      retry: false,
      correctsResolved: corrects,
      firingWasNotified: r.firingNotified,
      silence: { ids: [], until: null },
      inhibitedBy: [],
      log,
      maxPerHour: rule.maxAlertsPerHour,
      storm: null,
      held: fp.held,
    });
    const outcome: NotificationOutcome =
      plan.action === "send" || plan.action === "join" ? "sent" : plan.action === "skip" ? "skipped" : "rate_limited";
    if (plan.action === "send") {
      if (plan.log) log = plan.log;
      r.firingNotified = plan.firingNotified;
    }
    r.episode?.notifications.push({
      at: now,
      event,
      outcome,
      ...(corrects && event === "firing" && { reopen: true as const }),
    });
  };

  /** AlertRule.apply: the events' effects, in order. */
  const apply = (fp: Tracked, events: readonly LifecycleEvent[], now: number, reason?: string) => {
    const r = recordOf(fp);
    const stepped = stepEvents(fp, events, reason);
    Object.assign(fp, stepped.tracked);
    for (const e of events) {
      if (e.type === "reopened" && r.episode) {
        r.episode.reopenedAt.push(e.at);
        r.episode.resolvedAt = null;
      } else if (e.type === "resolved" && r.episode) r.episode.resolvedAt = e.at;
      else if (e.type === "flapping_started" && r.episode) r.episode.flapping = true;
    }
    for (const effect of stepped.effects) {
      if (effect.type === "open") {
        r.episode = {
          firedAt: effect.triggeredAt,
          resolvedAt: null,
          reopenedAt: [],
          peakValue: effect.value,
          breaches: 1,
          flapping: false,
          notifications: [],
        };
        r.episodes.push(r.episode);
        // A new alert row: nobody has heard of it yet.
        r.firingNotified = false;
      } else if (effect.type === "notify") {
        notify(r, fp, effect.event, effect.occurrence, now, effect.correctsResolved === true);
      }
    }
    const open = fp.state.alert;
    if (r.episode && open && r.episode.firedAt === open.openedAt) {
      r.episode.peakValue = open.peakValue;
      r.episode.breaches = open.breaches;
    }
    markBand(r, fp.state, now);
  };

  /** AlertRule.applyEvaluations. */
  const applyEvaluations = (evs: readonly FingerprintEvaluation[], now: number, complete: boolean) => {
    evaluations += 1;
    const seen = new Set<string>();
    const changes: { fp: Tracked; events: LifecycleEvent[]; reason: string }[] = [];
    for (const ev of evs) {
      seen.add(ev.fingerprint);
      let fp = tracked.get(ev.fingerprint);
      if (!fp) {
        fp = track(ev.fingerprint, ev.service, ev.labels);
        tracked.set(ev.fingerprint, fp);
      }
      const observed = observe(
        fp.state,
        {
          at: now,
          observedAt: ev.observedAt,
          value: ev.value,
          breached: ev.breached,
          cleared: ev.cleared,
          noData: ev.state === "no_data",
        },
        cfg,
        worse,
      );
      const ticked = tick(observed.state, now, cfg, worse);
      fp.state = ticked.state;
      const message = alertMessage(rule, ev);
      if (ev.value !== null && fp.state.alert && fp.state.resolvedAt === null) fp.message = message;
      changes.push({ fp, events: [...observed.events, ...ticked.events], reason: message });
    }
    for (const { fp, events, reason } of changes) apply(fp, events, now, reason);
    if (!complete) return;
    for (const fp of tracked.values()) {
      if (seen.has(fp.fingerprint)) continue;
      const missing = { at: now, observedAt: null, value: null, breached: false, cleared: false, noData: true };
      const observed = observe(fp.state, missing, cfg, worse);
      const ticked = tick(observed.state, now, cfg, worse);
      fp.state = ticked.state;
      apply(fp, [...observed.events, ...ticked.events], now);
      if (fp.state.phase === "ok" && !fp.state.alert && !fp.held.length) tracked.delete(fp.fingerprint);
    }
  };

  const windows = (list: readonly Prepared[], now: number) =>
    list.flatMap((s) => {
      const w = windowAt(s, now, lookbackMs);
      return w ? [w] : [];
    });

  /** Every series the rule reads, evaluated at `now` (an alarm, or a buffered rule's push). */
  const evaluateAll = (now: number): FingerprintEvaluation[] => {
    const series = windows(numerators, now);
    const known: KnownSeries[] = [...tracked.values()].map((fp) => ({ service: fp.service, labels: fp.labels }));
    // A series the rule has never seen is absent since the rule started watching: `from`.
    if (rule.kind === "absence" && rule.service !== null && !series.length && !known.length) {
      known.push({ service: rule.service, labels: rule.labels, lastSeenAt: from });
    }
    return evaluateFingerprints(rule, { series, denominator: windows(denominators, now), known }, now);
  };

  /** AlertRule.rearm: when the alarm would go off next. */
  const alarmAfter = (now: number): number => {
    const others: number[] = [];
    if (rule.kind === "absence") {
      for (const s of numerators) {
        const newest = s.ts[searchSorted(s.ts, now, true) - 1];
        if (newest !== undefined) others.push(newest + rule.params.absentForSeconds * 1000);
      }
    }
    // No escalation policy, no held notifications, no row to sync: only the lifecycle's deadlines.
    return nextWake({ now, backstopMs, config: cfg, tracked: [...tracked.values()], syncMs: 0, policy: null, others });
  };

  // Sample arrivals in [from, to), grouped by time: [time, series with a sample then].
  const arrivals = new Map<number, Set<Prepared>>();
  for (const s of [...numerators, ...denominators]) {
    for (let i = searchSorted(s.ts, from, false); i < s.ts.length && (s.ts[i] as number) < to; i++) {
      const at = s.ts[i] as number;
      let set = arrivals.get(at);
      if (!set) arrivals.set(at, (set = new Set()));
      set.add(s);
    }
  }
  const times = [...arrivals.keys()].sort((a, b) => a - b);

  // The rule starts watching at `from`: its first alarm evaluates everything.
  let alarm = from;
  let next = 0;
  while (true) {
    const sampleAt = times[next];
    if (alarm >= to && (sampleAt === undefined || sampleAt >= to)) break;
    let now: number;
    if (sampleAt !== undefined && sampleAt < alarm) {
      now = sampleAt;
      next += 1;
      const pushed = arrivals.get(now) as Set<Prepared>;
      if (bySeries) {
        // The series store evaluates the series whose sample it stored, and tells the rule.
        const own = numerators.filter((s) => pushed.has(s));
        if (own.length) applyEvaluations(evaluateFingerprints(rule, { series: windows(own, now) }, now), now, false);
        else continue;
      } else applyEvaluations(evaluateAll(now), now, true);
    } else {
      now = alarm;
      // Samples stored at the alarm's very time are read by it.
      if (sampleAt === now) next += 1;
      applyEvaluations(evaluateAll(now), now, true);
    }
    alarm = alarmAfter(now);
  }

  const series: SeriesBacktest[] = [];
  for (const r of records.values()) {
    if (r.current) r.bands.push({ state: r.current.state, from: r.current.from, to });
    r.current = null;
    const sent = r.episodes.flatMap((e) => e.notifications).filter((n) => n.outcome === "sent");
    const limited = r.episodes.flatMap((e) => e.notifications).filter((n) => n.outcome === "rate_limited");
    if (!r.bands.length && !r.episodes.length) continue;
    series.push({
      fingerprint: r.fingerprint,
      service: r.service,
      labels: r.labels,
      bands: r.bands,
      episodes: r.episodes,
      notifications: sent.length,
      rateLimited: limited.length,
    });
  }
  series.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
  return { from, to, series, summary: summarize(series, evaluations) };
}

function summarize(series: readonly SeriesBacktest[], evaluations: number): BacktestSummary {
  const all = series.flatMap((s) => s.episodes.flatMap((e) => e.notifications));
  const sent = all.filter((n) => n.outcome === "sent");
  const time = (states: BandState[]) =>
    series.reduce(
      (acc, s) => acc + s.bands.filter((b) => states.includes(b.state)).reduce((t, b) => t + b.to - b.from, 0),
      0,
    );
  return {
    alerts: series.reduce((n, s) => n + s.episodes.length, 0),
    reopens: series.reduce((n, s) => n + s.episodes.reduce((m, e) => m + e.reopenedAt.length, 0), 0),
    notifications: sent.length,
    firingNotifications: sent.filter((n) => n.event === "firing").length,
    resolvedNotifications: sent.filter((n) => n.event === "resolved").length,
    rateLimited: all.filter((n) => n.outcome === "rate_limited").length,
    firingMs: time(["firing", "resolving"]),
    pendingMs: time(["pending"]),
    seriesAlerting: series.filter((s) => s.episodes.length > 0).length,
    evaluations,
  };
}

/** A minute rollup's columns a backtest reads. */
export interface MinuteBucket {
  bucketStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Beyond the raw window a backtest reads minute rollups, one sample per minute, stamped at
 * the minute's last millisecond (its value is known once the minute is over). The value is
 * the column that keeps the rule's meaning best: sums for a ratio's counts and a `sum`,
 * the worst value for `max`/`min` and a heartbeat (any failed beat in the minute), the
 * mean otherwise. Verdicts over such samples are approximate (a `count` counts minutes).
 */
export function minuteSample(rule: Rule, b: MinuteBucket): { ts: number; value: number } {
  const ts = b.bucketStart + 59_999;
  if (rule.kind === "ratio") return { ts, value: b.sum };
  if (rule.kind === "heartbeat") return { ts, value: b.min };
  if (rule.kind === "threshold") {
    const agg = rule.params.aggregation;
    if (agg === "sum") return { ts, value: b.sum };
    if (agg === "max" || agg === "p95" || agg === "p99") return { ts, value: b.max };
    if (agg === "min") return { ts, value: b.min };
  }
  return { ts, value: b.count > 0 ? b.sum / b.count : 0 };
}

/**
 * The demo shop's past: what its pushes, the derived metrics and its alert rules would
 * have produced over the last days, had the demo been running. Pure: the anchor (the
 * minute the history ends at) is passed in. The demo backfill stores the series through
 * the series store's own import (raw window, rollups) and writes the alerts replayed here.
 */
import { type FingerprintState, initialState, type LifecycleConfig, observe, tick } from "./alerts/lifecycle";
import { computeDerived, DERIVED_LOOKBACK_MS, DERIVED_METRICS, inputKey, type Point } from "./derived";
import { DEMO_SERVICES, type DemoService, demoHealth, demoPushSamples, randomStream, shopState } from "./demo-shop";
import { evaluateHttp, type HttpProbeConfig, type ProbeMonitor, probeSamples, readHttpConfig } from "./probe";
import {
  evaluateFingerprints,
  FRESHNESS_SAMPLES,
  type FingerprintEvaluation,
  type SeriesWindow,
  worseFor,
} from "./rules/evaluate";
import { detectorJudgements, usesDetector } from "./rules/backtest";
import { lookbackSeconds, type Rule } from "./rules/types";
import { familyKey, type Labels, type Sample } from "./series";
import { searchSorted } from "./sorted";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How much history the demo backfills. */
export const HISTORY_DAYS = 30;

/**
 * The stretch the history covers, as minute ticks (the instants the cron would have
 * pushed at): from the whole hour `days` before `anchor` up to, not including, the
 * minute of `anchor` itself, which the live cron pushes.
 */
export function historyRange(anchor: number, days = HISTORY_DAYS): { from: number; to: number } {
  const to = Math.floor(anchor / MINUTE) * MINUTE;
  return { from: Math.floor((to - days * DAY) / HOUR) * HOUR, to };
}

/**
 * One series of the history: its timestamps and values, oldest first, as two plain
 * arrays (a month of a series is tens of thousands of points; objects would cost
 * several times the memory).
 */
export interface HistorySeries {
  metric: string;
  service: string;
  labels: Labels;
  ts: number[];
  values: number[];
}

/** Points of a series with from <= ts <= to. */
function slice(s: HistorySeries, from: number, to: number): Point[] {
  const points: Point[] = [];
  for (let i = searchSorted(s.ts, from, false), end = searchSorted(s.ts, to, true); i < end; i++) {
    points.push({ ts: s.ts[i] as number, value: s.values[i] as number });
  }
  return points;
}

/** Sorts a series in place by time, when it is not already (a stable sort keeps equal timestamps in order). */
function sortSeries(s: HistorySeries): void {
  if (s.ts.every((t, i) => i === 0 || (s.ts[i - 1] as number) <= t)) return;
  const order = s.ts.map((_, i) => i).sort((a, b) => (s.ts[a] as number) - (s.ts[b] as number));
  const [ts, values] = [order.map((i) => s.ts[i] as number), order.map((i) => s.values[i] as number)];
  s.ts = ts;
  s.values = values;
}

class SeriesSet {
  readonly byFamily = new Map<string, HistorySeries>();
  add(metric: string, service: string, labels: Labels, ts: number, value: number): void {
    const key = `${familyKey(metric, service)}|${JSON.stringify(labels)}`;
    let entry = this.byFamily.get(key);
    if (!entry) this.byFamily.set(key, (entry = { metric, service, labels, ts: [], values: [] }));
    entry.ts.push(ts);
    entry.values.push(value);
  }
  list(): HistorySeries[] {
    const all = [...this.byFamily.values()];
    for (const s of all) sortSeries(s);
    return all;
  }
}

/**
 * Everything the demo would have stored in [from, to): every minute's push (the
 * shop's `demoPushSamples`) and, at each of those minutes, the derived metrics
 * (`computeDerived`) over the samples pushed at the minutes before it: the cron runs the
 * derivation alongside the minute's push, and its reads reach the series store before
 * that push lands, so the live values never include it. One series per metric family
 * (all unlabelled).
 */
export function demoHistory(from: number, to: number): HistorySeries[] {
  const set = new SeriesSet();
  const add = (s: Sample) => {
    if (s.ts >= from && s.ts < to) set.add(s.metric, s.service, s.labels, s.ts, s.value);
  };
  for (let t = from; t < to; t += MINUTE) for (const s of demoPushSamples(t)) add(s);
  const pushed = set.list();

  const inputs = new Map<string, HistorySeries>();
  for (const d of DERIVED_METRICS) {
    for (const metric of d.inputs) {
      const found = pushed.find((s) => s.metric === metric && s.service === d.service);
      if (found) inputs.set(inputKey(metric, d.service), found);
    }
  }
  for (let t = from; t < to; t += MINUTE) {
    const windows = new Map(
      [...inputs].map(([key, s]) => [
        key,
        [{ labels: s.labels, points: slice(s, t - DERIVED_LOOKBACK_MS, t - MINUTE) }],
      ]),
    );
    for (const s of computeDerived(windows, t)) add(s);
  }
  return set.list();
}

// ---------------------------------------------------------------------------------------------
// Probes: the seeded monitors of the shop's health endpoints, run at their slots.

/** The demo service whose health endpoint an http monitor probes (`…/demo/<service>/health`), or null. */
export function demoProbeTarget(monitor: ProbeMonitor): { service: DemoService; config: HttpProbeConfig } | null {
  if (monitor.kind !== "http") return null;
  const read = readHttpConfig(monitor.config, monitor.intervalSeconds);
  if (!read.ok) return null;
  const path = /^https?:\/\/[^/]+\/demo\/([a-z]+)\/health$/.exec(read.config.url)?.[1];
  const service = DEMO_SERVICES.find((s) => s === path);
  return service ? { service, config: read.config } : null;
}

/** What answering a probe costs on top of the endpoint's own delay, in ms (2–7, drawn per run). */
const probeOverheadMs = (monitorId: number, at: number) =>
  2 + Math.floor(6 * randomStream(`probe-${monitorId}`, Math.floor(at / 1000))());

/**
 * `probe_up` and `probe_latency_ms` of each monitor of a demo health endpoint over
 * [from, to), one run per slot of its interval: the endpoint's answer (`demoHealth`)
 * judged by the monitor's own expectations (`evaluateHttp`) into the probe's samples
 * (`probeSamples`). Status and delay follow the minute (incidents start and end on
 * minutes), so each minute's state is computed once; the latency is the endpoint's delay
 * plus a few ms for the request itself.
 */
export function demoProbeHistory(monitors: readonly ProbeMonitor[], from: number, to: number): HistorySeries[] {
  const targets = monitors.flatMap((m) => {
    const target = demoProbeTarget(m);
    return target ? [{ monitor: m, ...target }] : [];
  });
  if (!targets.length) return [];
  const set = new SeriesSet();
  for (let minute = from; minute < to; minute += MINUTE) {
    const state = shopState(minute);
    for (const t of targets) {
      const step = t.monitor.intervalSeconds * 1000;
      const health = demoHealth(state, t.service);
      const body = JSON.stringify(health.body);
      for (let at = Math.ceil(minute / step) * step; at < minute + MINUTE && at < to; at += step) {
        const outcome = {
          kind: "response" as const,
          status: health.httpStatus,
          body,
          truncated: false,
          latencyMs: health.delayMs + probeOverheadMs(t.monitor.id, at),
        };
        for (const s of probeSamples(t.monitor, { verdict: evaluateHttp(t.config.expect, outcome), outcome, ts: at })) {
          if (s.metric === "probe_up" || s.metric === "probe_latency_ms") {
            set.add(s.metric, s.service, s.labels, s.ts, s.value);
          }
        }
      }
    }
  }
  return set.list();
}

// ---------------------------------------------------------------------------------------------
// Alerts: a rule replayed over the history with the engine's own evaluation and lifecycle.

/** A timeline entry of a replayed alert. */
export interface ReplayedEvent {
  type: "pending" | "fired" | "reopened" | "resolved" | "flapping_started" | "flapping_stopped";
  at: number;
  value: number | null;
  note?: string;
}

/** An alert the rule raised and resolved within the history. */
export interface ReplayedAlert {
  ruleId: number;
  fingerprint: string;
  service: string;
  labels: Labels;
  severity: Rule["severity"];
  /** The reason of the evaluation that fired it. */
  message: string;
  observedAt: number;
  triggeredAt: number;
  resolvedAt: number;
  /** The value when it resolved, the most extreme breaching value, breaches and re-opens. */
  value: number | null;
  peakValue: number | null;
  breaches: number;
  reopened: number;
  flapping: boolean;
  events: ReplayedEvent[];
}

interface Track {
  state: FingerprintState;
  service: string;
  labels: Labels;
  pendingAt: number | null;
  current: ReplayedAlert | null;
}

/**
 * The alerts `rule` would have raised over the history, evaluated at every minute
 * tick in [from, to) as the engine does (the evaluation the series store makes, then the
 * lifecycle's observe and tick), on the samples up to that tick within the rule's
 * lookback. Only alerts resolved before `to` are returned: one still open at `to` is
 * the live engine's to raise.
 */
export function replayRule(rule: Rule, history: readonly HistorySeries[], from: number, to: number): ReplayedAlert[] {
  const cfg: LifecycleConfig = {
    forSeconds: rule.forSeconds,
    resolveForSeconds: rule.resolveForSeconds,
    cooldownMinutes: rule.cooldownMinutes,
  };
  const worse = worseFor(rule);
  const lookbackMs = lookbackSeconds(rule) * 1000;
  const mine = history.filter((s) => s.metric === rule.metricName);
  // Anomaly rules of method detector: each sample as a detector judged it (the series store's, live).
  const judged = new Map(
    usesDetector(rule)
      ? mine.map((s) => [s, detectorJudgements(s.ts.map((ts, i) => ({ ts, value: s.values[i] as number })))] as const)
      : [],
  );
  const tracks = new Map<string, Track>();
  const done: ReplayedAlert[] = [];

  const apply = (track: Track, ev: FingerprintEvaluation, events: ReturnType<typeof observe>["events"]) => {
    for (const e of events) {
      switch (e.type) {
        case "pending":
          track.pendingAt = e.at;
          break;
        case "pending_cleared":
          track.pendingAt = null;
          break;
        case "fired":
          track.current = {
            ruleId: rule.id,
            fingerprint: ev.fingerprint,
            service: track.service,
            labels: track.labels,
            severity: rule.severity,
            message: ev.reason,
            observedAt: e.observedAt,
            triggeredAt: e.at,
            resolvedAt: e.at,
            value: e.value,
            peakValue: e.value,
            breaches: 1,
            reopened: 0,
            flapping: false,
            events: [
              ...(track.pendingAt !== null ? [{ type: "pending" as const, at: track.pendingAt, value: null }] : []),
              { type: "fired", at: e.at, value: e.value, note: ev.reason },
            ],
          };
          track.pendingAt = null;
          break;
        case "reopened": {
          if (!track.current) break;
          track.current.events.push({ type: "reopened", at: e.at, value: e.value });
          // Open again: it counts once it resolves again.
          const index = done.indexOf(track.current);
          if (index >= 0) done.splice(index, 1);
          break;
        }
        case "resolved":
          if (!track.current) break;
          track.current.events.push({ type: "resolved", at: e.at, value: e.value });
          track.current.resolvedAt = e.at;
          track.current.value = e.value;
          done.push(track.current);
          break;
        case "flapping_started":
        case "flapping_stopped":
          track.current?.events.push({ type: e.type, at: e.at, value: null });
          if (track.current) track.current.flapping ||= e.type === "flapping_started";
          break;
        default:
          break;
      }
    }
    const open = track.state.alert;
    if (track.current && open) {
      track.current.peakValue = open.peakValue;
      track.current.breaches = open.breaches;
      track.current.reopened = open.reopened;
    }
  };

  for (let t = from; t < to; t += MINUTE) {
    const windows: SeriesWindow[] = [];
    for (const s of mine) {
      // As the series store evaluates: the lookback window (else the few newest samples that
      // give the freshness bound), and always the newest sample.
      const end = searchSorted(s.ts, t, true);
      if (end === 0) continue;
      const newest = { ts: s.ts[end - 1] as number, value: s.values[end - 1] as number };
      const first = Math.max(0, end - FRESHNESS_SAMPLES);
      const points =
        lookbackMs > 0 ? slice(s, t - lookbackMs, t) : slice(s, s.ts[first] as number, s.ts[end - 1] as number);
      if (points.at(-1)?.ts !== newest.ts) points.push(newest);
      const anomaly = judged.get(s)?.[end - 1];
      windows.push({
        service: s.service,
        labels: s.labels,
        ...(anomaly && { anomaly }),
        samples: points.map((p) => ({
          metric: s.metric,
          service: s.service,
          labels: s.labels,
          ts: p.ts,
          value: p.value,
        })),
      });
    }
    for (const ev of evaluateFingerprints(rule, { series: windows }, t)) {
      let track = tracks.get(ev.fingerprint);
      if (!track) {
        track = { state: initialState(), service: ev.service, labels: ev.labels, pendingAt: null, current: null };
        tracks.set(ev.fingerprint, track);
      }
      const observed = observe(
        track.state,
        { at: t, observedAt: ev.observedAt, value: ev.value, breached: ev.breached, cleared: ev.cleared },
        cfg,
        worse,
      );
      const ticked = tick(observed.state, t, cfg, worse);
      track.state = ticked.state;
      apply(track, ev, [...observed.events, ...ticked.events]);
    }
  }
  return done.sort((a, b) => a.triggeredAt - b.triggeredAt);
}

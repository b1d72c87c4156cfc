/**
 * The alert-quality scenario: 30 days of the demo shop with labelled incidents and labelled
 * non-incidents, as the series the product would have stored (the shop's minute pushes, the
 * derived metrics, the probes of its health endpoints at their own intervals, the Celery
 * scrape). `npm run bench:quality` replays it through the rules and scores the pages.
 *
 * How the labels are produced: by construction. Every deviation from the shop's normal
 * behaviour is injected here (or by the shop's own incident schedule, which this module reads
 * back with `incidentsBetween`), and the window it was injected over is recorded as the label
 * at the same time. Nobody labels alerts after the fact, so the labels cannot be tuned
 * towards what a rule happens to catch: an incident is labelled from its first injected
 * minute (a slow degradation from the minute it starts creeping) to its last. An incident the
 * shop plays (it changes state on whole minutes) truly starts at a random instant of the minute
 * before (phaseOf): its label starts there, and so do its health endpoint's failures.
 *
 * What goes in:
 * - the shop's scheduled incidents (demo-shop.ts: one per 3-hour slot at 90 %, 5–10 min, of
 *   kinds ecpay/api/database/redis/celery), exactly as the live demo has them;
 * - extra incidents of the shop's kinds at 3 a.m., when traffic is a tenth of the peak
 *   (passed to the shop as its `extra` incidents, so every metric and health endpoint reacts
 *   as the shop model says);
 * - hard incidents the shop model has no kind for, as an overlay on the shop's samples:
 *   payment failures creeping up over 30 minutes, one card issuer's payments failing (a
 *   partial outage the gateway's health endpoint does not show), the checkout endpoint
 *   failing, a connection leak filling the database pool over 40 minutes until it is
 *   exhausted, API latency creeping up;
 * - noise: the shop's own, and probes whose network path times out at one location in 50 runs
 *   (the monitors' confirmation from a second location dismisses most, as the probe runner does);
 * - non-incidents that must not page: deploys (a 2-minute error and latency bump, the API
 *   health endpoint answering 503 for 45 s while it restarts), short dips in payments,
 *   the gateway's health endpoint flapping while payments go through, weekends with 30 %
 *   more traffic, and the shop's own noise and daily peak.
 *
 * Pure and deterministic: the same arguments give the same series and labels.
 */
import { decideOutage, needsConfirmation, readConfirmPolicy } from "../confirm";
import { computeDerived, DERIVED_LOOKBACK_MS, DERIVED_METRICS, inputKey, type Point } from "../derived";
import { demoProbeTarget, type HistorySeries } from "../demo-history";
import {
  apiLatencySamples,
  API_LATENCY_SAMPLES_PER_MINUTE,
  DB_POOL_SIZE,
  demoHealth,
  type Incident,
  incidentsBetween,
  type IncidentKind,
  randomStream,
  shopState,
} from "../demo-shop";
import { evaluateHttp, type FetchOutcome, type ProbeMonitor, probeSamples } from "../probe";
import type { Labels } from "../series";
import { searchSorted } from "../sorted";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Asia/Taipei, the shop's time zone (UTC+8, no daylight saving time). */
const TAIPEI_OFFSET_MS = 8 * HOUR;

/** The scored month starts at local midnight of Monday 2 March 2026 (Asia/Taipei). */
export const SCENARIO_FROM = Date.UTC(2026, 2, 1, 16);
export const SCENARIO_DAYS = 30;
/** History before the scored month, so detectors and windows start warm; not scored. */
export const WARMUP_DAYS = 2;

/** The pages an incident deserves: "critical" ones must page, "warning" ones need not. */
export type Deserves = "critical" | "warning";

/** An incident: something a responder would want to know about, during [start, end). */
export interface LabelledIncident {
  id: string;
  /** The shop's kinds, or a scenario shape such as "ecpay-creep". */
  kind: string;
  title: string;
  start: number;
  end: number;
  /** Services whose metrics or health endpoints it changes: an alert on one of them is about it. */
  services: string[];
  deserves: Deserves;
  source: "shop schedule" | "scenario";
}

/** Something that looks unusual but is normal operation: alerts during it are false positives. */
export interface BenignEvent {
  id: string;
  kind: "deploy" | "payment-dip" | "health-flap" | "weekend";
  title: string;
  start: number;
  end: number;
  services: string[];
}

export interface Scenario {
  /** The scored stretch [from, to); the series start WARMUP_DAYS earlier. */
  from: number;
  to: number;
  seriesFrom: number;
  incidents: LabelledIncident[];
  benign: BenignEvent[];
  series: HistorySeries[];
  /**
   * Probe runs, runs whose first location's network blipped (a timeout), and blips that every
   * location of the monitor's confirmation policy saw at once (recorded as down: noise a rule must ride out).
   */
  probeNoise: { runs: number; blips: number; recordedDown: number };
}

/** What the shop's own incident kinds break (demo-shop.ts: HTTP errors rise during api, database and redis incidents). */
const SHOP_KIND_SERVICES: Record<IncidentKind, string[]> = {
  ecpay: ["ecpay"],
  api: ["api"],
  database: ["database", "api"],
  redis: ["redis", "api", "celery"],
  celery: ["celery"],
};

/** Customer-facing outages deserve a page; Celery losing workers delays background work only. */
const SHOP_KIND_DESERVES: Record<IncidentKind, Deserves> = {
  ecpay: "critical",
  api: "critical",
  database: "critical",
  redis: "critical",
  celery: "warning",
};

const SHOP_KIND_TITLES: Record<IncidentKind, string> = {
  ecpay: "payment gateway failing 12 % of payments, health degraded",
  api: "API slow (p50 1.9 s) and 6 % errors, health degraded",
  database: "database pool exhausted, queries slow, API errors",
  redis: "Redis down: API errors, Celery tasks failing",
  celery: "Celery lost 3 of 4 workers, queue backing up",
};

// ---------------------------------------------------------------------------------------------
// The scenario's own events: what they change, as functions of time.

/** A value growing linearly from 0 at `start` to `peak` after `rampMs`, then holding. */
interface Ramp {
  peak: number;
  rampMs: number;
}

/** How an event changes the shop while it lasts (all optional). */
interface Effect {
  /** Full shop incidents of its own kinds (every metric and health endpoint reacts). */
  shop?: Incident[];
  /** Extra share of payments failing. */
  paymentFailure?: Ramp;
  /** Extra share of HTTP requests erroring. */
  httpError?: Ramp;
  /** API response times multiplied by 1 + this. */
  latency?: Ramp;
  /** Payments multiplied by this. */
  payments?: number;
  /** Share of the free database connections leaked (1: the pool is full). */
  poolLeak?: Ramp;
  /** A service's health endpoint answers 503 (every run, or every other run). */
  healthDown?: { service: string; everyOther: boolean };
}

interface Event {
  start: number;
  end: number;
  effect: Effect;
  label:
    | { incident: Omit<LabelledIncident, "start" | "end" | "source"> }
    | { benign: Omit<BenignEvent, "start" | "end"> };
}

const rampAt = (r: Ramp | undefined, start: number, t: number) =>
  r ? r.peak * Math.min(1, Math.max(0, (t - start) / Math.max(1, r.rampMs))) : 0;

/** Local day index (0 = the scored month's first day) and minute → epoch ms. */
const at = (from: number, day: number, hh: number, mm: number) => from + day * DAY + (hh * 60 + mm) * MINUTE;

/** Whether day `day` (0 = a Monday) is a Saturday or a Sunday. */
const isWeekendDay = (day: number) => ((day % 7) + 7) % 7 >= 5;

/** Local day index of `t` relative to `from` (a local midnight). */
const dayOf = (from: number, t: number) => Math.floor((t - from) / DAY);

/**
 * The first start at or after `start` (in 20-minute steps) whose event, padded by 30 minutes,
 * overlaps none of the shop's scheduled incidents: each label then describes one cause.
 */
function clearOfSchedule(start: number, minutes: number): number {
  let s = start;
  while (incidentsBetween(s - 30 * MINUTE, s + (minutes + 30) * MINUTE).length) s += 20 * MINUTE;
  return s;
}

/** The effect of a full shop incident of `kind` over the event's window. */
const shopIncident = (kind: IncidentKind) => (start: number, end: number) => ({ shop: [{ kind, start, end }] });

/** The scenario's events over the month starting at `from`, oldest first. */
function scenarioEvents(from: number, days: number): Event[] {
  const events: Event[] = [];
  const incident = (
    day: number,
    hh: number,
    mm: number,
    minutes: number,
    effect: (start: number, end: number) => Effect,
    label: Omit<LabelledIncident, "start" | "end" | "source" | "id">,
  ) => {
    if (day >= days) return;
    const start = clearOfSchedule(at(from, day, hh, mm), minutes);
    const end = start + minutes * MINUTE;
    const id = `${label.kind}@d${day + 1}`;
    events.push({ start, end, effect: effect(start, end), label: { incident: { id, ...label } } });
  };

  // Outages at 3 a.m., when a tenth of the peak's traffic gives little to measure.
  for (const [day, kind, mm] of [
    [2, "ecpay", 5],
    [9, "redis", 20],
    [16, "api", 50],
    [23, "database", 30],
  ] as const) {
    incident(day, 3, mm, 12, shopIncident(kind), {
      kind: `${kind}-3am`,
      title: `3 a.m. ${SHOP_KIND_TITLES[kind]}`,
      services: SHOP_KIND_SERVICES[kind],
      deserves: "critical",
    });
  }
  // Payment failures creeping from 1 % to 20 % over 30 minutes, then holding for 15.
  for (const [day, hh, mm] of [
    [4, 14, 0],
    [13, 20, 10],
    [24, 11, 30],
  ] as const) {
    incident(day, hh, mm, 45, () => ({ paymentFailure: { peak: 0.19, rampMs: 30 * MINUTE } }), {
      kind: "ecpay-creep",
      title: "payment failures creeping up to 20 % over 30 min (gateway health still ok)",
      services: ["ecpay"],
      deserves: "critical",
    });
  }
  // One card issuer declining everything: 8 % of payments failing for 25 minutes.
  for (const [day, hh, mm] of [
    [6, 19, 40],
    [18, 13, 10],
    [27, 21, 0],
  ] as const) {
    incident(day, hh, mm, 25, () => ({ paymentFailure: { peak: 0.08, rampMs: 0 } }), {
      kind: "ecpay-partial",
      title: "one card issuer failing: 8 % more payments fail (gateway health ok)",
      services: ["ecpay"],
      deserves: "critical",
    });
  }
  // The checkout endpoint failing: 3 % more HTTP errors, 40 % of payments never start.
  for (const [day, hh, mm] of [
    [7, 16, 20],
    [20, 20, 30],
  ] as const) {
    incident(day, hh, mm, 30, () => ({ httpError: { peak: 0.03, rampMs: 0 }, payments: 0.6 }), {
      kind: "checkout-partial",
      title: "checkout endpoint failing: +3 % HTTP errors, 40 % fewer payments (API health ok)",
      services: ["api", "ecpay"],
      deserves: "critical",
    });
  }
  // A connection leak filling the pool over 40 minutes; exhausted for the last 10.
  for (const [day, hh, mm] of [
    [11, 10, 0],
    [25, 18, 0],
  ] as const) {
    incident(
      day,
      hh,
      mm,
      50,
      (_start, end) => ({
        poolLeak: { peak: 1, rampMs: 40 * MINUTE },
        shop: [{ kind: "database", start: end - 10 * MINUTE, end }],
      }),
      {
        kind: "db-pool-leak",
        title: "connection leak: the DB pool fills over 40 min, then 10 min exhausted",
        services: ["database", "api"],
        deserves: "critical",
      },
    );
  }
  // API latency creeping up to 8× over 40 minutes (a slow query plan), holding for 15.
  for (const [day, hh, mm] of [
    [8, 11, 0],
    [21, 15, 0],
  ] as const) {
    incident(day, hh, mm, 55, () => ({ latency: { peak: 7, rampMs: 40 * MINUTE } }), {
      kind: "api-latency-creep",
      title: "API latency creeping up to 8× over 40 min (no errors)",
      services: ["api"],
      deserves: "warning",
    });
  }

  const benign = (start: number, minutes: number, effect: Effect, label: Omit<BenignEvent, "start" | "end">) => {
    // A non-incident overlapping an incident would blur both labels: it moves out of the way.
    let s = start;
    const overlaps = (x: number) =>
      incidentsBetween(x - 15 * MINUTE, x + (minutes + 15) * MINUTE).length > 0 ||
      events.some((e) => "incident" in e.label && e.start < x + (minutes + 15) * MINUTE && e.end > x - 15 * MINUTE);
    while (overlaps(s)) s += 10 * MINUTE;
    events.push({ start: s, end: s + minutes * MINUTE, effect, label: { benign: label } });
    return s;
  };
  for (let day = 0; day < days; day++) {
    const rnd = randomStream("quality-benign", day);
    // Deploys on weekdays at 10:30 and 15:30: a 2-minute bump, 45 s of 503s from the API's health endpoint.
    if (!isWeekendDay(day)) {
      for (const hh of [10, 15]) {
        const start = benign(
          at(from, day, hh, 30),
          2,
          { httpError: { peak: 0.05, rampMs: 0 }, latency: { peak: 3, rampMs: 0 } },
          {
            id: `deploy@d${day + 1}-${hh}h`,
            kind: "deploy",
            title: "deploy: 2 min of +5 % errors and 4× latency",
            services: ["api"],
          },
        );
        events.push({
          start,
          end: start + 45_000,
          effect: { healthDown: { service: "api", everyOther: false } },
          label: {
            benign: {
              id: `deploy@d${day + 1}-${hh}h-restart`,
              kind: "deploy",
              title: "deploy: API health 503 for 45 s while restarting",
              services: ["api"],
            },
          },
        });
      }
    }
    // A short dip in payments (a bank's 3-D Secure page slow for 2 minutes), at a random daytime minute.
    benign(
      at(from, day, 9 + Math.floor(rnd() * 14), Math.floor(rnd() * 60)),
      2,
      { payments: 0.3 },
      { id: `dip@d${day + 1}`, kind: "payment-dip", title: "payments dip to 30 % for 2 min", services: ["ecpay"] },
    );
    // Every third day the gateway's health endpoint flaps (every other probe fails) for 8 minutes.
    if (day % 3 === 1) {
      benign(
        at(from, day, 8 + Math.floor(rnd() * 14), Math.floor(rnd() * 60)),
        8,
        { healthDown: { service: "ecpay", everyOther: true } },
        {
          id: `flap@d${day + 1}`,
          kind: "health-flap",
          title: "ECPay health flapping (every other probe fails), payments fine",
          services: ["ecpay"],
        },
      );
    }
    if (isWeekendDay(day)) {
      events.push({
        start: at(from, day, 0, 0),
        end: at(from, day + 1, 0, 0),
        effect: {},
        label: {
          benign: {
            id: `weekend@d${day + 1}`,
            kind: "weekend",
            title: "weekend: 30 % more traffic",
            services: ["ecpay", "api", "database"],
          },
        },
      });
    }
  }
  return events.sort((a, b) => a.start - b.start);
}

// ---------------------------------------------------------------------------------------------
// The series.

/**
 * How long before its first whole minute an incident the shop plays truly started (1 ms – 60 s,
 * drawn per incident): the first push that shows it is the next whole minute's, and probes meet
 * it at a random point of their interval.
 */
const phaseOf = (i: { start: number }) =>
  1 + Math.floor((MINUTE - 1) * randomStream("quality-phase", Math.floor(i.start / MINUTE))());

/** Chance that one location's probe of a health endpoint times out on its network path, whatever the endpoint does. */
const NETWORK_BLIP = 0.02;

/** Weekend traffic relative to a weekday's at the same hour. */
const WEEKEND_TRAFFIC = 1.3;

class Collector {
  private readonly byKey = new Map<string, HistorySeries>();
  constructor(private readonly from: number) {}
  add(metric: string, service: string, labels: Labels, ts: number, value: number): void {
    if (ts < this.from) return;
    const key = `${metric}|${service}|${JSON.stringify(labels)}`;
    let s = this.byKey.get(key);
    if (!s) this.byKey.set(key, (s = { metric, service, labels, ts: [], values: [] }));
    s.ts.push(ts);
    s.values.push(value);
  }
  get(metric: string, service: string): HistorySeries | undefined {
    return this.byKey.get(`${metric}|${service}|{}`);
  }
  list(): HistorySeries[] {
    const all = [...this.byKey.values()];
    for (const s of all) {
      // Probe runs of several monitors interleave within a minute: keep each series in time order.
      if (s.ts.some((t, i) => i > 0 && t < (s.ts[i - 1] as number))) {
        const order = s.ts.map((_, i) => i).sort((a, b) => (s.ts[a] as number) - (s.ts[b] as number));
        const [ts, values] = [order.map((i) => s.ts[i] as number), order.map((i) => s.values[i] as number)];
        s.ts = ts;
        s.values = values;
      }
    }
    return all.sort((a, b) => (a.metric + a.service < b.metric + b.service ? -1 : 1));
  }
}

/** Points of a series with from <= ts <= to. */
function pointsBetween(s: HistorySeries | undefined, from: number, to: number): Point[] {
  if (!s) return [];
  const points: Point[] = [];
  for (let i = searchSorted(s.ts, from); i < s.ts.length && (s.ts[i] as number) <= to; i++) {
    points.push({ ts: s.ts[i] as number, value: s.values[i] as number });
  }
  return points;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export interface ScenarioOptions {
  /** The monitors probing the shop's health endpoints (as the demo seeds them). */
  monitors?: readonly ProbeMonitor[];
  /** Scored days (default SCENARIO_DAYS); shorter runs are for tests. */
  days?: number;
  /** Unscored days before them (default WARMUP_DAYS). */
  warmupDays?: number;
}

/** Builds the scenario: its labels and the series the product would have stored. */
export function buildScenario(opts: ScenarioOptions = {}): Scenario {
  const days = opts.days ?? SCENARIO_DAYS;
  const warmup = opts.warmupDays ?? WARMUP_DAYS;
  const from = SCENARIO_FROM;
  const to = from + days * DAY;
  const seriesFrom = from - warmup * DAY;

  // Scenario events only in the scored month; the warm-up days have the shop's own schedule.
  const events = scenarioEvents(from, days);
  const extra = events.flatMap((e) => e.effect.shop ?? []);
  const activeAt = (t: number) => events.filter((e) => e.start <= t && t < e.end);

  const out = new Collector(seriesFrom);
  // Counters are rebuilt from the shop's per-minute increments with the overlay applied.
  let prev = shopState(seriesFrom - 11 * MINUTE, extra).counters;
  const acc = { payments: 0, failed: 0, requests: 0, errors: 0 };
  acc.payments = prev.payments;
  acc.failed = prev.paymentsFailed;
  acc.requests = prev.httpRequests;
  acc.errors = prev.httpErrors;
  const history: { payments: number; failed: number }[] = [];

  const targets = (opts.monitors ?? []).flatMap((m) => {
    const target = demoProbeTarget(m);
    return target ? [{ monitor: m, policy: readConfirmPolicy(m.kind, m.config), ...target }] : [];
  });
  const probeNoise = { runs: 0, blips: 0, recordedDown: 0 };

  let state = shopState(seriesFrom - 10 * MINUTE, extra);
  for (let t = seriesFrom - 10 * MINUTE; t < to; t += MINUTE) {
    const next = shopState(t + MINUTE, extra);
    // The shop's incidents start and end on whole minutes; their true start is a random instant
    // of the minute before (see phaseOf): from then on, probes in this minute meet the next
    // minute's state, so they meet an incident at any point of their interval, as a real one.
    const turning = [...incidentsBetween(t, t + 2 * MINUTE), ...extra].filter(
      (i) => i.start === t + MINUTE || i.end === t + MINUTE,
    );
    const turnsAt = turning.length ? t + MINUTE - Math.min(...turning.map(phaseOf)) : Number.POSITIVE_INFINITY;
    const active = activeAt(t - MINUTE / 2);
    const weekend = isWeekendDay(dayOf(from, t - MINUTE / 2)) ? WEEKEND_TRAFFIC : 1;
    const sum = (pick: (e: Event) => number) => active.reduce((n, e) => n + pick(e), 0);
    const product = (pick: (e: Event) => number) => active.reduce((n, e) => n * pick(e), 1);
    const paymentFactor = weekend * product((e) => e.effect.payments ?? 1);
    const failShare = sum((e) => rampAt(e.effect.paymentFailure, e.start, t));
    const errorShare = sum((e) => rampAt(e.effect.httpError, e.start, t));
    const leak = Math.min(
      1,
      sum((e) => rampAt(e.effect.poolLeak, e.start, t)),
    );

    // This minute's increments, as the shop counts them, then the overlay.
    const c = state.counters;
    const payments = (c.payments - prev.payments) * paymentFactor;
    const failed = Math.min(payments, (c.paymentsFailed - prev.paymentsFailed) * paymentFactor + payments * failShare);
    const requests = (c.httpRequests - prev.httpRequests) * weekend;
    const errors = Math.min(requests, (c.httpErrors - prev.httpErrors) * weekend + requests * errorShare);
    prev = c;
    acc.payments += payments;
    acc.failed += failed;
    acc.requests += requests;
    acc.errors += errors;
    const P = Math.floor(acc.payments);
    const F = Math.floor(acc.failed);
    history.push({ payments: P, failed: F });
    const fiveAgo = history[history.length - 6];
    const dp = fiveAgo ? P - fiveAgo.payments : 0;
    const successRate = round1(100 - (dp > 0 ? (100 * (F - (fiveAgo?.failed ?? 0))) / dp : 0));

    const base = state.database.poolInUse;
    const busy = Math.min(DB_POOL_SIZE - 2, Math.round(base + 10 * state.traffic * (weekend - 1)));
    const inUse = base >= DB_POOL_SIZE ? base : Math.round(busy + (DB_POOL_SIZE - busy) * leak);
    const queryMs =
      inUse >= DB_POOL_SIZE && base < DB_POOL_SIZE
        ? state.database.queryMs * 40
        : inUse >= DB_POOL_SIZE - 3 && base < DB_POOL_SIZE
          ? state.database.queryMs * 3
          : state.database.queryMs;

    out.add("payments_total", "ecpay", {}, t, P);
    out.add("payments_failed_total", "ecpay", {}, t, F);
    out.add("payment_success_rate", "ecpay", {}, t, successRate);
    out.add("http_requests_total", "api", {}, t, Math.floor(acc.requests));
    out.add("http_errors_total", "api", {}, t, Math.floor(acc.errors));
    out.add("db_pool_in_use", "database", {}, t, inUse);
    out.add("db_pool_size", "database", {}, t, DB_POOL_SIZE);
    out.add("db_query_ms", "database", {}, t, queryMs);
    for (const { ts, value } of apiLatencySamples(t, API_LATENCY_SAMPLES_PER_MINUTE, extra)) {
      const factor = 1 + activeAt(ts).reduce((n, e) => n + rampAt(e.effect.latency, e.start, ts), 0);
      out.add("api_response_ms", "api", {}, ts, Math.round(value * factor));
    }
    // The Celery scrape (every 60 s): the gauges its alerting would read.
    out.add("celery_workers", "celery", {}, t, state.celery.workers);
    out.add("celery_queue_length", "celery", { queue: "default" }, t, state.celery.queueLength);

    // Probes of the health endpoints, at each monitor's own slots within this minute.
    for (const target of targets) {
      const step = target.monitor.intervalSeconds * 1000;
      for (let run = Math.ceil(t / step) * step; run < t + MINUTE && run < to; run += step) {
        const health = demoHealth(run >= turnsAt ? next : state, target.service);
        const down = activeAt(run).find(
          (e) =>
            e.effect.healthDown?.service === target.service &&
            (!e.effect.healthDown.everyOther || Math.floor((run - e.start) / step) % 2 === 0),
        );
        const draw = randomStream(`quality-probe-${target.monitor.id}`, run / 1000);
        const overhead = () => 2 + Math.floor(6 * draw());
        // What one location sees: the endpoint's answer, unless its network path blips (a timeout).
        const seen = (): FetchOutcome => {
          if (draw() < NETWORK_BLIP) {
            return { kind: "error", reason: "timed out", timedOut: true, latencyMs: target.config.timeoutMs };
          }
          return down
            ? {
                kind: "response",
                status: 503,
                body: '{"status":"unavailable"}',
                truncated: false,
                latencyMs: overhead(),
              }
            : {
                kind: "response",
                status: health.httpStatus,
                body: JSON.stringify(health.body),
                truncated: false,
                latencyMs: health.delayMs + overhead(),
              };
        };
        probeNoise.runs++;
        let outcome = seen();
        let verdict = evaluateHttp(target.config.expect, outcome);
        if (outcome.kind === "error") probeNoise.blips++;
        // A failure is confirmed from the other locations of the monitor's policy, as the probe runner does.
        if (needsConfirmation(target.policy, verdict.up)) {
          const others = Array.from({ length: target.policy.locations - 1 }, () => {
            const o = seen();
            return { outcome: o, verdict: evaluateHttp(target.config.expect, o) };
          });
          const decision = decideOutage(
            target.policy,
            others.map((o) => ({ up: o.verdict.up })),
          );
          const upThere = others.find((o) => o.verdict.up);
          if (!decision.outage && upThere) {
            outcome = upThere.outcome;
            verdict = upThere.verdict;
          } else if (outcome.kind === "error" && others.every((o) => o.outcome.kind === "error")) {
            probeNoise.recordedDown++;
          }
        }
        for (const s of probeSamples(target.monitor, { verdict, outcome, ts: run })) {
          if (s.metric === "probe_up" || s.metric === "probe_latency_ms")
            out.add(s.metric, s.service, s.labels, s.ts, s.value);
        }
      }
    }
    state = next;
  }

  // Derived metrics, as the cron computes them each minute from the samples pushed before it.
  const inputs = new Map<string, HistorySeries>();
  for (const d of DERIVED_METRICS) {
    for (const metric of d.inputs) {
      const found = out.get(metric, d.service);
      if (found) inputs.set(inputKey(metric, d.service), found);
    }
  }
  const derived: { metric: string; service: string; ts: number; value: number }[] = [];
  for (let t = seriesFrom; t < to; t += MINUTE) {
    const windows = new Map(
      [...inputs].map(([key, s]) => [
        key,
        [{ labels: s.labels, points: pointsBetween(s, t - DERIVED_LOOKBACK_MS, t - MINUTE) }],
      ]),
    );
    for (const s of computeDerived(windows, t)) derived.push(s);
  }
  for (const s of derived) out.add(s.metric, s.service, {}, s.ts, s.value);

  const incidents: LabelledIncident[] = [
    ...incidentsBetween(seriesFrom, to).map((i) => ({
      id: `${i.kind}@${new Date(i.start).toISOString().slice(5, 16)}`,
      kind: i.kind,
      title: SHOP_KIND_TITLES[i.kind],
      start: i.start - phaseOf(i),
      end: i.end - phaseOf(i),
      services: SHOP_KIND_SERVICES[i.kind],
      deserves: SHOP_KIND_DESERVES[i.kind],
      source: "shop schedule" as const,
    })),
    ...events.flatMap((e) => {
      if (!("incident" in e.label)) return [];
      // An incident the shop itself plays from its first minute truly starts during the minute before.
      const shift = e.effect.shop?.some((i) => i.start === e.start) ? phaseOf(e) : 0;
      return [{ ...e.label.incident, start: e.start - shift, end: e.end - shift, source: "scenario" as const }];
    }),
  ].sort((a, b) => a.start - b.start);
  const benign = events
    .flatMap((e) => ("benign" in e.label ? [{ ...e.label.benign, start: e.start, end: e.end }] : []))
    .sort((a, b) => a.start - b.start);
  return { from, to, seriesFrom, incidents, benign, series: out.list(), probeNoise };
}

/** Local (Asia/Taipei) "Mon 03-02 14:05" of an instant, for reports. */
export function localTime(t: number): string {
  const d = new Date(t + TAIPEI_OFFSET_MS);
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()];
  return `${day} ${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`;
}

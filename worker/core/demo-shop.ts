/**
 * The demo shop: a deterministic simulation of a Taiwan online shop (ECPay payments, API,
 * PostgreSQL, Redis, Celery, email) with a daily traffic shape and occasional incidents.
 * Pure: time is passed in; randomness comes from a PRNG seeded by the time bucket.
 */
import { fnv1a, mulberry32 } from "./random";
import type { Sample } from "./series";

export const INCIDENT_KINDS = ["ecpay", "api", "database", "redis", "celery"] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

/** Something going wrong in the shop during [start, end) (epoch ms). */
export interface Incident {
  kind: IncidentKind;
  start: number;
  end: number;
}

export type DemoStatus = "ok" | "degraded" | "down";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Asia/Taipei is UTC+8 all year (no daylight saving time). */
const TAIPEI_OFFSET_MS = 8 * HOUR;

/** Counters count from here; before it they are 0. */
export const DEMO_EPOCH = Date.UTC(2026, 0, 1);

/** Incident schedule: at most one incident per slot, in a random minute-aligned place inside it. */
export const INCIDENT_SLOT_MS = 3 * HOUR;
export const INCIDENT_PROBABILITY = 0.9;
export const INCIDENT_MIN_MINUTES = 5;
export const INCIDENT_MAX_MINUTES = 10;

export const DB_POOL_SIZE = 20;
export const CELERY_WORKERS = 4;
const CELERY_CONCURRENCY = 4;

/** Per minute at the evening peak (traffic 1). */
const PAYMENTS_PEAK_PER_MINUTE = 90;
const REQUESTS_PER_PAYMENT = 45;
const TASKS_PER_PAYMENT = 3;

/** Share of payments failing, of requests erroring and of tasks failing or retrying. */
const PAYMENT_FAILURE = 0.01;
const ECPAY_INCIDENT_FAILURE = 0.12;
const HTTP_ERROR = 0.003;
const HTTP_ERROR_DURING: Partial<Record<IncidentKind, number>> = { api: 0.06, database: 0.04, redis: 0.03 };
const TASK_FAILURE = 0.004;
const TASK_RETRY = 0.01;
/** Redis is the Celery broker: while it is down, tasks fail and retry. */
const TASK_FAILURE_REDIS_DOWN = 0.05;
const TASK_RETRY_REDIS_DOWN = 0.1;
/** Share of new tasks left queued while Celery has lost workers; drained in twice the incident's length. */
const BACKLOG_SHARE = 0.6;
const BACKLOG_DRAIN_FACTOR = 2;

/** Artificial response delays of the health endpoints during incidents (probes see them). */
const HEALTH_DELAY_MS: Partial<Record<IncidentKind, number>> = { ecpay: 1200, api: 2500, database: 1000 };

/** Celery task runtime histogram: bucket bounds (s) and the share of tasks at or below each. */
export const TASK_RUNTIME_BUCKETS: readonly (readonly [le: number, share: number])[] = [
  [0.05, 0.08],
  [0.1, 0.22],
  [0.25, 0.55],
  [0.5, 0.8],
  [1, 0.93],
  [2.5, 0.985],
  [5, 0.997],
  [10, 0.9995],
];
const TASK_RUNTIME_MEAN_S = 0.42;

// ---------------------------------------------------------------------------------------------
// Randomness: a small hash of (stream, index) seeds mulberry32.

function seedOf(stream: string, index: number): number {
  let h = fnv1a(stream);
  h = Math.imul(h ^ (index >>> 0), 0x01000193);
  h = Math.imul(h ^ Math.floor(index / 0x1_0000_0000), 0x01000193);
  // murmur3 finaliser: neighbouring indexes get unrelated seeds
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform numbers in [0, 1) from mulberry32, seeded by a stream name and an integer (a time bucket). */
export function randomStream(stream: string, index: number): () => number {
  return mulberry32(seedOf(stream, index));
}

/** A standard normal number (Box–Muller). */
function gaussian(next: () => number): number {
  const u = 1 - next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round1 = (x: number) => Math.round(x * 10) / 10;
const minuteOf = (t: number) => Math.floor(t / MINUTE);

// ---------------------------------------------------------------------------------------------
// The daily shape.

/**
 * Relative traffic at each local hour 0…24 (Asia/Taipei; the last equals the first):
 * quiet before dawn, a lunch peak, the evening peak 20:00–23:00.
 */
const HOURLY_TRAFFIC = [
  0.42, 0.26, 0.16, 0.12, 0.1, 0.1, 0.13, 0.22, 0.35, 0.45, 0.52, 0.68, 0.88, 0.8, 0.62, 0.55, 0.55, 0.58, 0.64, 0.74,
  0.9, 1, 0.97, 0.72, 0.42,
];
const knot = (i: number) => HOURLY_TRAFFIC[i] ?? 0;

/** Traffic-minutes accumulated from local midnight to the start of each hour. */
const HOURLY_PREFIX: readonly number[] = (() => {
  const prefix = [0];
  for (let i = 0; i < 24; i++) prefix.push((prefix[i] ?? 0) + (60 * (knot(i) + knot(i + 1))) / 2);
  return prefix;
})();
const TRAFFIC_MINUTES_PER_DAY = HOURLY_PREFIX[24] ?? 0;

function localHour(t: number): { day: number; hour: number; fraction: number } {
  const local = t + TAIPEI_OFFSET_MS;
  const day = Math.floor(local / DAY);
  const hours = (local - day * DAY) / HOUR;
  const hour = Math.min(23, Math.floor(hours));
  return { day, hour, fraction: hours - hour };
}

/** Relative traffic at `t` (1 = the evening peak), piecewise linear between the hourly knots. */
export function trafficAt(t: number): number {
  const { hour, fraction } = localHour(t);
  return knot(hour) + (knot(hour + 1) - knot(hour)) * fraction;
}

/** ∫ traffic dt in minutes, from a fixed origin (exact for the piecewise-linear shape). */
function trafficIntegral(t: number): number {
  const { day, hour, fraction } = localHour(t);
  const a = knot(hour);
  const b = knot(hour + 1);
  return (
    day * TRAFFIC_MINUTES_PER_DAY + (HOURLY_PREFIX[hour] ?? 0) + 60 * (a * fraction + ((b - a) * fraction ** 2) / 2)
  );
}

/** Traffic-minutes between `from` and `to`. */
const trafficMinutes = (from: number, to: number) => trafficIntegral(to) - trafficIntegral(from);

// ---------------------------------------------------------------------------------------------
// Incidents.

/** The scheduled incident of slot `slot` (slot × INCIDENT_SLOT_MS onwards), if any. */
function scheduledIncident(slot: number): Incident | null {
  const next = randomStream("incident", slot);
  if (next() >= INCIDENT_PROBABILITY) return null;
  const slotMinutes = INCIDENT_SLOT_MS / MINUTE;
  // keep 10 quiet minutes at both ends so incidents never touch across slots
  const startMinute = 10 + Math.floor(next() * (slotMinutes - 20 - INCIDENT_MAX_MINUTES));
  const minutes = INCIDENT_MIN_MINUTES + Math.floor(next() * (INCIDENT_MAX_MINUTES - INCIDENT_MIN_MINUTES + 1));
  const kind = INCIDENT_KINDS[Math.floor(next() * INCIDENT_KINDS.length)] ?? "ecpay";
  const start = slot * INCIDENT_SLOT_MS + startMinute * MINUTE;
  return { kind, start, end: start + minutes * MINUTE };
}

/** Scheduled incidents overlapping [from, to), oldest first. */
export function incidentsBetween(from: number, to: number): Incident[] {
  const found: Incident[] = [];
  for (let slot = Math.floor(from / INCIDENT_SLOT_MS); slot * INCIDENT_SLOT_MS < to; slot++) {
    const incident = scheduledIncident(slot);
    if (incident && incident.start < to && incident.end > from) found.push(incident);
  }
  return found;
}

/** The first scheduled incident starting at or after `t`. */
export function nextIncident(t: number): Incident {
  for (let slot = Math.floor(t / INCIDENT_SLOT_MS); ; slot++) {
    const incident = scheduledIncident(slot);
    if (incident && incident.start >= t) return incident;
  }
}

/** An incident of `kind` around `t` (from 5 minutes before to 5 after): a way to preview one on demand. */
export function incidentAround(kind: IncidentKind, t: number): Incident {
  const minute = minuteOf(t) * MINUTE;
  return { kind, start: minute - 5 * MINUTE, end: minute + 5 * MINUTE };
}

export function isIncidentKind(value: string): value is IncidentKind {
  return (INCIDENT_KINDS as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------
// Counters: cumulative since DEMO_EPOCH, never decreasing.

/**
 * A jittered cumulative count: `perMinute` × traffic-minutes plus noise that is drawn at
 * minute boundaries (± `jitter` × the rate) and interpolated in between. With jitter < 0.5
 * the noise can never outrun the growth, so the count never decreases.
 */
function jittered(t: number, stream: string, perMinute: number, jitter: number): number {
  const noise = (minute: number) =>
    jitter * perMinute * trafficAt(minute * MINUTE) * (2 * randomStream(stream, minute)() - 1);
  const raw = (x: number) => {
    const m = minuteOf(x);
    const f = (x - m * MINUTE) / MINUTE;
    return perMinute * trafficIntegral(x) + noise(m) + (noise(m + 1) - noise(m)) * f;
  };
  return Math.max(0, raw(t) - raw(DEMO_EPOCH));
}

export interface ShopCounters {
  payments: number;
  paymentsFailed: number;
  httpRequests: number;
  httpErrors: number;
  celerySucceeded: number;
  celeryFailed: number;
  celeryRetried: number;
}

type Exposure = Record<IncidentKind, number>;

const noExposure = (): Exposure => ({ ecpay: 0, api: 0, database: 0, redis: 0, celery: 0 });

function addExposure(exposure: Exposure, i: Incident, t: number): void {
  const from = Math.max(i.start, DEMO_EPOCH);
  const to = Math.min(i.end, t);
  if (to > from) exposure[i.kind] += trafficMinutes(from, to);
}

const EPOCH_SLOT = Math.floor(DEMO_EPOCH / INCIDENT_SLOT_MS);
/**
 * Memo of the scheduled exposure before each slot since DEMO_EPOCH (index 0 = the epoch's
 * slot). A cache of a pure function: results do not depend on it, only the cost does.
 */
const exposureBeforeSlot: Exposure[] = [noExposure()];

function scheduledExposureBefore(slot: number): Exposure {
  for (let k = exposureBeforeSlot.length; k <= slot - EPOCH_SLOT; k++) {
    const next = { ...(exposureBeforeSlot[k - 1] ?? noExposure()) };
    const incident = scheduledIncident(EPOCH_SLOT + k - 1);
    if (incident) addExposure(next, incident, Number.POSITIVE_INFINITY);
    exposureBeforeSlot.push(next);
  }
  return { ...(exposureBeforeSlot[Math.max(0, slot - EPOCH_SLOT)] ?? noExposure()) };
}

/** Traffic-minutes spent inside incidents of each kind, from DEMO_EPOCH to `t`. */
function incidentExposure(t: number, extra: readonly Incident[]): Exposure {
  const slot = Math.floor(t / INCIDENT_SLOT_MS);
  const exposure = scheduledExposureBefore(slot);
  const current = scheduledIncident(slot);
  if (current) addExposure(exposure, current, t);
  for (const i of extra) addExposure(exposure, i, t);
  return exposure;
}

/** Celery tasks waiting because workers were lost: grows during a celery incident, drains after it. */
function celeryBacklog(t: number, extra: readonly Incident[]): number {
  const tasksPerMinute = PAYMENTS_PEAK_PER_MINUTE * TASKS_PER_PAYMENT;
  let backlog = 0;
  const recent = [...incidentsBetween(t - 2 * INCIDENT_SLOT_MS, t), ...extra];
  for (const i of recent) {
    if (i.kind !== "celery" || i.start >= t) continue;
    const grown = BACKLOG_SHARE * tasksPerMinute * trafficMinutes(i.start, Math.min(t, i.end));
    const drainMs = BACKLOG_DRAIN_FACTOR * (i.end - i.start);
    backlog += t <= i.end ? grown : grown * Math.max(0, 1 - (t - i.end) / drainMs);
  }
  return backlog;
}

/** The shop's cumulative counters at `t` (`extra`: incidents on top of the schedule). */
export function shopCounters(t: number, extra: readonly Incident[] = []): ShopCounters {
  const exposure = incidentExposure(t, extra);
  const payments = PAYMENTS_PEAK_PER_MINUTE;
  const requests = payments * REQUESTS_PER_PAYMENT;
  const tasks = payments * TASKS_PER_PAYMENT;
  const extraHttpErrors = INCIDENT_KINDS.reduce(
    (sum, kind) => sum + requests * Math.max(0, (HTTP_ERROR_DURING[kind] ?? HTTP_ERROR) - HTTP_ERROR) * exposure[kind],
    0,
  );
  const enqueued = jittered(t, "celery", tasks, 0.1);
  return {
    payments: Math.floor(jittered(t, "payments", payments, 0.15)),
    paymentsFailed: Math.floor(
      jittered(t, "payments-failed", payments * PAYMENT_FAILURE, 0.45) +
        payments * (ECPAY_INCIDENT_FAILURE - PAYMENT_FAILURE) * exposure.ecpay,
    ),
    httpRequests: Math.floor(jittered(t, "http", requests, 0.15)),
    httpErrors: Math.floor(jittered(t, "http-errors", requests * HTTP_ERROR, 0.45) + extraHttpErrors),
    celerySucceeded: Math.floor(Math.max(0, (1 - TASK_FAILURE - TASK_RETRY) * enqueued - celeryBacklog(t, extra))),
    celeryFailed: Math.floor(
      jittered(t, "celery-failed", tasks * TASK_FAILURE, 0.45) +
        tasks * (TASK_FAILURE_REDIS_DOWN - TASK_FAILURE) * exposure.redis,
    ),
    celeryRetried: Math.floor(
      jittered(t, "celery-retried", tasks * TASK_RETRY, 0.45) +
        tasks * (TASK_RETRY_REDIS_DOWN - TASK_RETRY) * exposure.redis,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// The state at one instant.

export interface ShopState {
  at: number;
  /** Relative traffic this minute, 1 = the evening peak. */
  traffic: number;
  /** Incidents in progress at `at`. */
  incidents: Incident[];
  ecpay: {
    status: DemoStatus;
    latencyMs: number;
    paymentsPerMinute: number;
    /** Failed share of the last 5 minutes' payments, %. */
    failureRatePct: number;
    successRatePct: number;
  };
  api: {
    status: DemoStatus;
    requestsPerMinute: number;
    /** Errored share of the last 5 minutes' requests, %. */
    errorRatePct: number;
    p50Ms: number;
    p95Ms: number;
  };
  database: { status: DemoStatus; poolInUse: number; poolSize: number; queryMs: number };
  redis: { status: DemoStatus; usedMemoryBytes: number; connectedClients: number; latencyMs: number };
  celery: {
    status: DemoStatus;
    workers: number;
    activeTasks: number;
    queueLength: number;
    /** The "settle payments" beat task of this minute: how long it runs, and whether it finishes. */
    beatRuntimeMs: number;
    beatSucceeds: boolean;
  };
  email: { status: DemoStatus; latencyMs: number };
  /** How long each health endpoint takes to answer now (ms, at most 3 s). */
  healthDelayMs: Record<DemoService, number>;
  counters: ShopCounters;
}

export const DEMO_SERVICES = ["ecpay", "api", "database", "redis", "celery", "email"] as const;
export type DemoService = (typeof DEMO_SERVICES)[number];

const FIVE_MINUTES = 5 * MINUTE;
const pct = (part: number, whole: number) => (whole > 0 ? (100 * part) / whole : 0);

/** Median and spread (σ of the log) of API response times at `t`. */
function apiLatencyModel(traffic: number, active: ReadonlySet<IncidentKind>): { median: number; sigma: number } {
  if (active.has("api")) return { median: 1900, sigma: 0.3 };
  const median = 130 + 40 * traffic;
  return active.has("database") ? { median: median * 2.5, sigma: 0.5 } : { median, sigma: 0.5 };
}

function activeAt(t: number, extra: readonly Incident[]): Incident[] {
  return [...incidentsBetween(t, t + 1), ...extra.filter((i) => i.start <= t && t < i.end)];
}

/** The whole shop at `t`. Gauges are drawn once per minute, so the same minute gives the same values. */
export function shopState(t: number, extra: readonly Incident[] = []): ShopState {
  // gauges follow the minute, so one minute reads the same throughout
  const traffic = trafficAt(minuteOf(t) * MINUTE);
  const incidents = activeAt(t, extra);
  const active = new Set(incidents.map((i) => i.kind));
  const next = randomStream("gauges", minuteOf(t));
  const noise = () => 2 * next() - 1;

  const counters = shopCounters(t, extra);
  const minuteAgo = shopCounters(t - MINUTE, extra);
  const fiveAgo = shopCounters(t - FIVE_MINUTES, extra);
  const failureRatePct = pct(counters.paymentsFailed - fiveAgo.paymentsFailed, counters.payments - fiveAgo.payments);

  const { median, sigma } = apiLatencyModel(traffic, active);
  const p50 = median * Math.exp(0.05 * noise());

  const backlog = celeryBacklog(t, extra);
  const workers = active.has("celery") ? 1 : CELERY_WORKERS;
  const redisDown = active.has("redis");

  const status = (kind: IncidentKind, bad: DemoStatus): DemoStatus => (active.has(kind) ? bad : "ok");
  const delay = (kind: IncidentKind) => (active.has(kind) ? Math.min(3000, HEALTH_DELAY_MS[kind] ?? 0) : 0);

  return {
    at: t,
    traffic,
    incidents,
    ecpay: {
      status: status("ecpay", "degraded"),
      latencyMs: Math.round(active.has("ecpay") ? 1200 + 400 * next() : 160 + 40 * traffic + 30 * noise()),
      paymentsPerMinute: counters.payments - minuteAgo.payments,
      failureRatePct: round1(failureRatePct),
      successRatePct: round1(100 - failureRatePct),
    },
    api: {
      status: status("api", "degraded"),
      requestsPerMinute: counters.httpRequests - minuteAgo.httpRequests,
      errorRatePct: round1(pct(counters.httpErrors - fiveAgo.httpErrors, counters.httpRequests - fiveAgo.httpRequests)),
      p50Ms: Math.round(p50),
      p95Ms: Math.round(p50 * Math.exp(1.645 * sigma)),
    },
    database: {
      status: status("database", "degraded"),
      poolInUse: active.has("database")
        ? DB_POOL_SIZE
        : Math.round(clamp(2 + 10 * traffic + 1.5 * gaussian(next), 1, DB_POOL_SIZE - 2)),
      poolSize: DB_POOL_SIZE,
      queryMs: Math.round(active.has("database") ? 800 + 400 * next() : 4 + 6 * traffic + 2 * next()),
    },
    redis: {
      status: redisDown ? "down" : "ok",
      usedMemoryBytes: redisDown ? 0 : Math.round((180 + 60 * traffic + 4 * noise()) * 1024 * 1024),
      connectedClients: redisDown ? 0 : Math.round(25 + 60 * traffic + 3 * noise()),
      latencyMs: redisDown ? 0 : round1(0.4 + 0.6 * traffic + 0.2 * next()),
    },
    celery: {
      status: status("celery", "degraded"),
      workers,
      activeTasks: Math.round(
        clamp(1 + 6 * traffic * (workers / CELERY_WORKERS) + noise(), 0, workers * CELERY_CONCURRENCY),
      ),
      queueLength: Math.round(backlog + 1 + 6 * traffic * next()),
      beatRuntimeMs: Math.round(200 + 400 * next()),
      beatSucceeds: !active.has("celery"),
    },
    email: { status: "ok", latencyMs: Math.round(250 + 100 * traffic + 150 * next()) },
    healthDelayMs: {
      ecpay: delay("ecpay"),
      api: delay("api"),
      database: delay("database"),
      redis: 0,
      celery: 0,
      email: 0,
    },
    counters,
  };
}

/**
 * `count` API response times (ms) observed in the minute before `t`, evenly spread in
 * time. Each is drawn from the second it falls in, so repeated calls agree.
 */
export function apiLatencySamples(
  t: number,
  count: number,
  extra: readonly Incident[] = [],
): { ts: number; value: number }[] {
  const samples: { ts: number; value: number }[] = [];
  for (let i = 0; i < count; i++) {
    const ts = Math.round(t - MINUTE + ((i + 1) * MINUTE) / count);
    const active = new Set(activeAt(ts, extra).map((x) => x.kind));
    const { median, sigma } = apiLatencyModel(trafficAt(ts), active);
    const z = gaussian(randomStream("api-latency", Math.floor(ts / 1000)));
    samples.push({ ts, value: Math.round(median * Math.exp(sigma * z)) });
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// What the shop exposes and pushes.

export const API_LATENCY_SAMPLES_PER_MINUTE = 12;

const sample = (metric: string, service: string, value: number, ts: number): Sample => ({
  metric,
  service,
  labels: {},
  value,
  ts,
});

/**
 * The samples the shop's application pushes at `now`: payment and HTTP counters, the
 * payment success rate, API response times of the past minute, the DB pool gauges and
 * the database's query latency.
 * `backfillMinutes` adds counter and gauge readings for that many whole minutes before
 * `now`, so rates over a window are available from the first push.
 */
export function demoPushSamples(
  now: number,
  opts: { backfillMinutes?: number; extra?: readonly Incident[] } = {},
): Sample[] {
  const extra = opts.extra ?? [];
  const samples: Sample[] = [];
  for (let back = opts.backfillMinutes ?? 0; back >= 0; back--) {
    const ts = now - back * MINUTE;
    const s = shopState(ts, extra);
    samples.push(
      sample("payments_total", "ecpay", s.counters.payments, ts),
      sample("payments_failed_total", "ecpay", s.counters.paymentsFailed, ts),
      sample("payment_success_rate", "ecpay", s.ecpay.successRatePct, ts),
      sample("http_requests_total", "api", s.counters.httpRequests, ts),
      sample("http_errors_total", "api", s.counters.httpErrors, ts),
      sample("db_pool_in_use", "database", s.database.poolInUse, ts),
      sample("db_pool_size", "database", s.database.poolSize, ts),
      sample("db_query_ms", "database", s.database.queryMs, ts),
    );
  }
  for (const { ts, value } of apiLatencySamples(now, API_LATENCY_SAMPLES_PER_MINUTE, extra)) {
    samples.push(sample("api_response_ms", "api", value, ts));
  }
  return samples;
}

type Family = { name: string; help: string; type: "counter" | "gauge" | "histogram"; lines: [string, number][] };

const formatValue = (v: number) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1e6) / 1e6));

/** Prometheus text exposition (format 0.0.4) of the shop's Celery and DB-pool metrics. */
export function renderShopMetrics(state: ShopState): string {
  const { celery, database, counters } = state;
  const finished = counters.celerySucceeded + counters.celeryFailed;
  const families: Family[] = [
    { name: "celery_workers", help: "Celery workers online.", type: "gauge", lines: [["", celery.workers]] },
    {
      name: "celery_active_tasks",
      help: "Tasks being executed right now.",
      type: "gauge",
      lines: [["", celery.activeTasks]],
    },
    {
      name: "celery_queue_length",
      help: "Tasks waiting in the broker queue.",
      type: "gauge",
      lines: [['{queue="default"}', celery.queueLength]],
    },
    {
      name: "celery_tasks_total",
      help: "Celery task events by final state.",
      type: "counter",
      lines: [
        ['{state="succeeded"}', counters.celerySucceeded],
        ['{state="failed"}', counters.celeryFailed],
        ['{state="retried"}', counters.celeryRetried],
      ],
    },
    {
      name: "celery_task_runtime_seconds",
      help: "Runtime of finished Celery tasks.",
      type: "histogram",
      lines: [
        ...TASK_RUNTIME_BUCKETS.map(([le, share]): [string, number] => [
          `_bucket{le="${le}"}`,
          Math.floor(share * finished),
        ]),
        ['_bucket{le="+Inf"}', finished],
        ["_sum", Math.round(TASK_RUNTIME_MEAN_S * finished * 1000) / 1000],
        ["_count", finished],
      ],
    },
    {
      name: "db_pool_in_use",
      help: "Database connections checked out of the pool.",
      type: "gauge",
      lines: [["", database.poolInUse]],
    },
    { name: "db_pool_size", help: "Database connection pool size.", type: "gauge", lines: [["", database.poolSize]] },
  ];
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [suffix, value] of f.lines) out.push(`${f.name}${suffix} ${formatValue(value)}`);
  }
  return `${out.join("\n")}\n`;
}

export interface DemoHealth {
  httpStatus: 200 | 503;
  /** Snake_case JSON body; never contains "ok" unless the status is "ok" (probes look for it). */
  body: Record<string, unknown>;
  delayMs: number;
}

const INCIDENT_MESSAGES: Record<IncidentKind, string> = {
  ecpay: "payment gateway returning errors",
  api: "responses slow, requests timing out",
  database: "connection pool exhausted",
  redis: "connection refused",
  celery: "workers lost, queue backing up",
};

/** What the health endpoint of `service` answers in `state`. */
export function demoHealth(state: ShopState, service: DemoService): DemoHealth {
  const { ecpay, api, database, redis, celery, email } = state;
  const details: Record<DemoService, [DemoStatus, Record<string, unknown>]> = {
    ecpay: [
      ecpay.status,
      {
        latency_ms: ecpay.latencyMs,
        payments_per_minute: ecpay.paymentsPerMinute,
        failure_rate_pct: ecpay.failureRatePct,
      },
    ],
    api: [
      api.status,
      {
        requests_per_minute: api.requestsPerMinute,
        error_rate_pct: api.errorRatePct,
        p50_ms: api.p50Ms,
        p95_ms: api.p95Ms,
      },
    ],
    database: [
      database.status,
      { pool_in_use: database.poolInUse, pool_size: database.poolSize, query_ms: database.queryMs },
    ],
    redis: [
      redis.status,
      redis.status === "down"
        ? {}
        : {
            used_memory_bytes: redis.usedMemoryBytes,
            connected_clients: redis.connectedClients,
            latency_ms: redis.latencyMs,
          },
    ],
    celery: [
      celery.status,
      { workers: celery.workers, active_tasks: celery.activeTasks, queue_length: celery.queueLength },
    ],
    email: [email.status, { latency_ms: email.latencyMs }],
  };
  const [status, fields] = details[service];
  const incident = service === "email" ? undefined : state.incidents.find((i) => i.kind === service);
  return {
    httpStatus: status === "ok" ? 200 : 503,
    body: {
      status,
      service,
      checked_at: new Date(state.at).toISOString(),
      ...fields,
      ...(incident ? { message: INCIDENT_MESSAGES[incident.kind] } : {}),
    },
    delayMs: state.healthDelayMs[service],
  };
}

/**
 * Reads for `GET /metrics` (core/self-metrics.ts renders them): counts and aggregates over
 * the tables the product already writes, in one D1 batch, aggregated in SQL so that only a
 * handful of rows come back however busy the product is.
 */
import { ALERT_STATES, DELIVERY_LATENCY_BUCKETS, type SelfMetrics } from "../core/self-metrics";
import { CRON_INTERVAL_MS } from "../core/schedule";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * `notification_deliveries` is never pruned and has no index on time, but its ids grow with
 * enqueued_at (a row is written as its job is enqueued): the newest row enqueued before ?1,
 * found by walking the ids down from the newest, bounds the rows of the window by primary key.
 * So a scrape reads the last day's rows, not the whole history.
 */
const AFTER_CUT = `id > COALESCE((SELECT id FROM notification_deliveries WHERE enqueued_at < ?1 ORDER BY id DESC LIMIT 1), 0)`;

/** Everything `renderSelfMetrics` needs but the counters (lib/counters.ts) and the version. */
export async function readSelfMetrics(db: D1Database, now: number): Promise<Omit<SelfMetrics, "counters" | "version">> {
  const dayAgo = now - DAY_MS;
  const hourAgo = now - HOUR_MS;
  // One SUM per bucket bound gives the cumulative counts the histogram wants.
  const bucketSums = DELIVERY_LATENCY_BUCKETS.map(
    (_, i) => `COALESCE(SUM(CASE WHEN delivered_at - enqueued_at <= ?${i + 3} THEN 1 ELSE 0 END), 0) AS b${i}`,
  ).join(", ");

  const [alerts, deliveries, backlog, latency, rules, monitors, lag] = await db.batch([
    // Open alerts through the status index; resolved ones only of the last day (they pile up forever).
    db
      .prepare(
        `SELECT status, COUNT(*) AS n FROM alert_history
         WHERE status IN ('firing', 'acknowledged') OR (status = 'resolved' AND resolved_at >= ?1)
         GROUP BY status`,
      )
      .bind(dayAgo),
    db
      .prepare(
        `SELECT channel, status, COUNT(*) AS n FROM notification_deliveries
         WHERE ${AFTER_CUT} AND enqueued_at >= ?1 GROUP BY channel, status ORDER BY channel, status`,
      )
      .bind(dayAgo),
    db.prepare(`SELECT COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM notification_deliveries WHERE status = 'queued'`),
    // Of the last day's rows (a delivery that took longer is left out); `+status` keeps the
    // planner on the id range rather than the status index, which holds every sent row ever.
    db
      .prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(delivered_at - enqueued_at), 0) AS total_ms, ${bucketSums}
         FROM notification_deliveries
         WHERE ${AFTER_CUT} AND +status = 'sent' AND delivered_at >= ?2`,
      )
      .bind(dayAgo, hourAgo, ...DELIVERY_LATENCY_BUCKETS.map((s) => s * 1000)),
    db.prepare(`SELECT is_active AS active, COUNT(*) AS n FROM alert_rules GROUP BY is_active`),
    db.prepare(`SELECT kind, COUNT(*) AS n FROM monitors WHERE is_active = 1 GROUP BY kind ORDER BY kind`),
    // Only cron-run probes keep last_run_at in D1; the fast loop keeps it in its Durable Object.
    db
      .prepare(
        `SELECT id, name, interval_seconds, last_run_at FROM monitors
         WHERE is_active = 1 AND kind IN ('http', 'prometheus') AND interval_seconds >= ?1
           AND last_run_at IS NOT NULL
         ORDER BY id`,
      )
      .bind(CRON_INTERVAL_MS / 1000),
  ]);

  type Counted = { n: number };
  const alertCounts = { firing: 0, acknowledged: 0, resolved: 0 };
  for (const row of rows<Counted & { status: string }>(alerts)) {
    const state = ALERT_STATES.find((s) => s === row.status);
    if (state) alertCounts[state] = row.n;
  }
  const queued = rows<Counted & { oldest: number | null }>(backlog)[0];
  const hist = rows<Counted & { total_ms: number } & Record<string, number>>(latency)[0];
  const ruleRows = rows<Counted & { active: number }>(rules);

  return {
    alerts: alertCounts,
    notifications: rows<Counted & { channel: string; status: string }>(deliveries).map((r) => ({
      channel: r.channel,
      status: r.status,
      count: r.n,
    })),
    backlog: queued?.n ?? 0,
    oldestUndeliveredSeconds: queued?.oldest != null ? Math.max(0, now - queued.oldest) / 1000 : 0,
    deliveryLatency: {
      cumulative: DELIVERY_LATENCY_BUCKETS.map((_, i) => hist?.[`b${i}`] ?? 0),
      count: hist?.n ?? 0,
      sumSeconds: (hist?.total_ms ?? 0) / 1000,
    },
    rules: {
      active: ruleRows.find((r) => r.active === 1)?.n ?? 0,
      inactive: ruleRows.find((r) => r.active !== 1)?.n ?? 0,
    },
    monitors: rows<Counted & { kind: string }>(monitors).map((r) => ({ kind: r.kind, count: r.n })),
    probeLag: rows<{ id: number; name: string; interval_seconds: number; last_run_at: number }>(lag).map((r) => ({
      id: r.id,
      monitor: r.name,
      seconds: Math.max(0, now - r.last_run_at - r.interval_seconds * 1000) / 1000,
    })),
  };
}

const rows = <T>(result: D1Result | undefined): T[] => (result?.results ?? []) as T[];

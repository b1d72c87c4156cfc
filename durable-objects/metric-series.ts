/**
 * MetricSeries: one Durable Object per series, named by `seriesKey`. Holds the raw
 * window, the latest sample and 1-minute rollups in its SQLite; an alarm writes closed
 * minutes and hours to D1 `system_metrics`, and every sample also goes to Analytics Engine.
 */
import { DurableObject } from "cloudflare:workers";
import { planDataPoints } from "../worker/core/analytics";
import {
  HOUR_MS,
  MINUTE_MS,
  ROW_COLUMNS,
  type Resolution,
  type Retention,
  type Rollup,
  type SeriesIdentity,
  type StoredRollup,
  bucketStart,
  chunkRows,
  emptyRollup,
  flushOffset,
  foldByBucket,
  isClosed,
  loadRollup,
  mergeRollups,
  nextWakeAt,
  parseRetention,
  rowValues,
  storeRollup,
  withinRawWindow,
} from "../worker/core/rollup";
import { type Labels, type Sample, seriesKey } from "../worker/core/series";

/** Buckets written per alarm; a larger backlog drains on the following alarms. */
const MAX_ROWS_PER_FLUSH = 700;
/** Raw rows per INSERT statement (two bound parameters each, at most 100). */
const RAW_ROWS_PER_INSERT = 50;

const UPSERT_PREFIX = `INSERT INTO system_metrics (${ROW_COLUMNS.join(", ")}) VALUES `;
const UPSERT_SUFFIX = ` ON CONFLICT (series_key, resolution_seconds, bucket_start) DO UPDATE SET ${ROW_COLUMNS.filter(
  (c) => !["series_key", "resolution_seconds", "bucket_start"].includes(c),
)
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")}`;
const ROW_PLACEHOLDERS = `(${ROW_COLUMNS.map(() => "?").join(", ")})`;

interface PendingBucket {
  resolution: Resolution;
  start: number;
  rev: number;
  rollup: Rollup;
}

export class MetricSeries extends DurableObject<Env> {
  private readonly retention: Retention;
  private identity: SeriesIdentity | null;
  /** The alarm as last set by this instance; undefined until read (saves a storage call per record). */
  private alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.retention = parseRetention(env);
    const sql = ctx.storage.sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS raw (ts INTEGER NOT NULL, value REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS raw_ts ON raw (ts);
      CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), metric TEXT, service TEXT, labels TEXT);
      CREATE TABLE IF NOT EXISTS latest (
        id INTEGER PRIMARY KEY CHECK (id = 1), ts INTEGER NOT NULL, value REAL NOT NULL, message TEXT);
      CREATE TABLE IF NOT EXISTS minute (
        bucket_start INTEGER PRIMARY KEY, count INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL,
        max REAL NOT NULL, sketch TEXT NOT NULL, rev INTEGER NOT NULL, flushed_rev INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS hour (
        bucket_start INTEGER PRIMARY KEY, rev INTEGER NOT NULL, flushed_rev INTEGER NOT NULL DEFAULT 0);
    `);
    const row = sql
      .exec<{ metric: string; service: string; labels: string }>("SELECT metric, service, labels FROM meta")
      .toArray()[0];
    this.identity = row ? identityOf(row.metric, row.service, JSON.parse(row.labels) as Labels) : null;
  }

  /**
   * Stores samples of this series (all must share its identity) and returns how many
   * were stored: samples older than the raw window are refused. Also folds them into
   * their minutes (late ones included) and writes them to Analytics Engine.
   */
  async record(samples: Sample[]): Promise<number> {
    const now = Date.now();
    const fresh = samples.filter((s) => withinRawWindow(s.ts, now, this.retention));
    const first = fresh[0];
    if (!first) return 0;
    const touched = this.ctx.storage.transactionSync(() => this.store(first, fresh));
    const wake = nextWakeAt({
      now,
      pendingMinutes: [touched],
      pendingHours: [],
      oldestRaw: null,
      oldestFlushedMinute: null,
      retention: this.retention,
      offsetMs: flushOffset(this.identity?.seriesKey ?? ""),
    });
    if (this.alarmAt === undefined) {
      const stored = await this.ctx.storage.getAlarm();
      if (this.alarmAt === undefined) this.alarmAt = stored;
    }
    if (wake !== null && (this.alarmAt === null || wake < this.alarmAt)) {
      this.alarmAt = wake;
      await this.ctx.storage.setAlarm(wake);
    }
    try {
      for (const point of planDataPoints(fresh)) this.env.METRICS_AE.writeDataPoint(point);
    } catch (err) {
      // The samples are stored; the long-range copy is best effort.
      console.error("analytics engine write failed", err);
    }
    return fresh.length;
  }

  /** Samples with `ts >= since`, oldest first. */
  since(since: number): Sample[] {
    const id = this.identity;
    if (!id) return [];
    return this.ctx.storage.sql
      .exec<{ ts: number; value: number }>("SELECT ts, value FROM raw WHERE ts >= ? ORDER BY ts", since)
      .toArray()
      .map((r) => ({ metric: id.metric, service: id.service, labels: id.labels, ts: r.ts, value: r.value }));
  }

  /** The newest sample (with its message, when it had one), or null before the first one. */
  latest(): Sample | null {
    const id = this.identity;
    const row = this.ctx.storage.sql
      .exec<{ ts: number; value: number; message: string | null }>("SELECT ts, value, message FROM latest")
      .toArray()[0];
    if (!id || !row) return null;
    const sample: Sample = { metric: id.metric, service: id.service, labels: id.labels, value: row.value, ts: row.ts };
    if (row.message !== null) sample.message = row.message;
    return sample;
  }

  /** Raw samples currently held. */
  stats(): { count: number; oldest: number | null; newest: number | null } {
    return this.ctx.storage.sql
      .exec<{ count: number; oldest: number | null; newest: number | null }>(
        "SELECT count(*) AS count, min(ts) AS oldest, max(ts) AS newest FROM raw",
      )
      .one();
  }

  /** Writes closed buckets to D1, prunes expired rows, and sets the next wake-up. */
  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const now = Date.now();
    this.prune(now);
    let failed = false;
    const pending = this.closedPending(now);
    if (this.identity && pending.length) {
      try {
        await this.writeRows(this.identity, pending);
        this.markFlushed(pending);
      } catch (err) {
        // Kept as pending: the next wake-up writes them again.
        failed = true;
        console.error(`series ${this.identity.seriesKey}: rollup flush failed`, err);
      }
    }
    await this.rearm(Date.now(), failed);
  }

  /** Inserts raw rows, the latest sample and minute rollups; returns the earliest minute touched. */
  private store(first: Sample, samples: Sample[]): number {
    const sql = this.ctx.storage.sql;
    if (!this.identity) {
      sql.exec(
        "INSERT OR REPLACE INTO meta (id, metric, service, labels) VALUES (1, ?, ?, ?)",
        first.metric,
        first.service,
        JSON.stringify(first.labels),
      );
      this.identity = identityOf(first.metric, first.service, first.labels);
    }
    let newest = first;
    for (let i = 0; i < samples.length; i += RAW_ROWS_PER_INSERT) {
      const chunk = samples.slice(i, i + RAW_ROWS_PER_INSERT);
      const params: number[] = [];
      for (const s of chunk) {
        params.push(s.ts, s.value);
        if (s.ts >= newest.ts) newest = s;
      }
      sql.exec(`INSERT INTO raw (ts, value) VALUES ${chunk.map(() => "(?, ?)").join(", ")}`, ...params);
    }
    sql.exec(
      `INSERT INTO latest (id, ts, value, message) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, value = excluded.value, message = excluded.message
       WHERE excluded.ts >= latest.ts`,
      newest.ts,
      newest.value,
      newest.message ?? null,
    );
    let earliest = Number.POSITIVE_INFINITY;
    const hours = new Set<number>();
    for (const [start, added] of foldByBucket(samples, 60)) {
      earliest = Math.min(earliest, start);
      hours.add(bucketStart(start, 3600));
      const row = sql
        .exec<StoredRollup & { rev: number }>(
          "SELECT count, sum, min, max, sketch, rev FROM minute WHERE bucket_start = ?",
          start,
        )
        .toArray()[0];
      const rollup = row ? loadRollup(row) : emptyRollup();
      mergeRollups(rollup, added);
      if (rollup.count === 0) continue;
      const s = storeRollup(rollup);
      sql.exec(
        `INSERT INTO minute (bucket_start, count, sum, min, max, sketch, rev) VALUES (?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (bucket_start) DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min,
           max = excluded.max, sketch = excluded.sketch, rev = minute.rev + 1`,
        start,
        s.count,
        s.sum,
        s.min,
        s.max,
        s.sketch,
      );
    }
    for (const h of hours) {
      sql.exec(
        "INSERT INTO hour (bucket_start, rev) VALUES (?, 1) ON CONFLICT (bucket_start) DO UPDATE SET rev = hour.rev + 1",
        h,
      );
    }
    return earliest;
  }

  /** Closed minutes and hours with changes not yet in D1, oldest first, at most MAX_ROWS_PER_FLUSH. */
  private closedPending(now: number): PendingBucket[] {
    const sql = this.ctx.storage.sql;
    const minutes = sql
      .exec<StoredRollup & { bucket_start: number; rev: number }>(
        `SELECT bucket_start, count, sum, min, max, sketch, rev FROM minute
         WHERE rev > flushed_rev AND bucket_start <= ? ORDER BY bucket_start LIMIT ?`,
        now - MINUTE_MS,
        MAX_ROWS_PER_FLUSH,
      )
      .toArray()
      .map((r): PendingBucket => ({ resolution: 60, start: r.bucket_start, rev: r.rev, rollup: loadRollup(r) }));
    const hours = sql
      .exec<{ bucket_start: number; rev: number }>(
        "SELECT bucket_start, rev FROM hour WHERE rev > flushed_rev AND bucket_start <= ? ORDER BY bucket_start LIMIT ?",
        now - HOUR_MS,
        Math.max(MAX_ROWS_PER_FLUSH - minutes.length, 0),
      )
      .toArray()
      .map((h): PendingBucket => {
        const rollup = emptyRollup();
        const parts = sql
          .exec<StoredRollup>(
            "SELECT count, sum, min, max, sketch FROM minute WHERE bucket_start >= ? AND bucket_start < ?",
            h.bucket_start,
            h.bucket_start + HOUR_MS,
          )
          .toArray();
        for (const part of parts) mergeRollups(rollup, loadRollup(part));
        return { resolution: 3600, start: h.bucket_start, rev: h.rev, rollup };
      });
    return [...minutes, ...hours].filter((b) => isClosed(b.start, b.resolution, now));
  }

  /** One D1 batch of multi-row upserts: a re-flushed or amended bucket replaces its row. */
  private async writeRows(id: SeriesIdentity, pending: PendingBucket[]): Promise<void> {
    const rows = pending.filter((b) => b.rollup.count > 0).map((b) => rowValues(id, b.resolution, b.start, b.rollup));
    const statements = chunkRows(rows).map((chunk) =>
      this.env.DB.prepare(`${UPSERT_PREFIX}${chunk.map(() => ROW_PLACEHOLDERS).join(", ")}${UPSERT_SUFFIX}`).bind(
        ...chunk.flat(),
      ),
    );
    if (statements.length) await this.env.DB.batch(statements);
  }

  /** Marks what was written; a bucket changed meanwhile keeps a newer rev and stays pending. */
  private markFlushed(pending: PendingBucket[]): void {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const b of pending) {
        const table = b.resolution === 60 ? "minute" : "hour";
        sql.exec(
          `UPDATE ${table} SET flushed_rev = ? WHERE bucket_start = ? AND flushed_rev < ?`,
          b.rev,
          b.start,
          b.rev,
        );
      }
    });
  }

  private prune(now: number): void {
    const sql = this.ctx.storage.sql;
    const { rawMs, minuteMs } = this.retention;
    this.ctx.storage.transactionSync(() => {
      sql.exec("DELETE FROM raw WHERE ts < ?", now - rawMs);
      sql.exec("DELETE FROM minute WHERE bucket_start < ? AND rev = flushed_rev", now - minuteMs);
      // No sample older than the raw window is accepted, so these hours can no longer change.
      sql.exec("DELETE FROM hour WHERE bucket_start < ? AND rev = flushed_rev", now - rawMs - HOUR_MS);
    });
  }

  private async rearm(now: number, failed: boolean): Promise<void> {
    const sql = this.ctx.storage.sql;
    const first = (query: string) => sql.exec<{ v: number | null }>(query).one().v;
    const pendingMinute = first("SELECT min(bucket_start) AS v FROM minute WHERE rev > flushed_rev");
    const pendingHour = first("SELECT min(bucket_start) AS v FROM hour WHERE rev > flushed_rev");
    const wake = nextWakeAt({
      now,
      pendingMinutes: pendingMinute === null ? [] : [pendingMinute],
      pendingHours: pendingHour === null ? [] : [pendingHour],
      oldestRaw: first("SELECT min(ts) AS v FROM raw"),
      oldestFlushedMinute: first("SELECT min(bucket_start) AS v FROM minute WHERE rev = flushed_rev"),
      retention: this.retention,
      failed,
      offsetMs: flushOffset(this.identity?.seriesKey ?? ""),
    });
    if (wake === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(wake);
    this.alarmAt = wake;
  }
}

function identityOf(metric: string, service: string, labels: Labels): SeriesIdentity {
  return { seriesKey: seriesKey(metric, service, labels), metric, service, labels };
}

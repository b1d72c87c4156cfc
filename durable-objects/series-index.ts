/**
 * SeriesIndex: one instance ("main") holding the latest sample of every series, so
 * health, realtime metrics and rules read many series in one call. Changes reach the
 * live dashboard as a "metrics" delta at once when the last delta is PUBLISH_INTERVAL_MS
 * old, else when that interval ends (an alarm throttles them).
 */
import { DurableObject } from "cloudflare:workers";
import { type Labels, type LatestValueRow, SAMPLE_ROW_COLUMNS, type Sample, sampleRow } from "../worker/core/series";
import { publishAt } from "../worker/core/throttle";
import { HEALTH_METRICS, readMonitorHealth, toServiceHealthWire } from "../worker/lib/health";
import { toSampleWire } from "../worker/lib/series";

/** Most rows `list` answers. */
export const LIST_LIMIT = 10_000;
/**
 * Minimum time between two published deltas. With the families' INDEX_DELAY_MS (also
 * leading edge), a change waits at most this long for the index's turn, so it reaches the
 * dashboard within a second even while others keep the index busy.
 */
export const PUBLISH_INTERVAL_MS = 500;
/**
 * Objects from before the published-seq watermark kept their unpublished changes in a
 * `pending` table (a row written and deleted per change): those marks move onto the rows.
 */
export function migratePendingMarks(sql: SqlStorage): void {
  const columns = (table: string) =>
    sql
      .exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
      .toArray()
      .map((c) => c.name);
  if (!columns("latest").includes("seq")) sql.exec("ALTER TABLE latest ADD COLUMN seq INTEGER NOT NULL DEFAULT 0");
  if (!columns("state").includes("published_seq")) {
    sql.exec("ALTER TABLE state ADD COLUMN published_seq INTEGER NOT NULL DEFAULT 0");
  }
  if (!columns("pending").length) return;
  sql.exec(`UPDATE latest SET seq = p.seq FROM pending AS p WHERE latest.series_key = p.series_key`);
  // Published up to just before the oldest unpublished change; with none, up to the last change.
  sql.exec("UPDATE state SET published_seq = coalesce((SELECT min(seq) - 1 FROM pending), state.seq) WHERE id = 1");
  sql.exec("DROP TABLE pending");
}

/**
 * Latest values per UPDATE, bound as values (4 each, and the update's time and seq, within the
 * 100 bound parameters a statement takes): cheaper for SQLite than rows decoded from JSON text.
 */
const VALUES_PER_UPDATE = 24;
const UPDATE_STATEMENTS: string[] = [];
/** The UPDATE of `n` series' latest values (made once per size, as is its prepared statement). */
function updateValues(n: number): string {
  return (UPDATE_STATEMENTS[n] ??= `UPDATE latest SET value = n.column2, ts = n.column3, message = n.column4,
     updated_at = ?, seq = ?
   FROM (VALUES ${Array.from({ length: n }, () => "(?, ?, ?, ?)").join(", ")}) AS n
   WHERE latest.series_key = n.column1 AND n.column3 > latest.ts`);
}

/** Keys per `IN (…)` query (at most 100 bound parameters). */
const KEYS_PER_QUERY = 100;

interface Row extends Record<string, SqlStorageValue> {
  series_key: string;
  metric: string;
  service: string;
  labels: string;
  value: number;
  ts: number;
  message: string | null;
}

const COLUMNS = SAMPLE_ROW_COLUMNS;

function toSample(r: Row): Sample {
  const s: Sample = {
    metric: r.metric,
    service: r.service,
    labels: JSON.parse(r.labels) as Labels,
    value: r.value,
    ts: r.ts,
  };
  if (r.message !== null) s.message = r.message;
  return s;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class SeriesIndex extends DurableObject<Env> {
  /** Whether a publish is scheduled or running (then it publishes later changes too); undefined until read. */
  private armed: boolean | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS latest (
        series_key TEXT PRIMARY KEY, metric TEXT NOT NULL, service TEXT NOT NULL, labels TEXT NOT NULL,
        value REAL NOT NULL, ts INTEGER NOT NULL, message TEXT, updated_at INTEGER NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0);
      CREATE INDEX IF NOT EXISTS latest_metric_service ON latest (metric, service);
      CREATE TABLE IF NOT EXISTS state (
        id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, published_at INTEGER,
        published_seq INTEGER NOT NULL DEFAULT 0);
      INSERT OR IGNORE INTO state (id, seq, published_at) VALUES (1, 0, NULL);
    `);
    ctx.storage.transactionSync(() => migratePendingMarks(sql));
  }

  /** Upserts the latest sample of each series; a sample replaces the held one only when newer. */
  async update(latest: Sample[]): Promise<void> {
    await this.updateRows(JSON.stringify(latest.map(sampleRow)));
  }

  /**
   * `update` with the rows already made (a series store makes them from what it holds, so
   * neither side builds a sample per series): `rows` a JSON array of whole `SampleRow`s;
   * `values` the new latest values of series the index has (a series it does not have, e.g.
   * removed meanwhile, is left out).
   */
  async updateRows(rows: string, values: readonly LatestValueRow[] = []): Promise<void> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    // A changed row carries the update's seq: rows with a seq above the last published one are
    // the next delta.
    const changed = this.ctx.storage.transactionSync(() => {
      const seq = sql.exec<{ seq: number }>("UPDATE state SET seq = seq + 1 WHERE id = 1 RETURNING seq").one().seq;
      let written = 0;
      if (rows !== "[]") {
        // One statement, the rows bound as one JSON array.
        written += sql.exec(
          `INSERT INTO latest (${COLUMNS}, updated_at, seq)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, ?, ?
           FROM json_each(?) WHERE true
           ON CONFLICT (series_key) DO UPDATE SET value = excluded.value, ts = excluded.ts,
             message = excluded.message, updated_at = excluded.updated_at, seq = excluded.seq
           WHERE excluded.ts > latest.ts`,
          now,
          seq,
          rows,
        ).rowsWritten;
      }
      for (let i = 0; i < values.length; i += VALUES_PER_UPDATE) {
        const part = values.slice(i, i + VALUES_PER_UPDATE);
        written += sql.exec(updateValues(part.length), now, seq, ...part.flat()).rowsWritten;
      }
      return written;
    });
    if (changed === 0) return;
    if (this.armed === undefined) {
      const stored = await this.ctx.storage.getAlarm();
      if (this.armed === undefined) this.armed = stored !== null;
    }
    if (this.armed) return;
    this.armed = true;
    const last = sql.exec<{ published_at: number | null }>("SELECT published_at FROM state").one().published_at;
    await this.ctx.storage.setAlarm(publishAt(now, last, PUBLISH_INTERVAL_MS));
  }

  /** Latest samples, optionally of one metric and/or service, ordered by metric, service (at most LIST_LIMIT). */
  list(filter: { metric?: string; service?: string } = {}): Sample[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.metric !== undefined) {
      where.push("metric = ?");
      params.push(filter.metric);
    }
    if (filter.service !== undefined) {
      where.push("service = ?");
      params.push(filter.service);
    }
    return this.ctx.storage.sql
      .exec<Row>(
        `SELECT ${COLUMNS} FROM latest ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
         ORDER BY metric, service, series_key LIMIT ${LIST_LIMIT}`,
        ...params,
      )
      .toArray()
      .map(toSample);
  }

  /** The latest sample of each series key, in the order asked; null for an unknown series. */
  get(keys: string[]): (Sample | null)[] {
    const found = new Map<string, Sample>();
    for (const part of chunks([...new Set(keys)], KEYS_PER_QUERY)) {
      const rows = this.ctx.storage.sql
        .exec<Row>(`SELECT ${COLUMNS} FROM latest WHERE series_key IN (${part.map(() => "?").join(", ")})`, ...part)
        .toArray();
      for (const r of rows) found.set(r.series_key, toSample(r));
    }
    return keys.map((k) => found.get(k) ?? null);
  }

  /** Forgets series (e.g. of a deleted monitor). */
  remove(keys: string[]): void {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const part of chunks(keys, KEYS_PER_QUERY)) {
        const marks = part.map(() => "?").join(", ");
        sql.exec(`DELETE FROM latest WHERE series_key IN (${marks})`, ...part);
      }
    });
  }

  /** Publishes everything changed since the last delta. */
  override async alarm(): Promise<void> {
    this.armed = true;
    try {
      this.armed = await this.publishPending();
    } catch (err) {
      this.armed = undefined;
      throw err;
    }
  }

  /** Whether a health metric (HEALTH_METRICS) changed with a seq in (`after`, `upTo`]. */
  private healthChanged(after: number, upTo: number): boolean {
    const metrics = [...HEALTH_METRICS];
    return (
      this.ctx.storage.sql
        .exec(
          `SELECT 1 FROM latest WHERE seq > ? AND seq <= ? AND metric IN (${metrics.map(() => "?").join(", ")}) LIMIT 1`,
          after,
          upTo,
          ...metrics,
        )
        .toArray().length > 0
    );
  }

  /**
   * Sends pending changes as one delta; returns whether another publish is scheduled. While
   * no dashboard listens the metrics delta is skipped (a socket's snapshot reads this index),
   * and only the services topic, which the hub keeps for snapshots, goes out.
   */
  private async publishPending(): Promise<boolean> {
    const sql = this.ctx.storage.sql;
    // Read before asking the hub: what is skipped is older than any socket that opens meanwhile.
    const { seq: upTo, published_seq: published } = sql
      .exec<{ seq: number; published_seq: number }>("SELECT seq, published_seq FROM state")
      .one();
    try {
      const hub = this.env.DASHBOARD_HUB.getByName("main");
      const listening = await hub.listening();
      const rows = listening
        ? sql
            .exec<Row>(
              `SELECT ${COLUMNS} FROM latest WHERE seq > ? AND seq <= ? ORDER BY metric, service, series_key`,
              published,
              upTo,
            )
            .toArray()
        : [];
      if (rows.length) {
        await hub.publish(
          "metrics",
          rows.map((r) => toSampleWire(toSample(r))),
        );
      }
      // A new probe or heartbeat reading can change a service's health: show it now, not at the next cron.
      const healthChanged = listening
        ? rows.some((r) => HEALTH_METRICS.has(r.metric))
        : this.healthChanged(published, upTo);
      if (healthChanged) {
        const services = await readMonitorHealth(this.env, Date.now(), (keys) => this.get(keys));
        await hub.publish("services", services.map(toServiceHealthWire));
      }
    } catch (err) {
      // Still pending: the next alarm publishes them.
      console.error("metrics delta publish failed", err);
      await this.ctx.storage.setAlarm(Date.now() + PUBLISH_INTERVAL_MS);
      return true;
    }
    const now = Date.now();
    sql.exec("UPDATE state SET published_at = ?, published_seq = ? WHERE id = 1", now, upTo);
    // Changes made while publishing carry a newer seq and go out in the next delta.
    const left = sql.exec("SELECT 1 FROM latest WHERE seq > ? LIMIT 1", upTo).toArray().length > 0;
    if (left) await this.ctx.storage.setAlarm(now + PUBLISH_INTERVAL_MS);
    return left;
  }
}

/**
 * MetricSeries: one Durable Object per series (metric, service, labels), named
 * by `seriesKey`. Holds the raw window in its SQLite storage; the latest value
 * and recent samples are what rules and the dashboard read.
 */
import { DurableObject } from "cloudflare:workers";
import type { Labels, Sample } from "../worker/core/series";

/** Raw samples are kept this long (the collection layer may configure it later). */
export const RAW_RETENTION_MS = 24 * 60 * 60 * 1000;

export class MetricSeries extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS raw (ts INTEGER NOT NULL, value REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS raw_ts ON raw (ts);
      CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), metric TEXT, service TEXT, labels TEXT);
    `);
  }

  /** Stores samples of this series (all must share its identity); drops raw points past retention. */
  record(samples: Sample[]): number {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      const first = samples[0];
      if (first) {
        sql.exec(
          "INSERT OR REPLACE INTO meta (id, metric, service, labels) VALUES (1, ?, ?, ?)",
          first.metric,
          first.service,
          JSON.stringify(first.labels),
        );
      }
      for (const s of samples) sql.exec("INSERT INTO raw (ts, value) VALUES (?, ?)", s.ts, s.value);
      const newest = samples.reduce((m, s) => Math.max(m, s.ts), 0);
      if (newest) sql.exec("DELETE FROM raw WHERE ts < ?", newest - RAW_RETENTION_MS);
    });
    return samples.length;
  }

  /** Samples with `ts >= since`, oldest first. */
  since(since: number): Sample[] {
    const meta = this.identity();
    if (!meta) return [];
    return this.ctx.storage.sql
      .exec<{ ts: number; value: number }>("SELECT ts, value FROM raw WHERE ts >= ? ORDER BY ts", since)
      .toArray()
      .map((r) => ({ ...meta, ts: r.ts, value: r.value }));
  }

  /** The newest sample, or null before the first one. */
  latest(): Sample | null {
    const meta = this.identity();
    const row = this.ctx.storage.sql
      .exec<{ ts: number; value: number }>("SELECT ts, value FROM raw ORDER BY ts DESC LIMIT 1")
      .toArray()[0];
    return meta && row ? { ...meta, ts: row.ts, value: row.value } : null;
  }

  private identity(): { metric: string; service: string; labels: Labels } | null {
    const row = this.ctx.storage.sql
      .exec<{ metric: string; service: string; labels: string }>("SELECT metric, service, labels FROM meta")
      .toArray()[0];
    return row ? { metric: row.metric, service: row.service, labels: JSON.parse(row.labels) as Labels } : null;
  }
}

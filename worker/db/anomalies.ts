/**
 * The store of `anomalies` and `anomaly_feedback`: the upserts the series stores write
 * episodes with, the list, the feedback a family's store damps with, and feedback writes.
 */
import type { Episode } from "../core/anomaly/episodes";
import type { FeedbackPattern } from "../core/anomaly/feedback";
import type { Labels } from "../core/series";
import type { RawRow } from "./rows";
import type { anomalies, anomalyFeedback } from "./schema";

/** An `anomalies` row as D1 returns it (labels as JSON text). */
export type AnomalyRow = RawRow<typeof anomalies>;

/** An `anomaly_feedback` row as D1 returns it. */
export type FeedbackRow = RawRow<typeof anomalyFeedback>;

/** One episode of one series, as the series store writes it. */
export interface AnomalyWrite {
  seriesKey: string;
  metric: string;
  service: string;
  labels: Labels;
  episode: Episode;
}

/**
 * Writes episodes as rows, one upsert each on (series_key, started_at) in one batch: a
 * start inserts, a later write of the same episode updates its peak and end. Returns the rows.
 */
export async function upsertAnomalies(db: D1Database, writes: readonly AnomalyWrite[]): Promise<AnomalyRow[]> {
  if (!writes.length) return [];
  const now = Date.now();
  const statements = writes.map(({ seriesKey, metric, service, labels, episode: e }) =>
    db
      .prepare(
        `INSERT INTO anomalies (series_key, metric, service, labels, started_at, ended_at, peak_score, peak_at,
           direction, observed, expected, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (series_key, started_at) DO UPDATE SET ended_at = excluded.ended_at,
           peak_score = excluded.peak_score, peak_at = excluded.peak_at, direction = excluded.direction,
           observed = excluded.observed, expected = excluded.expected, updated_at = excluded.updated_at
         RETURNING *`,
      )
      .bind(
        seriesKey,
        metric,
        service,
        JSON.stringify(labels),
        e.startedAt,
        e.endedAt,
        e.peakScore,
        e.peakAt,
        e.direction,
        e.observed,
        e.expected,
        now,
        now,
      ),
  );
  const results = await db.batch<AnomalyRow>(statements);
  return results.flatMap((r) => r.results);
}

/** Anomalies overlapping [from, now): ongoing, or ended at or after `from`; newest start first. */
export async function listAnomalyRows(
  db: D1Database,
  filter: { from: number; metric?: string; service?: string; limit: number },
): Promise<AnomalyRow[]> {
  const where = ["(ended_at IS NULL OR ended_at >= ?)"];
  const binds: unknown[] = [filter.from];
  if (filter.metric !== undefined) {
    where.push("metric = ?");
    binds.push(filter.metric);
  }
  if (filter.service !== undefined) {
    where.push("service = ?");
    binds.push(filter.service);
  }
  const { results } = await db
    .prepare(`SELECT * FROM anomalies WHERE ${where.join(" AND ")} ORDER BY started_at DESC, id DESC LIMIT ?`)
    .bind(...binds, filter.limit)
    .all<AnomalyRow>();
  return results;
}

export async function getAnomalyRow(db: D1Database, id: number): Promise<AnomalyRow | null> {
  return db.prepare("SELECT * FROM anomalies WHERE id = ?").bind(id).first<AnomalyRow>();
}

/**
 * The anomaly of a series that an alert is about: the one open at the alert's observed
 * time, else the latest that started within `slackMs` around it.
 */
export async function anomalyAround(
  db: D1Database,
  seriesKey: string,
  at: number,
  slackMs: number,
): Promise<AnomalyRow | null> {
  return db
    .prepare(
      `SELECT * FROM anomalies WHERE series_key = ? AND started_at <= ? AND (ended_at IS NULL OR ended_at >= ?)
       ORDER BY started_at DESC LIMIT 1`,
    )
    .bind(seriesKey, at + slackMs, at - slackMs)
    .first<AnomalyRow>();
}

/** Feedback on these anomalies, by anomaly id. */
export async function feedbackForAnomalies(db: D1Database, ids: readonly number[]): Promise<Map<number, FeedbackRow>> {
  const out = new Map<number, FeedbackRow>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    const { results } = await db
      .prepare(`SELECT * FROM anomaly_feedback WHERE anomaly_id IN (${chunk.map(() => "?").join(", ")})`)
      .bind(...chunk)
      .all<FeedbackRow>();
    for (const r of results) if (r.anomaly_id !== null) out.set(r.anomaly_id, r);
  }
  return out;
}

export async function listFeedbackRows(db: D1Database): Promise<FeedbackRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM anomaly_feedback ORDER BY created_at DESC, id DESC LIMIT 1000")
    .all<FeedbackRow>();
  return results;
}

export async function getFeedbackRow(db: D1Database, id: number): Promise<FeedbackRow | null> {
  return db.prepare("SELECT * FROM anomaly_feedback WHERE id = ?").bind(id).first<FeedbackRow>();
}

export async function feedbackByAlert(db: D1Database, alertId: number): Promise<FeedbackRow | null> {
  return db.prepare("SELECT * FROM anomaly_feedback WHERE alert_id = ?").bind(alertId).first<FeedbackRow>();
}

export type NewFeedback = Omit<FeedbackRow, "id" | "created_at" | "labels"> & { labels: Labels };

/** Inserts a feedback row; a second one on the same anomaly or alert fails on the unique index. */
export async function insertFeedback(db: D1Database, f: NewFeedback): Promise<FeedbackRow> {
  const row = await db
    .prepare(
      `INSERT INTO anomaly_feedback (series_key, metric, service, labels, direction, minute_of_day_from,
         minute_of_day_to, weekday, magnitude, note, created_by, anomaly_id, alert_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    )
    .bind(
      f.series_key,
      f.metric,
      f.service,
      JSON.stringify(f.labels),
      f.direction,
      f.minute_of_day_from,
      f.minute_of_day_to,
      f.weekday,
      f.magnitude,
      f.note,
      f.created_by,
      f.anomaly_id,
      f.alert_id,
    )
    .first<FeedbackRow>();
  if (!row) throw new Error("feedback insert returned no row");
  return row;
}

export async function deleteFeedbackRow(db: D1Database, id: number): Promise<FeedbackRow | null> {
  return db.prepare("DELETE FROM anomaly_feedback WHERE id = ? RETURNING *").bind(id).first<FeedbackRow>();
}

/** A family's feedback as the detector's filter reads it, by series key. */
export async function familyFeedback(
  db: D1Database,
  metric: string,
  service: string,
): Promise<Map<string, FeedbackPattern[]>> {
  const { results } = await db
    .prepare(
      `SELECT id, series_key, direction, minute_of_day_from, minute_of_day_to, weekday, magnitude
       FROM anomaly_feedback WHERE metric = ? AND service = ?`,
    )
    .bind(metric, service)
    .all<FeedbackRow>();
  const out = new Map<string, FeedbackPattern[]>();
  for (const r of results) {
    const pattern: FeedbackPattern = {
      id: r.id,
      direction: r.direction,
      minuteFrom: r.minute_of_day_from,
      minuteTo: r.minute_of_day_to,
      weekday: r.weekday,
      magnitude: r.magnitude,
    };
    const list = out.get(r.series_key);
    if (list) list.push(pattern);
    else out.set(r.series_key, [pattern]);
  }
  return out;
}

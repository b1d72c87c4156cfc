/**
 * Anomalies and "expected" feedback between D1, the series stores and the dashboard: the
 * list with each anomaly's feedback, the socket announcement of a start or an end, and
 * feedback writes, which the family's series store hears at once (it damps with them).
 */
import { type MarkedAnomaly, patternFor } from "../core/anomaly/feedback";
import { type AnomalyWire, toAnomalyWire, toFeedbackWire, type FeedbackWire } from "../core/anomaly/wire";
import {
  type AnomalyRow,
  deleteFeedbackRow,
  feedbackForAnomalies,
  type FeedbackRow,
  insertFeedback,
  listAnomalyRows,
} from "../db/anomalies";
import type { Labels } from "../core/series";
import { asConflict } from "./errors";
import { familyStub } from "./series";

/** Most anomalies one list answers. */
export const ANOMALY_LIST_LIMIT = 500;

/** Rows with their feedback, as the API shows them. */
export async function toAnomaliesWire(db: D1Database, rows: readonly AnomalyRow[]): Promise<AnomalyWire[]> {
  const feedback = await feedbackForAnomalies(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toAnomalyWire(r, feedback.get(r.id)));
}

export async function listAnomalies(
  env: Pick<Env, "DB">,
  filter: { from: number; metric?: string; service?: string },
): Promise<AnomalyWire[]> {
  return toAnomaliesWire(env.DB, await listAnomalyRows(env.DB, { ...filter, limit: ANOMALY_LIST_LIMIT }));
}

/** Sends anomalies that started or ended to the dashboard's sockets; a failure is logged (the list has them). */
export async function announceAnomalies(env: Env, rows: readonly AnomalyRow[]): Promise<void> {
  if (!rows.length) return;
  try {
    const hub = env.DASHBOARD_HUB.getByName("main");
    for (const anomaly of await toAnomaliesWire(env.DB, rows)) await hub.announceAnomaly(anomaly);
  } catch (err) {
    console.error("anomaly announcement failed", err);
  }
}

/** Tells a family's series store its feedback changed; a failure is logged (its cache expires within a minute). */
async function feedbackChanged(env: Env, metric: string, service: string): Promise<void> {
  try {
    await familyStub(env, metric, service).feedbackChanged();
  } catch (err) {
    console.error(`series ${metric}/${service}: feedback change not signalled`, err);
  }
}

/** What an "expected" mark is about: the series, what happened, and what was marked. */
export interface MarkInput {
  seriesKey: string;
  metric: string;
  service: string;
  labels: Labels;
  anomaly: MarkedAnomaly;
  note: string;
  createdBy: number | null;
  anomalyId: number | null;
  alertId: number | null;
  /** The pattern holds on the anomaly's weekday only. */
  weekly: boolean;
}

/** Stores an "expected" mark (409 when its anomaly or alert has one already) and tells the series store. */
export async function markExpected(env: Env, m: MarkInput, now: number): Promise<FeedbackWire> {
  const pattern = patternFor(m.anomaly, m.weekly, now);
  let row: FeedbackRow;
  try {
    row = await insertFeedback(env.DB, {
      series_key: m.seriesKey,
      metric: m.metric,
      service: m.service,
      labels: m.labels,
      direction: pattern.direction,
      minute_of_day_from: pattern.minuteFrom,
      minute_of_day_to: pattern.minuteTo,
      weekday: pattern.weekday,
      magnitude: pattern.magnitude,
      note: m.note,
      created_by: m.createdBy,
      anomaly_id: m.anomalyId,
      alert_id: m.alertId,
    });
  } catch (err) {
    throw asConflict(err);
  }
  await feedbackChanged(env, m.metric, m.service);
  return toFeedbackWire(row);
}

/** Deletes a mark (undo: the pattern counts again); false when there was none. */
export async function unmarkExpected(env: Env, id: number): Promise<boolean> {
  const row = await deleteFeedbackRow(env.DB, id);
  if (!row) return false;
  await feedbackChanged(env, row.metric, row.service);
  return true;
}

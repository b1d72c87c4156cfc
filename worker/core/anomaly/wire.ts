/**
 * The API's (and the dashboard socket's) shape of an anomaly and of "expected" feedback:
 * snake_case, times as ISO strings, each anomaly with its one-line summary.
 */
import type { AnomalyWire } from "../protocol/dashboard";
import { summarize } from "./episodes";
import type { AnomalyDirection } from "./types";

export type { AnomalyWire };

export interface FeedbackWire {
  id: number;
  series_key: string;
  metric: string;
  service: string;
  labels: Record<string, string>;
  direction: AnomalyDirection;
  minute_of_day_from: number;
  minute_of_day_to: number;
  /** UTC weekday, 0 = Sunday; null: every day. */
  weekday: number | null;
  magnitude: number | null;
  note: string;
  created_by: number | null;
  created_at: string;
  anomaly_id: number | null;
  alert_id: number | null;
}

const isoOf = (ms: number) => new Date(ms).toISOString();

function parseLabels(text: string): Record<string, string> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** An `anomalies` row (D1's snake_case) and its feedback, if any, as the API shows it. */
export function toAnomalyWire(
  row: {
    id: number;
    series_key: string;
    metric: string;
    service: string;
    labels: string;
    started_at: number;
    ended_at: number | null;
    peak_score: number;
    peak_at: number;
    direction: AnomalyDirection;
    observed: number;
    expected: number | null;
  },
  feedback?: { id: number; note: string; created_by: number | null; created_at: number } | null,
): AnomalyWire {
  const episode = {
    startedAt: row.started_at,
    endedAt: row.ended_at,
    peakScore: row.peak_score,
    peakAt: row.peak_at,
    direction: row.direction,
    observed: row.observed,
    expected: row.expected,
  };
  return {
    id: row.id,
    series_key: row.series_key,
    metric: row.metric,
    service: row.service,
    labels: parseLabels(row.labels),
    started_at: isoOf(row.started_at),
    ended_at: row.ended_at === null ? null : isoOf(row.ended_at),
    peak_score: row.peak_score,
    peak_at: isoOf(row.peak_at),
    direction: row.direction,
    observed: row.observed,
    expected: row.expected,
    summary: summarize(row.metric, episode),
    feedback: feedback
      ? {
          id: feedback.id,
          note: feedback.note,
          created_by: feedback.created_by,
          created_at: isoOf(feedback.created_at),
        }
      : null,
  };
}

/** An `anomaly_feedback` row as the API shows it. */
export function toFeedbackWire(
  row: Omit<FeedbackWire, "labels" | "created_at"> & { labels: string; created_at: number },
): FeedbackWire {
  return {
    id: row.id,
    series_key: row.series_key,
    metric: row.metric,
    service: row.service,
    labels: parseLabels(row.labels),
    direction: row.direction,
    minute_of_day_from: row.minute_of_day_from,
    minute_of_day_to: row.minute_of_day_to,
    weekday: row.weekday,
    magnitude: row.magnitude,
    note: row.note,
    created_by: row.created_by,
    created_at: isoOf(row.created_at),
    anomaly_id: row.anomaly_id,
    alert_id: row.alert_id,
  };
}

/**
 * Detected anomalies and "expected" feedback as the dashboard reads them
 * (`performance/anomalies`, the socket's `anomaly` messages, `anomaly-feedback`),
 * and the pure shaping the Trends page needs: merging live updates into the
 * list, filtering by service and period, the spans drawn on a chart, and a
 * pattern in words.
 */
import type { TrendPeriod } from "./types";

export const ANOMALIES_PATH = "/api/admin/monitoring/performance/anomalies";
export const FEEDBACK_PATH = "/api/admin/monitoring/anomaly-feedback";

export type AnomalyDirection = "up" | "down";

/** Who marked an anomaly expected, and why. */
export interface AnomalyFeedbackRef {
  id: number;
  note: string;
  created_by: string | null;
  created_at: string;
}

/** One detected anomaly of one series: started, maybe ended, with its peak. */
export interface Anomaly {
  id: number;
  series_key: string;
  metric: string;
  service: string;
  labels: Record<string, string>;
  started_at: string;
  /** null: still going on. */
  ended_at: string | null;
  peak_score: number;
  peak_at: string;
  direction: AnomalyDirection;
  observed: number;
  expected: number | null;
  summary: string;
  feedback: AnomalyFeedbackRef | null;
}

export interface AnomalyList {
  period: TrendPeriod;
  anomalies: Anomaly[];
}

/** A pattern marked expected: anomalies like it (same series, direction, time of day or week) no longer count. */
export interface ExpectedPattern {
  id: number;
  series_key: string;
  metric: string;
  service: string;
  labels: Record<string, string>;
  direction: AnomalyDirection | null;
  minute_of_day_from: number;
  minute_of_day_to: number;
  /** 0 = Sunday … 6 = Saturday; null: every day. */
  weekday: number | null;
  magnitude: number | null;
  note: string;
  created_by: string | null;
  created_at: string;
  anomaly_id: number | null;
  alert_id: number | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** An anomaly from untrusted input (a socket message), or null when it is not one. */
export function parseAnomaly(v: unknown): Anomaly | null {
  if (!isObject(v)) return null;
  const ok =
    (typeof v.id === "number" || typeof v.id === "string") &&
    typeof v.metric === "string" &&
    typeof v.service === "string" &&
    typeof v.started_at === "string" &&
    (v.ended_at === null || typeof v.ended_at === "string") &&
    typeof v.summary === "string";
  if (!ok) return null;
  return {
    ...(v as unknown as Anomaly),
    id: Number(v.id),
    labels: isObject(v.labels) ? (v.labels as Record<string, string>) : {},
    feedback: isObject(v.feedback) ? (v.feedback as unknown as AnomalyFeedbackRef) : null,
  };
}

/** Newest start first, then by id (stable for anomalies that started together). */
const newestFirst = (a: Anomaly, b: Anomaly) =>
  Date.parse(b.started_at) - Date.parse(a.started_at) || Number(b.id) - Number(a.id);

/** `list` with `updates` put in by id (a later update replaces an earlier one), newest first. */
export function upsertAnomalies(list: readonly Anomaly[], updates: readonly Anomaly[]): Anomaly[] {
  const byId = new Map(list.map((a) => [a.id, a]));
  for (const u of updates) byId.set(u.id, u);
  return [...byId.values()].sort(newestFirst);
}

const PERIOD_MS: Record<TrendPeriod, number> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

/** Anomalies that overlap the period ending at `nowMs`, of `service` when given. */
export function anomaliesShown(
  list: readonly Anomaly[],
  period: TrendPeriod,
  nowMs: number,
  service: string | null,
): Anomaly[] {
  const from = nowMs - PERIOD_MS[period];
  return list.filter(
    (a) => (service === null || a.service === service) && (a.ended_at === null || Date.parse(a.ended_at) >= from),
  );
}

/** The services of a list, by name. */
export const anomalyServices = (list: readonly Anomaly[]): string[] => [...new Set(list.map((a) => a.service))].sort();

/** A shaded span on a chart: x in epoch seconds; `to` is now for an ongoing anomaly. */
export interface MarkerSpan {
  from: number;
  to: number;
  label: string;
  ongoing: boolean;
  /** Marked expected: drawn fainter. */
  expected: boolean;
}

/** The spans of the anomalies of any of `inputs` (metric on service), oldest first. */
export function anomalySpans(
  list: readonly Anomaly[],
  inputs: readonly { metric: string; service: string }[],
  nowMs: number,
): MarkerSpan[] {
  const wanted = new Set(inputs.map((i) => `${i.metric}\u0000${i.service}`));
  return list
    .filter((a) => wanted.has(`${a.metric}\u0000${a.service}`))
    .map((a) => ({
      from: Date.parse(a.started_at) / 1000,
      to: (a.ended_at ? Date.parse(a.ended_at) : nowMs) / 1000,
      label: a.summary,
      ongoing: a.ended_at === null,
      expected: a.feedback !== null,
    }))
    .filter((s) => Number.isFinite(s.from) && Number.isFinite(s.to))
    .sort((a, b) => a.from - b.from);
}

const WEEKDAYS = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"];

const clock = (minute: number) => {
  const m = ((Math.round(minute) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
};

/** "rises, every day 14:00–15:00 UTC" / "drops, Saturdays 03:00–03:30 UTC". */
export function patternText(
  p: Pick<ExpectedPattern, "direction" | "minute_of_day_from" | "minute_of_day_to" | "weekday">,
): string {
  const when = p.weekday === null ? "every day" : (WEEKDAYS[p.weekday] ?? `weekday ${p.weekday}`);
  const what = p.direction === "up" ? "rises" : p.direction === "down" ? "drops" : "changes";
  return `${what}, ${when} ${clock(p.minute_of_day_from)}\u2013${clock(p.minute_of_day_to)} UTC`;
}

/** "3.1" for a peak score in [0, 1] → "0.93"; scores read as two decimals. */
export const scoreText = (score: number): string => (Number.isFinite(score) ? score.toFixed(2) : "\u2014");

/** Metric history for charts, pure: which period shows an instant, API points → uPlot columns. */
import type uPlot from "uplot";
import type { HistoryPoint } from "./types";

export const HISTORY_PERIODS = ["1h", "24h", "7d", "30d"] as const;
export type HistoryPeriod = (typeof HISTORY_PERIODS)[number];

const PERIOD_MS: Record<HistoryPeriod, number> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
  "30d": 30 * 86_400_000,
};

export const PERIOD_LABEL: Record<HistoryPeriod, string> = { "1h": "1 h", "24h": "24 h", "7d": "7 d", "30d": "30 d" };

/**
 * The shortest period that shows `atMs` with some time before it (a quarter of the period at
 * least), so an alert is seen with what led to it; 30 days at most.
 */
export function periodAround(atMs: number, nowMs: number): HistoryPeriod {
  const age = Math.max(0, nowMs - atMs);
  return HISTORY_PERIODS.find((p) => age <= PERIOD_MS[p] * 0.75) ?? "30d";
}

export type HistoryField = "avg" | "min" | "max" | "p50" | "p95" | "p99" | "expected" | "low" | "high";

/** Columns for uPlot: x in epoch seconds (oldest first), then one column per field. */
export function historyColumns(points: readonly HistoryPoint[], fields: readonly HistoryField[]): uPlot.AlignedData {
  const sorted = [...points].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
  return [
    sorted.map((p) => Date.parse(p.ts) / 1000),
    ...fields.map((f) => sorted.map((p) => (typeof p[f] === "number" && Number.isFinite(p[f]) ? p[f] : null))),
  ] as uPlot.AlignedData;
}

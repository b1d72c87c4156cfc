/**
 * The Trends page's data shaping: API charts → the columns uPlot draws
 * (`uPlot.AlignedData`: x in epoch seconds, one array per series), with gaps
 * kept as gaps, and the latest value of each series for the text summary. Pure.
 */
import type uPlot from "uplot";
import type { PerformanceTrends, TrendChart, TrendPeriod } from "./types";

export const TREND_PERIODS: readonly { value: TrendPeriod; label: string }[] = [
  { value: "24h", label: "24 h" },
  { value: "7d", label: "7 d" },
  { value: "30d", label: "30 d" },
];

/** One line (or bar series) of a chart. `color` names a CSS custom property. */
export interface SeriesSpec {
  field: string;
  label: string;
  unit: string;
  color: string;
  /** The y axis it is read on: left (the chart's first unit) or right. */
  axis: "left" | "right";
}

/** A normal range: columns aligned with the chart's x values, on the axis of the series it follows. */
export interface ChartBand {
  low: readonly (number | null)[];
  high: readonly (number | null)[];
  expected: readonly (number | null)[];
  unit: string;
  axis: "left" | "right";
}

export interface ChartView {
  id: keyof PerformanceTrends["charts"];
  title: string;
  /** What the chart says when there is nothing to draw. */
  emptyText: string;
  resolutionSeconds: number;
  bars: boolean;
  series: SeriesSpec[];
  data: uPlot.AlignedData;
  /** The normal range of the chart's band field, when asked for and answered. */
  band: ChartBand | null;
  /** The metrics (on their services) the chart draws: anomalies of these are marked on it. */
  inputs: { metric: string; service: string }[];
}

/** Any chart of the API, its points read by field name. */
type AnyChart = Omit<TrendChart, "points"> & { points: readonly ({ ts: string } & Record<string, unknown>)[] };

const numberOrNull = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Columns for uPlot from a chart's points: x in epoch seconds, oldest first, and
 * one column per field (null where the point has no value). Where consecutive
 * points are more than one bucket apart, a row of nulls is put one bucket after
 * the earlier point so the line breaks there instead of bridging the hole.
 */
export function alignPoints(
  points: readonly ({ ts: string } & Record<string, unknown>)[],
  fields: readonly string[],
  resolutionSeconds: number,
): uPlot.AlignedData {
  const rows = points
    .map((p) => ({ x: Date.parse(p.ts) / 1000, p }))
    .filter((r) => Number.isFinite(r.x))
    .sort((a, b) => a.x - b.x);
  const xs: number[] = [];
  const ys: (number | null)[][] = fields.map(() => []);
  let previous: number | null = null;
  for (const { x, p } of rows) {
    if (previous !== null && resolutionSeconds > 0 && x - previous > resolutionSeconds) {
      xs.push(previous + resolutionSeconds);
      for (const column of ys) column.push(null);
    }
    xs.push(x);
    fields.forEach((f, i) => ys[i]?.push(numberOrNull(p[f])));
    previous = x;
  }
  return [xs, ...ys];
}

/** True when some series has a value to draw. */
export const hasValues = (data: uPlot.AlignedData): boolean =>
  data.slice(1).some((column) => Array.from(column as ArrayLike<number | null | undefined>).some((v) => v != null));

/** The newest non-null value of each series, and when it was (epoch seconds), for the text summary. */
export function latestValues(data: uPlot.AlignedData): { value: number | null; at: number | null }[] {
  const xs = data[0] as ArrayLike<number>;
  return data.slice(1).map((column) => {
    const ys = column as ArrayLike<number | null | undefined>;
    for (let i = ys.length - 1; i >= 0; i--) {
      const v = ys[i];
      if (v != null) return { value: v, at: xs[i] ?? null };
    }
    return { value: null, at: null };
  });
}

const fieldsOf = (chart: AnyChart) => new Set(chart.fields.map((f) => f.field));
const unitOf = (chart: AnyChart, field: string, fallback: string) =>
  chart.fields.find((f) => f.field === field)?.unit ?? fallback;

const BAND_FIELDS = ["low", "high", "expected"] as const;

/** True when the chart's points carry a normal range (the API was asked with band=1). */
const hasBand = (chart: AnyChart) => typeof chart.band_field === "string" && chart.points.some((p) => "expected" in p);

/**
 * A view of one chart with the given series (those the chart does not list are left out),
 * and its normal range when `band` and the chart carries one.
 */
function view(
  id: ChartView["id"],
  chart: AnyChart,
  specs: SeriesSpec[],
  emptyText: string,
  { bars = false, band = false }: { bars?: boolean; band?: boolean } = {},
): ChartView {
  const present = fieldsOf(chart);
  const series = specs.filter((s) => present.has(s.field)).map((s) => ({ ...s, unit: unitOf(chart, s.field, s.unit) }));
  const withBand = band && hasBand(chart);
  const fields = series.map((s) => s.field);
  const aligned = alignPoints(chart.points, withBand ? [...fields, ...BAND_FIELDS] : fields, chart.resolution_seconds);
  const data = aligned.slice(0, 1 + fields.length) as uPlot.AlignedData;
  let chartBand: ChartBand | null = null;
  if (withBand) {
    const [low, high, expected] = aligned.slice(1 + fields.length) as (number | null)[][];
    const followed = series.find((s) => s.field === chart.band_field);
    chartBand = {
      low: low ?? [],
      high: high ?? [],
      expected: expected ?? [],
      unit: followed?.unit ?? unitOf(chart, chart.band_field ?? "", ""),
      axis: followed?.axis ?? "left",
    };
  }
  return {
    id,
    title: chart.title,
    emptyText,
    resolutionSeconds: chart.resolution_seconds,
    bars,
    series,
    data,
    band: chartBand,
    inputs: chart.fields.map((f) => ({ metric: f.metric, service: f.service })),
  };
}

/** A series of a chart: on the left axis unless told. */
const line = (field: string, label: string, unit: string, color: string, axis: "left" | "right" = "left") => ({
  field,
  label,
  unit,
  color,
  axis,
});

/** The Trends page's charts, in the order shown; with `band`, each with its normal range where answered. */
export function trendViews(trends: PerformanceTrends, { band = false }: { band?: boolean } = {}): ChartView[] {
  const { charts } = trends;
  return [
    view(
      "payment_success_rate",
      charts.payment_success_rate,
      [line("value", "Success rate", "%", "--chart-1")],
      "No payment success rate reported in this period.",
      { band },
    ),
    view(
      "api_response_time",
      charts.api_response_time,
      [
        line("p50", "p50", "ms", "--chart-1"),
        line("p95", "p95", "ms", "--chart-2"),
        line("p99", "p99", "ms", "--chart-3"),
      ],
      "No API response times reported in this period.",
      { band },
    ),
    view(
      "database",
      charts.database,
      [
        line("pool_utilization", "Pool utilization", "%", "--chart-1"),
        line("query_ms", "Query latency", "ms", "--chart-2", "right"),
      ],
      "No database metrics reported in this period.",
      { band },
    ),
    view(
      "user_activity",
      charts.user_activity,
      [line("requests", "Requests", "requests", "--chart-1")],
      "No requests counted in this period.",
      { bars: true, band },
    ),
  ];
}

/** Decimals that show `step` exactly (0.5 → 1, 0.25 → 2), at most 3. */
function decimalsOf(step: number): number {
  for (let d = 0; d < 3; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 3;
}

/** `v / div` with `d` decimals, or with more when a tick step (0 for none) needs them. */
function inUnits(v: number, div: number, d: number, step: number): string {
  return `${+(v / div).toFixed(step > 0 ? Math.max(d, decimalsOf(step / div)) : d)}`;
}

/** 1234 → "1.2k", 0.25 → "0.25"; with a tick step, as many decimals as tell its ticks apart. */
function compact(v: number, step = 0): string {
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${inUnits(v, 1e6, 1, step)}M`;
  if (abs >= 1e4) return `${inUnits(v, 1e3, 0, step)}k`;
  if (abs >= 1e3) return `${inUnits(v, 1e3, 1, step)}k`;
  return inUnits(v, 1, abs >= 10 || Number.isInteger(v) ? 0 : 2, step);
}

/**
 * A y-axis tick: "50%", "120 ms", "1.5 s", "12k"; short enough for a 390 px wide screen. With
 * the axis' tick step, never fewer decimals than the step has, so that ticks 0.5 apart read
 * "99.5%", "99%", not "99%" twice.
 */
export function formatTick(value: number, unit: string, step = 0): string {
  if (!Number.isFinite(value)) return "";
  if (unit === "%") return `${compact(value, step)}%`;
  if (unit === "ms")
    return Math.abs(value) >= 1000 ? `${inUnits(value, 1000, 1, step)} s` : `${compact(value, step)} ms`;
  return compact(value, step);
}

/** The labels of an axis' ticks (evenly spaced, as the chart lays them out). */
export function formatTicks(ticks: readonly number[], unit: string): string[] {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 0;
  return ticks.map((t) => formatTick(t, unit, step));
}

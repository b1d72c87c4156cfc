/**
 * The performance trend charts: which metric on which service feeds each line
 * of a chart, aggregated how, at what bucket size; and the math that turns
 * history points (or rollup rows, for counters) into one row of values per bucket.
 */
import { alignDown, type HistoryPoint, type Period, PERIOD_MS, resolutionFor, type RollupRow } from "./history";
import { counterIncrease } from "./prometheus/counter";

/**
 * How a bucket's samples become one value: the mean, a quantile from the
 * bucket's merged sketch, the sum of the samples, or the increase of a
 * cumulative counter (each series in time order, resets counted from zero).
 */
export const CHART_AGGREGATIONS = ["avg", "min", "max", "sum", "p50", "p95", "p99", "increase"] as const;
export type ChartAggregation = (typeof CHART_AGGREGATIONS)[number];

/** One value of a chart's points: `field` of every point holds `aggregation` of `metric` on `service`. */
export interface ChartField {
  field: string;
  metric: string;
  service: string;
  aggregation: ChartAggregation;
  /** Left out of the chart (its `fields` and its points) when the period holds no data for it. */
  optional?: boolean;
}

export interface TrendChart {
  id: string;
  title: string;
  /** Unit of every field, or per field where they differ. */
  unit: string | Readonly<Record<string, string>>;
  /** Fixed bucket size in seconds; without it, the period's (see `resolutionFor`). */
  bucketSeconds?: number;
  fields: readonly ChartField[];
  /** The field whose normal range the chart answers with `band=1` (the one a reader watches). */
  band: string;
}

/**
 * The charts of the dashboard's "System Performance Trends". http_requests_total
 * is a cumulative counter as the shop pushes it (as the derived error_rate and this
 * endpoint's per-service error rate read it), so activity per hour is its increase.
 */
export const TREND_CHARTS = [
  {
    id: "payment_success_rate",
    title: "Payment success rate",
    unit: "%",
    fields: [{ field: "value", metric: "payment_success_rate", service: "ecpay", aggregation: "avg" }],
    band: "value",
  },
  {
    id: "api_response_time",
    title: "API response time",
    unit: "ms",
    fields: (["p50", "p95", "p99"] as const).map((q) => ({
      field: q,
      metric: "api_response_ms",
      service: "api",
      aggregation: q,
    })),
    band: "p95",
  },
  {
    id: "database",
    title: "Database performance",
    unit: { pool_utilization: "%", pool_in_use: "connections", pool_size: "connections", query_ms: "ms" },
    fields: [
      { field: "pool_utilization", metric: "db_pool_utilization", service: "database", aggregation: "avg" },
      { field: "pool_in_use", metric: "db_pool_in_use", service: "database", aggregation: "avg" },
      { field: "pool_size", metric: "db_pool_size", service: "database", aggregation: "avg" },
      { field: "query_ms", metric: "db_query_ms", service: "database", aggregation: "avg", optional: true },
    ],
    band: "pool_utilization",
  },
  {
    id: "user_activity",
    title: "User activity by hour",
    unit: "requests",
    bucketSeconds: 3600,
    fields: [{ field: "requests", metric: "http_requests_total", service: "api", aggregation: "increase" }],
    band: "requests",
  },
] as const satisfies readonly TrendChart[];

export type TrendChartId = (typeof TREND_CHARTS)[number]["id"];

/** Bucket size of a chart for a period, in seconds. */
export const chartBucketSeconds = (chart: TrendChart, period: Period): number =>
  chart.bucketSeconds ?? resolutionFor(period);

/** The buckets of a chart's period ending at `now`: [from, now), `from` aligned to the bucket size. */
export function chartRange(chart: TrendChart, period: Period, now: number) {
  const bucketSeconds = chartBucketSeconds(chart, period);
  return { from: alignDown(now - PERIOD_MS[period], bucketSeconds * 1000), to: now, bucketSeconds };
}

/** The distinct (metric, service) pairs a chart reads, each with whether it is a counter read from raw rows. */
export function chartInputs(chart: TrendChart): { metric: string; service: string; counter: boolean }[] {
  const seen = new Map<string, { metric: string; service: string; counter: boolean }>();
  for (const f of chart.fields) {
    const key = `${f.metric}\u0000${f.service}`;
    const prev = seen.get(key);
    seen.set(key, {
      metric: f.metric,
      service: f.service,
      counter: (prev?.counter ?? false) || f.aggregation === "increase",
    });
  }
  return [...seen.values()];
}

/**
 * Increase of a counter per `bucketSeconds` bucket from its rollup rows. Each
 * series' rows are read in time order as (min, max) pairs; every rise (or,
 * after a reset, the new value) counts in the bucket of the reading that shows it,
 * so the rise between the last reading of one bucket and the first of the next
 * belongs to the next. Rows before `from` only serve as the baseline. A reset
 * inside one row is invisible in its min and max, so this can undercount it.
 */
export function increaseByBucket(rows: readonly RollupRow[], bucketSeconds: number, from: number): Map<number, number> {
  const step = bucketSeconds * 1000;
  const bySeries = new Map<string, RollupRow[]>();
  for (const r of rows) {
    if (r.count <= 0) continue;
    const list = bySeries.get(r.seriesKey);
    if (list) list.push(r);
    else bySeries.set(r.seriesKey, [r]);
  }
  const out = new Map<number, number>();
  for (const list of bySeries.values()) {
    const readings = [...list]
      .sort((a, b) => a.bucketStart - b.bucketStart)
      .flatMap((r) => [
        { ts: r.bucketStart, value: r.min },
        { ts: r.bucketStart, value: r.max },
      ]);
    for (let i = 1; i < readings.length; i++) {
      const [prev, cur] = [readings[i - 1], readings[i]];
      if (!prev || !cur || cur.ts < from) continue;
      const bucket = alignDown(cur.ts, step);
      const rise = counterIncrease([
        { ts: 0, value: prev.value },
        { ts: 1, value: cur.value },
      ]);
      out.set(bucket, (out.get(bucket) ?? 0) + rise);
    }
    // A series whose first reading falls inside the range still marks its bucket as having data.
    const first = readings[0];
    if (first && first.ts >= from) {
      const bucket = alignDown(first.ts, step);
      out.set(bucket, out.get(bucket) ?? 0);
    }
  }
  return out;
}

/** A chart's answer: its fields (optional ones only when reported) and one point per bucket with data. */
export interface ChartData {
  id: string;
  bucketSeconds: number;
  fields: ChartField[];
  /** Oldest first; `ts` is the bucket's start (epoch ms); a field is null in a bucket without its data. */
  points: ({ ts: number } & Record<string, number | null>)[];
}

/** What one (metric, service) input gave: history points, or per-bucket increases for counters. */
export interface ChartInputData {
  points?: readonly HistoryPoint[];
  increases?: ReadonlyMap<number, number>;
}

const inputKey = (metric: string, service: string) => `${metric}\u0000${service}`;

/** Puts the inputs' values into the chart's points. `inputs` is keyed by `metric\0service`. */
export function buildChart(
  chart: TrendChart,
  bucketSeconds: number,
  inputs: ReadonlyMap<string, ChartInputData>,
): ChartData {
  const values = new Map<string, Map<number, number | null>>();
  for (const f of chart.fields) {
    const data = inputs.get(inputKey(f.metric, f.service));
    const byTs = new Map<number, number | null>();
    if (f.aggregation === "increase") {
      for (const [ts, v] of data?.increases ?? []) byTs.set(ts, v);
    } else {
      for (const p of data?.points ?? []) byTs.set(p.ts, p[f.aggregation]);
    }
    values.set(f.field, byTs);
  }
  const fields = chart.fields.filter((f) => !f.optional || (values.get(f.field)?.size ?? 0) > 0);
  const stamps = [...new Set(fields.flatMap((f) => [...(values.get(f.field)?.keys() ?? [])]))].sort((a, b) => a - b);
  const points = stamps.map((ts) => {
    const point: { ts: number } & Record<string, number | null> = { ts };
    for (const f of fields) point[f.field] = values.get(f.field)?.get(ts) ?? null;
    return point;
  });
  return { id: chart.id, bucketSeconds, fields: fields.map((f) => ({ ...f })), points };
}

export { inputKey as chartInputKey };

/** The unit of one of a chart's fields. */
export const fieldUnit = (chart: TrendChart, field: string): string =>
  typeof chart.unit === "string" ? chart.unit : (chart.unit[field] ?? "");

/** What a field holds, in words (for the API's documentation). */
export function describeField(f: ChartField, bucketSeconds: number | null): string {
  const per = bucketSeconds === null ? "per bucket" : `per ${bucketSeconds / 60}-minute bucket`;
  const how: Record<ChartAggregation, string> = {
    avg: "Mean",
    min: "Minimum",
    max: "Maximum",
    sum: "Sum",
    p50: "Median (from the bucket's merged quantile sketches)",
    p95: "95th percentile (from the bucket's merged quantile sketches)",
    p99: "99th percentile (from the bucket's merged quantile sketches)",
    increase: "Increase of the cumulative counter",
  };
  const optional = f.optional ? "; the field is present only when the period holds data for it" : "";
  return `${how[f.aggregation]} of ${f.metric} on ${f.service} ${per}, null in a bucket without data${optional}.`;
}

/**
 * The read side of the series store: latest values (`/metrics/realtime`), the
 * series of a metric, bucketed history, and per-service performance trends.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  historyRange,
  LATENCY_METRICS,
  PERIOD_MS,
  PERIODS,
  type HistoryPoint,
  serviceTrends,
  TREND_METRICS,
} from "../core/history";
import { type Sample, seriesKey } from "../core/series";
import { CHART_AGGREGATIONS, describeField, fieldUnit, TREND_CHARTS, type TrendChart } from "../core/trends";
import { bandsOf, readBandPast } from "../lib/history/band";
import { loadPreferringHours } from "../lib/history/d1";
import { type LoadedChart, loadTrendCharts } from "../lib/history/trends";
import { readHistory } from "../lib/history/reader";
import { historySources } from "../lib/history/sources";
import { familyStub, seriesIndex, toSampleWire } from "../lib/series";
import type { SeriesStats } from "../../durable-objects/metric-series";
import { commonErrors, createApi, jsonResponse } from "./api";
import { iso, LabelSet, MetricName, ServiceName } from "./fields";

/** Most series `/metrics/series` describes (their raw counts come from one call per service). */
export const SERIES_LIMIT = 200;

const query = (name: string, example?: string) => ({ param: { name, in: "query" as const }, example });

const Period = z.enum(PERIODS).openapi(query("period", "24h"));

const BandFlag = z
  .enum(["0", "1", "true", "false"])
  .optional()
  .openapi({
    param: { name: "band", in: "query" },
    description:
      "1: also answer each point's normal range (`expected`, `low`, `high`) from the same series' past: the " +
      "median and widened 10th–90th percentiles of the same time of day on up to 7 previous days (of week, " +
      "once 3 weeks are stored), else of the trailing buckets; null where there is too little history",
  });
const yes = (v: string | undefined) => v === "1" || v === "true";

/** A point's normal range, present with `band=1`. */
const BandFields = {
  expected: z.number().nullable().optional().openapi({ description: "With band=1: the value to expect" }),
  low: z.number().nullable().optional().openapi({ description: "With band=1: the low end of the normal range" }),
  high: z.number().nullable().optional().openapi({ description: "With band=1: the high end of the normal range" }),
};

/** Labels as a JSON object in one query parameter: `labels={"monitor":"3"}`. */
const LabelsJson = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: 'must be a JSON object of label names to values, e.g. {"monitor":"3"}' });
      return z.NEVER;
    }
  })
  .pipe(LabelSet)
  .openapi({ ...query("labels", '{"monitor":"3"}'), type: "string" });

const SampleOut = z
  .object({
    metric: z.string(),
    service: z.string(),
    labels: z.record(z.string(), z.string()),
    value: z.number(),
    ts: z.string().openapi({ format: "date-time" }),
    message: z.string().optional(),
  })
  .openapi("LatestSample");

const Quantiles = {
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
};

const PointOut = z
  .object({
    ts: z.string().openapi({ format: "date-time", description: "Start of the bucket" }),
    count: z.number().int(),
    min: z.number(),
    max: z.number(),
    avg: z.number(),
    ...Quantiles,
    ...BandFields,
  })
  .openapi("HistoryPoint");

export const metrics = createApi();

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/realtime",
    tags: ["metrics"],
    summary: "The latest value of every series (optionally of one metric and/or service)",
    request: {
      query: z.object({
        metric: MetricName.optional().openapi(query("metric")),
        service: ServiceName.optional().openapi(query("service")),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({ metrics: z.array(SampleOut), updated_at: z.string().openapi({ format: "date-time" }) }),
        "Latest samples, by metric, service and labels",
      ),
      ...commonErrors,
    },
  }),
  async (c) => {
    const { metric, service } = c.req.valid("query");
    const latest = await seriesIndex(c.env).list({
      ...(metric === undefined ? {} : { metric }),
      ...(service === undefined ? {} : { service }),
    });
    return c.json({ metrics: latest.map(toSampleWire), updated_at: iso(Date.now()) }, 200);
  },
);

const SeriesOut = z
  .object({
    metric: z.string(),
    service: z.string(),
    labels: z.record(z.string(), z.string()),
    latest: z.object({ value: z.number(), ts: z.string().openapi({ format: "date-time" }) }),
    raw_count: z.number().int().openapi({ description: "Raw samples held in the series store" }),
    oldest: z.string().nullable().openapi({ format: "date-time" }),
    newest: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("SeriesInfo");

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/series",
    tags: ["metrics"],
    summary: `The series of a metric (at most ${SERIES_LIMIT}) with their latest value and raw sample counts`,
    request: {
      query: z.object({
        metric: MetricName.openapi(query("metric")),
        service: ServiceName.optional().openapi(query("service")),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({ series: z.array(SeriesOut), total: z.number().int(), truncated: z.boolean() }),
        "Series of the metric",
      ),
      ...commonErrors,
    },
  }),
  async (c) => {
    const { metric, service } = c.req.valid("query");
    const all = await seriesIndex(c.env).list({ metric, ...(service === undefined ? {} : { service }) });
    const shown = all.slice(0, SERIES_LIMIT);
    // One call per metric family, for all of its series shown.
    const keysByService = new Map<string, string[]>();
    for (const s of shown) {
      const keys = keysByService.get(s.service) ?? [];
      keys.push(seriesKey(s.metric, s.service, s.labels));
      keysByService.set(s.service, keys);
    }
    const statsByKey = new Map<string, SeriesStats>();
    await Promise.all(
      [...keysByService].map(async ([familyService, keys]) => {
        const found = await familyStub(c.env, metric, familyService).stats(keys);
        keys.forEach((k, i) => {
          const st = found[i];
          if (st) statsByKey.set(k, st);
        });
      }),
    );
    const stats = shown.map((s) => statsByKey.get(seriesKey(s.metric, s.service, s.labels)));
    const series = shown.map((s, i) => {
      const st = stats[i] ?? { count: 0, oldest: null, newest: null };
      return {
        metric: s.metric,
        service: s.service,
        labels: { ...s.labels },
        latest: { value: s.value, ts: iso(s.ts) },
        raw_count: st.count,
        oldest: st.oldest === null ? null : iso(st.oldest),
        newest: st.newest === null ? null : iso(st.newest),
      };
    });
    return c.json({ series, total: all.length, truncated: all.length > shown.length }, 200);
  },
);

const wirePoint = (p: HistoryPoint) => ({
  ts: iso(p.ts),
  count: p.count,
  min: p.min,
  max: p.max,
  avg: p.avg,
  p50: p.p50,
  p95: p.p95,
  p99: p.p99,
});

/** The value a history point's normal range follows: its average. */
const avgOf = (p: HistoryPoint) => ({ ts: p.ts, value: p.avg });

const COUNT_METRICS = TREND_METRICS.filter((m) => !(LATENCY_METRICS as readonly string[]).includes(m));

/** Services reporting a metric, by name. */
async function servicesOf(env: Env, metricNames: readonly string[]): Promise<string[]> {
  const index = seriesIndex(env);
  const lists: Sample[][] = await Promise.all(metricNames.map((metric) => index.list({ metric })));
  return [...new Set(lists.flat().map((s) => s.service))].sort();
}

metrics.openapi(
  createRoute({
    method: "get",
    path: "/metrics/history",
    tags: ["metrics"],
    summary: "A metric's history in buckets: 1h by minute, 24h by 5 minutes, 7d and 30d by hour",
    description:
      "Without `labels`, every series of the metric on the service (or on every service, without `service`) " +
      "is merged: counts, sums and extremes add up, quantiles come from merged sketches. With `band=1`, each " +
      "point also carries the normal range of its average (`expected`, `low`, `high`).",
    request: {
      query: z.object({
        metric: MetricName.openapi(query("metric", "api_response_ms")),
        service: ServiceName.optional().openapi(query("service", "api")),
        period: Period.default("24h"),
        labels: LabelsJson.optional(),
        band: BandFlag,
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({
          metric: z.string(),
          service: z.string().nullable(),
          labels: z.record(z.string(), z.string()).nullable(),
          period: z.enum(PERIODS),
          resolution_seconds: z.number().int(),
          from: z.string().openapi({ format: "date-time" }),
          to: z.string().openapi({ format: "date-time" }),
          complete: z.boolean().openapi({ description: "False when the long-range store failed to answer" }),
          points: z.array(PointOut),
        }),
        "Buckets with data, oldest first",
      ),
      ...commonErrors,
    },
  }),
  async (c) => {
    const { metric, service, period, labels, band } = c.req.valid("query");
    const now = Date.now();
    const range = historyRange(period, now);
    const services = service === undefined ? await servicesOf(c.env, [metric]) : [service];
    const historyQuery = { metric, services, labels: labels ?? null, ...range };
    const sources = historySources(c.env, now, range.bucketSeconds);
    const [{ points, complete }, past] = await Promise.all([
      readHistory(historyQuery, sources),
      yes(band) ? readBandPast(historyQuery, sources) : null,
    ]);
    const bands = past ? bandsOf(past.map(avgOf), points.map(avgOf), range.bucketSeconds) : null;
    return c.json(
      {
        metric,
        service: service ?? null,
        labels: labels ?? null,
        period,
        resolution_seconds: range.bucketSeconds,
        from: iso(range.from),
        to: iso(range.to),
        complete,
        points: points.map((p, i) => ({ ...wirePoint(p), ...(bands ? bands[i] : {}) })),
      },
      200,
    );
  },
);

const TrendOut = z
  .object({
    service: z.string(),
    latency_ms: z.object(Quantiles),
    error_rate: z.number().nullable().openapi({ description: "Share of failures, 0–1" }),
    error_rate_source: z.enum(["requests", "probes"]).nullable(),
    availability: z.number().nullable().openapi({ description: "Share of probes up, 0–1" }),
    samples: z.object({ latency: z.number().int(), probes: z.number().int() }),
  })
  .openapi("ServiceTrend");

const ChartFieldOut = z
  .object({
    field: z.string().openapi({ description: "The key of this value in every point" }),
    metric: z.string(),
    service: z.string(),
    aggregation: z.enum(CHART_AGGREGATIONS).openapi({
      description:
        "avg/min/max/sum of the bucket's samples; p50/p95/p99 from the bucket's merged quantile sketches " +
        "(never averaged percentiles); increase: the rise of a cumulative counter, resets counted from zero",
    }),
    unit: z.string(),
  })
  .openapi("TrendChartField");

/** One chart's schema: its points carry one key per field of the definition. */
function chartSchema(chart: TrendChart) {
  const fixed = chart.bucketSeconds ?? null;
  const bucketText =
    fixed === null
      ? "the period's: 60 s for 1h, 300 s for 24h, 3600 s for 7d and 30d"
      : `${fixed} s whatever the period`;
  const values = Object.fromEntries(
    chart.fields.map((f) => {
      const value = z
        .number()
        .nullable()
        .openapi({ description: describeField(f, fixed) });
      return [f.field, f.optional ? value.optional() : value];
    }),
  );
  return z
    .object({
      title: z.string(),
      resolution_seconds: z
        .number()
        .int()
        .openapi({ description: `Bucket size: ${bucketText}` }),
      from: z.string().openapi({ format: "date-time", description: "Start of the first bucket" }),
      to: z.string().openapi({ format: "date-time" }),
      complete: z.boolean().openapi({ description: "False when the long-range store failed to answer" }),
      fields: z
        .array(ChartFieldOut)
        .openapi({ description: "The values of each point, optional ones only when reported" }),
      band_field: z.string().openapi({
        description: "The field whose normal range the points carry (`expected`, `low`, `high`) with band=1",
      }),
      points: z
        .array(
          z
            .object({
              ts: z.string().openapi({ format: "date-time", description: "Start of the bucket" }),
              ...values,
              ...BandFields,
            })
            .openapi(`TrendPoint_${chart.id}`),
        )
        .openapi({ description: "Buckets where any field has data, oldest first" }),
    })
    .openapi(`TrendChart_${chart.id}`, { description: chart.title });
}

const ChartsOut = z
  .object(Object.fromEntries(TREND_CHARTS.map((chart) => [chart.id, chartSchema(chart)])))
  .openapi("TrendCharts");

const wireChart = (c: LoadedChart) => ({
  title: c.chart.title,
  resolution_seconds: c.bucketSeconds,
  from: iso(c.from),
  to: iso(c.to),
  complete: c.complete,
  fields: c.fields.map((f) => ({
    field: f.field,
    metric: f.metric,
    service: f.service,
    aggregation: f.aggregation,
    unit: fieldUnit(c.chart, f.field),
  })),
  band_field: c.chart.band,
  points: c.points.map(({ ts, ...values }, i) => ({ ts: iso(ts), ...values, ...(c.bands ? c.bands[i] : {}) })),
});

metrics.openapi(
  createRoute({
    method: "get",
    path: "/performance/trends",
    tags: ["metrics"],
    summary: "Per service over a period: latency quantiles, error rate and availability; and the trend charts",
    description:
      "`services`: latency merges probe_latency_ms and api_response_ms; the error rate comes from " +
      "http_errors_total / http_requests_total when the service reports both, else from failed probes. " +
      "`charts`: series over time, one point per bucket with data: payment success rate, API response time " +
      "(p50/p95/p99 per bucket from merged sketches), database pool utilization, connections and, where " +
      "reported, query latency, and user activity (requests per hour, the increase of the cumulative " +
      "http_requests_total, read from the D1 rollups only). With `band=1`, each chart's points also carry the " +
      "normal range of its `band_field` (`expected`, `low`, `high`).",
    request: { query: z.object({ period: Period.default("24h"), band: BandFlag }) },
    responses: {
      200: jsonResponse(
        z.object({
          period: z.enum(PERIODS),
          from: z.string().openapi({ format: "date-time" }),
          to: z.string().openapi({ format: "date-time" }),
          services: z.array(TrendOut),
          charts: ChartsOut,
        }),
        "Trends by service name, and the charts",
      ),
      ...commonErrors,
    },
  }),
  async (c) => {
    const { period, band } = c.req.valid("query");
    const now = Date.now();
    const from = now - PERIOD_MS[period];
    const services = await servicesOf(c.env, TREND_METRICS);
    // Latency merges sketches; availability and counters need only counts, sums and extremes.
    const [latency, others, charts] = await Promise.all([
      loadPreferringHours(c.env.DB, { metrics: LATENCY_METRICS, services }, from, now, now, {
        hourSketches: true,
        minuteSketches: true,
      }),
      loadPreferringHours(c.env.DB, { metrics: COUNT_METRICS, services }, from, now, now, {
        hourSketches: false,
        minuteSketches: false,
      }),
      loadTrendCharts(c.env, period, now, { band: yes(band) }),
    ]);
    const rows = [...latency, ...others];
    const trends = serviceTrends(rows, services).map((t) => ({
      service: t.service,
      latency_ms: t.latency,
      error_rate: t.errorRate,
      error_rate_source: t.errorRateSource,
      availability: t.availability,
      samples: t.samples,
    }));
    return c.json(
      {
        period,
        from: iso(from),
        to: iso(now),
        services: trends,
        charts: Object.fromEntries(charts.map((chart) => [chart.id, wireChart(chart)])),
      },
      200,
    );
  },
);

/**
 * Reads the inputs of the performance trend charts: history points through the
 * same stores as `/metrics/history` (quantiles from merged sketches), and the
 * rollup rows of counters, whose increase per bucket core/trends computes.
 */
import { BAND_LOOKBACK_MS, type BandValue, type ValuePoint } from "../../core/anomaly/band";
import { type HistoryPoint, sourceResolution, type Period } from "../../core/history";
import {
  buildChart,
  type ChartData,
  type ChartInputData,
  chartInputKey,
  chartInputs,
  chartRange,
  increaseByBucket,
  TREND_CHARTS,
  type TrendChart,
} from "../../core/trends";
import { bandsOf, readBandPast } from "./band";
import { loadPreferringHours, loadRollups } from "./d1";
import { readHistory } from "./reader";
import { historySources } from "./sources";

export interface LoadedChart extends ChartData {
  chart: TrendChart;
  from: number;
  to: number;
  /** False when the long-range store failed for some input: only the locally covered part is shown. */
  complete: boolean;
  /** With bands asked for: the normal range of the chart's `band` field, one per point. */
  bands?: BandValue[];
}

/** Rows of a counter over [from, to), plus one bucket before `from` as the baseline of the first rise. */
async function counterIncreases(
  env: Env,
  metric: string,
  service: string,
  range: { from: number; to: number; bucketSeconds: number },
  now: number,
) {
  const selection = { metrics: [metric], services: [service] };
  const step = range.bucketSeconds * 1000;
  const rows =
    sourceResolution(range.bucketSeconds) === 3600
      ? await loadPreferringHours(env.DB, selection, range.from - step, range.to, now, {
          hourSketches: false,
          minuteSketches: false,
        })
      : await loadRollups(env.DB, selection, 60, [[range.from - step, range.to]], { sketches: false });
  return increaseByBucket(rows, range.bucketSeconds, range.from);
}

/** The past of one input that a band needs: history points, or per-bucket increases for counters. */
interface InputPast {
  points?: HistoryPoint[];
  increases?: Map<number, number>;
}

/** The band field's values of the past and of the chart's points. */
function bandSeries(chart: TrendChart, data: ChartData, past: ReadonlyMap<string, InputPast>) {
  const field = data.fields.find((f) => f.field === chart.band);
  if (!field) return null;
  const input = past.get(chartInputKey(field.metric, field.service));
  const aggregation = field.aggregation;
  const pastValues: ValuePoint[] =
    aggregation === "increase"
      ? [...(input?.increases ?? [])].map(([ts, value]) => ({ ts, value }))
      : (input?.points ?? []).map((p) => ({ ts: p.ts, value: p[aggregation] }));
  const shown: ValuePoint[] = data.points.map((p) => ({ ts: p.ts, value: p[field.field] ?? null }));
  return { pastValues, shown };
}

/**
 * Every trend chart for `period` ending at `now`; inputs are read in parallel, one history read each.
 * With `band`, each chart also gets the normal range of its `band` field, from the past read
 * through the same stores (counters: their increases over the week before the range).
 */
export async function loadTrendCharts(
  env: Env,
  period: Period,
  now: number,
  options: { band?: boolean } = {},
): Promise<LoadedChart[]> {
  return Promise.all(
    TREND_CHARTS.map(async (chart: TrendChart): Promise<LoadedChart> => {
      const range = chartRange(chart, period, now);
      const sources = historySources(env, now, range.bucketSeconds);
      let complete = true;
      const inputs = new Map<string, ChartInputData>();
      const past = new Map<string, InputPast>();
      await Promise.all(
        chartInputs(chart).map(async ({ metric, service, counter }) => {
          const data: ChartInputData = {};
          const before: InputPast = {};
          if (counter) {
            if (options.band) {
              // One read from a week before the range: the shown part and the past part split at `from`.
              const all = await counterIncreases(
                env,
                metric,
                service,
                { ...range, from: range.from - BAND_LOOKBACK_MS },
                now,
              );
              const [shown, earlier] = [new Map<number, number>(), new Map<number, number>()];
              for (const [ts, v] of all) (ts >= range.from ? shown : earlier).set(ts, v);
              data.increases = shown;
              before.increases = earlier;
            } else data.increases = await counterIncreases(env, metric, service, range, now);
          }
          if (!counter || chart.fields.some((f) => f.metric === metric && f.aggregation !== "increase")) {
            const query = { metric, services: [service], labels: null, ...range };
            const [read, earlier] = await Promise.all([
              readHistory(query, sources),
              options.band ? readBandPast(query, sources) : undefined,
            ]);
            complete &&= read.complete;
            data.points = read.points;
            if (earlier) before.points = earlier;
          }
          inputs.set(chartInputKey(metric, service), data);
          past.set(chartInputKey(metric, service), before);
        }),
      );
      const built = buildChart(chart, range.bucketSeconds, inputs);
      const loaded: LoadedChart = { ...built, chart, from: range.from, to: range.to, complete };
      if (options.band) {
        const series = bandSeries(chart, built, past);
        loaded.bands = series
          ? bandsOf(series.pastValues, series.shown, range.bucketSeconds)
          : built.points.map(() => ({ expected: null, low: null, high: null }));
      }
      return loaded;
    }),
  );
}

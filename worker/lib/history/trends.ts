/**
 * Reads the inputs of the performance trend charts: history points through the
 * same stores as `/metrics/history` (quantiles from merged sketches), and the
 * rollup rows of counters, whose increase per bucket core/trends computes.
 */
import { sourceResolution, type Period } from "../../core/history";
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
import { loadPreferringHours, loadRollups } from "./d1";
import { readHistory } from "./reader";
import { historySources } from "./sources";

export interface LoadedChart extends ChartData {
  chart: TrendChart;
  from: number;
  to: number;
  /** False when the long-range store failed for some input: only the locally covered part is shown. */
  complete: boolean;
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

/** Every trend chart for `period` ending at `now`; inputs are read in parallel, one history read each. */
export async function loadTrendCharts(env: Env, period: Period, now: number): Promise<LoadedChart[]> {
  return Promise.all(
    TREND_CHARTS.map(async (chart): Promise<LoadedChart> => {
      const range = chartRange(chart, period, now);
      const sources = historySources(env, now, range.bucketSeconds);
      let complete = true;
      const inputs = new Map<string, ChartInputData>();
      await Promise.all(
        chartInputs(chart).map(async ({ metric, service, counter }) => {
          const data: ChartInputData = {};
          if (counter) data.increases = await counterIncreases(env, metric, service, range, now);
          if (!counter || chart.fields.some((f) => f.metric === metric && f.aggregation !== "increase")) {
            const read = await readHistory({ metric, services: [service], labels: null, ...range }, sources);
            complete &&= read.complete;
            data.points = read.points;
          }
          inputs.set(chartInputKey(metric, service), data);
        }),
      );
      return { ...buildChart(chart, range.bucketSeconds, inputs), chart, from: range.from, to: range.to, complete };
    }),
  );
}

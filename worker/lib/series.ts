/** Writing samples to, and reading them from, the series store (MetricSeries Durable Objects). */
import { type Labels, type Sample, seriesKey } from "../core/series";

export function seriesStub(env: Env, metric: string, service: string, labels: Labels = {}) {
  return env.METRIC_SERIES.getByName(seriesKey(metric, service, labels));
}

/** Samples of one series since `since` (epoch ms), oldest first. */
export async function readSeries(env: Env, metric: string, service: string, labels: Labels, since: number): Promise<Sample[]> {
  return seriesStub(env, metric, service, labels).since(since);
}

/**
 * Stores samples (any mix of series): one call per series, concurrently.
 * Resolves once every sample is stored; rejects if any series failed.
 */
export async function recordSamples(env: Env, samples: readonly Sample[], _now: number): Promise<void> {
  const bySeries = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = seriesKey(s.metric, s.service, s.labels);
    const list = bySeries.get(key);
    if (list) list.push(s);
    else bySeries.set(key, [s]);
  }
  await Promise.all([...bySeries].map(([key, list]) => env.METRIC_SERIES.getByName(key).record(list)));
}

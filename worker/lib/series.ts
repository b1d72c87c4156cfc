/** Reading series state from the MetricSeries Durable Objects. */
import { type Labels, type Sample, seriesKey } from "../core/series";

export function seriesStub(env: Env, metric: string, service: string, labels: Labels = {}) {
  return env.METRIC_SERIES.getByName(seriesKey(metric, service, labels));
}

/** Samples of one series since `since` (epoch ms), oldest first. */
export async function readSeries(
  env: Env,
  metric: string,
  service: string,
  labels: Labels,
  since: number,
): Promise<Sample[]> {
  return seriesStub(env, metric, service, labels).since(since);
}

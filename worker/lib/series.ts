/** Writing samples to, and reading them from, the series store (MetricSeries and SeriesIndex Durable Objects). */
import { parseRetention } from "../core/rollup";
import { type Labels, type Sample, seriesKey } from "../core/series";
import { toIso } from "../core/time";

export function seriesStub(env: Env, metric: string, service: string, labels: Labels = {}) {
  return env.METRIC_SERIES.getByName(seriesKey(metric, service, labels));
}

/** The single SeriesIndex: the latest sample of every series. */
export function seriesIndex(env: Env) {
  return env.SERIES_INDEX.getByName("main");
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

/** A sample on the wire (API and dashboard): `{metric, service, labels, value, ts (ISO)}`, plus `message` when present. */
export function toSampleWire(s: Sample) {
  const wire: { metric: string; service: string; labels: Labels; value: number; ts: string; message?: string } = {
    metric: s.metric,
    service: s.service,
    labels: s.labels,
    value: s.value,
    ts: toIso(s.ts) ?? "",
  };
  if (s.message !== undefined) wire.message = s.message;
  return wire;
}

/** How far back a sample may be: older ones are refused by the series store (RETENTION_RAW_HOURS). */
export function rawWindowMs(env: Env): number {
  return parseRetention(env).rawMs;
}

/** A series refused some of its samples (older than the raw window). */
export class SamplesRefusedError extends Error {
  constructor(
    readonly key: string,
    readonly refused: number,
  ) {
    super(`series ${key}: ${refused} sample(s) older than the raw window were not stored`);
    this.name = "SamplesRefusedError";
  }
}

/**
 * Stores samples (any mix of series): one `record` per series, concurrently, then one
 * SeriesIndex update with the newest sample of each stored series. Resolves once every
 * sample is stored; rejects if any series failed or refused a sample (callers answer 5xx,
 * and validate timestamps against `rawWindowMs` first so that a refusal cannot happen).
 */
export async function recordSamples(env: Env, samples: readonly Sample[], _now: number): Promise<void> {
  const bySeries = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = seriesKey(s.metric, s.service, s.labels);
    const list = bySeries.get(key);
    if (list) list.push(s);
    else bySeries.set(key, [s]);
  }
  const groups = [...bySeries];
  const results = await Promise.allSettled(groups.map(([key, list]) => env.METRIC_SERIES.getByName(key).record(list)));
  const newest: Sample[] = [];
  let failure: unknown = null;
  results.forEach((result, i) => {
    const [key, list] = groups[i] ?? ["", []];
    if (result.status === "rejected") failure ??= result.reason;
    else if (result.value < list.length) failure ??= new SamplesRefusedError(key, list.length - result.value);
    if (result.status === "fulfilled" && result.value > 0) {
      newest.push(list.reduce((a, b) => (b.ts >= a.ts ? b : a)));
    }
  });
  // The index only shows what is stored, so it is updated after the series, even when some failed.
  // It is a view: the samples are stored either way, and the next sample of a series repairs it,
  // so its failure is logged rather than turned into a retry that would store samples twice.
  if (newest.length) {
    await seriesIndex(env)
      .update(newest)
      .catch((err: unknown) => console.error("series index update failed", err));
  }
  if (failure !== null) throw failure;
}

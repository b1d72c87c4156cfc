/** Writing samples to, and reading them from, the series store (MetricSeries and SeriesIndex Durable Objects). */
import { AE_MAX_POINTS } from "../core/analytics";
import type { SampleSource } from "../core/counters";
import { addCounts, type DuplicateCounts, firstPerInstant } from "../core/duplicates";
import { parseRetention } from "../core/rollup";
import { familyKey, type Labels, type Sample, seriesKey } from "../core/series";
import { toIso } from "../core/time";
import { countAccepted, countRefused } from "./counters";

/** The MetricSeries holding every series of one metric on one service. */
export function familyStub(env: Env, metric: string, service: string) {
  return env.METRIC_SERIES.getByName(familyKey(metric, service));
}

/** One series of the store: its family's Durable Object, addressed by the series key. */
export function seriesStub(env: Env, metric: string, service: string, labels: Labels = {}) {
  const family = familyStub(env, metric, service);
  const key = seriesKey(metric, service, labels);
  return {
    since: (since: number): Promise<Sample[]> => family.since(key, since),
    latest: (): Promise<Sample | null> => family.latest(key),
    stats: async () => (await family.stats([key]))[0] ?? { count: 0, oldest: null, newest: null },
  };
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
  return familyStub(env, metric, service).since(seriesKey(metric, service, labels), since);
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

/** A family refused some of its samples (older than the raw window). */
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
 * Calls of `record` for a batch: samples grouped by metric family, a family's group split
 * so that no call carries more than AE_MAX_POINTS series (one Analytics Engine point each).
 */
export function planRecordCalls(
  samples: readonly Sample[],
  keyOf: (s: Sample) => string = (s) => seriesKey(s.metric, s.service, s.labels),
): { family: string; samples: Sample[] }[] {
  const calls: { family: string; samples: Sample[]; series: Set<string> }[] = [];
  const open = new Map<string, (typeof calls)[number]>();
  for (const s of samples) {
    const family = familyKey(s.metric, s.service);
    const key = keyOf(s);
    let call = open.get(family);
    if (call && !call.series.has(key) && call.series.size >= AE_MAX_POINTS) call = undefined;
    if (!call) {
      call = { family, samples: [], series: new Set() };
      calls.push(call);
      open.set(family, call);
    }
    call.series.add(key);
    call.samples.push(s);
  }
  return calls.map(({ family, samples: list }) => ({ family, samples: list }));
}

/**
 * Stores samples (any mix of series): one `record` per metric family, concurrently.
 * Resolves once every sample is stored; rejects if any family failed or refused a sample
 * (callers answer 5xx, and validate timestamps against `rawWindowMs` first so that a
 * refusal cannot happen). Each family sends its new latest values to the SeriesIndex
 * within INDEX_DELAY_MS.
 *
 * Idempotent per series and instant: a sample at an instant its series already holds, or
 * repeated in the batch, is not stored again (the first value stays); resolves with how
 * many samples were such duplicates, and how many of those had another value.
 *
 * Counts each sample's fate for `GET /metrics` (lib/counters.ts): stored new from `source`,
 * or refused as a duplicate, too old for the store, or with a family that failed.
 */
export async function recordSamples(
  env: Env,
  samples: readonly Sample[],
  _now: number,
  source: SampleSource,
): Promise<DuplicateCounts> {
  // Repeats within the batch are settled here, in batch order: a family's call may be split.
  // Each sample's series key, worked out once for both steps.
  const keys = new Map<Sample, string>();
  const keyOf = (s: Sample) => {
    let key = keys.get(s);
    if (key === undefined) keys.set(s, (key = seriesKey(s.metric, s.service, s.labels)));
    return key;
  };
  const once = firstPerInstant(samples, keyOf);
  const calls = planRecordCalls(once.kept, keyOf);
  const results = await Promise.allSettled(
    calls.map((call) => env.METRIC_SERIES.getByName(call.family).record(call.samples)),
  );
  let failure: unknown = null;
  let counts: DuplicateCounts = { duplicates: once.duplicates, conflicts: once.conflicts };
  let stored = 0;
  let duplicates = once.duplicates;
  let tooOld = 0;
  let unavailable = 0;
  results.forEach((result, i) => {
    const call = calls[i];
    if (!call) return;
    if (result.status === "rejected") {
      failure ??= result.reason;
      unavailable += call.samples.length;
      return;
    }
    const { held } = result.value;
    stored += held - result.value.duplicates;
    duplicates += result.value.duplicates;
    tooOld += call.samples.length - held;
    if (held < call.samples.length) failure ??= new SamplesRefusedError(call.family, call.samples.length - held);
    else counts = addCounts(counts, result.value);
  });
  countAccepted(env, source, stored);
  countRefused(env, "duplicate", duplicates);
  countRefused(env, "timestamp", tooOld);
  countRefused(env, "unavailable", unavailable);
  if (failure !== null) throw failure;
  return counts;
}

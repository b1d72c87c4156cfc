/** Cron glue for the series store: derived metrics, and retention of the D1 rollups. */
import { HOUR_MS, MINUTE_MS, parseRetention } from "../core/rollup";
import { computeDerived, DERIVED_LOOKBACK_MS, derivedInputs, inputKey, type SeriesWindow } from "../core/derived";
import { type Labels, seriesKey } from "../core/series";
import { familyStub, recordSamples } from "../lib/series";

/**
 * Derived metrics (core/derived.ts) at `now`: reads every label set of each input
 * from the series store and records the values whose inputs are present.
 */
export async function recordDerivedMetrics(env: Env, now: number): Promise<void> {
  const since = now - DERIVED_LOOKBACK_MS;
  const inputs = new Map<string, SeriesWindow[]>();
  await Promise.all(
    derivedInputs().map(async ({ metric, service }) => {
      // Every label set of the input, from its family in one call.
      const windows = new Map<string, { labels: Labels; points: { ts: number; value: number }[] }>();
      for (const s of await familyStub(env, metric, service).sinceAll(since)) {
        const key = seriesKey(s.metric, s.service, s.labels);
        let window = windows.get(key);
        if (!window) windows.set(key, (window = { labels: s.labels, points: [] }));
        window.points.push({ ts: s.ts, value: s.value });
      }
      inputs.set(inputKey(metric, service), [...windows.values()]);
    }),
  );
  const derived = computeDerived(inputs, now);
  if (derived.length) await recordSamples(env, derived, now, "derived");
}

/** Rows deleted per resolution and run; a backlog drains over the following minutes. */
export const RETENTION_BATCH = 1_000;

const deleteOlder = (env: Env, resolutionSeconds: number, before: number) =>
  env.DB.prepare(
    `DELETE FROM system_metrics WHERE id IN (
       SELECT id FROM system_metrics WHERE resolution_seconds = ? AND bucket_start < ? LIMIT ?)`,
  ).bind(resolutionSeconds, before, RETENTION_BATCH);

/**
 * Deletes minute rollups older than RETENTION_MINUTE_DAYS and hour rollups older than
 * RETENTION_HOUR_DAYS from D1, and anomalies that ended before the hour rollups they mark
 * (unless marked expected: the mark keeps pointing at them): bounded statements in one batch per run.
 */
export async function runRetention(env: Env, now: number): Promise<void> {
  const { minuteMs, hourMs } = parseRetention(env);
  await env.DB.batch([
    deleteOlder(env, MINUTE_MS / 1000, now - minuteMs),
    deleteOlder(env, HOUR_MS / 1000, now - hourMs),
    env.DB.prepare(
      `DELETE FROM anomalies WHERE id IN (
         SELECT id FROM anomalies WHERE started_at < ? AND ended_at IS NOT NULL AND ended_at < ?
           AND id NOT IN (SELECT anomaly_id FROM anomaly_feedback WHERE anomaly_id IS NOT NULL) LIMIT ?)`,
    ).bind(now - hourMs, now - hourMs, RETENTION_BATCH),
  ]);
}

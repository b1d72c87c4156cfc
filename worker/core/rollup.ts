/**
 * Rollups of a series: samples folded into 1-minute buckets (count, sum, min, max and
 * a mergeable sketch for p50/p95/p99), minutes merged into hours, which buckets are
 * closed at a given time, when a series store must wake up, and the D1 row of a bucket.
 */
import { fnv1a } from "./random";
import { addValue, emptySketch, mergeInto, parseSketch, quantileWithin, serializeSketch, type Sketch } from "./sketch";
import type { Labels } from "./series";
import { publishAt } from "./throttle";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type Resolution = 60 | 3600;

export interface Rollup {
  count: number;
  sum: number;
  min: number;
  max: number;
  sketch: Sketch;
}

/** Start (epoch ms) of the bucket of `resolution` seconds holding `ts`. */
export function bucketStart(ts: number, resolution: Resolution): number {
  const size = resolution * 1000;
  return Math.floor(ts / size) * size;
}

export function emptyRollup(): Rollup {
  return { count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, sketch: emptySketch() };
}

/** Folds one value into a rollup; non-finite values are ignored, as the sketch ignores them. */
export function addToRollup(rollup: Rollup, value: number): void {
  if (!Number.isFinite(value)) return;
  rollup.count += 1;
  rollup.sum += value;
  if (value < rollup.min) rollup.min = value;
  if (value > rollup.max) rollup.max = value;
  addValue(rollup.sketch, value);
}

/** Adds everything in `source` to `target`. */
export function mergeRollups(target: Rollup, source: Rollup): void {
  if (source.count === 0) return;
  target.count += source.count;
  target.sum += source.sum;
  target.min = Math.min(target.min, source.min);
  target.max = Math.max(target.max, source.max);
  mergeInto(target.sketch, source.sketch);
}

/** Samples folded into buckets of `resolution`, keyed by bucket start. */
export function foldByBucket(
  points: readonly { ts: number; value: number }[],
  resolution: Resolution,
): Map<number, Rollup> {
  const buckets = new Map<number, Rollup>();
  for (const p of points) {
    const start = bucketStart(p.ts, resolution);
    let rollup = buckets.get(start);
    if (!rollup) buckets.set(start, (rollup = emptyRollup()));
    addToRollup(rollup, p.value);
  }
  return buckets;
}

/** True once every instant of the bucket is in the past at `now`. */
export function isClosed(start: number, resolution: Resolution, now: number): boolean {
  return start + resolution * 1000 <= now;
}

/** A rollup as stored: the sketch serialized. */
export type StoredRollup = {
  count: number;
  sum: number;
  min: number;
  max: number;
  sketch: string;
};

export function storeRollup(r: Rollup): StoredRollup {
  return { count: r.count, sum: r.sum, min: r.min, max: r.max, sketch: serializeSketch(r.sketch) };
}

export function loadRollup(s: StoredRollup): Rollup {
  return { count: s.count, sum: s.sum, min: s.min, max: s.max, sketch: parseSketch(s.sketch) };
}

/** Identity columns of a series' D1 rows. */
export interface SeriesIdentity {
  seriesKey: string;
  metric: string;
  service: string;
  labels: Labels;
}

/** Column order of `system_metrics` rows written by `rowValues`. */
export const ROW_COLUMNS = [
  "metric_name",
  "service",
  "labels",
  "series_key",
  "resolution_seconds",
  "bucket_start",
  "count",
  "sum",
  "min",
  "max",
  "p50",
  "p95",
  "p99",
  "sketch",
] as const;

export type RowValue = string | number | null;

/** A bucket as a `system_metrics` row, values in `ROW_COLUMNS` order. */
export function rowValues(id: SeriesIdentity, resolution: Resolution, start: number, r: Rollup): RowValue[] {
  return [
    id.metric,
    id.service,
    JSON.stringify(id.labels),
    id.seriesKey,
    resolution,
    start,
    r.count,
    r.sum,
    r.min,
    r.max,
    quantileWithin(r.sketch, 0.5, r.min, r.max),
    quantileWithin(r.sketch, 0.95, r.min, r.max),
    quantileWithin(r.sketch, 0.99, r.min, r.max),
    serializeSketch(r.sketch),
  ];
}

/**
 * Splits rows into statements under D1's limits: at most `maxParams` bound
 * parameters and about `maxChars` of values per statement.
 */
export function chunkRows(rows: readonly RowValue[][], maxParams = 100, maxChars = 90_000): RowValue[][][] {
  const chunks: RowValue[][][] = [];
  let current: RowValue[][] = [];
  let params = 0;
  let chars = 0;
  for (const row of rows) {
    const size = row.reduce<number>((n, v) => n + (typeof v === "string" ? v.length : 24), 0);
    if (current.length && (params + row.length > maxParams || chars + size > maxChars)) {
      chunks.push(current);
      current = [];
      params = 0;
      chars = 0;
    }
    current.push(row);
    params += row.length;
    chars += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

export interface Retention {
  /** Raw samples are kept (and late samples accepted) this long. */
  rawMs: number;
  /** Minute rollups are kept this long; never shorter than the raw window plus an hour. */
  minuteMs: number;
  hourMs: number;
}

export const DEFAULT_RETENTION = { rawHours: 24, minuteDays: 14, hourDays: 400 } as const;

const positive = (text: string | undefined, fallback: number) => {
  const n = Number(text);
  return text !== undefined && text.trim() !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
};

/** Retention from the RETENTION_* variables; missing or invalid values take the defaults. */
export function parseRetention(vars: {
  RETENTION_RAW_HOURS?: string;
  RETENTION_MINUTE_DAYS?: string;
  RETENTION_HOUR_DAYS?: string;
}): Retention {
  const rawMs = positive(vars.RETENTION_RAW_HOURS, DEFAULT_RETENTION.rawHours) * HOUR_MS;
  // Hours are rebuilt from minutes when late data amends them, so minutes must outlive the raw window.
  const minuteMs = Math.max(
    positive(vars.RETENTION_MINUTE_DAYS, DEFAULT_RETENTION.minuteDays) * DAY_MS,
    rawMs + HOUR_MS,
  );
  const hourMs = positive(vars.RETENTION_HOUR_DAYS, DEFAULT_RETENTION.hourDays) * DAY_MS;
  return { rawMs, minuteMs, hourMs };
}

/**
 * How long a series store holds its minute rollups after writing them to D1: while a
 * late sample can still amend their hour (the raw window plus an hour). D1 keeps them
 * for `minuteMs`.
 */
export function heldMinuteMs(retention: Retention): number {
  return retention.rawMs + HOUR_MS;
}

/** True when a sample at `ts` is inside the raw window at `now` (older ones are refused). */
export function withinRawWindow(ts: number, now: number, retention: Retention): boolean {
  return ts >= now - retention.rawMs;
}

/**
 * Raw samples before this time may be deleted at `now`. Minutes are rolled up from raw
 * samples when they are flushed, so pruning keeps whole minutes: the minute of the
 * oldest acceptable sample, and every minute still waiting to be flushed.
 */
export function rawPruneBefore(now: number, retention: Retention, oldestPendingMinute: number | null): number {
  const edge = bucketStart(now - retention.rawMs, 60);
  return oldestPendingMinute === null ? edge : Math.min(edge, oldestPendingMinute);
}

/** Wait after a bucket closes before flushing, so samples arriving just late land in the same write. */
export const FLUSH_DELAY_MS = 5_000;
/**
 * Each series flushes at its own fixed offset within this window after FLUSH_DELAY_MS,
 * so thousands of series do not write to D1 in the same second.
 */
export const FLUSH_SPREAD_MS = 20_000;
/** Wait after a failed flush. */
export const RETRY_DELAY_MS = 30_000;
/** Pruning waits this much past the due time, so one wake-up removes many rows. */
export const PRUNE_SLACK_MS = HOUR_MS;
/**
 * Latest values reach the SeriesIndex at once when the family's previous index update is
 * this old, else when this long has passed since it: a busy series store sends one index
 * update per interval instead of one per write, a quiet one sends each change at once.
 */
export const INDEX_DELAY_MS = 1_000;
/** Wait after a failed index update. */
export const INDEX_RETRY_MS = 1_000;
/**
 * A write this close to the end of the interval sends its latest values itself rather than
 * arm an alarm for them: a family written about every INDEX_DELAY_MS (a collector's batch a
 * second, give or take its jitter) updates the index from its writes and needs no alarm
 * (a wake-up, and a storage commit, per second) for it.
 */
export const INDEX_EARLY_MS = 100;

/** Whether a write at `now` sends the family's latest values to the SeriesIndex itself (the last update started at `indexedAt`). */
export function indexFromWrite(now: number, indexedAt: number | null | undefined): boolean {
  return publishAt(now, indexedAt, INDEX_DELAY_MS) <= now + INDEX_EARLY_MS;
}

/**
 * Anomaly detectors changed since their last checkpoint are written at most once per this
 * interval (each is a few KB): a family's alarm, which may come every INDEX_DELAY_MS for
 * the index, checkpoints on one wake-up a minute, and a detector lost with its object replays the
 * raw samples since its checkpoint (at most this long of them, far inside the raw window).
 */
export const CHECKPOINT_INTERVAL_MS = 60_000;

export interface WakeInput {
  now: number;
  /** Starts of minutes with changes not yet written to D1. */
  pendingMinutes: readonly number[];
  /** Starts of hours with changes not yet written to D1. */
  pendingHours: readonly number[];
  oldestRaw: number | null;
  /** Oldest minute already written to D1 and still held (pending minutes are never pruned). */
  oldestFlushedMinute: number | null;
  retention: Retention;
  /** The last flush failed: retry after RETRY_DELAY_MS rather than on the bucket schedule. */
  failed?: boolean;
  /** This series' offset within FLUSH_SPREAD_MS (`flushOffset`). */
  offsetMs?: number;
  /** Latest values not yet sent to the SeriesIndex: "failed" when the last update failed. */
  unindexed?: boolean | "failed";
  /** When the last index update started (null or undefined: none, or not known). */
  indexedAt?: number | null;
  /** Detector states changed since their last checkpoint. */
  uncheckpointed?: boolean;
  /** When detectors were last checkpointed (null or undefined: not by this instance). */
  checkpointedAt?: number | null;
}

/** When detectors changed since their last checkpoint (at `checkpointedAt`) are next due to be written. */
export function checkpointAt(now: number, checkpointedAt: number | null | undefined): number {
  return publishAt(now, checkpointedAt, CHECKPOINT_INTERVAL_MS);
}

/** A series' fixed flush offset in [0, FLUSH_SPREAD_MS), from a hash of its key. */
export function flushOffset(seriesKey: string): number {
  return fnv1a(seriesKey) % FLUSH_SPREAD_MS;
}

/**
 * When a series store must next wake up (epoch ms), or null when nothing is due:
 * FLUSH_DELAY_MS plus the series' offset after the earliest pending bucket closes (not
 * before that long after `now`, which batches late samples), when latest values are due
 * at the SeriesIndex (INDEX_DELAY_MS, leading edge), when changed detectors are due a
 * checkpoint (CHECKPOINT_INTERVAL_MS), or when raw samples or minutes expire. Times follow
 * bucket boundaries, so a busy series wakes at the same offset every minute and never drifts.
 */
export function nextWakeAt(input: WakeInput): number | null {
  const { now, retention } = input;
  const due: number[] = [];
  const closes = [...input.pendingMinutes.map((m) => m + MINUTE_MS), ...input.pendingHours.map((h) => h + HOUR_MS)];
  if (closes.length) {
    const delay = FLUSH_DELAY_MS + (input.offsetMs ?? 0);
    due.push(input.failed ? now + RETRY_DELAY_MS : Math.max(Math.min(...closes), now) + delay);
  }
  if (input.unindexed === "failed") due.push(now + INDEX_RETRY_MS);
  else if (input.unindexed) due.push(publishAt(now, input.indexedAt, INDEX_DELAY_MS));
  if (input.uncheckpointed) due.push(checkpointAt(now, input.checkpointedAt));
  if (input.oldestRaw !== null) due.push(Math.max(input.oldestRaw + retention.rawMs + PRUNE_SLACK_MS, now));
  if (input.oldestFlushedMinute !== null) {
    due.push(Math.max(input.oldestFlushedMinute + heldMinuteMs(retention) + PRUNE_SLACK_MS, now));
  }
  return due.length ? Math.min(...due) : null;
}

/** How a stretch of one series' history goes into a series store that has not seen it (`planHistoryImport`). */
export interface HistoryImportPlan {
  /** Points inside the raw window: stored as raw samples and rolled up by the store itself. */
  raw: { ts: number; value: number }[];
  /**
   * Minutes before the raw window whose hour still gets rolled up by the store (the hour
   * the raw window starts in): held by the store as already written, so that hour merges whole.
   */
  heldMinutes: [start: number, rollup: Rollup][];
  /** Closed buckets before the raw window, as the store would have written them to D1: minutes D1 still keeps, and hours. */
  rows: { resolution: Resolution; start: number; rollup: Rollup }[];
}

/**
 * Plans the import of a series' past (`ts` oldest first, `values` alike) at `now`, so
 * that it ends up as live ingestion would have left it: raw samples from the first whole
 * minute of the raw window on; before that, minute rollups folded from the samples in
 * time order (written to D1 when within the minute retention) and hour rollups merged
 * from their minutes in order, with the same functions the store rolls up with. One pass,
 * holding only what is to be written.
 */
export function planHistoryImport(
  ts: readonly number[],
  values: readonly number[],
  now: number,
  retention: Retention,
): HistoryImportPlan {
  const rawFrom = bucketStart(now - retention.rawMs, 60) + MINUTE_MS;
  const firstStoreHour = bucketStart(rawFrom, 3600);
  const minuteFrom = now - retention.minuteMs;
  const hourFrom = now - retention.hourMs;
  const plan: HistoryImportPlan = { raw: [], heldMinutes: [], rows: [] };
  // (asserted: the closures below assign them, which narrowing does not follow)
  let minute = null as { start: number; rollup: Rollup } | null;
  let hour = null as { start: number; rollup: Rollup } | null;
  const closeHour = () => {
    if (hour && hour.rollup.count > 0 && hour.start >= hourFrom) plan.rows.push({ resolution: 3600, ...hour });
    hour = null;
  };
  const closeMinute = () => {
    if (!minute || minute.rollup.count === 0) return;
    const { start, rollup } = minute;
    const hourStart = bucketStart(start, 3600);
    if (hourStart >= firstStoreHour) plan.heldMinutes.push([start, rollup]);
    else {
      if (hour?.start !== hourStart) {
        closeHour();
        hour = { start: hourStart, rollup: emptyRollup() };
      }
      mergeRollups(hour.rollup, rollup);
    }
    if (start >= minuteFrom) plan.rows.push({ resolution: 60, start, rollup });
  };
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number;
    const value = values[i] as number;
    if (t >= rawFrom) {
      plan.raw.push({ ts: t, value });
      continue;
    }
    const start = bucketStart(t, 60);
    if (minute?.start !== start) {
      closeMinute();
      minute = { start, rollup: emptyRollup() };
    }
    addToRollup(minute.rollup, value);
  }
  closeMinute();
  closeHour();
  // Minutes then hours, as the store flushes them.
  plan.rows.sort((a, b) => a.resolution - b.resolution);
  return plan;
}

/**
 * History from the D1 rollups (`system_metrics`): hour rows where they exist,
 * minute rows for the rest, merged into the requested buckets by core/history.
 * Sketches (the bulk of a row) are read only for buckets that merge rows.
 */
import { and, eq, gte, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import {
  alignUp,
  bucketize,
  coalesceRanges,
  HOUR_MS,
  type HistoryPoint,
  likelyMinuteRanges,
  minuteRangesToRead,
  preferHourRows,
  type RollupRow,
  sketchRanges,
  sourceResolution,
  type StoredResolution,
  subtractRanges,
  type TimeRange,
} from "../../core/history";
import { seriesKey } from "../../core/series";
import { getDb } from "../../db/client";
import { systemMetrics } from "../../db/schema";
import type { HistoryQuery, HistoryReader } from "./reader";

export interface RollupSelection {
  metrics: readonly string[];
  services: readonly string[];
  /** Only these series (else every series of the metrics on the services). */
  seriesKeys?: readonly string[];
}

export interface LoadOptions {
  /** Read the sketch column (else rows carry `sketch: null`). */
  sketches: boolean;
}

/** Services per statement: D1 allows 100 bound parameters, and ranges need some too. */
const SERVICES_PER_QUERY = 40;

const COLUMNS = {
  seriesKey: systemMetrics.seriesKey,
  service: systemMetrics.service,
  metric: systemMetrics.metricName,
  resolutionSeconds: systemMetrics.resolutionSeconds,
  bucketStart: systemMetrics.bucketStart,
  count: systemMetrics.count,
  sum: systemMetrics.sum,
  min: systemMetrics.min,
  max: systemMetrics.max,
  p50: systemMetrics.p50,
  p95: systemMetrics.p95,
  p99: systemMetrics.p99,
};
const WITH_SKETCH = { ...COLUMNS, sketch: systemMetrics.sketch };
const WITHOUT_SKETCH = { ...COLUMNS, sketch: sql<string | null>`NULL` };

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows of one stored resolution whose bucket starts in any of `ranges`. */
export async function loadRollups(
  d1: D1Database,
  selection: RollupSelection,
  resolution: StoredResolution,
  ranges: readonly TimeRange[],
  { sketches }: LoadOptions,
): Promise<RollupRow[]> {
  if (!ranges.length || !selection.metrics.length || !selection.services.length) return [];
  if (selection.seriesKeys && !selection.seriesKeys.length) return [];
  const db = getDb(d1);
  const inRanges = or(
    ...ranges.map(([from, to]) => and(gte(systemMetrics.bucketStart, from), lt(systemMetrics.bucketStart, to))),
  );
  const results = await Promise.all(
    chunks(selection.services, SERVICES_PER_QUERY).map((services) => {
      const where: (SQL | undefined)[] = [
        inArray(systemMetrics.metricName, [...selection.metrics]),
        inArray(systemMetrics.service, services),
        eq(systemMetrics.resolutionSeconds, resolution),
        inRanges,
      ];
      if (selection.seriesKeys) where.push(inArray(systemMetrics.seriesKey, [...selection.seriesKeys]));
      return db
        .select(sketches ? WITH_SKETCH : WITHOUT_SKETCH)
        .from(systemMetrics)
        .where(and(...where));
    }),
  );
  return results.flat();
}

export interface HourPreferringOptions {
  hourSketches: boolean;
  minuteSketches: boolean;
}

/**
 * Rows covering [from, to) with each series counted once per hour: its hour
 * row where there is one, its minute rows otherwise (see `minuteRangesToRead`).
 * The minutes usually needed are read alongside the hours; holes cost one more query.
 */
export async function loadPreferringHours(
  d1: D1Database,
  selection: RollupSelection,
  from: number,
  to: number,
  now: number,
  { hourSketches, minuteSketches }: HourPreferringOptions,
): Promise<RollupRow[]> {
  const likely = likelyMinuteRanges(from, to, now);
  const minutes = { sketches: minuteSketches };
  const [hourRows, likelyRows] = await Promise.all([
    loadRollups(d1, selection, 3600, [[alignUp(from, HOUR_MS), to]], { sketches: hourSketches }),
    loadRollups(d1, selection, 60, likely, minutes),
  ]);
  const holes = subtractRanges(minuteRangesToRead(hourRows, from, to, now), likely);
  const holeRows = holes.length ? await loadRollups(d1, selection, 60, coalesceRanges(holes), minutes) : [];
  return preferHourRows(hourRows, [...likelyRows, ...holeRows]);
}

const rowId = (r: RollupRow) => `${r.seriesKey}\u0000${r.resolutionSeconds}\u0000${r.bucketStart}`;

/** `rows` (read without sketches) with the sketches of the rows that `bucketize` will merge. */
async function withNeededSketches(
  d1: D1Database,
  selection: RollupSelection,
  rows: RollupRow[],
  bucketSeconds: number,
): Promise<RollupRow[]> {
  const needed = sketchRanges(rows, bucketSeconds);
  if (!needed.length) return rows;
  const loaded = await Promise.all(
    needed.map(({ resolution, ranges }) => loadRollups(d1, selection, resolution, ranges, { sketches: true })),
  );
  const sketches = new Map(loaded.flat().map((r) => [rowId(r), r.sketch]));
  return rows.map((r) => {
    const sketch = sketches.get(rowId(r));
    return sketch === undefined ? r : { ...r, sketch };
  });
}

export class D1HistoryReader implements HistoryReader {
  constructor(
    private readonly d1: D1Database,
    private readonly now: number,
  ) {}

  async read(query: HistoryQuery): Promise<HistoryPoint[]> {
    const { labels, bucketSeconds } = query;
    const selection: RollupSelection = {
      metrics: [query.metric],
      services: query.services,
      ...(labels ? { seriesKeys: query.services.map((s) => seriesKey(query.metric, s, labels)) } : {}),
    };
    // Minute rows feeding a coarser bucket are merged, so their sketches are read at once;
    // an hour (or single minute) row usually stands alone and answers from its own columns.
    const rows =
      sourceResolution(bucketSeconds) === 3600
        ? await loadPreferringHours(this.d1, selection, query.from, query.to, this.now, {
            hourSketches: false,
            minuteSketches: true,
          })
        : await loadRollups(this.d1, selection, 60, [[query.from, query.to]], { sketches: bucketSeconds > 60 });
    return bucketize(await withNeededSketches(this.d1, selection, rows, bucketSeconds), bucketSeconds);
  }
}

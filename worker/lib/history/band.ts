/**
 * The normal range of a history read (`band=1`): the past the bands need is read
 * through the same stores as the shown range (see core/anomaly/band for which
 * past, and how it becomes an expected value and a band per bucket).
 */
import { type BandValue, bandReadRanges, normalBands, type ValuePoint } from "../../core/anomaly/band";
import type { HistoryPoint } from "../../core/history";
import { type HistoryQuery, type HistorySources, readHistory } from "./reader";

/** The points of the past ranges the bands of `query` read, oldest first (a failing long-range read costs only its part). */
export async function readBandPast(query: HistoryQuery, sources: HistorySources): Promise<HistoryPoint[]> {
  const ranges = bandReadRanges(query.from, query.to, query.bucketSeconds * 1000);
  const reads = await Promise.all(ranges.map(([from, to]) => readHistory({ ...query, from, to }, sources)));
  return reads.flatMap((r) => r.points);
}

/** The band of each shown point from the past and the shown points themselves (earlier buckets of the range count too). */
export function bandsOf(past: readonly ValuePoint[], shown: readonly ValuePoint[], bucketSeconds: number): BandValue[] {
  return normalBands(
    [...past, ...shown],
    shown.map((p) => p.ts),
    bucketSeconds * 1000,
  );
}

/**
 * One interface over the history stores: D1 rollups (local and recent) and
 * Analytics Engine (production, long range). A query goes to D1 for what its
 * rollups still cover and to the long-range reader for anything older.
 */
import { type HistoryPoint, splitByCoverage } from "../../core/history";
import type { Labels } from "../../core/series";

export interface HistoryQuery {
  metric: string;
  /** The services whose series are read (one, or every service reporting the metric). */
  services: readonly string[];
  /** One series' labels, or null to merge every series of the metric on those services. */
  labels: Labels | null;
  /** Epoch ms, inclusive; a bucket boundary. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  bucketSeconds: number;
}

export interface HistoryReader {
  /** Buckets of `query.bucketSeconds` with data, oldest first. */
  read(query: HistoryQuery): Promise<HistoryPoint[]>;
}

export interface HistorySources {
  local: HistoryReader;
  /** Epoch ms from which the local rollups are complete (older rows have been deleted). */
  coveredFrom: number;
  /** Reads what the local store no longer has; null when not configured. */
  longRange: HistoryReader | null;
}

export interface HistoryResult {
  points: HistoryPoint[];
  /** False when the long-range store failed: only the locally covered part is in `points`. */
  complete: boolean;
}

/**
 * Points of the query from whichever store holds each part of its range. A
 * failing long-range store costs the older part only (logged), not the answer.
 */
export async function readHistory(query: HistoryQuery, sources: HistorySources): Promise<HistoryResult> {
  const { longRange } = sources;
  if (!longRange) return { points: await sources.local.read(query), complete: true };
  const { older, covered } = splitByCoverage(query.from, query.to, sources.coveredFrom, query.bucketSeconds);
  const [old, recent] = await Promise.all([
    older
      ? longRange.read({ ...query, from: older[0], to: older[1] }).catch((err: unknown) => {
          console.error("long-range history read failed", err);
          return null;
        })
      : [],
    covered ? sources.local.read({ ...query, from: covered[0], to: covered[1] }) : [],
  ]);
  return { points: [...(old ?? []), ...recent], complete: old !== null };
}

/**
 * Idempotent ingest: a series holds at most one sample per instant (epoch ms). A sample
 * at an instant its series already has, earlier in the same batch or stored before, is a
 * duplicate and is not stored again, whatever its value: the first one stays. With the
 * same value it is a retry and changes nothing; with another value it is also a conflict,
 * reported to the sender (as Prometheus refuses a "duplicate sample for timestamp").
 */

/** What a batch repeated: `duplicates` samples not stored again, `conflicts` of them with another value. */
export interface DuplicateCounts {
  duplicates: number;
  conflicts: number;
}

export const NO_DUPLICATES: Readonly<DuplicateCounts> = Object.freeze({ duplicates: 0, conflicts: 0 });

interface Point {
  ts: number;
  value: number;
}

/** The key of one instant of one series (`series` a series key or a store's row id). */
export const instantKey = (series: string | number, ts: number): string => `${series}@${ts}`;

export function addCounts(a: DuplicateCounts, b: DuplicateCounts): DuplicateCounts {
  return { duplicates: a.duplicates + b.duplicates, conflicts: a.conflicts + b.conflicts };
}

/**
 * The first sample of each instant of each series, in batch order, and what the later
 * ones were. `seriesOf` names a sample's series.
 *
 * @example firstPerInstant([{ts: 1, value: 5}, {ts: 1, value: 5}, {ts: 1, value: 6}], () => "s")
 * // { kept: [{ts: 1, value: 5}], duplicates: 2, conflicts: 1 }
 */
export function firstPerInstant<T extends Point>(
  samples: readonly T[],
  seriesOf: (s: T) => string | number,
): { kept: T[] } & DuplicateCounts {
  // Per series its first sample, or once it has more than one, its samples by instant: the
  // usual batch holds one sample per series, and needs no key made per sample.
  const bySeries = new Map<string | number, T | Map<number, T>>();
  const kept: T[] = [];
  let duplicates = 0;
  let conflicts = 0;
  for (const s of samples) {
    const series = seriesOf(s);
    const held = bySeries.get(series);
    if (held === undefined) {
      bySeries.set(series, s);
      kept.push(s);
      continue;
    }
    let instants: Map<number, T>;
    if (held instanceof Map) instants = held;
    else bySeries.set(series, (instants = new Map([[held.ts, held]])));
    const earlier = instants.get(s.ts);
    if (earlier === undefined) {
      instants.set(s.ts, s);
      kept.push(s);
      continue;
    }
    duplicates++;
    if (earlier.value !== s.value) conflicts++;
  }
  return { kept, duplicates, conflicts };
}

/**
 * Of samples offered to a store (one per instant, as `firstPerInstant` keeps them), those
 * it added, and what the others repeated. `added` holds the instant keys the store
 * inserted; `stored` the value it already held at each other instant.
 */
export function settleAgainstStored<T extends Point>(
  offered: readonly T[],
  keyOf: (s: T) => string,
  added: ReadonlySet<string>,
  stored: ReadonlyMap<string, number>,
): { added: T[] } & DuplicateCounts {
  const fresh: T[] = [];
  let duplicates = 0;
  let conflicts = 0;
  for (const s of offered) {
    const key = keyOf(s);
    if (added.has(key)) {
      fresh.push(s);
      continue;
    }
    duplicates++;
    if (stored.get(key) !== s.value) conflicts++;
  }
  return { added: fresh, duplicates, conflicts };
}

/** Searching sorted timestamp lists (series held as plain arrays, oldest first). */

/** Index of the first element of sorted `ts` with ts > x (`after`) or ts >= x (ts.length when none). */
export function searchSorted(ts: readonly number[], x: number, after = false): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const t = ts[mid] as number;
    if (after ? t <= x : t < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counter arithmetic over stored points: the increase across resets, and the per-second rate. */

export interface CounterPoint {
  ts: number;
  value: number;
}

/**
 * How much a counter grew over the points (taken in time order; non-finite ones ignored).
 * A decrease is a reset to zero, so the value after it counts in full.
 *
 * @example counterIncrease([{ ts: 0, value: 10 }, { ts: 1, value: 15 }, { ts: 2, value: 3 }]) // 5 + 3 = 8
 */
export function counterIncrease(points: readonly CounterPoint[]): number {
  const ordered = points.filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.value)).sort((a, b) => a.ts - b.ts);
  let increase = 0;
  let previous: number | null = null;
  for (const { value } of ordered) {
    if (previous !== null) increase += value >= previous ? value - previous : value;
    previous = value;
  }
  return increase;
}

/** Per-second rate over a window: counterIncrease / windowSeconds; 0 for a window that is not positive. */
export function counterRate(points: readonly CounterPoint[], windowSeconds: number): number {
  return windowSeconds > 0 && Number.isFinite(windowSeconds) ? counterIncrease(points) / windowSeconds : 0;
}

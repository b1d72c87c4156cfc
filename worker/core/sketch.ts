/**
 * A mergeable quantile sketch (logarithmic buckets, as in DDSketch): every
 * quantile it answers is within `ALPHA` relative error of a true sample value,
 * and two sketches merge exactly, so minute rollups combine into hours and
 * any longer bucket without losing accuracy.
 */

/** Relative accuracy of quantiles: 1 %. */
export const ALPHA = 0.01;
const GAMMA = (1 + ALPHA) / (1 - ALPHA);
const LOG_GAMMA = Math.log(GAMMA);
/** Values closer to zero than this count as zero. */
const MIN_MAGNITUDE = 1e-9;

export interface Sketch {
  /** Bucket index → count, for positive values (bucket i holds (γ^(i-1), γ^i]). */
  pos: Map<number, number>;
  /** Same for the magnitudes of negative values. */
  neg: Map<number, number>;
  zero: number;
  count: number;
}

export function emptySketch(): Sketch {
  return { pos: new Map(), neg: new Map(), zero: 0, count: 0 };
}

const bucketOf = (magnitude: number) => Math.ceil(Math.log(magnitude) / LOG_GAMMA);
/** The value a bucket stands for: within ALPHA of everything in it. */
const valueOf = (index: number) => (2 * GAMMA ** index) / (GAMMA + 1);
const bump = (m: Map<number, number>, k: number, n: number) => m.set(k, (m.get(k) ?? 0) + n);

/** Adds one finite value (non-finite values are ignored). */
export function addValue(sketch: Sketch, value: number): void {
  if (!Number.isFinite(value)) return;
  sketch.count += 1;
  if (Math.abs(value) < MIN_MAGNITUDE) sketch.zero += 1;
  else bump(value > 0 ? sketch.pos : sketch.neg, bucketOf(Math.abs(value)), 1);
}

/** Adds everything in `source` to `target`. */
export function mergeInto(target: Sketch, source: Sketch): void {
  for (const [k, n] of source.pos) bump(target.pos, k, n);
  for (const [k, n] of source.neg) bump(target.neg, k, n);
  target.zero += source.zero;
  target.count += source.count;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of the values added, within ALPHA relative error;
 * null for an empty sketch.
 */
export function quantile(sketch: Sketch, q: number): number | null {
  if (sketch.count === 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * (sketch.count - 1);
  let seen = 0;
  // Negative values from the most negative (largest magnitude) up, then zero, then positives.
  const negKeys = [...sketch.neg.keys()].sort((a, b) => b - a);
  for (const k of negKeys) {
    seen += sketch.neg.get(k) ?? 0;
    if (seen > rank) return -valueOf(k);
  }
  seen += sketch.zero;
  if (seen > rank) return 0;
  const posKeys = [...sketch.pos.keys()].sort((a, b) => a - b);
  for (const k of posKeys) {
    seen += sketch.pos.get(k) ?? 0;
    if (seen > rank) return valueOf(k);
  }
  return posKeys.length ? valueOf(posKeys.at(-1) ?? 0) : 0;
}

/**
 * The q-quantile kept inside the exact [min, max] of the values it summarises: the sketch's
 * relative error must not put a p99 above the largest value seen (or a p50 below the smallest).
 */
export function quantileWithin(sketch: Sketch, q: number, min: number, max: number): number | null {
  const v = quantile(sketch, q);
  if (v === null || !(min <= max)) return v;
  return Math.min(Math.max(v, min), max);
}

/** Compact JSON: `{"p":[[index,count],…],"n":[…],"z":zeros}` (count is the sum of all). */
export function serializeSketch(sketch: Sketch): string {
  return JSON.stringify({ p: [...sketch.pos], n: [...sketch.neg], z: sketch.zero });
}

/** Reads `serializeSketch` output; a malformed text gives an empty sketch rather than throwing. */
export function parseSketch(text: string | null | undefined): Sketch {
  const sketch = emptySketch();
  if (!text) return sketch;
  try {
    const data = JSON.parse(text) as { p?: unknown; n?: unknown; z?: unknown };
    const read = (pairs: unknown, into: Map<number, number>) => {
      if (!Array.isArray(pairs)) return;
      for (const pair of pairs) {
        if (Array.isArray(pair) && Number.isInteger(pair[0]) && Number.isInteger(pair[1]) && pair[1] > 0) {
          bump(into, pair[0], pair[1]);
          sketch.count += pair[1];
        }
      }
    };
    read(data.p, sketch.pos);
    read(data.n, sketch.neg);
    if (Number.isInteger(data.z) && (data.z as number) > 0) {
      sketch.zero = data.z as number;
      sketch.count += sketch.zero;
    }
  } catch {
    return emptySketch();
  }
  return sketch;
}

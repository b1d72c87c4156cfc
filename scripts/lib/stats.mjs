// Pure helpers of the benchmarks: percentiles of timings and a bounded-concurrency map.

/** The nearest-rank `p`th percentile (0 < p ≤ 100) of ascending `sorted`; NaN when it is empty. */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((sorted.length * p) / 100)));
  return sorted[rank - 1];
}

/** Count, p50, p99 and max of `values` (any order). */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN };
}

/**
 * `fn(item, index)` over `items`, at most `limit` running at once; the results in input order.
 * After a failure no new item starts, and the first error is thrown once the running ones finish.
 */
export async function mapLimit(items, limit, fn) {
  const results = Array.from({ length: items.length });
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
  return results;
}

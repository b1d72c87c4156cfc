/**
 * Leading-edge throttling of live publications (metrics to the index, deltas to the
 * dashboard): a change is published at once when the previous publication is at least an
 * interval old, and otherwise when that interval ends, so a burst costs one publication
 * at its start and one more at most per interval after it.
 */

/**
 * When to publish a change noticed at `now` (epoch ms), given when the previous
 * publication started (`lastAt`; null or undefined when there was none, or it is not
 * known any more): now, or `lastAt + intervalMs` when that is later.
 */
export function publishAt(now: number, lastAt: number | null | undefined, intervalMs: number): number {
  if (lastAt === null || lastAt === undefined) return now;
  return Math.max(now, lastAt + intervalMs);
}

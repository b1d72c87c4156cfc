/** Retry timing for notification deliveries that failed with a transient error. */

const BASE_SECONDS = 5;
const FACTOR = 2;
const CAP_SECONDS = 15 * 60;
/** A provider asking for more than this is treated as asking for this. */
const RETRY_AFTER_CAP_SECONDS = 60 * 60;

/**
 * Tries of one delivery on one channel, the first included (so retries 1–5). Their
 * exponential ceilings add up to 5+10+20+40+80 s, about 2.5 min: a page that has not
 * arrived by then is better sent on the admin's next channel (fallbackChannel) than
 * retried on one that keeps failing. A provider's Retry-After can stretch this.
 */
export const MAX_ATTEMPTS = 6;

/**
 * Delay (whole seconds) before retry `attempt` (1-based): a uniform draw from `random`
 * (in [0, 1)) below min(15 min, 5 s × 2^(attempt-1)) — "full jitter", so deliveries that
 * failed together do not retry together — and never below the provider's Retry-After,
 * which is capped at an hour.
 *
 * @example retryDelaySeconds(3, 0.5, null) // 10 (ceiling 20 s)
 */
export function retryDelaySeconds(attempt: number, random: number, retryAfterSeconds: number | null): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // Capped before exponentiating far, so large attempt numbers stay finite.
  const ceiling = Math.min(CAP_SECONDS, BASE_SECONDS * FACTOR ** Math.min(n - 1, 30));
  const r = Number.isFinite(random) ? Math.min(Math.max(random, 0), 1) : 0;
  const jittered = Math.min(Math.floor(r * ceiling), ceiling);
  const floor =
    retryAfterSeconds !== null && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? Math.min(Math.ceil(retryAfterSeconds), RETRY_AFTER_CAP_SECONDS)
      : 0;
  return Math.max(jittered, floor);
}

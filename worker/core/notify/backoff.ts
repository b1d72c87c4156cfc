/**
 * Retry timing for notification deliveries that failed with a transient error (a 5xx, a
 * 429, a network failure or a timeout). Tuned to outlast a real provider outage: the
 * first retry waits at least 5 s, and a job is given up only after at least 15 minutes of
 * retries, so a 22 s blip (or a 10 minute one) costs no page.
 */

/** Retry n has the nominal delay min(CAP, BASE × 2^(n-1)): 10, 20, 40, 80, 160, 300, 300, … s. */
const BASE_SECONDS = 10;
const FACTOR = 2;
/** No single wait is longer than this, so a recovered provider is tried again soon. */
const CAP_SECONDS = 5 * 60;
/** The shortest wait of all: the first retry's, with the lowest jitter. */
export const FLOOR_SECONDS = 5;
/**
 * A provider asking for more than this is treated as asking for this: a longer wait would
 * hold a page past the whole retry span, when the admins' personal channels could carry it.
 */
export const RETRY_AFTER_CAP_SECONDS = 15 * 60;
/** The least time from the first try to giving up, whatever the jitter. */
export const MIN_SPAN_SECONDS = 15 * 60;

/**
 * Tries of one delivery on one channel, the first included (retries 1–10). At the lowest
 * jitter the waits add up to 5+10+20+40+80+150+150+150+150+150 s = 905 s, just over
 * MIN_SPAN_SECONDS; at the highest to 1,810 s (about 30 min). The queue's `max_retries` in
 * wrangler.toml must stay above MAX_ATTEMPTS - 1, so that this count, not the platform's,
 * decides when a job is given up.
 */
export const MAX_ATTEMPTS = 11;

/**
 * Delay (whole seconds) before retry `attempt` (1-based): the nominal delay
 * d = min(5 min, 10 s × 2^(attempt-1)) jittered within [d/2, d] by `random` (in [0, 1)) —
 * "equal jitter": deliveries that failed together spread out, yet no wait is shorter than
 * half its step (5 s for the first) — and never below the provider's Retry-After, which is
 * capped at 15 minutes.
 *
 * @example retryDelaySeconds(1, 0, null) // 5
 * @example retryDelaySeconds(3, 0.5, null) // 30 (between 20 and 40 s)
 */
export function retryDelaySeconds(attempt: number, random: number, retryAfterSeconds: number | null): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // Capped before exponentiating far, so large attempt numbers stay finite.
  const nominal = Math.min(CAP_SECONDS, BASE_SECONDS * FACTOR ** Math.min(n - 1, 30));
  const low = Math.max(FLOOR_SECONDS, nominal / 2);
  const r = Number.isFinite(random) ? Math.min(Math.max(random, 0), 1) : 0;
  const jittered = Math.min(Math.ceil(low + r * (nominal - low)), nominal);
  const asked =
    retryAfterSeconds !== null && Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0
      ? Math.min(Math.ceil(retryAfterSeconds), RETRY_AFTER_CAP_SECONDS)
      : 0;
  return Math.max(jittered, asked);
}

/**
 * The least and most time (seconds) from the first try to the last, at the lowest and
 * highest jitter and without Retry-After: the schedule's guarantees, for tests and docs.
 */
export function retrySpanSeconds(): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
    min += retryDelaySeconds(attempt, 0, null);
    max += retryDelaySeconds(attempt, 1, null);
  }
  return { min, max };
}

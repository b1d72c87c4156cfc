/**
 * The notification outbox's deadlines. Every job is written to `notification_deliveries`
 * (status `queued`) before it is put on a queue: by the rule in the same D1 batch that
 * records the notification on the alert's timeline, by the consumer for a fallback, by the
 * digest run with the rows it gathers. While a job is `queued` its row carries a deadline
 * (`due_at`): when it should have been tried, or tried again. Whoever carries the job
 * moves the deadline on (the consumer when it tries, when it schedules a retry, when it
 * hands the job to the dead-letter queue), so a deadline in the past means nothing carries
 * it any more: a crash between the batch and the queue send, a consumer killed
 * mid-request, a queue message lost. The per-minute sweeper enqueues such jobs again. A
 * copy that was not lost after all is harmless: the consumer claims each try (attempts
 * move on once) and acknowledges a job whose row is terminal.
 */
import { MAX_ATTEMPTS } from "./backoff";

/**
 * How long a job may wait on its queue before the sweeper assumes it lost. Queues hand a
 * message to the consumer within seconds; a lane held up by a hanging provider takes longer,
 * and its jobs are then enqueued a second time, which costs a redundant message, not a page.
 */
export const OUTBOX_GRACE_MS = 60_000;

/** Rows the sweeper re-drives per run; more wait for the next minute. */
export const SWEEP_LIMIT = 500;

/** The deadline of a job just written to the outbox (or enqueued again by the sweeper). */
export const dueAfterEnqueue = (now: number): number => now + OUTBOX_GRACE_MS;

/** The deadline while a try is in flight: the provider's timeout, then the grace. */
export const dueWhileSending = (now: number, timeoutMs: number): number => now + timeoutMs + OUTBOX_GRACE_MS;

/** The deadline of a job whose retry is due in `delaySeconds`. */
export const dueAfterRetry = (now: number, delaySeconds: number): number => now + delaySeconds * 1000 + OUTBOX_GRACE_MS;

/** A queued row whose deadline passed. */
export interface OverdueRow {
  idempotencyKey: string;
  attempts: number;
  dueAt: number;
}

/**
 * Where the sweeper sends an overdue job: back to the notifications queue, or, when its
 * tries are used up (the consumer died between the last try and the dead-letter send), to
 * the dead-letter queue, whose consumer gives it up and falls back. Null when it is not
 * overdue at `now`.
 */
export function redriveTo(row: OverdueRow, now: number): "queue" | "dead_letter" | null {
  if (row.dueAt > now) return null;
  return row.attempts >= MAX_ATTEMPTS ? "dead_letter" : "queue";
}

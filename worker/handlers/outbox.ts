/**
 * The outbox sweeper, run by the per-minute cron: queued jobs whose deadline passed (see
 * core/notify/outbox.ts) are enqueued again, or handed to the dead-letter queue when their
 * tries are used up, and their deadline moves on so the next run leaves them alone unless
 * they are lost again.
 */
import { dueAfterEnqueue, redriveTo, SWEEP_LIMIT } from "../core/notify/outbox";
import { overdue, sendJobs, setDue } from "../db/deliveries";

export async function redriveOverdue(env: Env, now: number): Promise<void> {
  const rows = await overdue(env.DB, now, SWEEP_LIMIT);
  if (!rows.length) return;
  const toQueue = rows.filter((r) => redriveTo(r, now) === "queue");
  const toDeadLetter = rows.filter((r) => redriveTo(r, now) === "dead_letter");
  // Sent before the deadline moves: a failure here leaves them overdue for the next run.
  await sendJobs(
    env.NOTIFY_QUEUE,
    toQueue.map((r) => r.job),
  );
  await sendJobs(
    env.NOTIFY_DLQ,
    toDeadLetter.map((r) => r.job),
  );
  await setDue(
    env.DB,
    rows.map((r) => r.idempotencyKey),
    dueAfterEnqueue(now),
  );
  console.warn(`outbox: ${toQueue.length} job(s) enqueued again, ${toDeadLetter.length} to the dead-letter queue`);
}

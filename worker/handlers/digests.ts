/**
 * Quiet-hours digests, run by the per-minute cron: deliveries held until an admin's quiet
 * hours ended are gathered into one digest per admin and channel, enqueued as a notice job,
 * and marked `digested`. The job is enqueued first; should marking fail, the next run
 * plans the same rows into the same job, which its idempotency key makes harmless.
 */
import type { NotificationJob } from "../core/alerts/jobs";
import { digestJobs, type HeldRow } from "../core/notify/quiet-hours";

/** Rows per run; more wait for the next minute. */
const LIMIT = 500;
/** Queue sendBatch takes at most 100 messages. */
const SEND_BATCH = 100;

export async function releaseDigests(env: Env, now: number): Promise<void> {
  const rows = await env.DB.prepare(
    `SELECT id, recipient, channel, payload FROM notification_deliveries
     WHERE status = 'held' AND held_until <= ? ORDER BY id LIMIT ?`,
  )
    .bind(now, LIMIT)
    .all<{ id: number; recipient: string; channel: string; payload: string }>();
  const held: HeldRow[] = [];
  for (const r of rows.results) {
    const adminId = /^admin:(\d+)$/.exec(r.recipient)?.[1];
    if (!adminId) continue;
    held.push({
      id: r.id,
      adminId: Number(adminId),
      channel: r.channel,
      job: JSON.parse(r.payload) as NotificationJob,
    });
  }
  if (!held.length) return;
  const planned = digestJobs(held, now);
  for (let i = 0; i < planned.length; i += SEND_BATCH) {
    await env.NOTIFY_QUEUE.sendBatch(planned.slice(i, i + SEND_BATCH).map((p) => ({ body: p.job })));
  }
  await env.DB.batch(
    planned.map((p) =>
      env.DB.prepare(
        `UPDATE notification_deliveries SET status = 'digested', provider_response = ?
         WHERE status = 'held' AND id IN (SELECT value FROM json_each(?))`,
      ).bind(p.job.idempotencyKey, JSON.stringify(p.rowIds)),
    ),
  );
}

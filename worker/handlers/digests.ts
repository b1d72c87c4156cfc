/**
 * Quiet-hours digests, run by the per-minute cron: deliveries held until an admin's quiet
 * hours ended are gathered into one digest per admin and channel, and the rows are marked
 * `digested` in the same D1 batch that writes the digest job to the outbox; then the job is
 * enqueued (the outbox sweeper re-drives it should that send be lost).
 */
import { digestJobs, type HeldRow } from "../core/notify/quiet-hours";
import { enqueueDurably, heldUntil, markDigested } from "../db/deliveries";

/** Rows per run; more wait for the next minute. */
const LIMIT = 500;

export async function releaseDigests(env: Env, now: number): Promise<void> {
  const held: HeldRow[] = [];
  for (const r of await heldUntil(env.DB, now, LIMIT)) {
    const adminId = /^admin:(\d+)$/.exec(r.recipient)?.[1];
    if (!adminId) continue;
    held.push({ id: r.id, adminId: Number(adminId), channel: r.channel, job: r.job });
  }
  if (!held.length) return;
  const planned = digestJobs(held, now);
  await enqueueDurably(
    env,
    planned.map((p) => p.job),
    now,
    planned.map((p) => markDigested(env.DB, p.job.idempotencyKey, p.rowIds)),
  );
}

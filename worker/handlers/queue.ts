/**
 * Notifications queue consumer. Each job is recorded in `notification_deliveries` as an
 * outbox entry (status "queued"), keyed by its idempotency key: a redelivered message
 * finds its row and adds nothing. Delivery through the channels builds on these rows.
 */
import { readJob } from "../core/alerts/jobs";

/** Rows per D1 batch (one INSERT each). */
const BATCH = 50;

export async function handleQueue(batch: MessageBatch, env: Env, _ctx: ExecutionContext): Promise<void> {
  const valid: { msg: Message; statement: D1PreparedStatement }[] = [];
  for (const msg of batch.messages) {
    const read = readJob(msg.body);
    if (!read.ok) {
      // Retrying cannot fix a malformed job: it is logged and dropped.
      console.error(`notification ${msg.id} dropped: ${read.reason}`);
      msg.ack();
      continue;
    }
    const { job } = read;
    valid.push({
      msg,
      statement: env.DB.prepare(
        `INSERT INTO notification_deliveries
           (alert_id, recipient, channel, event, idempotency_key, status, enqueued_at, payload)
         SELECT ?, ?, ?, ?, ?, 'queued', ?, ? WHERE EXISTS (SELECT 1 FROM alert_history WHERE id = ?)
         ON CONFLICT (idempotency_key) DO NOTHING`,
      ).bind(
        job.alertId,
        `admin:${job.recipient.adminId}`,
        job.channel,
        job.event,
        job.idempotencyKey,
        job.enqueuedAt,
        JSON.stringify(job),
        job.alertId,
      ),
    });
  }
  for (let i = 0; i < valid.length; i += BATCH) {
    const part = valid.slice(i, i + BATCH);
    try {
      await env.DB.batch(part.map((p) => p.statement));
      for (const p of part) p.msg.ack();
    } catch (err) {
      console.error("notification outbox write failed; the jobs will be redelivered", err);
      for (const p of part) p.msg.retry({ delaySeconds: 10 });
    }
  }
}

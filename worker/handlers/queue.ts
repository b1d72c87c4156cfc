/**
 * Notifications queue consumer, for the queue and its dead-letter queue. Each job is first
 * recorded in `notification_deliveries`, keyed by its idempotency key, so a redelivered
 * message finds its row: once the row is terminal the message is only acknowledged. Then
 * the admin's preferences decide (skip, hold for quiet hours, send) and the job goes out on
 * its channel, or stays in the outbox when the channel is not configured. A permanent
 * failure, exhausted retries or a dead letter hand the job to the admin's next channel.
 */
import { type NotificationJob, readJob } from "../core/alerts/jobs";
import { MAX_ATTEMPTS, retryDelaySeconds } from "../core/notify/backoff";
import { fallbackChannel, planDelivery } from "../core/notify/recipients";
import { channelFor, fallbackJob, loadRecipient, send } from "../lib/delivery";

/** Rows per D1 batch (one INSERT each). */
const BATCH = 50;
const DEAD_LETTER_QUEUE = "notifications-dlq";
/** Statuses after which a redelivered message has nothing left to do. */
const TERMINAL = new Set(["sent", "failed", "dead", "skipped", "outbox"]);

export async function handleQueue(batch: MessageBatch, env: Env, _ctx: ExecutionContext): Promise<void> {
  const dead = batch.queue === DEAD_LETTER_QUEUE;
  const valid: { msg: Message; job: NotificationJob; statement: D1PreparedStatement }[] = [];
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
      job,
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
    } catch (err) {
      console.error("notification outbox write failed; the jobs will be redelivered", err);
      for (const p of part) p.msg.retry({ delaySeconds: 10 });
      continue;
    }
    // One at a time: a batch holds at most 10 jobs, and each waits on its provider.
    for (const p of part) {
      try {
        await (dead ? deadLetter(env, p.msg, p.job) : deliver(env, p.msg, p.job));
      } catch (err) {
        console.error(`notification ${p.job.idempotencyKey} failed; it will be redelivered`, err);
        p.msg.retry({ delaySeconds: 10 });
      }
    }
  }
}

/** The row's status and attempts; null when there is no row (its alert was deleted). */
const rowOf = (env: Env, job: NotificationJob) =>
  env.DB.prepare("SELECT status, attempts FROM notification_deliveries WHERE idempotency_key = ?")
    .bind(job.idempotencyKey)
    .first<{ status: string; attempts: number }>();

const setStatus = (
  env: Env,
  job: NotificationJob,
  status: string,
  fields: { lastError?: string | null; providerResponse?: string | null; deliveredAt?: number | null } = {},
) =>
  env.DB.prepare(
    `UPDATE notification_deliveries
     SET status = ?, last_error = COALESCE(?, last_error), provider_response = COALESCE(?, provider_response),
         delivered_at = COALESCE(?, delivered_at)
     WHERE idempotency_key = ?`,
  )
    .bind(
      status,
      fields.lastError ?? null,
      fields.providerResponse ?? null,
      fields.deliveredAt ?? null,
      job.idempotencyKey,
    )
    .run();

/**
 * Enqueues the job on the admin's next channel, if one is left. Sent before the failure is
 * recorded: should that write fail, the redelivered job enqueues the same fallback again,
 * which its idempotency key makes harmless.
 */
async function sendFallback(env: Env, job: NotificationJob, now: number): Promise<void> {
  const recipient = await loadRecipient(env.DB, job.recipient.adminId);
  if (!recipient) return;
  const next = fallbackJob(job, (failed) =>
    fallbackChannel(failed, job.alert.severity, recipient.prefs, recipient.email),
  );
  if (next) await env.NOTIFY_QUEUE.send({ ...next, enqueuedAt: now });
}

async function deadLetter(env: Env, msg: Message, job: NotificationJob): Promise<void> {
  const row = await rowOf(env, job);
  if (row && !TERMINAL.has(row.status)) {
    await sendFallback(env, job, Date.now());
    await setStatus(env, job, "dead", { lastError: "retries exhausted" });
  }
  msg.ack();
}

async function deliver(env: Env, msg: Message, job: NotificationJob): Promise<void> {
  const row = await rowOf(env, job);
  if (!row || TERMINAL.has(row.status)) {
    msg.ack();
    return;
  }
  const now = Date.now();
  const recipient = await loadRecipient(env.DB, job.recipient.adminId);
  if (!recipient) {
    await setStatus(env, job, "skipped", { lastError: "admin no longer exists" });
    msg.ack();
    return;
  }
  const plan = planDelivery({
    event: job.event,
    severity: job.alert.severity,
    channel: job.channel,
    prefs: recipient.prefs,
    accountEmail: recipient.email,
    // Follow-ups are only enqueued for alerts whose firing went out.
    firingWasSent: job.event === "resolved" || job.event === "acknowledged",
    now,
  });
  if (plan.action === "skip") {
    await setStatus(env, job, "skipped", { lastError: plan.reason });
    msg.ack();
    return;
  }
  if (plan.action === "hold") {
    await setStatus(env, job, "held", { providerResponse: JSON.stringify({ until: plan.until }) });
    msg.ack();
    return;
  }
  const channel = channelFor(env, job.channel);
  if (!channel) {
    // The local default: the row stays visible in the alert's notifications.
    await setStatus(env, job, "outbox");
    msg.ack();
    return;
  }
  // Counted before sending, so a consumer that dies mid-request still uses up a try.
  const counted = await env.DB.prepare(
    "UPDATE notification_deliveries SET attempts = attempts + 1 WHERE idempotency_key = ? RETURNING attempts",
  )
    .bind(job.idempotencyKey)
    .first<{ attempts: number }>();
  const attempts = counted?.attempts ?? row.attempts + 1;
  const prefs = recipient.prefs;
  const result = await send(
    channel,
    job,
    {
      adminId: job.recipient.adminId,
      name: recipient.name,
      email: plan.channel === "email" ? plan.address : (prefs?.email ?? recipient.email),
      phone: prefs?.phone ?? null,
      slackMemberId: prefs?.slackMemberId ?? null,
    },
    now,
  );
  if (result.outcome === "delivered") {
    const response = [result.status, result.providerId].filter((v) => v !== undefined).join(" ");
    await setStatus(env, job, "sent", { providerResponse: response, deliveredAt: Date.now() });
    msg.ack();
    return;
  }
  if (result.outcome === "retryable" && attempts < MAX_ATTEMPTS) {
    await setStatus(env, job, "queued", { lastError: result.reason });
    msg.retry({ delaySeconds: retryDelaySeconds(attempts, Math.random(), result.retryAfterSeconds) });
    return;
  }
  await sendFallback(env, job, now);
  await setStatus(env, job, result.outcome === "retryable" ? "dead" : "failed", { lastError: result.reason });
  msg.ack();
}

/**
 * Notifications queue consumer, for the queue and its dead-letter queue. Each job has its
 * row in `notification_deliveries` (the outbox, core/notify/outbox.ts), keyed by its
 * idempotency key: written before it was enqueued, or here for a job that came without one,
 * so a redelivered message finds its row: once the row is terminal the message is only
 * acknowledged. Every try moves the row's deadline on, so the sweeper re-drives only jobs
 * nothing carries any more. Then
 * the admin's preferences decide (skip, hold for quiet hours, send) and the job goes out on
 * its channel, or stays in the outbox when the channel is not configured. A permanent
 * failure hands the job to the admin's next channel at once; a job out of retries (at least
 * 15 minutes of them, see core/notify/backoff) goes to the dead-letter queue, whose
 * consumer records it as dead and does the same. A shared channel's job (webhook,
 * PagerDuty, the Slack team channel) given up or failed for good pages the on-call admins on their personal
 * channels instead (sharedFallback). Every decision not to send says why in its row's
 * last_error, for the delivery log (routes/deliveries.ts): a skip, the outbox, and a page
 * given up with no channel left to fall back to.
 * A job read on the notifications queue is only forwarded to its channel's lane
 * (core/notify/lanes), whose own consumer (this handler) sends it: a hanging provider then
 * holds its lane, not the pages on other channels.
 * After every change the alert's notification counters are recomputed from its rows, and a
 * delivery given up tells the dashboard's alerts topic, which shows notifications_failed.
 */
import { type NotificationJob, readJob, SHARED_RECIPIENT } from "../core/alerts/jobs";
import { MAX_ATTEMPTS, retryDelaySeconds } from "../core/notify/backoff";
import { type Lane, laneFor } from "../core/notify/lanes";
import {
  fallbackChannel,
  fallbackJob,
  type OnCallAdmin,
  planDelivery,
  sharedFallback,
} from "../core/notify/recipients";
import type { Recipient } from "../core/notify/types";
import { dueAfterEnqueue, dueAfterRetry, dueWhileSending } from "../core/notify/outbox";
import {
  claimAttempt,
  type DeliveryRow,
  type DeliveryStatus,
  earlierMessages,
  enqueueDurably,
  GIVEN_UP,
  outboxStatements,
  recordSkipped,
  type RowFields,
  rowsOf,
  sentToAdmins,
  setStatus as storeStatus,
  TERMINAL,
} from "../db/deliveries";
import {
  channelFor,
  loadRecipient,
  recipientFor,
  type SendResult,
  send,
  timeoutMs,
  updateMessages,
  updatesInPlace,
} from "../lib/delivery";
import { recipientIds } from "../db/escalation";
import { publishAlerts, withCurrentAlert } from "../lib/alerts";

/** Rows per D1 batch (one INSERT each). */
const BATCH = 50;
const DEAD_LETTER_QUEUE = "notifications-dlq";

export async function handleQueue(batch: MessageBatch, env: Env, _ctx: ExecutionContext): Promise<void> {
  const dead = batch.queue === DEAD_LETTER_QUEUE;
  const valid: { msg: Message; job: NotificationJob; statement: D1PreparedStatement }[] = [];
  const forward = new Map<Lane, { msg: Message; job: NotificationJob }[]>();
  const seen = new Set<string>();
  for (const msg of batch.messages) {
    const read = readJob(msg.body);
    if (!read.ok) {
      // Retrying cannot fix a malformed job: it is logged and dropped.
      console.error(`notification ${msg.id} dropped: ${read.reason}`);
      msg.ack();
      continue;
    }
    const { job } = read;
    // The same job twice in one batch (a redelivery beside the original) is handled once.
    if (seen.has(job.idempotencyKey)) {
      msg.ack();
      continue;
    }
    seen.add(job.idempotencyKey);
    const lane = laneFor(job.channel, batch.queue);
    if (lane) {
      forward.set(lane, [...(forward.get(lane) ?? []), { msg, job }]);
      continue;
    }
    // Written unless the rule or a sweep wrote it already (then its row is found as it is).
    const [statement] = outboxStatements(env.DB, [job], Date.now());
    if (statement) valid.push({ msg, job, statement });
  }
  await forwardToLanes(env, forward);
  for (let i = 0; i < valid.length; i += BATCH) {
    const part = valid.slice(i, i + BATCH);
    try {
      await env.DB.batch(part.map((p) => p.statement));
    } catch (err) {
      console.error("notification outbox write failed; the jobs will be redelivered", err);
      for (const p of part) p.msg.retry({ delaySeconds: 10 });
      continue;
    }
    // Every row of the part in one read, and each admin loaded once per batch.
    const ctx: BatchContext = {
      env,
      rows: await rowsOf(
        env.DB,
        part.map((p) => p.job),
      ),
      admins: new Map(),
    };
    // Side by side: each job waits on its own provider (a batch holds at most 10).
    await Promise.all(
      part.map(async (p) => {
        try {
          await (dead ? deadLetter(ctx, p.msg, p.job) : deliver(ctx, p.msg, p.job));
        } catch (err) {
          console.error(`notification ${p.job.idempotencyKey} failed; it will be redelivered`, err);
          p.msg.retry({ delaySeconds: 10 });
        }
      }),
    );
  }
}

const LANE_QUEUES: Record<Lane, (env: Env) => Queue> = {
  "notifications-webhook": (env) => env.NOTIFY_WEBHOOK_QUEUE,
  "notifications-pagerduty": (env) => env.NOTIFY_PAGERDUTY_QUEUE,
  "notifications-slack": (env) => env.NOTIFY_SLACK_QUEUE,
  "notifications-sms": (env) => env.NOTIFY_SMS_QUEUE,
  "notifications-email": (env) => env.NOTIFY_EMAIL_QUEUE,
};

/** Each lane's jobs onto its queue, as they are (retried here when the send fails). */
async function forwardToLanes(env: Env, forward: Map<Lane, { msg: Message; job: NotificationJob }[]>) {
  await Promise.all(
    [...forward].map(async ([lane, items]) => {
      try {
        await LANE_QUEUES[lane](env).sendBatch(items.map((f) => ({ body: f.job })));
        for (const f of items) f.msg.ack();
      } catch (err) {
        console.error(`notifications for ${lane} not forwarded; they will be redelivered`, err);
        for (const f of items) f.msg.retry({ delaySeconds: 10 });
      }
    }),
  );
}

/** What the jobs of one batch share: their rows (absent when the alert was deleted) and loaded admins. */
interface BatchContext {
  env: Env;
  rows: Map<string, DeliveryRow>;
  admins: Map<number, ReturnType<typeof loadRecipient>>;
}

/** The admin and their preferences, loaded once per batch. */
function adminOf(ctx: BatchContext, adminId: number): ReturnType<typeof loadRecipient> {
  let loaded = ctx.admins.get(adminId);
  if (!loaded) {
    loaded = loadRecipient(ctx.env.DB, adminId);
    ctx.admins.set(adminId, loaded);
  }
  return loaded;
}

/** The row's new status and the alert's counters; a page given up shows on the live dashboard at once. */
async function setStatus(
  env: Env,
  job: NotificationJob,
  status: DeliveryStatus,
  fields: RowFields = {},
): Promise<void> {
  await storeStatus(env.DB, job, status, fields);
  if (job.alertId && GIVEN_UP.has(status)) await publishAlerts(env);
}

/**
 * Enqueues the job on the admin's next channel, if one is left; a shared channel's job goes
 * to the on-call admins instead. Sent before the failure is recorded: should that write
 * fail, the redelivered job enqueues the same fallback again, which its idempotency key
 * makes harmless. Returns what the failed row should add to its reason when nobody else
 * is tried for this admin (the delivery log then says the page ends there), else null.
 */
async function sendFallback(ctx: BatchContext, job: NotificationJob, now: number): Promise<string | null> {
  if (job.recipient.adminId === SHARED_RECIPIENT) {
    await sendSharedFallback(ctx, job, now);
    return null;
  }
  const recipient = await adminOf(ctx, job.recipient.adminId);
  if (!recipient) return "no fallback: the admin no longer exists";
  const next = fallbackJob(job, (failed) =>
    fallbackChannel(failed, job.alert.severity, recipient.prefs, recipient.email),
  );
  if (!next) return "no other channel to fall back to";
  await enqueueDurably(ctx.env, [{ ...next, enqueuedAt: now }], now);
  return null;
}

/** The reason of a row given up, with what happened to its page next. */
const withNote = (reason: string, note: string | null) => (note ? `${reason}; ${note}` : reason);

/**
 * A shared channel's job given up: one job per on-call admin on their first personal
 * channel (core decides who and where). The on-call admins are those the job was planned
 * for; a job enqueued before it carried them pages every admin and owner, as a rule
 * without an escalation policy does. An on-call admin with no personal channel at all gets
 * a skipped row saying so.
 */
async function sendSharedFallback(ctx: BatchContext, job: NotificationJob, now: number): Promise<void> {
  const ids = job.onCall ?? (await recipientIds(ctx.env, null));
  const loaded = await Promise.all(
    ids.map(async (adminId): Promise<OnCallAdmin | null> => {
      const admin = await adminOf(ctx, adminId);
      return admin ? { adminId, prefs: admin.prefs, accountEmail: admin.email } : null;
    }),
  );
  const onCall = loaded.filter((a): a is OnCallAdmin => a !== null);
  const sent = job.alertId ? await sentToAdmins(ctx.env.DB, job.alertId) : [];
  const plan = sharedFallback({ job, onCall, sent });
  // Those nobody can page say so in the delivery log; the rest are paged.
  await recordSkipped(
    ctx.env.DB,
    plan.unreachable.map((u) => ({ ...u, job: { ...u.job, enqueuedAt: now } })),
    now,
  );
  await enqueueDurably(
    ctx.env,
    plan.jobs.map((j) => ({ ...j, enqueuedAt: now })),
    now,
  );
}

async function deadLetter(ctx: BatchContext, msg: Message, job: NotificationJob): Promise<void> {
  const row = ctx.rows.get(job.idempotencyKey);
  if (row && !TERMINAL.has(row.status)) {
    const note = await sendFallback(ctx, job, Date.now());
    await setStatus(ctx.env, job, "dead", {
      lastError: withNote(row.lastError ? `retries exhausted; last: ${row.lastError}` : "retries exhausted", note),
    });
  }
  msg.ack();
}

/** Who the job goes to, with addresses; null (skip) with the reason when nobody or nothing can receive it. */
async function addressee(
  ctx: BatchContext,
  job: NotificationJob,
  now: number,
): Promise<{ to: Recipient; hold: number | null } | { skip: string }> {
  if (job.recipient.adminId === SHARED_RECIPIENT) {
    return { to: { adminId: SHARED_RECIPIENT, name: "", email: null, phone: null, slackMemberId: null }, hold: null };
  }
  const recipient = await adminOf(ctx, job.recipient.adminId);
  if (!recipient) return { skip: "admin no longer exists" };
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
  if (plan.action === "skip") return { skip: plan.reason };
  return {
    to: recipientFor(job.recipient.adminId, recipient, plan.channel, plan.address),
    hold: plan.action === "hold" ? plan.until : null,
  };
}

async function deliver(ctx: BatchContext, msg: Message, job: NotificationJob): Promise<void> {
  const { env } = ctx;
  const row = ctx.rows.get(job.idempotencyKey);
  if (!row || TERMINAL.has(row.status)) {
    msg.ack();
    return;
  }
  const now = Date.now();
  const target = await addressee(ctx, job, now);
  if ("skip" in target) {
    await setStatus(env, job, "skipped", { lastError: target.skip });
    msg.ack();
    return;
  }
  if (target.hold !== null) {
    // Released as one digest when the quiet hours end (the per-minute cron).
    await setStatus(env, job, "held", {
      heldUntil: target.hold,
      lastError: `held for quiet hours until ${new Date(target.hold).toISOString()}, for the digest`,
    });
    msg.ack();
    return;
  }
  const channel = channelFor(env, job.channel, job.recipient.adminId === SHARED_RECIPIENT);
  if (!channel) {
    // The local default: the row stays visible in the alert's notifications and the delivery log.
    await setStatus(env, job, "outbox", { lastError: `${job.channel} is not configured; nothing was sent` });
    msg.ack();
    return;
  }
  // Counted before sending, so a consumer that dies mid-request still uses up a try. The
  // count read earlier is the claim: should another consumer be sending this job right now
  // (a concurrent redelivery), it has moved the count on and this copy stands down.
  // The claim also moves the outbox deadline past this try, so the sweeper leaves it alone.
  const limit = timeoutMs(env);
  const attempts = await claimAttempt(env.DB, job.idempotencyKey, row, dueWhileSending(now, limit));
  if (attempts === null) {
    msg.ack();
    return;
  }
  // Rendered from the alert's values now, not those it had when the job was enqueued.
  const current = await withCurrentAlert(env, job);
  let result: SendResult | null = null;
  // An acknowledgement or resolve rewrites the messages already sent, where the channel can.
  if ((job.event === "acknowledged" || job.event === "resolved") && updatesInPlace(channel)) {
    const earlier = await earlierMessages(env.DB, job);
    if (earlier.length) result = await updateMessages(channel, current, earlier, now, limit);
    // A message that can no longer be updated (deleted, archived) gets a new one instead.
    if (result?.outcome === "permanent") result = null;
  }
  result ??= await send(channel, current, target.to, now, limit);
  if (result.outcome === "delivered") {
    await setStatus(env, job, "sent", {
      providerResponse: [result.status, result.providerId].filter((v) => v !== undefined).join(" "),
      providerMessageId: result.providerId ?? null,
      deliveredAt: Date.now(),
    });
    msg.ack();
    return;
  }
  if (result.outcome === "retryable") {
    const done = Date.now();
    if (attempts < MAX_ATTEMPTS) {
      const delaySeconds = retryDelaySeconds(attempts, Math.random(), result.retryAfterSeconds);
      await setStatus(env, job, "queued", { lastError: result.reason, dueAt: dueAfterRetry(done, delaySeconds) });
      msg.retry({ delaySeconds });
    } else {
      // Out of tries: to the dead-letter queue, whose consumer records it and falls back.
      // Counted here rather than left to the platform's redelivery limit, which also
      // counts redeliveries that never reached the provider.
      await setStatus(env, job, "queued", { lastError: result.reason, dueAt: dueAfterEnqueue(done) });
      await env.NOTIFY_DLQ.send(job);
      msg.ack();
    }
    return;
  }
  const note = await sendFallback(ctx, job, now);
  await setStatus(env, job, "failed", { lastError: withNote(result.reason, note) });
  msg.ack();
}

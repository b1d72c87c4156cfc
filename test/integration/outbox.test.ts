/**
 * No lost page, in workerd: jobs are in the outbox before they are enqueued, the sweeper
 * re-drives those nothing carries any more (a lost queue send, a consumer that died
 * mid-try, a dead-letter send that never happened), a rule that lost its state after
 * opening an alert carries on with that alert, and samples stored just before a crash
 * still reach their rules.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { NotificationJob } from "../../worker/core/alerts/jobs";
import { MAX_ATTEMPTS } from "../../worker/core/notify/backoff";
import { OUTBOX_GRACE_MS } from "../../worker/core/notify/outbox";
import type { Sample } from "../../worker/core/series";
import { enqueueDurably } from "../../worker/db/deliveries";
import { redriveOverdue } from "../../worker/handlers/outbox";
import { familyStub, recordSamples } from "../../worker/lib/series";
import { alertJobs, received, rowOf, waitFor } from "./delivery-helpers";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const jobs = alertJobs("Outbox", "outbox");
let admin: TestAdmin;

beforeAll(async () => {
  await jobs.setup();
  admin = await createAdmin("admin");
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A queue whose sends fail, as when the process dies between the D1 batch and the send. */
const lostQueue = {
  send: () => Promise.reject(new Error("killed")),
  sendBatch: () => Promise.reject(new Error("killed")),
} as unknown as Queue;

const dueOf = async (key: string) =>
  (
    await env.DB.prepare("SELECT due_at FROM notification_deliveries WHERE idempotency_key = ?")
      .bind(key)
      .first<{ due_at: number | null }>()
  )?.due_at;

/** Writes the job's row as a consumer would have left it, with no message on any queue. */
async function stranded(job: NotificationJob, attempts: number, dueAt: number) {
  await env.DB.prepare(
    `INSERT INTO notification_deliveries
       (alert_id, recipient, channel, event, idempotency_key, status, attempts, enqueued_at, payload, due_at)
     VALUES (?, 'shared:webhook', 'webhook', 'firing', ?, 'queued', ?, ?, ?, ?)`,
  )
    .bind(job.alertId, job.idempotencyKey, attempts, job.enqueuedAt, JSON.stringify(job), dueAt)
    .run();
}

describe("the outbox", () => {
  it("holds the job with its timeline entry when the enqueue is lost, and the sweeper delivers it once", async () => {
    const { job, token } = await jobs.jobFor(null, "webhook", { severity: "critical" });
    const now = Date.now();
    const timeline = env.DB.prepare(
      "INSERT INTO alert_events (alert_id, at, type, actor) VALUES (?, ?, 'notified', 'engine')",
    ).bind(job.alertId, now);
    await expect(enqueueDurably({ DB: env.DB, NOTIFY_QUEUE: lostQueue }, [job], now, [timeline])).rejects.toThrow(
      "killed",
    );
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "queued", attempts: 0 });
    expect(await dueOf(job.idempotencyKey)).toBe(now + OUTBOX_GRACE_MS);
    const notified = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM alert_events WHERE alert_id = ? AND type = 'notified'",
    )
      .bind(job.alertId)
      .first<{ n: number }>();
    expect(notified?.n).toBe(1);

    // Not due yet: the sweeper leaves it to whoever may still carry it.
    await redriveOverdue(env, now + 1_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(await received("webhook", token)).toEqual([]);

    await redriveOverdue(env, now + OUTBOX_GRACE_MS);
    await waitFor(async () => (await rowOf(job.idempotencyKey))?.status === "sent" && true);
    // A later sweep finds nothing to do: still one request.
    await redriveOverdue(env, now + 10 * OUTBOX_GRACE_MS);
    await new Promise((r) => setTimeout(r, 300));
    expect(await received("webhook", token)).toHaveLength(1);
  });

  it("re-drives a job whose consumer died mid-try once its deadline passed, as its second try", async () => {
    const { job, token } = await jobs.jobFor(null, "webhook", { severity: "critical" });
    const now = Date.now();
    await stranded(job, 1, now - 1);
    await redriveOverdue(env, now);
    await waitFor(async () => (await rowOf(job.idempotencyKey))?.status === "sent" && true);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "sent", attempts: 2 });
    expect(await received("webhook", token)).toHaveLength(1);
  });

  it("hands a job out of tries to the dead-letter queue, which gives it up visibly", async () => {
    const { job, token } = await jobs.jobFor(null, "webhook", { severity: "critical" });
    const now = Date.now();
    await stranded(job, MAX_ATTEMPTS, now - 1);
    await redriveOverdue(env, now);
    await waitFor(async () => (await rowOf(job.idempotencyKey))?.status === "dead" && true);
    expect(await received("webhook", token)).toEqual([]);
    const failed = await env.DB.prepare("SELECT notifications_failed AS n FROM alert_history WHERE id = ?")
      .bind(job.alertId)
      .first<{ n: number }>();
    expect(failed?.n).toBe(1);
  });

  it("keeps a job a consumer is carrying (its deadline moved on) out of the sweep", async () => {
    const { job, token } = await jobs.jobFor(null, "webhook", { severity: "critical" });
    const now = Date.now();
    await stranded(job, 1, now + 30_000);
    await redriveOverdue(env, now);
    await new Promise((r) => setTimeout(r, 300));
    expect(await received("webhook", token)).toEqual([]);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "queued", attempts: 1 });
  });
});

let counter = 0;
const fresh = (name: string) => `${name}_${Date.now().toString(36)}_${++counter}`;

async function createRule(metric: string): Promise<number> {
  const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
    token: admin.token,
    body: {
      rule_name: fresh("Outbox rule"),
      metric_name: metric,
      service: "shop",
      comparison_operator: ">",
      threshold_value: 300,
      severity: "critical",
      notification_channels: ["email"],
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

const alertsOf = async (ruleId: number) =>
  (
    await env.DB.prepare("SELECT id, status FROM alert_history WHERE alert_rule_id = ? ORDER BY id")
      .bind(ruleId)
      .all<{ id: number; status: string }>()
  ).results;

describe("after a crash", () => {
  it("a rule that lost its state after opening an alert carries on with that alert", async () => {
    const metric = fresh("queue_depth");
    const ruleId = await createRule(metric);
    const fingerprint = `${metric}|shop|`;
    // The row a crashed evaluation wrote: the rule's own state never recorded it.
    const now = Date.now();
    const orphan = await env.DB.prepare(
      `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, alert_severity, message, observed_at, triggered_at)
       VALUES (?, 'shop', ?, '{}', 'critical', 'q high', ?, ?) RETURNING id`,
    )
      .bind(ruleId, fingerprint, now, now)
      .first<{ id: number }>();
    const fps = await env.ALERT_RULE.getByName(String(ruleId)).fingerprints();
    expect(fps).toEqual([]);

    const ts = Date.now();
    await recordSamples(env, [{ metric, service: "shop", labels: {}, value: 500, ts }], ts, "push");
    const open = await waitFor(async () => {
      const [fp] = await env.ALERT_RULE.getByName(String(ruleId)).fingerprints();
      return fp?.alertId ? fp : false;
    });
    expect(open.fingerprint).toBe(fingerprint);
    expect(open.alertId).toBe(orphan?.id);
    expect(await alertsOf(ruleId)).toEqual([{ id: orphan?.id, status: "firing" }]);
  });

  it("marks stored samples untold only where a rule reads them: with none, there is nobody to tell", async () => {
    const quiet = fresh("quiet_depth");
    const watched = fresh("watched_depth");
    await createRule(watched);
    // Each family has stored a sample before (a family's first write marks them anyway).
    for (const metric of [quiet, watched]) {
      await familyStub(env, metric, "shop").record([
        { metric, service: "shop", labels: {}, value: 0, ts: Date.now() - 1 },
      ]);
    }
    /** The writes to the untold mark that one record() ran in the family's own call. */
    const markStatements = (metric: string) =>
      runInDurableObject(familyStub(env, metric, "shop"), async (instance, state) => {
        const sql = state.storage.sql;
        const exec = sql.exec.bind(sql);
        const seen: string[] = [];
        sql.exec = ((query: string, ...bindings: unknown[]) => {
          if (query.includes("untold") && !/^\s*SELECT/i.test(query))
            seen.push(query.trim().split(/\s+/).slice(0, 2).join(" "));
          return exec(query, ...bindings);
        }) as typeof sql.exec;
        try {
          await instance.record([{ metric, service: "shop", labels: {}, value: 1, ts: Date.now() }]);
        } finally {
          sql.exec = exec;
        }
        return seen;
      });
    expect(await markStatements(quiet)).toEqual([]);
    expect(await markStatements(watched)).toContain("INSERT OR");
  });

  it("samples stored but not yet told to their rules reach them on the family's alarm", async () => {
    const metric = fresh("payments_failed");
    const ruleId = await createRule(metric);
    const family = familyStub(env, metric, "shop");
    const sample: Sample = { metric, service: "shop", labels: {}, value: 500, ts: Date.now() };
    // Stored as record() stores them, and the process dies before the rules hear of it.
    await runInDurableObject(family, async (instance, state) => {
      const inside = instance as unknown as {
        store(s: Sample[]): { newLatest: unknown };
        keepLatest(changes: unknown): void;
      };
      const stored = state.storage.transactionSync(() => {
        const result = inside.store([sample]);
        state.storage.sql.exec("INSERT OR IGNORE INTO untold (id, since) VALUES (1, ?)", Date.now());
        return result;
      });
      // As record() does once the transaction committed.
      inside.keepLatest(stored.newLatest);
      // record() sets the alarm (its minute's rollup) before telling the rules.
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(await alertsOf(ruleId)).toEqual([]);

    expect(await runDurableObjectAlarm(family)).toBe(true);
    const [alert] = await waitFor(async () => {
      const rows = await alertsOf(ruleId);
      return rows.length ? rows : false;
    });
    expect(alert?.status).toBe("firing");
    // Told: the mark is gone.
    const untold = await runInDurableObject(family, (_i, state) =>
      state.storage.sql.exec("SELECT * FROM untold").toArray(),
    );
    expect(untold).toEqual([]);
  });
});

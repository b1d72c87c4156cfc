/**
 * Shared by the notification delivery tests: admins with stored preferences, jobs for fresh
 * alerts, running the queue consumer on one message as the platform would, and reading the
 * delivery rows and the provider sink (test/setup/provider-sink.ts).
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, inject, vi } from "vitest";
import {
  type AlertSnapshot,
  type NotificationJob,
  type NotifyEvent,
  SHARED_RECIPIENT,
} from "../../worker/core/alerts/jobs";
import { laneFor } from "../../worker/core/notify/lanes";
import worker from "../../worker/index";
import type { SinkMode, SinkRecord } from "../setup/provider-sink";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

export const sink = () => `http://127.0.0.1:${inject("sinkPort")}`;

export interface Prefs {
  email?: string | null;
  phone?: string | null;
  slack?: string | null;
  quiet?: { start: string; end: string };
  timezone?: string;
  criticalBypassesQuietHours?: boolean;
}

/** An admin with stored preferences: every channel given an address is enabled. */
export async function adminWith(prefs: Prefs): Promise<TestAdmin> {
  const admin = await createAdmin("admin");
  await env.DB.prepare(
    `INSERT INTO admin_notification_preferences
       (admin_id, email, phone, slack_member_id, email_enabled, sms_enabled, slack_enabled, severities,
        quiet_hours_start, quiet_hours_end, timezone, critical_bypasses_quiet_hours)
     VALUES (?, ?, ?, ?, ?, ?, ?, '["critical","warning"]', ?, ?, ?, ?)`,
  )
    .bind(
      admin.id,
      prefs.email ?? null,
      prefs.phone ?? null,
      prefs.slack ?? null,
      prefs.email ? 1 : 0,
      prefs.phone ? 1 : 0,
      prefs.slack ? 1 : 0,
      prefs.quiet?.start ?? null,
      prefs.quiet?.end ?? null,
      prefs.timezone ?? "UTC",
      prefs.criticalBypassesQuietHours === false ? 0 : 1,
    )
    .run();
  return admin;
}

/**
 * Jobs for fresh alerts of one rule (`setup` creates it, in a beforeAll): `jobFor` inserts an
 * alert and makes its job to the admin, or (null) to a shared channel's endpoint. `token` is in
 * the alert's message, so sink records and modes can be matched to it.
 */
export function alertJobs(ruleName: string, tokenPrefix: string) {
  let ruleId = 0;
  let counter = 0;
  return {
    nextToken: () => `${tokenPrefix}-${++counter}-${Date.now()}`,
    async setup(): Promise<void> {
      const owner = await createAdmin("owner");
      const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
        token: owner.token,
        body: {
          rule_name: ruleName,
          metric_name: `${tokenPrefix}_metric`,
          threshold_value: 1,
          severity: "warning",
          notification_channels: ["email"],
        },
      });
      if (res.status !== 201) throw new Error(`rule not created: ${JSON.stringify(res.body)}`);
      ruleId = res.body.id;
    },
    async jobFor(
      admin: TestAdmin | null,
      channel: string,
      opts: { severity?: string; event?: NotifyEvent } = {},
    ): Promise<{ job: NotificationJob; token: string }> {
      const token = `${tokenPrefix}-${++counter}-${Date.now()}`;
      const now = Date.now();
      const severity = opts.severity ?? "warning";
      const alert = await env.DB.prepare(
        `INSERT INTO alert_history (alert_rule_id, fingerprint, alert_severity, message, observed_at, triggered_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      )
        .bind(ruleId, token, severity, `Latency high ${token}`, now, now)
        .first<{ id: number }>();
      const id = alert!.id;
      const adminId = admin?.id ?? SHARED_RECIPIENT;
      const event = opts.event ?? "firing";
      const job: NotificationJob = {
        idempotencyKey: `alert:${id}|${event}|step:0|admin:${adminId}|${channel}`,
        alertId: id,
        event,
        occurrence: event,
        step: 0,
        recipient: { adminId },
        channel,
        alert: {
          id,
          ruleId,
          ruleName,
          service: "api",
          labels: {},
          severity,
          status: "firing",
          value: 812,
          peakValue: 812,
          message: `Latency high ${token}`,
          observedAt: now,
          triggeredAt: now,
          acknowledgedAt: null,
          acknowledgedBy: null,
          resolvedAt: null,
        },
        enqueuedAt: now,
      };
      return { job, token };
    },
  };
}

/** The job's alert on a later event, as the engine would enqueue it. */
export function followUp(job: NotificationJob, event: NotifyEvent, alert: Partial<AlertSnapshot>): NotificationJob {
  return {
    ...job,
    event,
    occurrence: event,
    idempotencyKey: job.idempotencyKey.replace("|firing|", `|${event}|`),
    alert: { ...job.alert, ...alert },
  };
}

/**
 * Runs the consumer on one message of `queue`, as the platform would, with `over` replacing
 * bindings: a job the notifications queue forwards to its lane (core/notify/lanes) is read on
 * that lane, whose consumer sends it. getQueueResult does not report retry delays, so `retry`
 * is watched (and still called) for them.
 */
export async function consume(job: NotificationJob, queue = "notifications", over: Partial<Env> = {}) {
  const batch = createMessageBatch(laneFor(job.channel, queue) ?? queue, [
    { id: "m1", timestamp: new Date(), attempts: 1, body: job as unknown },
  ]);
  const retry = vi.spyOn(batch.messages[0] as Message, "retry");
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...over }, ctx);
  const result = await getQueueResult(batch, ctx);
  return { ...result, delays: retry.mock.calls.map(([options]) => options?.delaySeconds) };
}

export interface DeliveryRow {
  status: string;
  payload: string;
  held_until: number | null;
  provider_message_id: string | null;
  attempts: number;
  provider_response: string | null;
  last_error: string | null;
  delivered_at: number | null;
  channel: string;
  recipient: string;
}

export const rowOf = (key: string) =>
  env.DB.prepare("SELECT * FROM notification_deliveries WHERE idempotency_key = ?").bind(key).first<DeliveryRow>();

export const countersOf = (alertId: number) =>
  env.DB.prepare("SELECT notifications_sent, notification_attempts FROM alert_history WHERE id = ?")
    .bind(alertId)
    .first<{ notifications_sent: number; notification_attempts: number }>();

export const failedOf = async (alertId: number) =>
  (
    await env.DB.prepare("SELECT notifications_failed FROM alert_history WHERE id = ?")
      .bind(alertId)
      .first<{ notifications_failed: number }>()
  )?.notifications_failed;

/** Every request the sink recorded under `name`. */
export async function records(name: string): Promise<SinkRecord[]> {
  return (await (await fetch(`${sink()}/__sink/${name}`)).json()) as SinkRecord[];
}

/** The sink's requests under `name` whose body contains `token`. */
export async function received(name: string, token: string): Promise<SinkRecord[]> {
  return (await records(name)).filter((r) => r.body.includes(token));
}

export async function setMode(name: string, mode: SinkMode) {
  const res = await fetch(`${sink()}/__sink/${name}/mode`, { method: "POST", body: JSON.stringify(mode) });
  expect(res.status).toBe(204);
}

export const waitFor = <T>(fn: () => Promise<T | false | undefined | null>, timeout = 5000) =>
  vi.waitUntil(fn, { timeout, interval: 20 }) as Promise<T>;

/**
 * Test notifications: one through each of the caller's personal channels, sent at once
 * (not queued) so the caller sees every result, and recorded in the delivery log.
 */
import type { NotificationJob } from "../core/alerts/jobs";
import type { PersonalChannel } from "../core/notify/channels";
import { contact } from "../core/notify/recipients";
import { testJob } from "../core/notify/test-job";
import { type DeliveryStatus, lastTestAt, recordTests } from "../db/deliveries";
import { channelFor, loadRecipient, recipientFor, send, timeoutMs } from "./delivery";

export type TestStatus = "sent" | "failed" | "skipped" | "not_configured";

export interface TestResult {
  channel: PersonalChannel;
  status: TestStatus;
  /** Where it went: the email address, phone number or Slack member id. */
  address: string | null;
  provider_status: number | null;
  provider_message_id: string | null;
  /** Why it was not sent; redacted of the provider's secrets. */
  error: string | null;
  /** True when the failure may pass on a later try (timeout, 5xx, 429). */
  retryable: boolean;
  duration_ms: number | null;
}

/** Minimum time between two tests of one admin. */
export const TEST_INTERVAL_MS = 10_000;

/** How long until the admin may send another test (0: now), from their last recorded test. */
export async function testWait(env: Env, adminId: number, now: number): Promise<number> {
  const last = await lastTestAt(env.DB, adminId);
  return last ? Math.max(0, last + TEST_INTERVAL_MS - now) : 0;
}

const DB_STATUS: Record<TestStatus, DeliveryStatus> = {
  sent: "sent",
  failed: "failed",
  skipped: "skipped",
  not_configured: "outbox",
};

export async function sendTestNotifications(
  env: Env,
  adminId: number,
  channels: readonly PersonalChannel[],
  now: number,
): Promise<TestResult[]> {
  const loaded = await loadRecipient(env.DB, adminId);
  if (!loaded) throw new Error(`admin ${adminId} not found`);
  const jobs = channels.map((channel) => testJob(adminId, loaded.name, channel, now));
  const results = await Promise.all(
    channels.map(async (channel, i): Promise<TestResult> => {
      const base = {
        channel,
        address: null,
        provider_status: null,
        provider_message_id: null,
        retryable: false,
        duration_ms: null,
      };
      const to = contact(channel, loaded.prefs, loaded.email);
      if ("reason" in to) return { ...base, status: "skipped", error: to.reason };
      const configured = channelFor(env, channel);
      if (!configured) {
        return {
          ...base,
          address: to.address,
          status: "not_configured",
          error: `no ${channel} provider is configured`,
        };
      }
      const started = Date.now();
      const result = await send(
        configured,
        jobs[i] as NotificationJob,
        recipientFor(adminId, loaded, channel, to.address),
        now,
        timeoutMs(env),
      );
      const delivered = result.outcome === "delivered";
      return {
        ...base,
        address: to.address,
        status: delivered ? "sent" : "failed",
        provider_status: result.status ?? null,
        provider_message_id: delivered ? (result.providerId ?? null) : null,
        error: delivered ? null : result.reason,
        retryable: result.outcome === "retryable",
        duration_ms: Date.now() - started,
      };
    }),
  );
  await recordTests(
    env.DB,
    results.map((r, i) => ({
      job: jobs[i] as NotificationJob,
      attempts: r.duration_ms === null ? 0 : 1,
      status: DB_STATUS[r.status],
      providerResponse: r.provider_status === null ? null : String(r.provider_status),
      providerMessageId: r.provider_message_id,
      lastError: r.error,
      enqueuedAt: now,
      deliveredAt: r.status === "sent" ? now + (r.duration_ms ?? 0) : null,
    })),
  );
  return results;
}

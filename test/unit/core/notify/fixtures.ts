/** A notification job per event for the channel tests: one alert on "api", fired at T. */
import type { AlertSnapshot, NotificationJob, NotifyEvent } from "../../../../worker/core/alerts/jobs";
import type { Preferences } from "../../../../worker/core/notify/recipients";
import type { Recipient } from "../../../../worker/core/notify/types";

export const T = Date.parse("2026-11-26T10:00:00Z");

export function alert(over: Partial<AlertSnapshot> = {}): AlertSnapshot {
  return {
    id: 12,
    ruleId: 3,
    ruleName: "High latency",
    service: "api",
    labels: { region: "eu" },
    severity: "critical",
    status: "firing",
    value: 812.5,
    peakValue: 900,
    message: "p95 latency 812.5 ms > 500 ms",
    observedAt: T + 60_000,
    triggeredAt: T,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    ...over,
  };
}

/** The alert as it stands at each event: acknowledged by Ada at T+5 min, resolved at T+10 min. */
export function job(event: NotifyEvent, over: Partial<AlertSnapshot> = {}): NotificationJob {
  const state: Partial<AlertSnapshot> =
    event === "acknowledged"
      ? { status: "acknowledged", acknowledgedAt: T + 300_000, acknowledgedBy: "Ada" }
      : event === "resolved"
        ? { status: "resolved", resolvedAt: T + 600_000, value: 120 }
        : {};
  const a = alert({ ...state, ...over });
  return {
    idempotencyKey: `alert:${a.id}|${event}|step:0|admin:4|test`,
    alertId: a.id,
    event,
    occurrence: event,
    step: 0,
    recipient: { adminId: 4 },
    channel: "test",
    alert: a,
    enqueuedAt: T,
  };
}

export const ada: Recipient = {
  adminId: 4,
  name: "Ada Lovelace",
  email: "ada@example.com",
  phone: "+15551230000",
  slackMemberId: "U0ADA",
};

export const NOW = T + 700_000;

/** Notification preferences with every personal channel set up, all severities, no quiet hours. */
export function preferences(over: Partial<Preferences> = {}): Preferences {
  return {
    adminId: 4,
    email: "ada@example.com",
    phone: "+15551230000",
    slackMemberId: "U0ADA",
    emailEnabled: true,
    smsEnabled: true,
    slackEnabled: true,
    severities: ["critical", "warning", "info"],
    quietHours: null,
    timezone: "UTC",
    criticalBypassesQuietHours: true,
    ...over,
  };
}

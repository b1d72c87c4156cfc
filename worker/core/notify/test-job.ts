/**
 * The test notification an admin sends to check their channels: a notice, not an alert,
 * keyed by admin, time and channel so each test is its own delivery.
 */
import type { AlertSnapshot, NotificationJob } from "../alerts/jobs";
import { toIso } from "../time";

/** An alert-shaped placeholder: notices carry one for their severity, and no channel shows it. */
const placeholder = (now: number): AlertSnapshot => ({
  id: 0,
  ruleId: 0,
  ruleName: "Test notification",
  service: null,
  labels: {},
  severity: "info",
  status: "firing",
  value: null,
  peakValue: null,
  message: "",
  observedAt: now,
  triggeredAt: now,
  acknowledgedAt: null,
  acknowledgedBy: null,
  resolvedAt: null,
});

export function testJob(adminId: number, adminName: string, channel: string, now: number): NotificationJob {
  return {
    idempotencyKey: `test|admin:${adminId}|at:${now}|${channel}`,
    alertId: 0,
    event: "test",
    occurrence: `test:${now}`,
    step: 0,
    recipient: { adminId },
    channel,
    alert: placeholder(now),
    notice: {
      title: "Edge Monitor test notification",
      lines: [
        `Sent at ${toIso(now)} on request of ${adminName || `admin ${adminId}`}.`,
        `If you can read this, ${channel} notifications reach you.`,
      ],
    },
    enqueuedAt: now,
  };
}

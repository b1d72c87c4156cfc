/** Texts and messages the Slack integration answers with (Slack mrkdwn). */
import type { AlertSnapshot, NotificationJob } from "../alerts/jobs";
import * as escape from "../notify/escape";
import { slackMessage } from "../notify/slack";
import { toIso } from "../time";

/** An open alert as the status listing shows it. */
export interface OpenAlert {
  id: number;
  ruleName: string | null;
  service: string | null;
  status: string;
  triggeredAt: number;
}

/** How many alerts `/monitor status` lists; the total is always given. */
export const STATUS_LIMIT = 10;

/** The `/monitor status` answer: the count of open alerts and the first `STATUS_LIMIT` of them. */
export function statusText(total: number, alerts: readonly OpenAlert[]): string {
  if (total === 0) return "No firing or acknowledged alerts.";
  const lines = alerts
    .slice(0, STATUS_LIMIT)
    .map(
      (a) =>
        `• #${a.id} ${escape.slack(escape.oneLine(a.ruleName ?? "(deleted rule)"))} · ${escape.slack(escape.oneLine(a.service ?? "no service"))} · ${a.status} since ${toIso(a.triggeredAt)}`,
    );
  const more = total > lines.length ? [`…and ${total - lines.length} more.`] : [];
  return [`${total} open alert${total === 1 ? "" : "s"}:`, ...lines, ...more].join("\n");
}

/** Slack's answer (or response_url message) seen only by the user who acted. */
export const ephemeral = (text: string) => ({ response_type: "ephemeral", text }) as const;

/** The immediate answer while the real one is still being worked out (sent later via response_url). */
export const WORKING_TEXT = "Working on it…";

/** What the user sees when the work failed after "Working on it…" was answered. */
export const FAILED_TEXT = "Sorry, that failed. Please try again, or use the dashboard.";

/**
 * The response_url message that rewrites an alert message in place once it was acknowledged
 * or resolved from its buttons: the notification's own blocks for the alert as it now stands,
 * with its buttons only while the alert is still open.
 */
export function alertMessageUpdate(alert: AlertSnapshot, event: "acknowledged" | "resolved") {
  // The message is built from a notification job; only the alert and the event matter here.
  const job: NotificationJob = {
    idempotencyKey: "",
    alertId: alert.id,
    event,
    occurrence: event,
    step: 0,
    recipient: { adminId: 0 },
    channel: "slack",
    alert,
    enqueuedAt: 0,
  };
  return { replace_original: true, ...slackMessage(job) } as const;
}

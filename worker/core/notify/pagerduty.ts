/** PagerDuty Events API v2: trigger, acknowledge and resolve one incident per alert. */
import type { NotificationJob } from "../alerts/jobs";
import { toIso } from "../time";
import { classifyHttp, jsonField } from "./classify";
import { fingerprint, oneLine, title } from "./text";
import { type Channel, RenderError } from "./types";

export const PAGERDUTY_BASE = "https://events.pagerduty.com";

export interface PagerDutyConfig {
  baseUrl: string;
  routingKey: string;
}

const ACTION = {
  firing: "trigger",
  reminder: "trigger",
  escalation: "trigger",
  acknowledged: "acknowledge",
  resolved: "resolve",
} as const;

/** PagerDuty's levels; a severity the product does not define maps to "error". */
const SEVERITY: Record<string, "critical" | "warning" | "info"> = {
  critical: "critical",
  warning: "warning",
  info: "info",
};
export const pagerDutySeverity = (severity: string) => SEVERITY[severity] ?? "error";

/**
 * The dedup key: the alert's id with its series fingerprint, so the acknowledge and
 * resolve of an alert reach the incident its trigger opened, and a reminder or escalation
 * (a trigger again) adds to it rather than opening another. A grouped notification's
 * incident is its group's (notice.key), across the group's updates and its resolve.
 */
export const dedupKey = (job: NotificationJob) =>
  job.notice?.key ? `edge-monitor:${job.notice.key}` : `edge-monitor:${job.alert.id}:${fingerprint(job.alert)}`;

export function pagerDutyEvent(job: NotificationJob, config: PagerDutyConfig) {
  const a = job.alert;
  // Incidents are alerts: a digest or a test has none to open.
  if (job.event === "digest" || job.event === "test") throw new RenderError(`PagerDuty takes no ${job.event}`);
  const action = ACTION[job.event];
  const event: Record<string, unknown> = {
    routing_key: config.routingKey,
    event_action: action,
    dedup_key: dedupKey(job),
  };
  if (action === "trigger") {
    // Sender text goes only into text fields (JSON-encoded by the caller), never into
    // `links`, `images` or `client_url`, which PagerDuty shows as clickable.
    event.payload = {
      // PagerDuty truncates summaries at 1024 characters.
      summary: `${oneLine(title(job))}: ${oneLine(a.message)}`.slice(0, 1024),
      source: a.service ? oneLine(a.service) : "edge-monitor",
      severity: pagerDutySeverity(a.severity),
      timestamp: toIso(a.observedAt),
      component: oneLine(a.ruleName),
      custom_details: {
        alert_id: a.id,
        rule_id: a.ruleId,
        event: job.event,
        value: a.value,
        peak_value: a.peakValue,
        labels: a.labels,
        triggered_at: toIso(a.triggeredAt),
        message: a.message,
      },
    };
  }
  return event;
}

export const pagerDuty: Channel<PagerDutyConfig> = {
  name: "pagerduty",
  render(job, _to, config) {
    return {
      url: `${config.baseUrl}/v2/enqueue`,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(pagerDutyEvent(job, config)),
    };
  },
  classify: (status, headers, body, config, now) =>
    classifyHttp(status, headers, body, pagerDuty.secrets(config), now, jsonField(body, "dedup_key")),
  secrets: (config) => [config.routingKey],
};

/**
 * A notification as each channel would send it, for the rule dry run: the same renderers
 * the consumer uses, on a job made from the dry run's verdict (alert #0, nothing sent).
 */
import type { NotificationJob } from "../alerts/jobs";
import { emailContent } from "./email";
import { PAGERDUTY_BASE, pagerDutyEvent } from "./pagerduty";
import { slackMessage } from "./slack";
import { smsLength, smsText } from "./sms";
import { nativePayload } from "./webhook";

export interface ChannelPreview {
  channel: string;
  /** What the channel sends: plain text (email, SMS) or the JSON body (Slack, webhook, PagerDuty). */
  content: string;
  /** A note on how it goes, e.g. "2 SMS segments (GSM-7)". */
  note: string | null;
}

const json = (v: unknown) => JSON.stringify(v, null, 2);

/** The job as `channel` renders it; null for a channel that has no renderer here. */
export function previewChannel(job: NotificationJob, channel: string, now: number): ChannelPreview | null {
  switch (channel) {
    case "email": {
      const c = emailContent(job);
      return { channel, content: `Subject: ${c.subject}\n\n${c.text}`, note: "also sent as HTML" };
    }
    case "sms": {
      const text = smsText(job);
      const { encoding, units } = smsLength(text);
      return { channel, content: text, note: `${units} characters (${encoding})` };
    }
    case "slack":
      return { channel, content: json(slackMessage(job)), note: "Slack message (blocks, with buttons while open)" };
    case "webhook":
      return { channel, content: json(nativePayload(job, now)), note: "JSON body, signed when WEBHOOK_SECRET is set" };
    case "pagerduty":
      return {
        channel,
        content: json(pagerDutyEvent(job, { baseUrl: PAGERDUTY_BASE, routingKey: "<PAGERDUTY_ROUTING_KEY>" })),
        note: "Events API v2",
      };
    default:
      return null;
  }
}

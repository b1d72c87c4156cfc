/**
 * The per-channel notification layer: each channel turns a job into one HTTP request
 * and reads the provider's answer back. Pure: the deliverer does the fetch, the clock
 * and (for webhooks) the HMAC.
 */
import type { NotificationJob } from "../alerts/jobs";
import type { ChannelName } from "./channels";

export interface OutboundRequest {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
}

export type Classification =
  | { outcome: "delivered"; providerId?: string }
  | { outcome: "retryable"; retryAfterSeconds: number | null; reason: string }
  | { outcome: "permanent"; reason: string };

/** Who a job goes to, with the addresses from their notification preferences. */
export interface Recipient {
  adminId: number;
  name: string;
  email: string | null;
  phone: string | null;
  slackMemberId: string | null;
}

export type { ChannelName } from "./channels";

export interface Channel<Config> {
  name: ChannelName;
  /** Throws `RenderError` when the recipient lacks the address the channel needs. */
  render(job: NotificationJob, to: Recipient, config: Config, now: number): OutboundRequest;
  /**
   * The provider's answer. Takes the config (unlike the request alone) so every reason is
   * redacted of the channel's secrets here, not left to each caller; `now` dates an
   * HTTP-date Retry-After.
   */
  classify(status: number, headers: Record<string, string>, body: string, config: Config, now: number): Classification;
  /** The config's secrets, for the deliverer to redact its own error texts (network failures). */
  secrets(config: Config): string[];
  /**
   * Present when the channel can rewrite a message it sent (Slack through the bot token):
   * the request that makes the message `providerId` (the id `classify` gave when it was
   * sent) show the job's state; null when the id is not one this channel can update. Its
   * answer is read with `classify`.
   */
  update?(job: NotificationJob, providerId: string, config: Config): OutboundRequest | null;
}

/** The job cannot be rendered for this recipient (missing address): retrying will not help. */
export class RenderError extends Error {
  override name = "RenderError";
}

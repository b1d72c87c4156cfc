/**
 * Generic webhooks: a JSON POST, native or Alertmanager-compatible (webhook v4), signed
 * with HMAC-SHA256 over `${timestamp}.${body}`.
 *
 * WebCrypto HMAC is async and core does no crypto, so signing is split: `render` returns
 * the request with `X-EdgeMonitor-Timestamp` set and `toSign`, the exact string to sign;
 * the deliverer computes the hex HMAC of `toSign` with the webhook's secret and sets
 * `X-EdgeMonitor-Signature` to `signatureHeader(hex)`. Receivers recompute it the same
 * way and should reject timestamps far from their clock (replays).
 *
 * Every request carries `X-EdgeMonitor-Delivery`, the job's idempotency key: the same on
 * every retry of one notification (after a 5xx, a 429 or a timeout, when the first request
 * may still have arrived), different for every other. Receivers keep the keys they have
 * processed and drop a repeat. The native body carries it too as `delivery`, covered by
 * the signature; the Alertmanager body keeps its schema and has the header only.
 */
import type { NotificationJob } from "../alerts/jobs";
import { toIso } from "../time";
import { classifyHttp } from "./classify";
import { fingerprint, oneLine, title } from "./text";
import type { Channel, OutboundRequest, Recipient } from "./types";

export const TIMESTAMP_HEADER = "X-EdgeMonitor-Timestamp";
export const SIGNATURE_HEADER = "X-EdgeMonitor-Signature";
/** The delivery's idempotency key: one value per notification, repeated on its retries. */
export const DELIVERY_HEADER = "X-EdgeMonitor-Delivery";

export interface WebhookConfig {
  url: string;
  /** The HMAC key: used by the deliverer, never sent. */
  secret: string;
  format: "native" | "alertmanager";
  /** Alertmanager `receiver` name (default "edge-monitor"). */
  receiver?: string;
  /** Alertmanager `externalURL`: the dashboard's address. */
  externalUrl?: string;
}

/** The rendered request plus the string its signature covers. */
export interface SignableRequest extends OutboundRequest {
  toSign: string;
}

/** The signature header's value for a hex HMAC-SHA256 digest. */
export const signatureHeader = (hexDigest: string) => `v1=${hexDigest.toLowerCase()}`;

/**
 * The native payload: the event and the alert snapshot as the job carries it, with
 * `delivery`, the idempotency key also sent as X-EdgeMonitor-Delivery, and `notice` on a
 * grouped notification (its title and lines; `alert` is then the group's worst).
 */
export function nativePayload(job: NotificationJob, now: number) {
  return {
    version: 1,
    delivery: job.idempotencyKey,
    event: job.event,
    occurrence: job.occurrence,
    step: job.step,
    sentAt: toIso(now),
    fingerprint: fingerprint(job.alert),
    alert: job.alert,
    // A grouped notification (a storm) or a digest: what it says, beside the alert it names first.
    ...(job.notice && { notice: job.notice }),
  };
}

/** Alertmanager's "zero" time, what it sends as endsAt of an alert still firing. */
const ZERO_TIME = "0001-01-01T00:00:00Z";

/** An Alertmanager webhook v4 body with the alert as its one alert. */
export function alertmanagerPayload(job: NotificationJob, config: Pick<WebhookConfig, "receiver" | "externalUrl">) {
  const a = job.alert;
  const status = job.event === "resolved" ? "resolved" : "firing";
  const labels: Record<string, string> = {
    alertname: a.ruleName,
    severity: a.severity,
    ...(a.service ? { service: a.service } : {}),
    ...a.labels,
  };
  const annotations = { summary: oneLine(title(job)), description: a.message };
  const groupLabels = { alertname: labels.alertname ?? a.ruleName };
  return {
    version: "4",
    groupKey: `{}:{alertname=${JSON.stringify(groupLabels.alertname)}}`,
    truncatedAlerts: 0,
    status,
    receiver: config.receiver ?? "edge-monitor",
    groupLabels,
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: config.externalUrl ?? "",
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: toIso(a.triggeredAt),
        endsAt: status === "resolved" ? toIso(a.resolvedAt ?? a.observedAt) : ZERO_TIME,
        generatorURL: config.externalUrl ? `${config.externalUrl}/alerts/${a.id}` : "",
        fingerprint: fingerprint(a),
      },
    ],
  };
}

/** A channel whose requests carry the string their signature covers. */
export interface WebhookChannel extends Channel<WebhookConfig> {
  render(job: NotificationJob, to: Recipient, config: WebhookConfig, now: number): SignableRequest;
}

export const webhook: WebhookChannel = {
  name: "webhook",
  render(job, _to, config, now) {
    const body = JSON.stringify(
      config.format === "alertmanager" ? alertmanagerPayload(job, config) : nativePayload(job, now),
    );
    const timestamp = String(Math.floor(now / 1000));
    return {
      url: config.url,
      method: "POST",
      headers: {
        "content-type": "application/json",
        [TIMESTAMP_HEADER]: timestamp,
        [DELIVERY_HEADER]: job.idempotencyKey,
      },
      body,
      toSign: `${timestamp}.${body}`,
    };
  },
  classify: (status, headers, body, config, now) => classifyHttp(status, headers, body, webhook.secrets(config), now),
  secrets: (config) => [config.secret],
};

/**
 * The delivery log page's pure parts: its filters as the address and the API's query
 * carry them, and how a delivery's status and recipient read.
 */
import type { Delivery } from "./types";

/** Filters of the log, as the API's query parameters ("" for none). */
export interface DeliveryFilters {
  rule_id: string;
  alert_id: string;
  channel: string;
  status: string;
  recipient: string;
  /** `datetime-local` values, in the browser's zone. */
  since: string;
  until: string;
}

export const NO_DELIVERY_FILTERS: DeliveryFilters = {
  rule_id: "",
  alert_id: "",
  channel: "",
  status: "",
  recipient: "",
  since: "",
  until: "",
};

const KEYS = Object.keys(NO_DELIVERY_FILTERS) as (keyof DeliveryFilters)[];

/** The channels a delivery can go out on (the server's registry). */
export const DELIVERY_CHANNELS = ["email", "sms", "slack", "webhook", "pagerduty"] as const;

/** Every status a delivery can have, with what it means to an operator. */
export const DELIVERY_STATUSES: readonly { value: string; label: string; tone: string }[] = [
  { value: "sent", label: "Sent", tone: "healthy" },
  { value: "digested", label: "Sent in digest", tone: "healthy" },
  { value: "queued", label: "Queued", tone: "warning" },
  { value: "held", label: "Held (quiet hours)", tone: "warning" },
  { value: "skipped", label: "Skipped", tone: "unknown" },
  { value: "outbox", label: "No provider", tone: "unknown" },
  { value: "failed", label: "Failed", tone: "down" },
  { value: "dead", label: "Given up", tone: "down" },
];

/** A status's label and badge tone; an unknown status reads as itself. */
export function deliveryStatus(status: string): { label: string; tone: string } {
  const known = DELIVERY_STATUSES.find((s) => s.value === status);
  return known ? { label: known.label, tone: known.tone } : { label: status, tone: "unknown" };
}

/** The filters in a page address's query (`?status=skipped&channel=sms`); unknown keys are ignored. */
export function deliveryFiltersFrom(search: string): DeliveryFilters {
  const q = new URLSearchParams(search);
  const f = { ...NO_DELIVERY_FILTERS };
  for (const key of KEYS) f[key] = q.get(key) ?? "";
  return f;
}

/** The page address's query for these filters: only those set, so a shared link stays short. */
export function deliveryFiltersSearch(f: DeliveryFilters): string {
  const q = new URLSearchParams();
  for (const key of KEYS) if (f[key]) q.set(key, f[key]);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** A `datetime-local` value (the browser's zone) as ISO, or "" when empty or invalid. */
const localToIso = (v: string) => {
  if (!v) return "";
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? "" : new Date(t).toISOString();
};

/** The API query for a page of the log under these filters. */
export function deliveriesQuery(f: DeliveryFilters, cursor: string | null, limit = 50): string {
  const q = new URLSearchParams({ limit: String(limit) });
  for (const key of ["rule_id", "alert_id", "channel", "status", "recipient"] as const) if (f[key]) q.set(key, f[key]);
  const since = localToIso(f.since);
  const until = localToIso(f.until);
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

/** Who a delivery went to, for people: the admin's name, a team channel, or the stored id. */
export function recipientText(d: Pick<Delivery, "recipient" | "recipient_name" | "channel">): string {
  if (d.recipient.startsWith("shared:")) return `Team ${d.channel}`;
  return d.recipient_name ?? `${d.recipient} (deleted)`;
}

/**
 * `GET /deliveries`: the delivery log across alerts, so an administrator can answer "did
 * anyone get paged, and why not?" without reading the alerts one by one. Every planned
 * notification job has its row (sent, skipped with the reason, held for quiet hours, kept in
 * the outbox, failed or given up), newest first, with filters and cursor paging like
 * the alerts history. Any role reads it.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CHANNELS } from "../core/rules/types";
import { deliveryLog, type DeliveryLogRow } from "../db/deliveries";
import { DELIVERY_STATUSES } from "../db/schema";
import { ApiError } from "../lib/errors";
import { commonErrors, createApi, Instant, jsonResponse, pageCursor, queryParam, TimeIdCursor } from "./api";
import { iso } from "./fields";

export const deliveries = createApi();

const MAX_PAGE = 500;

const DeliveryOut = z
  .object({
    id: z.number().int(),
    alert_id: z.number().int().nullable().openapi({ description: "Null for a notice (a digest, a test)" }),
    rule_id: z.number().int().nullable(),
    rule_name: z.string().nullable().openapi({ description: "Null once the rule is deleted, or for a notice" }),
    service: z.string().nullable(),
    severity: z.string().nullable(),
    event: z.string().openapi({ description: "firing, reminder, escalation, acknowledged, resolved, digest or test" }),
    channel: z.string(),
    recipient: z.string().openapi({ description: '"admin:<id>", or "shared:<channel>" for a team channel' }),
    recipient_name: z
      .string()
      .nullable()
      .openapi({ description: "The admin's name, or the shared channel; null for an admin since deleted" }),
    recipient_email: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES).openapi({
      description:
        "queued (waiting or retrying), sent, held (quiet hours), digested (sent within a digest), skipped, " +
        "outbox (channel not configured), failed (refused for good) or dead (given up after its retries)",
    }),
    attempts: z.number().int().openapi({ description: "Provider requests made" }),
    reason: z.string().nullable().openapi({
      description: "Why it was skipped, kept in the outbox or failed, or the last error of a retry (secrets redacted)",
    }),
    enqueued_at: z.string(),
    delivered_at: z.string().nullable(),
    latency_from_breach_ms: z.number().int().nullable().openapi({
      description: "delivered_at − the alert's observed_at (when the breaching sample was taken); null until delivered",
    }),
    latency_from_enqueue_ms: z.number().int().nullable().openapi({ description: "delivered_at − enqueued_at" }),
  })
  .openapi("Delivery");

const DeliveryList = z
  .object({ deliveries: z.array(DeliveryOut), next_cursor: z.string().nullable() })
  .openapi("DeliveryList");

const Recipient = z.string().regex(/^(admin:\d+|shared:[a-z]+)$/, 'must be "admin:<id>" or "shared:<channel>"');

function toWire(r: DeliveryLogRow): z.infer<typeof DeliveryOut> {
  const shared = r.recipient.startsWith("shared:");
  return {
    id: r.id,
    alert_id: r.alert_id,
    rule_id: r.rule_id,
    rule_name: r.rule_name,
    service: r.service,
    severity: r.severity,
    event: r.event,
    channel: r.channel,
    recipient: r.recipient,
    recipient_name: shared ? `${r.channel} (shared)` : r.admin_name,
    recipient_email: r.admin_email,
    status: r.status,
    attempts: r.attempts,
    reason: r.reason,
    enqueued_at: iso(r.enqueued_at),
    delivered_at: r.delivered_at === null ? null : iso(r.delivered_at),
    latency_from_breach_ms: r.delivered_at !== null && r.observed_at !== null ? r.delivered_at - r.observed_at : null,
    latency_from_enqueue_ms: r.delivered_at !== null ? r.delivered_at - r.enqueued_at : null,
  };
}

deliveries.openapi(
  createRoute({
    method: "get",
    path: "/deliveries",
    tags: ["alerts"],
    summary: "The delivery log: every notification job, newest first, with filters and cursor paging",
    request: {
      query: z.object({
        alert_id: z.coerce.number().int().positive().optional().openapi(queryParam("alert_id")),
        rule_id: z.coerce.number().int().positive().optional().openapi(queryParam("rule_id")),
        channel: z.enum(CHANNELS).optional().openapi(queryParam("channel")),
        status: z.enum(DELIVERY_STATUSES).optional().openapi(queryParam("status")),
        event: z.string().max(40).optional().openapi(queryParam("event")),
        recipient: Recipient.optional().openapi(queryParam("recipient", '"admin:<id>" or "shared:<channel>"')),
        admin_id: z.coerce
          .number()
          .int()
          .positive()
          .optional()
          .openapi(queryParam("admin_id", "Same as recipient=admin:<id>")),
        since: Instant.optional().openapi({ ...queryParam("since"), description: "enqueued at or after" }),
        until: Instant.optional().openapi({ ...queryParam("until"), description: "enqueued before" }),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100).openapi(queryParam("limit")),
        cursor: TimeIdCursor.optional().openapi({ ...queryParam("cursor"), type: "string" }),
      }),
    },
    responses: { 200: jsonResponse(DeliveryList, "A page of the delivery log"), ...commonErrors },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.since !== undefined && q.until !== undefined && q.since >= q.until) {
      throw new ApiError(400, "since must be before until.", {
        details: [{ field: "since", reason: "must be before until" }],
      });
    }
    const byAdmin = q.admin_id === undefined ? undefined : `admin:${q.admin_id}`;
    if (byAdmin && q.recipient && q.recipient !== byAdmin) {
      throw new ApiError(400, "recipient and admin_id name different recipients.", {
        details: [{ field: "admin_id", reason: "does not match recipient" }],
      });
    }
    // One more than the page: whether there is a next one.
    const rows = await deliveryLog(
      c.env.DB,
      {
        alertId: q.alert_id,
        ruleId: q.rule_id,
        channel: q.channel,
        status: q.status,
        event: q.event,
        recipient: q.recipient ?? byAdmin,
        since: q.since,
        until: q.until,
        after: q.cursor && { enqueuedAt: q.cursor.at, id: q.cursor.id },
      },
      q.limit + 1,
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json(
      {
        deliveries: page.map(toWire),
        next_cursor: pageCursor(rows.length > q.limit, last && { at: last.enqueued_at, id: last.id }),
      },
      200,
    );
  },
);

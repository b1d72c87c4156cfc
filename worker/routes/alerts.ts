/**
 * Alerts: the active list, history with filters and cursor paging, one alert with its
 * timeline, and acknowledge / resolve (carried out by the rule's Durable Object, which
 * owns the alert's state; the caller is recorded as the actor).
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { SEVERITIES } from "../core/rules/types";
import { ALERT_STATUSES } from "../db/schema";
import { alertHistoryPage, alertTimeline, getAlertWithRule } from "../db/alerts";
import { alertDeliveries } from "../db/deliveries";
import { ApiError, notFound } from "../lib/errors";
import { auditActorOf, recordAudit } from "../lib/audit";
import { actOnAlert, activeAlerts, silenceAlert, toAlertsWire } from "../lib/alerts";
import type { Actor } from "../middleware/auth";
import {
  commonErrors,
  createApi,
  IdParams,
  Instant,
  jsonBody,
  jsonResponse,
  notFoundError,
  pageCursor,
  TimeIdCursor,
} from "./api";
import { iso, ServiceName } from "./fields";

export const alerts = createApi();

const STATUSES = ALERT_STATUSES;
const MAX_PAGE = 500;

export const AlertOut = z
  .object({
    id: z.number().int(),
    alert_rule_id: z.number().int(),
    rule_name: z.string().nullable(),
    metric_name: z.string().nullable().openapi({ description: "The rule's metric (null once the rule is deleted)" }),
    service: z.string().nullable(),
    fingerprint: z.string(),
    labels: z.record(z.string(), z.string()),
    metric_value: z.number().nullable(),
    peak_value: z.number().nullable(),
    breach_count: z.number().int(),
    reopen_count: z.number().int(),
    flapping: z.boolean(),
    alert_severity: z.enum(SEVERITIES),
    status: z.enum(STATUSES),
    message: z.string(),
    observed_at: z.string().nullable().openapi({ description: "When the breaching sample was taken" }),
    triggered_at: z.string().nullable(),
    acknowledged_at: z.string().nullable(),
    acknowledged_by: z.number().int().nullable(),
    resolved_at: z.string().nullable(),
    auto_resolved: z.boolean(),
    resolution_notes: z.string().nullable(),
    escalation_step: z.number().int(),
    notifications_sent: z.number().int().openapi({ description: "Deliveries that reached their provider" }),
    notification_attempts: z.number().int().openapi({ description: "Provider requests made" }),
    notifications_failed: z
      .number()
      .int()
      .openapi({
        description:
          "Deliveries given up: `dead` after at least 15 minutes of retries, or `failed` for good (a 4xx); each " +
          "fell back to the recipient's next personal channel, or for a webhook or PagerDuty to the on-call " +
          "admins' personal channels. Pushed to the dashboard's alerts topic when it changes.",
      }),
    silenced_by: z.array(z.number().int()).openapi({
      description:
        "Ids of the silences in effect on this open alert now (empty when none, and once resolved). The " +
        "dashboard's alerts topic carries it as of its last publish, which a silence's create, update or expiry triggers.",
    }),
  })
  .openapi("Alert");

const TimelineEvent = z
  .object({
    type: z.string(),
    at: z.string(),
    actor: z.string().openapi({ description: '"engine", or "admin:<id>" for a person' }),
    value: z.number().nullable(),
    note: z.string().nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi("AlertEvent");

const Delivery = z
  .object({
    event: z.string(),
    channel: z.string(),
    recipient: z.string(),
    status: z.string().openapi({
      description:
        "queued (waiting or retrying), sent, held (quiet hours), digested, skipped, outbox (channel not " +
        "configured), failed (refused for good) or dead (given up after its retries)",
    }),
    attempts: z.number().int().openapi({ description: "Provider requests made" }),
    reason: z
      .string()
      .nullable()
      .openapi({ description: "Why it was skipped, held or failed (the last error, secrets redacted)" }),
    idempotency_key: z.string(),
    enqueued_at: z.string().openapi({ description: "When the engine put the job on the queue" }),
    delivered_at: z.string().nullable(),
  })
  .openapi("AlertDelivery");

const AlertList = z.object({ alerts: z.array(AlertOut), next_cursor: z.string().nullable() }).openapi("AlertList");

const query = (name: string) => ({ param: { name, in: "query" as const } });

// ---------------------------------------------------------------- lists

alerts.openapi(
  createRoute({
    method: "get",
    path: "/alerts/active",
    tags: ["alerts"],
    summary: "Firing and acknowledged alerts, newest first",
    responses: { 200: jsonResponse(AlertList, "Open alerts"), ...commonErrors },
  }),
  async (c) => c.json({ alerts: (await activeAlerts(c.env)) as z.infer<typeof AlertOut>[], next_cursor: null }, 200),
);

alerts.openapi(
  createRoute({
    method: "get",
    path: "/alerts/history",
    tags: ["alerts"],
    summary: "Alerts by trigger time, newest first, with filters and cursor paging",
    request: {
      query: z.object({
        rule_id: z.coerce.number().int().positive().optional().openapi(query("rule_id")),
        service: ServiceName.optional().openapi(query("service")),
        severity: z.enum(SEVERITIES).optional().openapi(query("severity")),
        status: z.enum(STATUSES).optional().openapi(query("status")),
        from: Instant.optional().openapi({ ...query("from"), description: "triggered at or after" }),
        to: Instant.optional().openapi({ ...query("to"), description: "triggered before" }),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100).openapi(query("limit")),
        cursor: TimeIdCursor.optional().openapi({ ...query("cursor"), type: "string" }),
      }),
    },
    responses: { 200: jsonResponse(AlertList, "A page of alerts"), ...commonErrors },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw new ApiError(400, "from must be before to.", { details: [{ field: "from", reason: "must be before to" }] });
    }
    // One more than the page: whether there is a next one.
    const rows = await alertHistoryPage(
      c.env,
      {
        ruleId: q.rule_id,
        service: q.service,
        severity: q.severity,
        status: q.status,
        from: q.from,
        to: q.to,
        after: q.cursor && { triggeredAt: q.cursor.at, id: q.cursor.id },
      },
      q.limit + 1,
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json(
      {
        alerts: (await toAlertsWire(c.env, page, Date.now())) as z.infer<typeof AlertOut>[],
        next_cursor: pageCursor(rows.length > q.limit, last && { at: last.triggered_at, id: last.id }),
      },
      200,
    );
  },
);

// ---------------------------------------------------------------- one alert

async function alertWithRule(env: Env, id: number) {
  const row = await getAlertWithRule(env, id);
  if (!row) throw notFound(`Alert ${id}`);
  return row;
}

alerts.openapi(
  createRoute({
    method: "get",
    path: "/alerts/{id}",
    tags: ["alerts"],
    summary: "One alert with its timeline (every transition and notification decision) and its notification jobs",
    request: { params: IdParams },
    responses: {
      200: jsonResponse(
        AlertOut.extend({ timeline: z.array(TimelineEvent), notifications: z.array(Delivery) }),
        "The alert",
      ),
      ...commonErrors,
      ...notFoundError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const row = await alertWithRule(c.env, id);
    const timeline = (await alertTimeline(c.env, id)).map((e) => ({ ...e, at: iso(e.at) }));
    const notifications = (await alertDeliveries(c.env.DB, id)).map((d) => ({
      ...d,
      enqueued_at: iso(d.enqueued_at),
      delivered_at: d.delivered_at === null ? null : iso(d.delivered_at),
    }));
    const [wire] = await toAlertsWire(c.env, [row], Date.now());
    return c.json({ ...(wire as z.infer<typeof AlertOut>), timeline, notifications }, 200);
  },
);

// ---------------------------------------------------------------- acknowledge / resolve

const Note = z.string().trim().max(2000).optional().openapi({ example: "Restarted the Celery workers" });
const ActionBody = z.object({ note: Note }).strict().openapi("AlertActionInput");
const ResolveBody = z
  .object({
    note: Note,
    force: z
      .boolean()
      .optional()
      .openapi({
        description:
          "Resolve even though the series still breaches (otherwise 409 still_breaching). The resolved notice then " +
          "waits until the series stops breaching; if the rule fires again first, that is a new alert whose firing " +
          "notification is always sent, and the resolved notice is dropped.",
        example: false,
      }),
  })
  .strict()
  .openapi("AlertResolveInput");
const BODIES = { acknowledge: ActionBody, resolve: ResolveBody } as const;

/** Hands the action to the rule's object; 409 when the alert is already resolved or (resolve) still breaching. */
async function act(
  c: Context<{ Bindings: Env; Variables: { actor: Actor } }>,
  id: number,
  action: "acknowledge" | "resolve",
  note?: string,
  force = false,
) {
  const actor = c.get("actor");
  const { before } = await actOnAlert(c.env, id, action, `admin:${actor.adminId}`, note, force);
  const [wire] = await toAlertsWire(c.env, [await alertWithRule(c.env, id)], Date.now());
  const after = wire as z.infer<typeof AlertOut>;
  await recordAudit(c.env.DB, auditActorOf(actor), {
    action: `alert.${action}`,
    targetType: "alert",
    targetId: id,
    before: { status: before },
    after: { status: after.status, ...(force ? { forced: true } : {}) },
    note,
  });
  return after;
}

for (const action of ["acknowledge", "resolve"] as const) {
  alerts.openapi(
    createRoute({
      method: "post",
      path: `/alerts/{id}/${action}`,
      tags: ["alerts"],
      summary:
        action === "acknowledge"
          ? "Acknowledge an alert: stops its escalation; the caller is recorded"
          : "Resolve an alert by hand, with notes; refused (409 still_breaching, with the current value) while " +
            "its series still breaches, unless force is true",
      request: { params: IdParams, ...jsonBody(BODIES[action] as typeof ResolveBody) },
      responses: {
        200: jsonResponse(AlertOut, "The alert after the action"),
        409: jsonResponse(
          z.object({
            error: z.string(),
            message: z.string(),
            details: z.array(z.object({ field: z.string().optional(), reason: z.string() })).optional(),
          }),
          action === "acknowledge"
            ? "Already resolved"
            : "Already resolved (conflict), or still breaching without force (still_breaching)",
        ),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { note, force } = c.req.valid("json");
      return c.json(await act(c, id, action, note, force === true), 200);
    },
  );
}

// ---------------------------------------------------------------- silence

const SilenceBody = z
  .object({
    duration_minutes: z.number().int().min(1).max(10_080).default(60).openapi({ example: 60 }),
    note: z.string().trim().max(1000).optional().openapi({ example: "Deploying a fix" }),
  })
  .strict()
  .openapi("AlertSilenceInput");

alerts.openapi(
  createRoute({
    method: "post",
    path: "/alerts/{id}/silence",
    tags: ["alerts"],
    summary: "Silence this alert's series (its rule and series labels) for a while, 60 minutes by default",
    description:
      "Creates a silence (see /silences) matching the alert's rule_id and series labels; notifications of " +
      "matching alerts are held until it ends.",
    request: { params: IdParams, ...jsonBody(SilenceBody) },
    responses: {
      201: jsonResponse(
        z
          .object({
            silence_id: z.number().int(),
            ends_at: z.string().openapi({ format: "date-time" }),
            matchers: z.array(z.object({ name: z.string(), value: z.string() })),
          })
          .openapi("AlertSilence"),
        "The silence created",
      ),
      ...commonErrors,
      ...notFoundError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { duration_minutes, note } = c.req.valid("json");
    const actor = c.get("actor");
    const comment = note ? note : `Silenced for ${duration_minutes} min from alert ${id}`;
    const now = Date.now();
    const made = await silenceAlert(c.env, id, actor.adminId, now, duration_minutes * 60_000, comment);
    if (!made) throw notFound(`Alert ${id}`);
    await recordAudit(
      c.env.DB,
      auditActorOf(actor),
      {
        action: "alert.silence",
        targetType: "alert",
        targetId: id,
        after: { silence_id: made.id, ends_at: iso(made.endsAt), matchers: made.matchers, comment },
      },
      now,
    );
    return c.json({ silence_id: made.id, ends_at: iso(made.endsAt), matchers: made.matchers }, 201);
  },
);

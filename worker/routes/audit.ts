/**
 * `GET /audit`: the audit trail, newest first, with filters and cursor paging like the
 * delivery log. Admins and owners read it; viewers get 403: the trail holds what viewers
 * cannot otherwise see (other admins' notification preferences with their phone numbers
 * and emails, who was given which role and token), and it is a record for the people
 * accountable for the configuration.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import { changedFields } from "../core/audit";
import { getDb } from "../db/client";
import { AUDIT_VIA, auditLog } from "../db/schema";
import { ApiError } from "../lib/errors";
import { requireRole } from "../middleware/auth";
import { commonErrors, createApi, Instant, jsonResponse, pageCursor, queryParam, TimeIdCursor } from "./api";
import { iso } from "./fields";

export const audit = createApi();

const MAX_PAGE = 500;

audit.use("/audit", requireRole("admin"));

const AuditEntryOut = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: "date-time" }),
    actor_admin_id: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Null for the system, or a Slack user linked to no admin" }),
    actor: z.string().openapi({ description: 'The admin\'s email, "slack:<member id>" or "system"' }),
    via: z.enum(AUDIT_VIA),
    action: z.string().openapi({ example: "rule.update" }),
    target_type: z.string().openapi({ example: "rule" }),
    target_id: z.string().nullable(),
    before: z.record(z.string(), z.unknown()).nullable().openapi({ description: "Secrets redacted" }),
    after: z.record(z.string(), z.unknown()).nullable().openapi({ description: "Secrets redacted" }),
    changes: z.array(z.string()).openapi({ description: "Dotted paths of the fields that differ, before → after" }),
    note: z.string().nullable(),
  })
  .openapi("AuditEntry");

const AuditList = z
  .object({ entries: z.array(AuditEntryOut), next_cursor: z.string().nullable() })
  .openapi("AuditList");

const Word = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w.:@+*-]+$/, "must be letters, digits or . : @ + - _ *");

type Row = typeof auditLog.$inferSelect;

const toWire = (r: Row): z.infer<typeof AuditEntryOut> => ({
  id: r.id,
  at: iso(r.at),
  actor_admin_id: r.actorAdminId,
  actor: r.actorLabel,
  via: r.via,
  action: r.action,
  target_type: r.targetType,
  target_id: r.targetId,
  before: r.before ?? null,
  after: r.after ?? null,
  changes: changedFields(r.before ?? null, r.after ?? null),
  note: r.note,
});

audit.openapi(
  createRoute({
    method: "get",
    path: "/audit",
    tags: ["audit"],
    summary: "The audit trail: configuration changes and alert actions, newest first; admin or owner",
    description:
      "Who (admin id and email, or the Slack member), when, from where (api, dashboard, slack, " +
      "config-import, system), what (action and target) and the object before → after, secrets " +
      "redacted. Viewers get 403.",
    request: {
      query: z.object({
        actor: Word.optional().openapi(
          queryParam("actor", 'An admin id, or an actor label: an email or "slack:<member id>"'),
        ),
        action: Word.optional().openapi(
          queryParam("action", 'Exact ("rule.update"), or every verb of a type ("rule.*")'),
        ),
        target_type: Word.optional().openapi(queryParam("target_type", "rule, monitor, key, silence, alert, …")),
        target_id: Word.optional().openapi(queryParam("target_id")),
        via: z.enum(AUDIT_VIA).optional().openapi(queryParam("via")),
        from: Instant.optional().openapi({ ...queryParam("from"), description: "at or after" }),
        to: Instant.optional().openapi({ ...queryParam("to"), description: "before" }),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100).openapi(queryParam("limit")),
        cursor: TimeIdCursor.optional().openapi({ ...queryParam("cursor"), type: "string" }),
      }),
    },
    responses: { 200: jsonResponse(AuditList, "A page of the audit trail"), ...commonErrors },
  }),
  async (c) => {
    const q = c.req.valid("query");
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw new ApiError(400, "from must be before to.", { details: [{ field: "from", reason: "must be before to" }] });
    }
    if (q.action?.includes("*") && !/^[\w-]+\.\*$/.test(q.action)) {
      throw new ApiError(400, 'action takes "*" only as a whole verb: "rule.*".', {
        details: [{ field: "action", reason: 'must be an action or "<type>.*"' }],
      });
    }
    const where: (SQL | undefined)[] = [
      q.actor === undefined
        ? undefined
        : /^\d+$/.test(q.actor)
          ? eq(auditLog.actorAdminId, Number(q.actor))
          : eq(auditLog.actorLabel, q.actor),
      q.action === undefined
        ? undefined
        : q.action.endsWith(".*")
          ? sql`substr(${auditLog.action}, 1, ${q.action.length - 1}) = ${q.action.slice(0, -1)}`
          : eq(auditLog.action, q.action),
      q.target_type === undefined ? undefined : eq(auditLog.targetType, q.target_type),
      q.target_id === undefined ? undefined : eq(auditLog.targetId, q.target_id),
      q.via === undefined ? undefined : eq(auditLog.via, q.via),
      q.from === undefined ? undefined : gte(auditLog.at, q.from),
      q.to === undefined ? undefined : lt(auditLog.at, q.to),
      q.cursor === undefined
        ? undefined
        : or(lt(auditLog.at, q.cursor.at), and(eq(auditLog.at, q.cursor.at), lt(auditLog.id, q.cursor.id))),
    ];
    // One more than the page: whether there is a next one.
    const rows = await getDb(c.env.DB)
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.at), desc(auditLog.id))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json(
      {
        entries: page.map(toWire),
        next_cursor: pageCursor(rows.length > q.limit, last),
      },
      200,
    );
  },
);

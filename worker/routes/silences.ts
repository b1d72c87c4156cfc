/**
 * Silences: label matchers and a time window during which matching alerts
 * stay quiet. The author is the caller; status is derived from the clock.
 */
import { auditActorOf, withAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { activeAt } from "../core/alerts/silence";
import { getDb } from "../db/client";
import { toCoreSilence } from "../db/silences";
import { silences as silenceTable } from "../db/schema";
import { previewSilence, publishAlerts } from "../lib/alerts";
import { badRequest, notFound } from "../lib/errors";
import { AlertOut } from "./alerts";
import { commonErrors, IdParams, Instant, jsonBody, jsonResponse, notFoundError } from "./api";
import { crudRoutes, defineResource } from "./crud";
import { iso, Timestamps, TimeZone } from "./fields";

const Matcher = z
  .object({
    name: z
      .string()
      .max(200)
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "label names are letters, digits and _"),
    value: z.string().max(500),
    is_regex: z.boolean().default(false),
    is_equal: z.boolean().default(true).openapi({ description: "false negates the match (!= or !~)" }),
  })
  .strict()
  .superRefine((m, ctx) => {
    const error = m.is_regex ? regexError(m.value) : null;
    if (error)
      ctx.addIssue({ code: "custom", path: ["value"], message: `must be a valid regular expression: ${error}` });
  });

function regexError(source: string): string | null {
  try {
    RegExp(source);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

type MatcherInput = z.input<typeof Matcher>;

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be "HH:MM" on a 24-hour clock');

/** A weekly maintenance window: on these weekdays, from `start` for `duration_minutes`, in `timezone`. */
const Recurrence = z
  .object({
    weekdays: z
      .array(z.number().int().min(0).max(6))
      .min(1, "choose at least one weekday")
      .max(7)
      .refine((xs) => new Set(xs).size === xs.length, "weekdays must not repeat")
      .openapi({ description: "0 = Sunday … 6 = Saturday", example: [0, 6] }),
    start: ClockTime.openapi({ example: "02:00" }),
    duration_minutes: z.number().int().min(1).max(10_080),
    timezone: TimeZone.openapi({ example: "Asia/Taipei" }),
  })
  .strict()
  .openapi("SilenceRecurrence");

type RecurrenceInput = z.output<typeof Recurrence>;

const SilenceFields = z
  .object({
    matchers: z.array(Matcher).min(1, "a silence needs at least one matcher").max(20),
    starts_at: Instant.optional().openapi({ description: "Default: now" }),
    ends_at: Instant,
    recurrence: Recurrence.nullable()
      .default(null)
      .openapi({ description: "Silence only during a weekly window inside [starts_at, ends_at) (null: all of it)" }),
    comment: z.string().trim().min(1, "say why").max(1000),
  })
  .openapi("SilenceInput");

const SilenceOut = SilenceFields.extend({
  id: z.number().int(),
  starts_at: z.string().openapi({ format: "date-time" }),
  ends_at: z.string().openapi({ format: "date-time" }),
  status: z.enum(["pending", "active", "expired"]),
  created_by: z.number().int().nullable(),
  ...Timestamps,
}).openapi("Silence");

type SilenceRow = typeof silenceTable.$inferSelect;
type SilenceInput = z.output<typeof SilenceFields>;

/** The window's checks that need the request's clock: the default start, and "in the future" for a new silence. */
function checkWindow(input: SilenceInput, now: number, isNew: boolean): void {
  const startsAt = input.starts_at ?? now;
  if (input.ends_at <= startsAt) {
    throw badRequest([{ field: "ends_at", reason: "must be after starts_at" }], "Invalid silence.");
  }
  if (isNew && input.ends_at <= now) {
    throw badRequest([{ field: "ends_at", reason: "must be in the future" }], "Invalid silence.");
  }
}

function toOutput(row: SilenceRow, now: number) {
  return {
    id: row.id,
    matchers: row.matchers as MatcherInput[],
    starts_at: iso(row.startsAt),
    ends_at: iso(row.endsAt),
    recurrence: row.recurrence as RecurrenceInput | null,
    comment: row.comment,
    status: statusAt(row, now),
    created_by: row.createdBy,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  };
}

export const silenceResource = defineResource({
  noun: "Silence",
  collection: "silences",
  table: silenceTable,
  fields: SilenceFields,
  output: SilenceOut,
  // The window is checked here, not in `refine`: the default start and "in the future" need the request's clock.
  async check(input, { now, existing }) {
    checkWindow(input, now, !existing);
  },
  toInput: (row: SilenceRow) => ({
    // `matchers` is written only after validation by Matcher.
    matchers: row.matchers as MatcherInput[],
    starts_at: row.startsAt,
    ends_at: row.endsAt,
    // `recurrence` is written only after validation by Recurrence.
    recurrence: row.recurrence as RecurrenceInput | null,
    comment: row.comment,
  }),
  toValues: (input, { actor, existing, now }) => ({
    values: {
      matchers: input.matchers,
      startsAt: input.starts_at ?? now,
      endsAt: input.ends_at,
      recurrence: input.recurrence,
      comment: input.comment,
      createdBy: existing ? existing.createdBy : actor.adminId,
    },
  }),
  toOutput: (row, { now }) => toOutput(row, now),
  // The live alerts list shows which alerts are silenced: have it published again.
  afterWrite: (env) => publishAlerts(env),
});

export const silences = crudRoutes(silenceResource);

/** Active only while in effect: a recurring silence is pending between its windows. */
function statusAt(row: SilenceRow, now: number): "pending" | "active" | "expired" {
  if (now >= row.endsAt) return "expired";
  return activeAt(toCoreSilence(row), now) ? "active" : "pending";
}

const Preview = z
  .object({
    in_effect_now: z.boolean().openapi({ description: "Whether the silence would be in effect now" }),
    next_change: z.string().nullable().openapi({
      format: "date-time",
      description: "When it would next start or stop being in effect (null: never again)",
    }),
    alerts: z.array(AlertOut).openapi({ description: "The open alerts its matchers match, newest first" }),
  })
  .openapi("SilencePreview");

silences.openapi(
  createRoute({
    method: "post",
    path: "/silences/preview",
    tags: ["silences"],
    summary: "What a silence would match, before saving it",
    description:
      "Takes the body of a create and answers the firing and acknowledged alerts its matchers match (on the " +
      "same labels and pseudo-labels as the engine: alertname, rule_id, service, severity), whether it would " +
      "be in effect now, and when that next changes. The comment may be left out. Nothing is stored.",
    // A draft: the comment may still be missing (the form previews before the user says why).
    request: jsonBody(SilenceFields.extend({ comment: z.string().max(1000).optional() }).strict()),
    responses: { 200: jsonResponse(Preview, "The alerts it would match"), ...commonErrors },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const now = Date.now();
    checkWindow({ ...input, comment: input.comment ?? "" }, now, true);
    const silence = toCoreSilence({
      id: 0,
      matchers: input.matchers,
      startsAt: input.starts_at ?? now,
      endsAt: input.ends_at,
      recurrence: input.recurrence,
    });
    return c.json((await previewSilence(c.env, silence, now)) as z.infer<typeof Preview>, 200);
  },
);

silences.openapi(
  createRoute({
    method: "post",
    path: "/silences/{id}/expire",
    tags: ["silences"],
    summary: "Expire a silence early",
    description:
      "Ends the silence now (a silence that has not started yet ends before it starts); it stays listed as " +
      "expired. Expiring an expired silence changes nothing.",
    request: { params: IdParams },
    responses: { 200: jsonResponse(SilenceOut, "The expired silence"), ...commonErrors, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const db = getDb(c.env.DB);
    const [row] = await db.select().from(silenceTable).where(eq(silenceTable.id, id)).limit(1);
    if (!row) throw notFound(`Silence ${id}`);
    const now = Date.now();
    if (row.endsAt <= now) return c.json(toOutput(row, now) as z.infer<typeof SilenceOut>, 200);
    const [expired] = await withAudit(
      db,
      db
        .update(silenceTable)
        .set({ endsAt: now, startsAt: Math.min(row.startsAt, now), updatedAt: now })
        .where(eq(silenceTable.id, id))
        .returning(),
      auditActorOf(c.get("actor")),
      {
        action: "silence.expire",
        targetType: "silence",
        targetId: id,
        before: { starts_at: iso(row.startsAt), ends_at: iso(row.endsAt) },
        after: { starts_at: iso(Math.min(row.startsAt, now)), ends_at: iso(now) },
      },
      now,
    );
    await publishAlerts(c.env);
    return c.json(toOutput(expired ?? row, now) as z.infer<typeof SilenceOut>, 200);
  },
);

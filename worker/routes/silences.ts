/**
 * Silences: label matchers and a time window during which matching alerts
 * stay quiet. The author is the caller; status is derived from the clock.
 */
import { z } from "@hono/zod-openapi";
import { silences as silenceTable } from "../db/schema";
import { badRequest } from "../lib/errors";
import { Instant } from "./api";
import { crudRoutes } from "./crud";
import { iso, Timestamps } from "./fields";

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

const SilenceFields = z
  .object({
    matchers: z.array(Matcher).min(1, "a silence needs at least one matcher").max(20),
    starts_at: Instant.optional().openapi({ description: "Default: now" }),
    ends_at: Instant,
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

export const silences = crudRoutes({
  noun: "Silence",
  collection: "silences",
  table: silenceTable,
  fields: SilenceFields,
  output: SilenceOut,
  // The window is checked here, not in `refine`: the default start and "in the future" need the request's clock.
  async check(input, { now, existing }) {
    const startsAt = input.starts_at ?? now;
    if (input.ends_at <= startsAt) {
      throw badRequest([{ field: "ends_at", reason: "must be after starts_at" }], "Invalid silence.");
    }
    if (!existing && input.ends_at <= now) {
      throw badRequest([{ field: "ends_at", reason: "must be in the future" }], "Invalid silence.");
    }
  },
  toInput: (row: SilenceRow) => ({
    // `matchers` is written only after validation by Matcher.
    matchers: row.matchers as MatcherInput[],
    starts_at: row.startsAt,
    ends_at: row.endsAt,
    comment: row.comment,
  }),
  toValues: (input, { actor, existing, now }) => ({
    values: {
      matchers: input.matchers,
      startsAt: input.starts_at ?? now,
      endsAt: input.ends_at,
      comment: input.comment,
      createdBy: existing ? existing.createdBy : actor.adminId,
    },
  }),
  toOutput: (row, { now }) => ({
    id: row.id,
    matchers: row.matchers as MatcherInput[],
    starts_at: iso(row.startsAt),
    ends_at: iso(row.endsAt),
    comment: row.comment,
    status: statusAt(row, now),
    created_by: row.createdBy,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
  }),
});

function statusAt(row: SilenceRow, now: number): "pending" | "active" | "expired" {
  if (now < row.startsAt) return "pending";
  return now < row.endsAt ? "active" : "expired";
}

/**
 * Escalation policies: who is notified, on which channels, as an alert stays
 * unacknowledged. Names are unique; targeted admins must exist.
 */
import { z } from "@hono/zod-openapi";
import { and, eq, inArray, ne } from "drizzle-orm";
import { ROLE_RANK, type Role } from "../core/roles";
import { CHANNELS } from "../core/rules/types";
import { getDb } from "../db/client";
import { adminUsers, escalationPolicies as policyTable } from "../db/schema";
import { badRequest, conflict, type ErrorDetail } from "../lib/errors";
import { crudRoutes, defineResource } from "./crud";
import { Name, Timestamps } from "./fields";

const ROLES = Object.keys(ROLE_RANK) as [Role, ...Role[]];

const unique = <T>(xs: readonly T[]) => new Set(xs).size === xs.length;

const Step = z
  .object({
    after_minutes: z
      .number()
      .int()
      .min(0)
      .max(10_080)
      .openapi({ description: "Minutes after the alert fired when this step runs" }),
    channels: z
      .array(z.enum(CHANNELS))
      .min(1, "choose at least one channel")
      .refine(unique, "channels must not repeat"),
    targets: z
      .object({
        admin_ids: z.array(z.number().int().positive()).max(100).optional(),
        roles: z.array(z.enum(ROLES)).optional(),
      })
      .strict()
      .refine((t) => (t.admin_ids?.length ?? 0) + (t.roles?.length ?? 0) > 0, "name at least one admin id or role"),
  })
  .strict();

type StepInput = z.input<typeof Step>;

const PolicyFields = z
  .object({
    name: Name.openapi({ example: "Payments on-call" }),
    description: z.string().max(2000).default(""),
    steps: z.array(Step).min(1, "a policy needs at least one step").max(10),
    repeat_count: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(0)
      .openapi({ description: "How many times the steps run again after the last one" }),
    repeat_interval_minutes: z
      .number()
      .int()
      .min(1)
      .max(1440)
      .nullable()
      .default(null)
      .openapi({ description: "Reminders while the alert stays unacknowledged, every this many minutes (null: none)" }),
    ack_timeout_minutes: z.number().int().min(1).max(10_080).nullable().default(null).openapi({
      description: "An acknowledged alert still unresolved after this many minutes escalates again (null: never)",
    }),
  })
  .openapi("EscalationPolicyInput");

const PolicyOut = PolicyFields.extend({ id: z.number().int(), ...Timestamps }).openapi("EscalationPolicy");

type PolicyRow = typeof policyTable.$inferSelect;

export const policyResource = defineResource({
  noun: "Escalation policy",
  collection: "escalation-policies",
  table: policyTable,
  fields: PolicyFields,
  output: PolicyOut,
  refine: (input, issue) => {
    for (const [i, step] of input.steps.entries()) {
      const previous = input.steps[i - 1];
      if (previous && step.after_minutes < previous.after_minutes) {
        issue(`steps.${i}.after_minutes`, `must not be less than the previous step's (${previous.after_minutes})`);
      }
    }
  },
  async check(input, { env, existing }) {
    const db = getDb(env.DB);
    const [clash] = await db
      .select({ id: policyTable.id })
      .from(policyTable)
      .where(and(eq(policyTable.name, input.name), existing ? ne(policyTable.id, existing.id) : undefined))
      .limit(1);
    if (clash) {
      throw conflict(`An escalation policy named "${input.name}" exists.`, [
        { field: "name", reason: `already used by escalation policy ${clash.id}` },
      ]);
    }
    const wanted = [...new Set(input.steps.flatMap((s) => s.targets.admin_ids ?? []))];
    if (wanted.length === 0) return;
    const found = await db.select({ id: adminUsers.id }).from(adminUsers).where(inArray(adminUsers.id, wanted));
    const known = new Set(found.map((a) => a.id));
    const details: ErrorDetail[] = input.steps.flatMap((s, i) =>
      (s.targets.admin_ids ?? []).flatMap((id, j) =>
        known.has(id) ? [] : [{ field: `steps.${i}.targets.admin_ids.${j}`, reason: `no admin with id ${id}` }],
      ),
    );
    if (details.length) throw badRequest(details, "Invalid escalation policy.");
  },
  toInput: rowToInput,
  toValues: (input) => ({
    values: {
      name: input.name,
      description: input.description,
      steps: input.steps,
      repeatCount: input.repeat_count,
      repeatIntervalMinutes: input.repeat_interval_minutes,
      ackTimeoutMinutes: input.ack_timeout_minutes,
    },
  }),
});

export const escalationPolicies = crudRoutes(policyResource);

function rowToInput(row: PolicyRow) {
  return {
    name: row.name,
    description: row.description,
    // `steps` is written only after validation by Step.
    steps: row.steps as StepInput[],
    repeat_count: row.repeatCount,
    repeat_interval_minutes: row.repeatIntervalMinutes,
    ack_timeout_minutes: row.ackTimeoutMinutes,
  };
}

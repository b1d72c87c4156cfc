/**
 * The caller's own notification preferences: read (defaults until first saved)
 * and a partial update merged over the current values and validated whole.
 *
 * The Slack member id is an identity (signed Slack commands act as whoever holds it), so
 * it is not simply typed in: an admin links their own with a one-time code redeemed by
 * `/monitor link <code>` from that Slack account (POST /preferences/slack-link), may
 * clear it, and only an owner sets one directly. A member id is one admin's (409).
 */
import { auditActorOf, recordAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { toIso } from "../core/time";
import { SEVERITIES } from "../core/rules/types";
import { getDb } from "../db/client";
import {
  loadPreferences,
  type NotificationPreferences,
  savePreferences,
  type StoredPreferences,
} from "../db/preferences";
import { issueLinkCode, slackMemberHolder } from "../db/slack-link";
import { ApiError, asConflict, badRequest, conflict, type ErrorDetail } from "../lib/errors";
import { commonErrors, createApi, issuesToDetails, jsonBody, jsonResponse } from "./api";
import { Email, TimeZone } from "./fields";

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be "HH:MM" on a 24-hour clock');

const PreferenceFields = z
  .object({
    email: Email.nullable(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +886912345678")
      .nullable(),
    slack_member_id: z
      .string()
      .regex(/^[UW][A-Z0-9]{2,20}$/, "must be a Slack member id such as U024BE7LH")
      .nullable(),
    email_enabled: z.boolean(),
    sms_enabled: z.boolean(),
    slack_enabled: z.boolean(),
    severities: z
      .array(z.enum(SEVERITIES))
      .min(1, "choose at least one severity")
      .refine((xs) => new Set(xs).size === xs.length, "severities must not repeat"),
    quiet_hours_start: ClockTime.nullable().openapi({ example: "22:00" }),
    quiet_hours_end: ClockTime.nullable().openapi({ example: "07:00" }),
    timezone: TimeZone.openapi({ example: "Asia/Taipei" }),
    critical_bypasses_quiet_hours: z.boolean(),
  })
  .strict()
  .openapi("PreferencesInput");

type PreferencesInput = z.output<typeof PreferenceFields>;

/** Rules across fields: an enabled channel needs its address; quiet hours are a real range or absent. */
const WholePreferences = PreferenceFields.superRefine((p, ctx) => {
  const issue = (field: keyof PreferencesInput, message: string) =>
    ctx.addIssue({ code: "custom", path: [field], message });
  if (p.email_enabled && p.email === null) issue("email", "required when email_enabled is true");
  if (p.sms_enabled && p.phone === null) issue("phone", "required when sms_enabled is true");
  if (p.slack_enabled && p.slack_member_id === null) issue("slack_member_id", "required when slack_enabled is true");
  const { quiet_hours_start: start, quiet_hours_end: end } = p;
  if (start === null && end !== null) issue("quiet_hours_start", "required when quiet_hours_end is set");
  if (start !== null && end === null) issue("quiet_hours_end", "required when quiet_hours_start is set");
  if (start !== null && start === end) issue("quiet_hours_end", "must differ from quiet_hours_start");
});

const PreferencesOut = z
  .object({
    admin_id: z.number().int(),
    email: z.string().nullable(),
    phone: z.string().nullable(),
    slack_member_id: z.string().nullable(),
    email_enabled: z.boolean(),
    sms_enabled: z.boolean(),
    slack_enabled: z.boolean(),
    severities: z.array(z.enum(SEVERITIES)),
    quiet_hours_start: z.string().nullable(),
    quiet_hours_end: z.string().nullable(),
    timezone: z.string(),
    critical_bypasses_quiet_hours: z.boolean(),
    updated_at: z.string().nullable().openapi({ description: "Null until first saved (the values are defaults)" }),
  })
  .openapi("Preferences");

/** Validation issues as details; an unknown key becomes a detail naming it. */
const toDetails = (issues: readonly z.core.$ZodIssue[]): ErrorDetail[] =>
  issues.flatMap((i) =>
    i.code === "unrecognized_keys" ? i.keys.map((field) => ({ field, reason: "unknown field" })) : issuesToDetails([i]),
  );

const toWire = (p: NotificationPreferences): PreferencesInput => ({
  email: p.email,
  phone: p.phone,
  slack_member_id: p.slackMemberId,
  email_enabled: p.emailEnabled,
  sms_enabled: p.smsEnabled,
  slack_enabled: p.slackEnabled,
  severities: p.severities,
  quiet_hours_start: p.quietHoursStart,
  quiet_hours_end: p.quietHoursEnd,
  timezone: p.timezone,
  critical_bypasses_quiet_hours: p.criticalBypassesQuietHours,
});

const fromWire = (p: PreferencesInput): NotificationPreferences => ({
  email: p.email,
  phone: p.phone,
  slackMemberId: p.slack_member_id,
  emailEnabled: p.email_enabled,
  smsEnabled: p.sms_enabled,
  slackEnabled: p.slack_enabled,
  severities: p.severities,
  quietHoursStart: p.quiet_hours_start,
  quietHoursEnd: p.quiet_hours_end,
  timezone: p.timezone,
  criticalBypassesQuietHours: p.critical_bypasses_quiet_hours,
});

/** A non-owner typing a Slack member id: it must be proven with a link code instead. */
const linkRequired = () =>
  new ApiError(403, "Link your Slack account with a code instead of typing its member id.", {
    code: "link_required",
    details: [
      {
        field: "slack_member_id",
        reason: "create a link code (POST /preferences/slack-link) and send `/monitor link <code>` from Slack",
      },
    ],
  });

export const memberTaken = () =>
  conflict("That Slack member id is linked to another admin.", [
    { field: "slack_member_id", reason: "linked to another admin" },
  ]);

const isMemberConflict = (err: unknown) => {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (/slack_member_id/.test(e.message)) return true;
  return false;
};

const render = (adminId: number, { preferences, updatedAt }: StoredPreferences) => ({
  admin_id: adminId,
  ...toWire(preferences),
  updated_at: toIso(updatedAt),
});

export const preferences = createApi();

preferences.openapi(
  createRoute({
    method: "get",
    path: "/preferences",
    tags: ["preferences"],
    summary: "The caller's notification preferences (defaults until saved)",
    responses: { 200: jsonResponse(PreferencesOut, "The preferences"), ...commonErrors },
  }),
  async (c) => {
    const actor = c.get("actor");
    return c.json(render(actor.adminId, await loadPreferences(getDb(c.env.DB), actor)), 200);
  },
);

preferences.openapi(
  createRoute({
    method: "put",
    path: "/preferences",
    tags: ["preferences"],
    summary: "Update the caller's notification preferences (fields not sent keep their values); any role",
    request: jsonBody(PreferenceFields.partial()),
    responses: { 200: jsonResponse(PreferencesOut, "The saved preferences"), ...commonErrors },
  }),
  async (c) => {
    const actor = c.get("actor");
    const db = getDb(c.env.DB);
    const current = await loadPreferences(db, actor);
    const parsed = WholePreferences.safeParse({ ...toWire(current.preferences), ...c.req.valid("json") });
    if (!parsed.success) throw badRequest(toDetails(parsed.error.issues), "Invalid preferences.");
    const member = parsed.data.slack_member_id;
    if (member !== null && member !== current.preferences.slackMemberId) {
      if (actor.role !== "owner") throw linkRequired();
      if ((await slackMemberHolder(c.env.DB, member, actor.adminId)) !== null) throw memberTaken();
    }
    const now = Date.now();
    const saved = await savePreferences(db, actor.adminId, fromWire(parsed.data), now).catch((err: unknown) =>
      Promise.reject(isMemberConflict(err) ? memberTaken() : asConflict(err)),
    );
    await recordAudit(
      c.env.DB,
      auditActorOf(actor),
      {
        action: "preferences.update",
        targetType: "preferences",
        targetId: actor.adminId,
        before: toWire(current.preferences),
        after: parsed.data,
      },
      now,
    );
    return c.json(render(actor.adminId, saved), 200);
  },
  (result) => {
    if (!result.success) throw badRequest(toDetails(result.error.issues), "Invalid preferences.");
    return undefined;
  },
);

const LinkCodeOut = z
  .object({
    code: z.string().openapi({ example: "ABCDE-FGH23" }),
    command: z.string().openapi({ example: "/monitor link ABCDE-FGH23" }),
    expires_at: z.string(),
  })
  .openapi("SlackLinkCode");

preferences.openapi(
  createRoute({
    method: "post",
    path: "/preferences/slack-link",
    tags: ["preferences"],
    summary:
      "A one-time code (10 minutes) that links the Slack account which sends `/monitor link <code>` to the caller; any role",
    responses: { 201: jsonResponse(LinkCodeOut, "The code, shown once"), ...commonErrors },
  }),
  async (c) => {
    const { code, expiresAt } = await issueLinkCode(c.env.DB, c.get("actor").adminId, Date.now());
    return c.json({ code, command: `/monitor link ${code}`, expires_at: toIso(expiresAt) ?? "" }, 201);
  },
);

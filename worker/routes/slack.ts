/**
 * Slack: the `/monitor` slash command (`POST /slack/commands`) and alert message
 * buttons (`POST /slack/interactions`). Public routes: every request must carry
 * Slack's v0 signature over the raw body under SLACK_SIGNING_SECRET, at most five
 * minutes old. The Slack user acts as the admin whose notification preferences hold
 * that Slack member id or, when none does and a bot token is set, the admin with the
 * member's Slack email (Slack's users.info); viewers may only read the status. Answers
 * are ephemeral messages, sent within Slack's three seconds ("Working on it…" and the
 * real answer later through the request's response_url when the work takes longer); a
 * refused or failed action is an answer too (HTTP 200). A button that acknowledges or
 * resolves also rewrites the alert message in place.
 */
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Role, roleAllows } from "../core/roles";
import { HELP_TEXT, LINK_USAGE, parseCommand, type SlackCommand } from "../core/slack/commands";
import * as escape from "../core/notify/escape";
import { SLACK_BASE } from "../core/notify/slack";
import {
  alertMessageUpdate,
  ephemeral as ephemeralMessage,
  type OpenAlert,
  STATUS_LIMIT,
  statusText,
} from "../core/slack/messages";
import type { AppEnv } from "../env";
import { alertSeries, countOpenAlerts, getAlertForMessage, openAlertRows } from "../db/alerts";
import { insertSilence } from "../db/silences";
import { redeemLinkCode, setSlackMember } from "../db/slack-link";
import { actOnAlert, snapshotOf } from "../lib/alerts";
import { type AuditActor, recordAudit } from "../lib/audit";
import { ApiError } from "../lib/errors";
import {
  ANSWER_BUDGET_MS,
  answerInTime,
  postToResponseUrl,
  responseUrlOf,
  slackMemberEmail,
  verifySlackRequest,
} from "../lib/slack";
import { createApi } from "./api";

/** Slack's payloads are small; an interaction carries the message's blocks too. */
export const SLACK_BODY_LIMIT = 64 * 1024;
const HOUR_MS = 3_600_000;

const ephemeral = (c: Context<AppEnv>, text: string) => c.json(ephemeralMessage(text), 200);

/** The raw body, once its signature is checked: 503 unconfigured, 401 unsigned, wrongly signed or stale. */
async function verifiedBody(c: Context<AppEnv>): Promise<string> {
  const secret = c.env.SLACK_SIGNING_SECRET;
  if (!secret) {
    throw new ApiError(503, "Slack is not configured: set the SLACK_SIGNING_SECRET secret.", {
      code: "not_configured",
    });
  }
  // Decoded by hand: the signature covers these exact bytes (and workerd warns on text() of a form).
  const raw = new TextDecoder().decode(await c.req.arrayBuffer());
  const ok = await verifySlackRequest(
    secret,
    c.req.header("x-slack-request-timestamp"),
    c.req.header("x-slack-signature"),
    raw,
    Date.now(),
  );
  if (!ok) throw new ApiError(401, "The Slack signature is missing, wrong or too old.");
  return raw;
}

interface SlackAdmin {
  id: number;
  role: Role;
  /** The Slack member id that acts: the audit trail names it ("slack:U123"). */
  memberId: string;
}

/** The one row of `rows`; null for none, or more than one (ambiguous). */
const single = <T>(rows: T[]): T | null => (rows.length === 1 ? (rows[0] ?? null) : null);

/**
 * The admin who linked this Slack member id; when nobody did and a bot token is set, the
 * admin whose email is the member's Slack email (case-insensitive). Null when neither
 * finds exactly one admin.
 */
async function adminForSlackUser(env: Env, memberId: string): Promise<SlackAdmin | null> {
  const found = await lookupSlackUser(env, memberId);
  return found && { ...found, memberId };
}

async function lookupSlackUser(env: Env, memberId: string): Promise<Omit<SlackAdmin, "memberId"> | null> {
  if (!memberId) return null;
  const linked = await env.DB.prepare(
    `SELECT u.id, u.role FROM admin_notification_preferences p JOIN admin_users u ON u.id = p.admin_id
     WHERE p.slack_member_id = ? ORDER BY u.id LIMIT 2`,
  )
    .bind(memberId)
    .all<Omit<SlackAdmin, "memberId">>();
  // Two admins claiming one member id stay ambiguous: their email does not decide.
  if (linked.results.length || !env.SLACK_BOT_TOKEN) return single(linked.results);
  const email = await slackMemberEmail(env.SLACK_API_BASE_URL ?? SLACK_BASE, env.SLACK_BOT_TOKEN, memberId);
  if (!email) return null;
  const byEmail = await env.DB.prepare(
    "SELECT id, role FROM admin_users WHERE lower(email) = lower(?) ORDER BY id LIMIT 2",
  )
    .bind(email)
    .all<Omit<SlackAdmin, "memberId">>();
  return single(byEmail.results);
}

const UNLINKED =
  "Your Slack account is not linked to an Edge Monitor admin. Create a link code in your dashboard preferences and send `/monitor link <code>` from here.";
const VIEWER_ONLY = "Viewers can only use `/monitor status` and `/monitor help`.";

/** Runs an action for the admin; a refused action (unknown or resolved alert) becomes its message. */
async function attempt(action: () => Promise<string>): Promise<string> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ApiError && err.status < 500) return err.message;
    throw err;
  }
}

/** The Slack user as the audit trail's actor. */
const slackActor = (admin: SlackAdmin): AuditActor => ({
  adminId: admin.id,
  label: `slack:${admin.memberId}`,
  via: "slack",
});

const acknowledge = async (env: Env, admin: SlackAdmin, alertId: number) => {
  const { before } = await actOnAlert(env, alertId, "acknowledge", `admin:${admin.id}`, "via Slack");
  await recordAudit(env.DB, slackActor(admin), {
    action: "alert.acknowledge",
    targetType: "alert",
    targetId: alertId,
    before: { status: before },
    after: { status: "acknowledged" },
  });
  return `Alert #${alertId} acknowledged.`;
};

const resolve = async (env: Env, admin: SlackAdmin, alertId: number, note: string | null) => {
  const { before } = await actOnAlert(
    env,
    alertId,
    "resolve",
    `admin:${admin.id}`,
    note ? `${note} (via Slack)` : "via Slack",
  );
  await recordAudit(env.DB, slackActor(admin), {
    action: "alert.resolve",
    targetType: "alert",
    targetId: alertId,
    before: { status: before },
    after: { status: "resolved" },
    note,
  });
  return `Alert #${alertId} resolved.`;
};

/** Silences every alert of the rule from now for `durationMs`. */
async function silenceRule(env: Env, admin: SlackAdmin, ruleId: number, durationMs: number, label: string) {
  const rule = await env.DB.prepare("SELECT rule_name FROM alert_rules WHERE id = ?")
    .bind(ruleId)
    .first<{ rule_name: string }>();
  if (!rule) return `Rule ${ruleId} not found.`;
  const now = Date.now();
  const silence = {
    matchers: [{ name: "rule_id", value: String(ruleId), is_regex: false, is_equal: true }],
    startsAt: now,
    endsAt: now + durationMs,
    createdBy: admin.id,
    comment: `Silenced for ${label} via Slack`,
  };
  const id = await insertSilence(env, silence);
  await recordAudit(
    env.DB,
    slackActor(admin),
    { action: "silence.create", targetType: "silence", targetId: id ?? null, after: silence },
    now,
  );
  return `Rule "${escape.slack(escape.oneLine(rule.rule_name))}" (${ruleId}) silenced for ${label} (silence ${id ?? "?"}, until ${new Date(now + durationMs).toISOString()}).`;
}

async function status(env: Env): Promise<string> {
  const count = await countOpenAlerts(env);
  const rows = await openAlertRows(env, STATUS_LIMIT);
  const alerts: OpenAlert[] = rows.map((r) => ({
    id: r.id,
    ruleName: r.rule_name,
    service: r.service,
    status: r.status,
    triggeredAt: r.triggered_at,
  }));
  return statusText(count, alerts);
}

/**
 * `/monitor link <code>`: the Slack member who sent the signed command becomes the
 * Slack account of the admin who created the code. Works for unlinked members too (that
 * is its point); a code works once and only before it expires.
 */
async function linkAccount(env: Env, memberId: string, code: string | null): Promise<string> {
  if (code === null) return LINK_USAGE;
  if (!memberId) return "Slack did not say who sent this command.";
  const now = Date.now();
  const adminId = await redeemLinkCode(env.DB, code, now);
  if (adminId === null)
    return "That link code is wrong, used or expired. Create a new one in your dashboard preferences.";
  const outcome = await setSlackMember(env.DB, adminId, memberId, now);
  if (outcome === "ok")
    await recordAudit(
      env.DB,
      { adminId, label: `slack:${memberId}`, via: "slack" },
      { action: "slack_identity.link", targetType: "admin", targetId: adminId, after: { slack_member_id: memberId } },
      now,
    );
  switch (outcome) {
    case "ok":
      return "This Slack account is now linked to your Edge Monitor admin.";
    case "taken":
      return "This Slack account is already linked to another Edge Monitor admin; unlink it there (or ask an owner) first.";
    case "no_admin":
      return "The admin this code was created for no longer exists.";
  }
}

async function runCommand(env: Env, admin: SlackAdmin, command: SlackCommand): Promise<string> {
  switch (command.kind) {
    case "help":
      return HELP_TEXT;
    case "error":
      return command.message;
    case "status":
      return status(env);
    default:
      break;
  }
  if (!roleAllows(admin.role, "admin")) return VIEWER_ONLY;
  switch (command.kind) {
    case "ack":
      return attempt(() => acknowledge(env, admin, command.alertId));
    case "resolve":
      return attempt(() => resolve(env, admin, command.alertId, command.note));
    case "silence":
      return silenceRule(env, admin, command.ruleId, command.durationMs, command.duration);
    case "link":
      // Answered before the admin is looked up (see the command route); never reached.
      return "Already handled.";
  }
}

/** The part of a `block_actions` payload the buttons use. */
interface BlockActions {
  type?: unknown;
  user?: { id?: unknown };
  actions?: { action_id?: unknown; value?: unknown }[];
  response_url?: unknown;
}

/**
 * Rewrites the pressed alert message to show the alert as it now stands. Awaited by the
 * button's work, so it shares the answer budget rather than racing the confirmation.
 */
async function replaceAlertMessage(
  env: Env,
  alertId: number,
  event: "acknowledged" | "resolved",
  responseUrl: string | null,
): Promise<void> {
  if (!responseUrl) return;
  const row = await getAlertForMessage(env, alertId);
  if (!row) return;
  // People read the message: the admin's name (or email) rather than "admin:<id>".
  const by = row.ack_name || row.ack_email || null;
  await postToResponseUrl(
    responseUrl,
    alertMessageUpdate(snapshotOf(row, row.rule_name ?? "(deleted rule)", by), event),
  );
}

async function pressButton(env: Env, payload: BlockActions, responseUrl: string | null): Promise<string> {
  const userId = typeof payload.user?.id === "string" ? payload.user.id : "";
  const admin = await adminForSlackUser(env, userId);
  if (!admin) return UNLINKED;
  if (!roleAllows(admin.role, "admin")) return "Viewers cannot act on alerts.";
  const action = payload.actions?.[0];
  const alertId = typeof action?.value === "string" && /^\d{1,15}$/.test(action.value) ? Number(action.value) : 0;
  if (!alertId) return "The button carries no alert id.";
  switch (action?.action_id) {
    case "ack":
      return attempt(async () => {
        const text = await acknowledge(env, admin, alertId);
        await replaceAlertMessage(env, alertId, "acknowledged", responseUrl);
        return text;
      });
    case "resolve":
      return attempt(async () => {
        const text = await resolve(env, admin, alertId, null);
        await replaceAlertMessage(env, alertId, "resolved", responseUrl);
        return text;
      });
    case "silence_1h": {
      const alert = await alertSeries(env, alertId);
      if (!alert) return `Alert ${alertId} not found.`;
      return silenceRule(env, admin, alert.alert_rule_id, HOUR_MS, "1h");
    }
    default:
      return "Unknown button.";
  }
}

export interface SlackRouteOptions {
  /** How long the work may take before "Working on it…" is answered (tests use a small one). */
  budgetMs?: number;
}

/** The /slack sub-app. */
export function slackRoutes({ budgetMs = ANSWER_BUDGET_MS }: SlackRouteOptions = {}) {
  const app = createApi();

  app.use(
    "*",
    bodyLimit({
      maxSize: SLACK_BODY_LIMIT,
      onError: () => {
        throw new ApiError(413, `The body is larger than ${SLACK_BODY_LIMIT} bytes.`);
      },
    }),
  );

  /** Answers with the work's text, or with "Working on it…" and the text later via response_url. */
  const answer = async (c: Context<AppEnv>, responseUrl: string | null, work: () => Promise<string>) =>
    ephemeral(c, await answerInTime(work(), budgetMs, responseUrl, (p) => c.executionCtx.waitUntil(p)));

  app.post("/commands", async (c) => {
    const form = new URLSearchParams(await verifiedBody(c));
    return answer(c, responseUrlOf(form.get("response_url")), async () => {
      const command = parseCommand(form.get("text") ?? "");
      // Linking proves the account; the sender need not be linked yet.
      if (command.kind === "link") return linkAccount(c.env, form.get("user_id") ?? "", command.code);
      const admin = await adminForSlackUser(c.env, form.get("user_id") ?? "");
      if (!admin) return UNLINKED;
      return runCommand(c.env, admin, command);
    });
  });

  app.post("/interactions", async (c) => {
    const form = new URLSearchParams(await verifiedBody(c));
    let payload: BlockActions;
    try {
      payload = JSON.parse(form.get("payload") ?? "") as BlockActions;
    } catch {
      throw new ApiError(400, "The payload field is not JSON.");
    }
    if (payload?.type !== "block_actions") return ephemeral(c, "This interaction is not supported.");
    const responseUrl = responseUrlOf(payload.response_url);
    return answer(c, responseUrl, () => pressButton(c.env, payload, responseUrl));
  });

  return app;
}

export const slack = slackRoutes();

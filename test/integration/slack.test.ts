/**
 * The Slack integration through the real Worker: signed `/monitor` commands and
 * button interactions act on real alerts as the admin who linked the Slack member
 * id, or whose email Slack's users.info gives; unsigned, tampered, stale and unknown
 * users change nothing. Slow work is answered "Working on it…" and finished through
 * the response_url, and buttons rewrite the alert message there; the provider sink
 * stands in for Slack (response_url and Web API).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { beforeAll, describe, expect, inject, it, vi } from "vitest";
import { FAILED_TEXT, WORKING_TEXT } from "../../worker/core/slack/messages";
import worker from "../../worker/index";
import { answerInTime } from "../../worker/lib/slack";
import { recordSamples } from "../../worker/lib/series";
import { slackRoutes } from "../../worker/routes/slack";
import type { SinkMode, SinkRecord } from "../setup/provider-sink";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
// As set in vitest.config.ts.
const SECRET = "test-signing-secret";

let admin: TestAdmin;
let viewer: TestAdmin;
let counter = 0;
const fresh = (name: string) => `${name}_${Date.now().toString(36)}_${++counter}`;
const ADMIN_MEMBER = `UADMIN${Date.now().toString(36).toUpperCase()}`;
const VIEWER_MEMBER = `UVIEW${Date.now().toString(36).toUpperCase()}`;

async function link(adminId: number, memberId: string) {
  await env.DB.prepare("INSERT INTO admin_notification_preferences (admin_id, slack_member_id) VALUES (?, ?)")
    .bind(adminId, memberId)
    .run();
}

beforeAll(async () => {
  admin = await createAdmin("admin");
  viewer = await createAdmin("viewer");
  await link(admin.id, ADMIN_MEMBER);
  await link(viewer.id, VIEWER_MEMBER);
});

/** Slack's v0 signature, computed here independently of the Worker's code. */
async function sign(secret: string, timestamp: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(`v0:${timestamp}:${body}`));
  return `v0=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const sink = () => `http://127.0.0.1:${inject("sinkPort")}`;

/** A fresh response_url on the sink: its records are those whose path is this URL's. */
const responseUrl = () => `${sink()}/sink/slack-response/${fresh("hook")}`;

/** What the sink received at `url` (a response_url), as parsed JSON bodies. */
async function postedTo(url: string): Promise<Record<string, unknown>[]> {
  const records = (await (await fetch(`${sink()}/__sink/slack-response`)).json()) as SinkRecord[];
  const path = new URL(url).pathname;
  return records.filter((r) => r.path === path).map((r) => JSON.parse(r.body) as Record<string, unknown>);
}

async function sinkMode(name: string, mode: SinkMode) {
  await fetch(`${sink()}/__sink/${name}/mode`, { method: "POST", body: JSON.stringify(mode) });
}

interface SendOptions {
  secret?: string;
  ageSeconds?: number;
  /** Changes the body after signing. */
  tamper?: (body: string) => string;
  /** Bindings over the test ones; the request then goes to the Worker with them, its waitUntil work awaited. */
  env?: Partial<Env>;
  /** Serves the request from /slack routes with this answer budget (and `env`), its waitUntil work awaited. */
  budgetMs?: number;
  responseUrl?: string;
}

async function send(path: string, fields: Record<string, string>, opts: SendOptions = {}) {
  const body = new URLSearchParams(fields).toString();
  const timestamp = String(Math.floor(Date.now() / 1000) - (opts.ageSeconds ?? 0));
  const signature = await sign(opts.secret ?? SECRET, timestamp, body);
  const init = {
    method: "POST",
    body: opts.tamper ? opts.tamper(body) : body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
    },
  };
  let res: Response;
  if (opts.env || opts.budgetMs !== undefined) {
    const app =
      opts.budgetMs === undefined ? worker : new Hono().route("/slack", slackRoutes({ budgetMs: opts.budgetMs }));
    const ctx = createExecutionContext();
    res = await app.fetch(new Request(`http://localhost/slack/${path}`, init), { ...env, ...opts.env }, ctx);
    await waitOnExecutionContext(ctx);
  } else {
    res = await call("POST", `/slack/${path}`, { body: init.body, headers: init.headers });
  }
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { response_type?: string; text?: string; error?: string } };
}

const command = (userId: string, text: string, opts: SendOptions = {}) =>
  send(
    "commands",
    {
      token: "legacy-token",
      team_id: "T0TEST",
      user_id: userId,
      user_name: "someone",
      command: "/monitor",
      text,
      response_url: opts.responseUrl ?? responseUrl(),
    },
    opts,
  );

const press = (userId: string, actionId: string, alertId: number, opts: SendOptions = {}) =>
  send(
    "interactions",
    {
      payload: JSON.stringify({
        type: "block_actions",
        user: { id: userId },
        actions: [{ action_id: actionId, value: String(alertId) }],
        response_url: opts.responseUrl ?? responseUrl(),
        message: { ts: "1700000000.000100" },
        channel: { id: "C0TEST" },
      }),
    },
    opts,
  );

const alertRow = (id: number) =>
  env.DB.prepare("SELECT status, acknowledged_by, resolution_notes FROM alert_history WHERE id = ?")
    .bind(id)
    .first<{ status: string; acknowledged_by: number | null; resolution_notes: string | null }>();

/** A rule with one firing alert, notifying on `channels`. */
/**
 * An open alert of a new rule (queue depth > 10, resolved after an hour clear). With
 * `cleared`, a sample below the threshold follows: the alert stays open (resolving) but its
 * series no longer breaches, so a manual resolve is accepted.
 */
async function firingAlert(
  channels: string[] = ["email"],
  { cleared = false }: { cleared?: boolean } = {},
): Promise<{ ruleId: number; alertId: number }> {
  const metric = fresh("queue_depth");
  const rule = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
    token: admin.token,
    body: {
      rule_name: fresh("Queue depth"),
      metric_name: metric,
      service: "worker",
      threshold_value: 10,
      severity: "critical",
      notification_channels: channels,
      comparison_operator: ">",
      resolve_for_seconds: 3600,
    },
  });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  const ts = Date.now();
  await recordSamples(env, [{ metric, service: "worker", labels: {}, value: 50, ts }], ts, "push");
  const row = await vi.waitUntil(
    () =>
      env.DB.prepare("SELECT id FROM alert_history WHERE alert_rule_id = ?").bind(rule.body.id).first<{ id: number }>(),
    { timeout: 5000, interval: 20 },
  );
  if (cleared) {
    await recordSamples(env, [{ metric, service: "worker", labels: {}, value: 2, ts: ts + 1 }], ts + 1, "push");
    const ruleObject = env.ALERT_RULE.getByName(String(rule.body.id));
    await vi.waitUntil(async () => (await ruleObject.fingerprints())[0]?.state.condition === "cleared", {
      timeout: 5000,
      interval: 20,
    });
  }
  return { ruleId: rule.body.id, alertId: row.id };
}

const silencesOf = async (ruleId: number) =>
  (
    await env.DB.prepare("SELECT id, matchers, starts_at, ends_at, created_by FROM silences WHERE matchers LIKE ?")
      .bind(`%"rule_id","value":"${ruleId}"%`)
      .all<{ id: number; matchers: string; starts_at: number; ends_at: number; created_by: number }>()
  ).results;

describe("/monitor ack", () => {
  it("acknowledges the alert as the linked admin", async () => {
    const { alertId } = await firingAlert(["email"], { cleared: true });
    const res = await command(ADMIN_MEMBER, `ack ${alertId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: admin.id });
    const event = await env.DB.prepare(
      "SELECT actor, note FROM alert_events WHERE alert_id = ? AND type = 'acknowledged'",
    )
      .bind(alertId)
      .first<{ actor: string; note: string }>();
    expect(event).toEqual({ actor: `admin:${admin.id}`, note: "via Slack" });

    // Acknowledging again is fine; resolving then resolving again says it is already resolved.
    expect((await command(ADMIN_MEMBER, `resolve ${alertId} disk cleaned`)).body.text).toBe(
      `Alert #${alertId} resolved.`,
    );
    expect(await alertRow(alertId)).toMatchObject({ status: "resolved" });
    expect((await command(ADMIN_MEMBER, `resolve ${alertId}`)).body.text).toBe(`Alert ${alertId} is already resolved.`);
  });

  it("answers an unknown alert with its message", async () => {
    const res = await command(ADMIN_MEMBER, "ack 99999999");
    expect(res.status).toBe(200);
    expect(res.body.text).toBe("Alert 99999999 not found.");
  });

  it.each<[string, SendOptions]>([
    ["a tampered body", { tamper: (b) => b.replace("team_id=T0TEST", "team_id=T0EVIL") }],
    ["a wrong secret", { secret: "not-the-secret" }],
    ["a timestamp 6 minutes old", { ageSeconds: 6 * 60 }],
  ])("refuses %s with 401 and changes nothing", async (_, opts) => {
    const { alertId } = await firingAlert();
    const res = await command(ADMIN_MEMBER, `ack ${alertId}`, opts);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("unauthorized");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
  });

  it("refuses a request without a signature", async () => {
    const res = await call("POST", "/slack/commands", {
      body: "user_id=U1&text=status",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status).toBe(401);
  });

  it("answers 503 while no signing secret is configured", async () => {
    const req = new Request("http://localhost/slack/commands", {
      method: "POST",
      body: "user_id=U1&text=status",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    const res = await worker.fetch(req, { ...env, SLACK_SIGNING_SECRET: "" }, createExecutionContext());
    expect(res.status).toBe(503);
    expect(((await res.json()) as { message: string }).message).toContain("SLACK_SIGNING_SECRET");
  });

  it("refuses an unlinked Slack user and changes nothing", async () => {
    const { alertId } = await firingAlert();
    const res = await command("UNOBODY", `ack ${alertId}`);
    expect(res.status).toBe(200);
    expect(res.body.response_type).toBe("ephemeral");
    expect(res.body.text).toContain("not linked");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
  });

  it("lets a viewer read the status but not acknowledge", async () => {
    const { alertId } = await firingAlert();
    expect((await command(VIEWER_MEMBER, `ack ${alertId}`)).body.text).toContain("Viewers can only use");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
    expect((await press(VIEWER_MEMBER, "ack", alertId)).body.text).toContain("Viewers cannot");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
    expect((await command(VIEWER_MEMBER, "status")).body.text).toContain(`#${alertId} `);
  });
});

describe("the alert's Slack message", () => {
  /** Slack bot requests the sink received for this alert, by Web API method. */
  async function botCalls(alertId: number) {
    const records = (await (await fetch(`${sink()}/__sink/slack-bot`)).json()) as SinkRecord[];
    return records
      .filter((r) => r.body.includes(`(#${alertId})`))
      .map((r) => ({ method: r.path.split("/").pop(), body: JSON.parse(r.body) as Record<string, unknown> }));
  }

  it("is posted when the alert fires and updated in place by /monitor ack", async () => {
    await env.DB.prepare("UPDATE admin_notification_preferences SET slack_enabled = 1 WHERE admin_id = ?")
      .bind(admin.id)
      .run();
    const { alertId } = await firingAlert(["slack"]);
    const [posted] = await vi.waitUntil(
      async () => {
        const calls = await botCalls(alertId);
        return calls.length ? calls : null;
      },
      { timeout: 5000, interval: 20 },
    );
    expect(posted?.method).toBe("chat.postMessage");
    expect(posted?.body.channel).toBe(ADMIN_MEMBER);
    const row = await env.DB.prepare(
      "SELECT provider_message_id FROM notification_deliveries WHERE alert_id = ? AND event = 'firing' AND status = 'sent'",
    )
      .bind(alertId)
      .first<{ provider_message_id: string }>();
    const [channel, ts] = (row?.provider_message_id ?? "").split("/");

    expect((await command(ADMIN_MEMBER, `ack ${alertId}`)).body.text).toBe(`Alert #${alertId} acknowledged.`);
    const update = await vi.waitUntil(async () => (await botCalls(alertId)).find((c) => c.method === "chat.update"), {
      timeout: 5000,
      interval: 20,
    });
    expect(update.body).toMatchObject({ channel, ts });
    const blocks = JSON.stringify(update.body.blocks);
    expect(blocks).toContain("ACKNOWLEDGED");
    expect(blocks).toContain("Acknowledged by");
    expect(blocks).not.toContain('"action_id":"ack"');
    // Updated, not posted again.
    expect((await botCalls(alertId)).filter((c) => c.method === "chat.postMessage")).toHaveLength(1);
  });
});

describe("/monitor silence and status", () => {
  it("silences the rule for the duration, created by the admin", async () => {
    const { ruleId } = await firingAlert();
    const before = Date.now();
    const res = await command(ADMIN_MEMBER, `silence ${ruleId} 2h30m`);
    expect(res.body.text).toContain(`silenced for 2h30m`);
    const rows = await silencesOf(ruleId);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(JSON.parse(row?.matchers ?? "")).toEqual([
      { name: "rule_id", value: String(ruleId), is_regex: false, is_equal: true },
    ]);
    expect(row?.created_by).toBe(admin.id);
    expect(row?.starts_at).toBeGreaterThanOrEqual(before);
    expect((row?.ends_at ?? 0) - (row?.starts_at ?? 0)).toBe(2.5 * 3_600_000);
    // The admin API reads it as an active silence.
    const one = await callJson<{ status: string; comment: string }>("GET", `${BASE}/silences/${row?.id}`, {
      token: admin.token,
    });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ status: "active", comment: "Silenced for 2h30m via Slack" });
  });

  it("refuses a silence longer than 7 days or of an unknown rule", async () => {
    const { ruleId } = await firingAlert();
    expect((await command(ADMIN_MEMBER, `silence ${ruleId} 8d`)).body.text).toContain("at most 7 days");
    expect((await command(ADMIN_MEMBER, "silence 99999999 1h")).body.text).toBe("Rule 99999999 not found.");
    expect(await silencesOf(ruleId)).toHaveLength(0);
  });

  it("lists open alerts, newest first", async () => {
    const { alertId } = await firingAlert();
    const res = await command(ADMIN_MEMBER, "status");
    const lines = (res.body.text ?? "").split("\n");
    expect(lines[0]).toMatch(/^\d+ open alerts?:$/);
    expect(lines[1]).toMatch(new RegExp(`^• #${alertId} Queue depth_\\S+ · worker · firing since \\d{4}-`));
  });

  it("explains a malformed command", async () => {
    expect((await command(ADMIN_MEMBER, "reboot")).body.text).toContain('Unknown command "reboot"');
  });
});

describe("buttons", () => {
  it("acknowledge, resolve and silence an alert", async () => {
    const { ruleId, alertId } = await firingAlert(["email"], { cleared: true });
    const ack = await press(ADMIN_MEMBER, "ack", alertId);
    expect(ack).toEqual({ status: 200, body: { response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` } });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: admin.id });

    expect((await press(ADMIN_MEMBER, "silence_1h", alertId)).body.text).toContain("silenced for 1h");
    const [silence] = await silencesOf(ruleId);
    expect((silence?.ends_at ?? 0) - (silence?.starts_at ?? 0)).toBe(3_600_000);

    expect((await press(ADMIN_MEMBER, "resolve", alertId)).body.text).toBe(`Alert #${alertId} resolved.`);
    expect(await alertRow(alertId)).toMatchObject({ status: "resolved", resolution_notes: "via Slack" });
  });

  it("refuses to resolve a still-breaching alert, from the command and the button, and leaves the message", async () => {
    const { alertId } = await firingAlert();
    const refusal = new RegExp(
      `^Alert ${alertId} is still breaching \\(current value 50\\): acknowledge or silence it instead, or resolve with force: true\\.$`,
    );
    expect((await command(ADMIN_MEMBER, `resolve ${alertId} done`)).body.text).toMatch(refusal);
    const url = responseUrl();
    expect((await press(ADMIN_MEMBER, "resolve", alertId, { responseUrl: url })).body.text).toMatch(refusal);
    expect(await alertRow(alertId)).toMatchObject({ status: "firing" });
    expect(await postedTo(url)).toEqual([]);
  });

  it("refuses an unlinked user", async () => {
    const { alertId } = await firingAlert();
    const url = responseUrl();
    expect((await press("UNOBODY", "ack", alertId, { responseUrl: url })).body.text).toContain("not linked");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing" });
    expect(await postedTo(url)).toEqual([]);
  });

  it("rewrite the alert message in place as it now stands", async () => {
    const { alertId } = await firingAlert(["email"], { cleared: true });
    const ackUrl = responseUrl();
    // The clicker still gets the ephemeral confirmation.
    expect((await press(ADMIN_MEMBER, "ack", alertId, { responseUrl: ackUrl })).body).toEqual({
      response_type: "ephemeral",
      text: `Alert #${alertId} acknowledged.`,
    });
    const [acked, ...moreAcked] = await postedTo(ackUrl);
    expect(moreAcked).toEqual([]);
    expect(acked).toMatchObject({ replace_original: true });
    expect(acked?.text).toMatch(
      new RegExp(`^\\[CRITICAL\\] ACKNOWLEDGED: Queue depth_\\S+ on worker \\(#${alertId}\\): `),
    );
    const ackBlocks = acked?.blocks as { type: string; elements?: { text?: string; action_id?: string }[] }[];
    const state = ackBlocks.find((b) => b.type === "context")?.elements?.[0]?.text;
    expect(state).toMatch(/^Acknowledged by Test admin at \d{4}-\d\d-\d\dT/);
    // No Acknowledge button any more; Resolve and Silence stay.
    const buttons = ackBlocks.find((b) => b.type === "actions")?.elements?.map((e) => e.action_id);
    expect(buttons).toEqual(["resolve", "silence_1h"]);

    const resolveUrl = responseUrl();
    expect((await press(ADMIN_MEMBER, "resolve", alertId, { responseUrl: resolveUrl })).body.text).toBe(
      `Alert #${alertId} resolved.`,
    );
    const [resolved] = await postedTo(resolveUrl);
    expect(resolved).toMatchObject({ replace_original: true });
    expect(resolved?.text).toContain("] RESOLVED: ");
    const resolvedBlocks = resolved?.blocks as { type: string; elements?: { text?: string }[] }[];
    expect(resolvedBlocks.find((b) => b.type === "context")?.elements?.[0]?.text).toMatch(
      /^Acknowledged by Test admin at .+ · Resolved at \d{4}-/,
    );
    // Once resolved, the message has no buttons left.
    expect(resolvedBlocks.some((b) => b.type === "actions")).toBe(false);

    // A refused press (here an unknown alert) posts nothing: there is no message to rewrite.
    // (Not this alert: its rule still breaches, so the engine may reopen it any moment.)
    const lateUrl = responseUrl();
    expect((await press(ADMIN_MEMBER, "ack", 99999999, { responseUrl: lateUrl })).body.text).toBe(
      "Alert 99999999 not found.",
    );
    expect(await postedTo(lateUrl)).toEqual([]);
  });
});

/** Bindings pointing the Slack Web API at a fresh sink answering as `mode` says; the sink's name too. */
async function slackApi(mode: SinkMode): Promise<{ name: string; env: Partial<Env> }> {
  const name = fresh("slack-api");
  await sinkMode(name, mode);
  return { name, env: { SLACK_BOT_TOKEN: "xoxb-test", SLACK_API_BASE_URL: `${sink()}/sink/${name}` } };
}

const usersInfo = (email: string): SinkMode => ({
  status: 200,
  body: JSON.stringify({ ok: true, user: { id: "U0", profile: { email } } }),
});

const sinkRecords = async (name: string) => (await (await fetch(`${sink()}/__sink/${name}`)).json()) as SinkRecord[];

describe("Slack users matched by email", () => {
  it("acts as the admin with the member's Slack email, case-insensitively", async () => {
    const local = fresh("Mail.Person");
    const mailAdmin = await createAdmin("admin", `${local}@Example.COM`);
    const api = await slackApi(usersInfo(`${local.toLowerCase()}@example.com`));
    const { alertId } = await firingAlert();
    const member = `UMAIL${counter}`;
    const res = await command(member, `ack ${alertId}`, { env: api.env });
    expect(res.body).toEqual({ response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: mailAdmin.id });
    const [lookup, ...more] = await sinkRecords(api.name);
    expect(more).toEqual([]);
    expect(lookup).toMatchObject({ path: `/sink/${api.name}/api/users.info` });
    expect(lookup?.headers.authorization).toBe("Bearer xoxb-test");
  });

  it("uses a linked member id without asking Slack", async () => {
    const api = await slackApi(usersInfo("someone-else@example.com"));
    const { alertId } = await firingAlert();
    await command(ADMIN_MEMBER, `ack ${alertId}`, { env: api.env });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: admin.id });
    expect(await sinkRecords(api.name)).toEqual([]);
  });

  it.each<[string, SinkMode]>([
    ["an email no admin has", usersInfo("nobody-here@example.com")],
    ["a Slack API error", { status: 200, body: JSON.stringify({ ok: false, error: "user_not_found" }) }],
    ["a profile without email", { status: 200, body: JSON.stringify({ ok: true, user: { profile: {} } }) }],
    ["an HTTP failure", { status: 500, body: "oops" }],
  ])("refuses %s and changes nothing", async (_, mode) => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const api = await slackApi(mode);
    const { alertId } = await firingAlert();
    const member = `UNONE${counter}`;
    const res = await command(member, `ack ${alertId}`, { env: api.env });
    expect(res.status).toBe(200);
    expect(res.body.text).toContain("not linked");
    expect((await press(member, "ack", alertId, { env: api.env })).body.text).toContain("not linked");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
    expect(await sinkRecords(api.name)).toHaveLength(2);
    // The bot token never reaches the logs.
    expect(JSON.stringify(warn.mock.calls)).not.toContain("xoxb-test");
    warn.mockRestore();
  });

  it("refuses an email two admins share (ignoring case)", async () => {
    const local = fresh("twin");
    await createAdmin("admin", `${local}@example.com`);
    await createAdmin("admin", `${local.toUpperCase()}@example.com`);
    const api = await slackApi(usersInfo(`${local}@example.com`));
    const { alertId } = await firingAlert();
    expect((await command(`UTWIN${counter}`, `ack ${alertId}`, { env: api.env })).body.text).toContain("not linked");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing", acknowledged_by: null });
  });
});

describe("answering within Slack's three seconds", () => {
  const later = <T>(ms: number, value: () => T) =>
    new Promise<T>((resolve, reject) =>
      setTimeout(() => {
        try {
          resolve(value());
        } catch (err) {
          reject(err);
        }
      }, ms),
    );

  async function answered(work: Promise<string>, budgetMs: number, url: string) {
    const ctx = createExecutionContext();
    const text = await answerInTime(work, budgetMs, url, (p) => ctx.waitUntil(p));
    const postedBeforeWork = await postedTo(url);
    await waitOnExecutionContext(ctx);
    return { text, postedBeforeWork, posted: await postedTo(url) };
  }

  it("answers work that finishes within the budget itself, posting nothing", async () => {
    const url = responseUrl();
    expect(
      await answered(
        later(1, () => "done"),
        1000,
        url,
      ),
    ).toEqual({
      text: "done",
      postedBeforeWork: [],
      posted: [],
    });
  });

  it("answers slower work at once and posts its text to the response_url when done", async () => {
    const url = responseUrl();
    expect(
      await answered(
        later(200, () => "done late"),
        1,
        url,
      ),
    ).toEqual({
      text: WORKING_TEXT,
      postedBeforeWork: [],
      posted: [{ response_type: "ephemeral", text: "done late" }],
    });
  });

  it("posts a failure notice for work that fails late, and throws one that fails in time", async () => {
    const url = responseUrl();
    const failing = () =>
      later<string>(200, () => {
        throw new Error("boom");
      });
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await answered(failing(), 1, url)).posted).toEqual([{ response_type: "ephemeral", text: FAILED_TEXT }]);
    await expect(answerInTime(failing(), 1000, url, () => {})).rejects.toThrow("boom");
    error.mockRestore();
  });

  it("finishes a slow command through the response_url", async () => {
    // users.info answering slowly makes the work outlast a 1 ms budget.
    const local = fresh("slow");
    const slowAdmin = await createAdmin("admin", `${local}@example.com`);
    const api = await slackApi({ ...usersInfo(`${local}@example.com`), delayMs: 200 });
    const { alertId } = await firingAlert();
    const url = responseUrl();
    const res = await command(`USLOW${counter}`, `ack ${alertId}`, { env: api.env, budgetMs: 1, responseUrl: url });
    expect(res).toEqual({ status: 200, body: { response_type: "ephemeral", text: WORKING_TEXT } });
    expect(await postedTo(url)).toEqual([{ response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` }]);
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: slowAdmin.id });
  });

  it("finishes a slow button press through the response_url, message update included", async () => {
    const local = fresh("slowpress");
    await createAdmin("admin", `${local}@example.com`);
    const api = await slackApi({ ...usersInfo(`${local}@example.com`), delayMs: 200 });
    const { alertId } = await firingAlert();
    const url = responseUrl();
    const res = await press(`USLOWP${counter}`, "ack", alertId, { env: api.env, budgetMs: 1, responseUrl: url });
    expect(res.body.text).toBe(WORKING_TEXT);
    const [update, confirmation, ...more] = await postedTo(url);
    expect(more).toEqual([]);
    expect(update).toMatchObject({ replace_original: true });
    expect(JSON.stringify(update?.blocks)).toContain("Acknowledged by Test admin at ");
    expect(confirmation).toEqual({ response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged" });
  });
});

describe("/monitor link", () => {
  const newCode = async (who: TestAdmin) => {
    const res = await callJson<{ code: string }>("POST", `${BASE}/preferences/slack-link`, { token: who.token });
    expect(res.status).toBe(201);
    return res.body.code;
  };
  const memberOf = async (adminId: number) =>
    (
      await env.DB.prepare("SELECT slack_member_id FROM admin_notification_preferences WHERE admin_id = ?")
        .bind(adminId)
        .first<{ slack_member_id: string | null }>()
    )?.slack_member_id ?? null;

  it("links the Slack account that sends the code, which then acts as that admin", async () => {
    const viewer2 = await createAdmin("viewer");
    const member = `ULINK${Date.now().toString(36).toUpperCase()}`;
    expect((await command(member, "status")).body.text).toContain("not linked");
    const code = await newCode(viewer2);
    const res = await command(member, `link ${code.toLowerCase()}`);
    expect(res).toEqual({
      status: 200,
      body: { response_type: "ephemeral", text: "This Slack account is now linked to your Edge Monitor admin." },
    });
    expect(await memberOf(viewer2.id)).toBe(member);
    // Linked now: a viewer may read the status.
    expect((await command(member, "status")).body.text).not.toContain("not linked");
    // The code worked once.
    expect((await command(`${member}2`, `link ${code}`)).body.text).toContain("wrong, used or expired");
    expect(await memberOf(viewer2.id)).toBe(member);
  });

  it("refuses a wrong, malformed or expired code and links nothing", async () => {
    const who = await createAdmin("admin");
    const member = `UEXP${Date.now().toString(36).toUpperCase()}`;
    const code = await newCode(who);
    const wrong = code.startsWith("A") ? `B${code.slice(1)}` : `A${code.slice(1)}`;
    expect((await command(member, `link ${wrong}`)).body.text).toContain("wrong, used or expired");
    expect((await command(member, "link 123")).body.text).toContain("Usage: `/monitor link <code>`");
    await env.DB.prepare("UPDATE slack_link_codes SET expires_at = ? WHERE admin_id = ?")
      .bind(Date.now() - 1, who.id)
      .run();
    expect((await command(member, `link ${code}`)).body.text).toContain("wrong, used or expired");
    expect(await memberOf(who.id)).toBeNull();
  });

  it("refuses linking an account another admin already holds", async () => {
    const who = await createAdmin("admin");
    const res = await command(ADMIN_MEMBER, `link ${await newCode(who)}`);
    expect(res.body.text).toContain("already linked to another Edge Monitor admin");
    expect(await memberOf(who.id)).toBeNull();
    // The holder is untouched and still acts as before.
    expect((await command(ADMIN_MEMBER, "status")).body.text).not.toContain("not linked");
  });

  it("needs a signed request like every command", async () => {
    const who = await createAdmin("admin");
    const code = await newCode(who);
    const res = await command(`UFORGED${Date.now().toString(36).toUpperCase()}`, `link ${code}`, { secret: "wrong" });
    expect(res.status).toBe(401);
    expect(await memberOf(who.id)).toBeNull();
  });
});

/**
 * The Slack integration through the real Worker: signed `/monitor` commands and
 * button interactions act on real alerts as the admin who linked the Slack member
 * id; unsigned, tampered, stale and unlinked requests change nothing.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { recordSamples } from "../../worker/lib/series";
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

interface SendOptions {
  secret?: string;
  ageSeconds?: number;
  /** Changes the body after signing. */
  tamper?: (body: string) => string;
}

async function send(path: string, fields: Record<string, string>, opts: SendOptions = {}) {
  const body = new URLSearchParams(fields).toString();
  const timestamp = String(Math.floor(Date.now() / 1000) - (opts.ageSeconds ?? 0));
  const signature = await sign(opts.secret ?? SECRET, timestamp, body);
  const res = await call("POST", `/slack/${path}`, {
    body: opts.tamper ? opts.tamper(body) : body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
    },
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { response_type?: string; text?: string; error?: string } };
}

const command = (userId: string, text: string, opts?: SendOptions) =>
  send(
    "commands",
    {
      token: "legacy-token",
      team_id: "T0TEST",
      user_id: userId,
      user_name: "someone",
      command: "/monitor",
      text,
      response_url: "https://hooks.slack.com/commands/T0TEST/1/abc",
    },
    opts,
  );

const press = (userId: string, actionId: string, alertId: number) =>
  send("interactions", {
    payload: JSON.stringify({
      type: "block_actions",
      user: { id: userId },
      actions: [{ action_id: actionId, value: String(alertId) }],
      response_url: "https://hooks.slack.com/actions/T0TEST/1/abc",
      message: { ts: "1700000000.000100" },
      channel: { id: "C0TEST" },
    }),
  });

const alertRow = (id: number) =>
  env.DB.prepare("SELECT status, acknowledged_by, resolution_notes FROM alert_history WHERE id = ?")
    .bind(id)
    .first<{ status: string; acknowledged_by: number | null; resolution_notes: string | null }>();

/** A rule with one firing alert. */
async function firingAlert(): Promise<{ ruleId: number; alertId: number }> {
  const metric = fresh("queue_depth");
  const rule = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
    token: admin.token,
    body: {
      rule_name: fresh("Queue depth"),
      metric_name: metric,
      service: "worker",
      threshold_value: 10,
      severity: "critical",
      notification_channels: ["email"],
      comparison_operator: ">",
    },
  });
  expect(rule.status, JSON.stringify(rule.body)).toBe(201);
  const ts = Date.now();
  await recordSamples(env, [{ metric, service: "worker", labels: {}, value: 50, ts }], ts);
  const row = await vi.waitUntil(
    () =>
      env.DB.prepare("SELECT id FROM alert_history WHERE alert_rule_id = ?").bind(rule.body.id).first<{ id: number }>(),
    { timeout: 5000, interval: 20 },
  );
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
    const { alertId } = await firingAlert();
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
    const { ruleId, alertId } = await firingAlert();
    const ack = await press(ADMIN_MEMBER, "ack", alertId);
    expect(ack).toEqual({ status: 200, body: { response_type: "ephemeral", text: `Alert #${alertId} acknowledged.` } });
    expect(await alertRow(alertId)).toMatchObject({ status: "acknowledged", acknowledged_by: admin.id });

    expect((await press(ADMIN_MEMBER, "silence_1h", alertId)).body.text).toContain("silenced for 1h");
    const [silence] = await silencesOf(ruleId);
    expect((silence?.ends_at ?? 0) - (silence?.starts_at ?? 0)).toBe(3_600_000);

    expect((await press(ADMIN_MEMBER, "resolve", alertId)).body.text).toBe(`Alert #${alertId} resolved.`);
    expect(await alertRow(alertId)).toMatchObject({ status: "resolved", resolution_notes: "via Slack" });
  });

  it("refuses an unlinked user", async () => {
    const { alertId } = await firingAlert();
    expect((await press("UNOBODY", "ack", alertId)).body.text).toContain("not linked");
    expect(await alertRow(alertId)).toMatchObject({ status: "firing" });
  });
});

/**
 * POST /api/admin/monitoring/notifications/test in workerd: one test per channel of the
 * caller, sent at once to the provider sink (Slack bot, Twilio; email has no provider in
 * tests), each result reported and recorded; the caller's own channels only.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TestResult } from "../../worker/lib/test-notify";
import { received, setMode } from "./delivery-helpers";
import { callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const PATH = "/api/admin/monitoring/notifications/test";
let counter = 0;

/** An admin (of `role`) who saved preferences with every channel that has an address enabled. */
async function adminWith(
  role: "admin" | "viewer",
  prefs: { email?: string; phone?: string; slack?: string },
): Promise<TestAdmin> {
  const admin = await createAdmin(role);
  // A Slack member id is linked with proof (/monitor link), not typed in: stored as linked.
  if (prefs.slack) {
    await env.DB.prepare("INSERT INTO admin_notification_preferences (admin_id, slack_member_id) VALUES (?, ?)")
      .bind(admin.id, prefs.slack)
      .run();
  }
  const res = await callJson("PUT", "/api/admin/monitoring/preferences", {
    token: admin.token,
    body: {
      email: prefs.email ?? null,
      phone: prefs.phone ?? null,
      slack_member_id: prefs.slack ?? null,
      email_enabled: Boolean(prefs.email),
      sms_enabled: Boolean(prefs.phone),
      slack_enabled: Boolean(prefs.slack),
    },
  });
  expect(res.status).toBe(200);
  return admin;
}

const testRows = (adminId: number) =>
  env.DB.prepare(
    "SELECT channel, status, event, alert_id, attempts, last_error FROM notification_deliveries WHERE recipient = ? AND event = 'test' ORDER BY channel",
  )
    .bind(`admin:${adminId}`)
    .all<{ channel: string; status: string; event: string; alert_id: number | null; attempts: number }>();

describe("notification test", () => {
  it("sends one test through each of the caller's channels and reports each", async () => {
    const n = ++counter;
    const phone = `+8869120000${String(n).padStart(2, "0")}`;
    const member = `UT${n}X`;
    const admin = await adminWith("admin", { email: `t${n}@example.com`, phone, slack: member });
    const res = await callJson<{ results: TestResult[] }>("POST", PATH, { token: admin.token });
    expect(res.status).toBe(200);
    const by = Object.fromEntries(res.body.results.map((r) => [r.channel, r]));
    expect(Object.keys(by).sort()).toEqual(["email", "slack", "sms"]);
    expect(by.email).toMatchObject({ status: "not_configured", address: `t${n}@example.com`, provider_status: null });
    expect(by.sms).toMatchObject({ status: "sent", address: phone, provider_status: 200, error: null });
    expect(by.slack).toMatchObject({ status: "sent", address: member, provider_status: 200, error: null });
    expect(by.slack?.provider_message_id).toMatch(/^D0SINK\/\d+\.\d+$/);
    expect(by.sms?.duration_ms).toBeGreaterThanOrEqual(0);

    const [sms, ...moreSms] = await received("twilio", encodeURIComponent(phone));
    expect(moreSms).toEqual([]);
    expect(new URLSearchParams(sms?.body).get("Body")).toMatch(/^Edge Monitor test notification \| Sent at /);
    const [slack] = await received("slack-bot", member);
    const body = JSON.parse(slack?.body ?? "{}") as { channel: string; blocks: { type: string }[] };
    expect(body.channel).toBe(member);
    expect(body.blocks.map((b) => b.type)).toEqual(["header", "section"]);

    const rows = (await testRows(admin.id)).results;
    expect(rows.map((r) => [r.channel, r.status, r.alert_id, r.attempts])).toEqual([
      ["email", "outbox", null, 0],
      ["slack", "sent", null, 1],
      ["sms", "sent", null, 1],
    ]);
  });

  it("answers 429 with Retry-After to a second test within ten seconds", async () => {
    const admin = await adminWith("admin", { slack: `UR${++counter}X` });
    expect((await callJson("POST", PATH, { token: admin.token })).status).toBe(200);
    const again = await callJson<ErrorBody>("POST", PATH, { token: admin.token });
    expect(again.status).toBe(429);
    expect(again.body.error).toBe("rate_limited");
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThanOrEqual(9);
    expect(Number(again.headers.get("retry-after"))).toBeLessThanOrEqual(10);
    // Another admin is not held back.
    const other = await adminWith("admin", { slack: `UR${++counter}X` });
    expect((await callJson("POST", PATH, { token: other.token })).status).toBe(200);
  });

  it("tests only the channels named, and skips those not set up", async () => {
    const n = ++counter;
    const admin = await adminWith("viewer", { email: `v${n}@example.com` });
    const res = await callJson<{ results: TestResult[] }>("POST", PATH, {
      token: admin.token,
      body: { channels: ["sms", "slack"] },
    });
    // Viewers test their own channels too.
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => [r.channel, r.status, r.error])).toEqual([
      ["sms", "skipped", "sms disabled"],
      ["slack", "skipped", "slack disabled"],
    ]);
  });

  it("reports a provider's refusal with its secret redacted", async () => {
    const n = ++counter;
    const phone = `+8869130000${String(n).padStart(2, "0")}`;
    const admin = await adminWith("admin", { phone });
    await setMode("twilio", {
      status: 401,
      body: '{"message":"Authenticate: twilio-secret-token rejected"}',
      match: encodeURIComponent(phone),
    });
    const res = await callJson<{ results: TestResult[] }>("POST", PATH, {
      token: admin.token,
      body: { channels: ["sms"] },
    });
    expect(res.status).toBe(200);
    const [sms] = res.body.results;
    expect(sms).toMatchObject({ channel: "sms", status: "failed", provider_status: 401, retryable: false });
    expect(sms?.error).toContain("[redacted]");
    expect(sms?.error).not.toContain("twilio-secret-token");
    expect((await testRows(admin.id)).results).toMatchObject([{ channel: "sms", status: "failed" }]);
  });

  it("refuses bad input with the field and reason, and anonymous callers", async () => {
    const admin = await createAdmin("admin");
    for (const [body, field] of [
      [{ channels: ["fax"] }, "channels.0"],
      [{ channels: [] }, "channels"],
      [{ channels: ["sms", "sms"] }, "channels"],
      [{ channel: "sms" }, "channel"],
    ] as const) {
      const res = await callJson<ErrorBody>("POST", PATH, { token: admin.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.details.map((d) => d.field)).toContain(field);
    }
    expect((await callJson("POST", PATH, { body: {} })).status).toBe(401);
    // Nothing was sent or recorded for the refused requests.
    expect((await testRows(admin.id)).results).toEqual([]);
  });
});

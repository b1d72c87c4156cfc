import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, callJson, createAdmin, type ErrorBody } from "./helpers";

const PATH = "/api/admin/monitoring/preferences";

interface Prefs {
  admin_id: number;
  email: string | null;
  phone: string | null;
  slack_member_id: string | null;
  email_enabled: boolean;
  sms_enabled: boolean;
  slack_enabled: boolean;
  severities: string[];
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  timezone: string;
  critical_bypasses_quiet_hours: boolean;
  updated_at: string | null;
}

describe("notification preferences", () => {
  it("answers defaults from the admin's own email and time zone until saved", async () => {
    const admin = await createAdmin("admin");
    await env.DB.prepare("UPDATE admin_users SET timezone = 'Asia/Taipei' WHERE id = ?").bind(admin.id).run();
    const res = await callJson<Prefs>("GET", PATH, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      admin_id: admin.id,
      email: admin.email,
      phone: null,
      slack_member_id: null,
      email_enabled: true,
      sms_enabled: false,
      slack_enabled: false,
      severities: ["critical", "warning"],
      quiet_hours_start: null,
      quiet_hours_end: null,
      timezone: "Asia/Taipei",
      critical_bypasses_quiet_hours: true,
      updated_at: null,
    });
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM admin_notification_preferences").first<{
      n: number;
    }>();
    expect(stored?.n).toBe(0);
  });

  it("merges a partial update over the defaults, stores it and keeps unsent fields on the next update", async () => {
    // An owner: the one role that may type a Slack member id in (others link theirs, see below).
    const admin = await createAdmin("owner");
    const first = await callJson<Prefs>("PUT", PATH, {
      token: admin.token,
      body: {
        phone: "+886912345678",
        sms_enabled: true,
        severities: ["critical"],
        quiet_hours_start: "22:00",
        quiet_hours_end: "07:00",
      },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      admin_id: admin.id,
      email: admin.email,
      email_enabled: true,
      phone: "+886912345678",
      sms_enabled: true,
      severities: ["critical"],
      quiet_hours_start: "22:00",
      quiet_hours_end: "07:00",
      timezone: "UTC",
    });
    expect(Date.parse(first.body.updated_at ?? "")).toBeGreaterThan(Date.now() - 60_000);

    const second = await callJson<Prefs>("PUT", PATH, {
      token: admin.token,
      body: {
        email: "Pager@Example.com",
        slack_member_id: "U024BE7LH",
        slack_enabled: true,
        timezone: "Europe/Berlin",
      },
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      email: "pager@example.com",
      phone: "+886912345678",
      sms_enabled: true,
      slack_member_id: "U024BE7LH",
      slack_enabled: true,
      severities: ["critical"],
      quiet_hours_start: "22:00",
      timezone: "Europe/Berlin",
    });

    const read = await callJson<Prefs>("GET", PATH, { token: admin.token });
    expect(read.body).toEqual(second.body);
    const row = await env.DB.prepare("SELECT * FROM admin_notification_preferences WHERE admin_id = ?")
      .bind(admin.id)
      .first<Record<string, unknown>>();
    expect(row).toMatchObject({
      phone: "+886912345678",
      sms_enabled: 1,
      slack_member_id: "U024BE7LH",
      severities: '["critical"]',
    });
  });

  it("keeps each admin's preferences apart", async () => {
    const a = await createAdmin("admin");
    const b = await createAdmin("admin");
    expect(
      (await callJson("PUT", PATH, { token: a.token, body: { email_enabled: false, severities: ["info"] } })).status,
    ).toBe(200);
    const other = await callJson<Prefs>("GET", PATH, { token: b.token });
    expect(other.body).toMatchObject({
      admin_id: b.id,
      email: b.email,
      email_enabled: true,
      severities: ["critical", "warning"],
      updated_at: null,
    });
  });

  it("clears quiet hours and contact fields with null", async () => {
    const admin = await createAdmin("admin");
    await callJson("PUT", PATH, {
      token: admin.token,
      body: { phone: "+14155550100", quiet_hours_start: "23:30", quiet_hours_end: "06:00" },
    });
    const cleared = await callJson<Prefs>("PUT", PATH, {
      token: admin.token,
      body: { phone: null, quiet_hours_start: null, quiet_hours_end: null, email_enabled: false, email: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({
      phone: null,
      email: null,
      email_enabled: false,
      quiet_hours_start: null,
      quiet_hours_end: null,
    });
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["sms without a phone", { sms_enabled: true }, "phone"],
    ["slack without a member id", { slack_enabled: true }, "slack_member_id"],
    ["email enabled without an email", { email: null }, "email"],
    ["a phone not in E.164", { phone: "0912345678" }, "phone"],
    ["a malformed email", { email: "not-an-email" }, "email"],
    ["a malformed Slack member id", { slack_member_id: "x123" }, "slack_member_id"],
    ["no severities", { severities: [] }, "severities"],
    ["repeated severities", { severities: ["critical", "critical"] }, "severities"],
    ["an unknown severity", { severities: ["debug"] }, "severities.0"],
    ["quiet hours with only a start", { quiet_hours_start: "22:00" }, "quiet_hours_end"],
    ["quiet hours with only an end", { quiet_hours_end: "07:00" }, "quiet_hours_start"],
    ["an hour past 23", { quiet_hours_start: "24:00", quiet_hours_end: "07:00" }, "quiet_hours_start"],
    ["a time without minutes", { quiet_hours_start: "22", quiet_hours_end: "07:00" }, "quiet_hours_start"],
    ["equal start and end", { quiet_hours_start: "07:00", quiet_hours_end: "07:00" }, "quiet_hours_end"],
    ["an unknown time zone", { timezone: "Mars/Olympus" }, "timezone"],
    ["a non-boolean switch", { email_enabled: "yes" }, "email_enabled"],
    ["an unknown field", { pager: "+886912345678" }, "pager"],
  ];
  for (const [what, body, field] of invalid) {
    it(`rejects ${what} with a 400 naming ${field}`, async () => {
      const admin = await createAdmin("admin");
      const res = await callJson<ErrorBody>("PUT", PATH, { token: admin.token, body });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      const detail = res.body.details.find((d) => d.field === field);
      expect(detail?.reason).toEqual(expect.any(String));
      expect(detail?.reason.length).toBeGreaterThan(0);
      expect((await callJson<Prefs>("GET", PATH, { token: admin.token })).body.updated_at).toBeNull();
    });
  }

  it("validates the merged whole: removing the phone while SMS stays on is refused", async () => {
    const admin = await createAdmin("admin");
    expect(
      (await callJson("PUT", PATH, { token: admin.token, body: { phone: "+886912345678", sms_enabled: true } })).status,
    ).toBe(200);
    const res = await callJson<ErrorBody>("PUT", PATH, { token: admin.token, body: { phone: null } });
    expect(res.status).toBe(400);
    expect(res.body.details).toContainEqual({ field: "phone", reason: "required when sms_enabled is true" });
    expect((await callJson<Prefs>("GET", PATH, { token: admin.token })).body.phone).toBe("+886912345678");
  });

  it("lets a viewer read and write their own preferences", async () => {
    const viewer = await createAdmin("viewer");
    expect((await callJson<Prefs>("GET", PATH, { token: viewer.token })).status).toBe(200);
    const res = await callJson<Prefs>("PUT", PATH, { token: viewer.token, body: { severities: ["critical"] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ admin_id: viewer.id, severities: ["critical"] });
  });

  it("requires authentication", async () => {
    expect((await call("GET", PATH)).status).toBe(401);
    expect((await call("PUT", PATH, { body: { sms_enabled: false } })).status).toBe(401);
  });

  describe("the Slack member id is an identity", () => {
    const member = (tag: string) => `U${tag}${Date.now().toString(36).toUpperCase()}`;
    const linkTo = (adminId: number, memberId: string) =>
      env.DB.prepare("INSERT INTO admin_notification_preferences (admin_id, slack_member_id) VALUES (?, ?)")
        .bind(adminId, memberId)
        .run();

    it("refuses a viewer or admin typing one in (403 link_required), and keeps nothing", async () => {
      for (const role of ["viewer", "admin"] as const) {
        const who = await createAdmin(role);
        const res = await callJson<ErrorBody>("PUT", PATH, {
          token: who.token,
          body: { slack_member_id: member("SELF"), slack_enabled: true },
        });
        expect(res.status).toBe(403);
        expect(res.body.error).toBe("link_required");
        expect(res.body.details[0]?.field).toBe("slack_member_id");
        expect((await callJson<Prefs>("GET", PATH, { token: who.token })).body.slack_member_id).toBeNull();
      }
    });

    it("refuses a viewer claiming the owner's member id; the owner stays linked", async () => {
      const owner = await createAdmin("owner");
      const id = member("OWNER");
      await linkTo(owner.id, id);
      const viewer = await createAdmin("viewer");
      const res = await callJson<ErrorBody>("PUT", PATH, { token: viewer.token, body: { slack_member_id: id } });
      expect(res.status).toBe(403);
      const row = await env.DB.prepare("SELECT admin_id FROM admin_notification_preferences WHERE slack_member_id = ?")
        .bind(id)
        .all<{ admin_id: number }>();
      expect(row.results).toEqual([{ admin_id: owner.id }]);
    });

    it("refuses another admin's member id with 409, even for an owner", async () => {
      const holder = await createAdmin("admin");
      const id = member("HELD");
      await linkTo(holder.id, id);
      const owner = await createAdmin("owner");
      const res = await callJson<ErrorBody>("PUT", PATH, { token: owner.token, body: { slack_member_id: id } });
      expect(res.status).toBe(409);
      expect(res.body.details).toContainEqual({ field: "slack_member_id", reason: "linked to another admin" });
      // And by the owner for someone else.
      const other = await createAdmin("viewer");
      const put = await callJson<ErrorBody>("PUT", `/api/admin/users/${other.id}/slack`, {
        token: owner.token,
        body: { slack_member_id: id },
      });
      expect(put.status).toBe(409);
    });

    it("lets an owner set their own and any admin's member id directly", async () => {
      const owner = await createAdmin("owner");
      const mine = member("MINE");
      expect((await callJson<Prefs>("PUT", PATH, { token: owner.token, body: { slack_member_id: mine } })).status).toBe(
        200,
      );
      const viewer = await createAdmin("viewer");
      const theirs = member("THEIRS");
      const res = await callJson<{ admin_id: number; slack_member_id: string | null }>(
        "PUT",
        `/api/admin/users/${viewer.id}/slack`,
        { token: owner.token, body: { slack_member_id: theirs } },
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ admin_id: viewer.id, slack_member_id: theirs });
      expect((await callJson<Prefs>("GET", PATH, { token: viewer.token })).body.slack_member_id).toBe(theirs);
      // Only owners reach that route.
      const admin = await createAdmin("admin");
      const refused = await call("PUT", `/api/admin/users/${viewer.id}/slack`, {
        token: admin.token,
        body: { slack_member_id: member("X") },
      });
      expect(refused.status).toBe(403);
    });

    it("lets anyone keep or clear their linked id, and saves the rest", async () => {
      const viewer = await createAdmin("viewer");
      const id = member("KEEP");
      await linkTo(viewer.id, id);
      const kept = await callJson<Prefs>("PUT", PATH, {
        token: viewer.token,
        body: { slack_member_id: id, slack_enabled: true, email_enabled: false },
      });
      expect(kept.status, JSON.stringify(kept.body)).toBe(200);
      expect(kept.body).toMatchObject({ slack_member_id: id, slack_enabled: true });
      const cleared = await callJson<Prefs>("PUT", PATH, {
        token: viewer.token,
        body: { slack_member_id: null, slack_enabled: false },
      });
      expect(cleared.status).toBe(200);
      expect(cleared.body.slack_member_id).toBeNull();
    });

    it("issues a one-time link code for any role, stored only hashed", async () => {
      const viewer = await createAdmin("viewer");
      const res = await callJson<{ code: string; command: string; expires_at: string }>("POST", `${PATH}/slack-link`, {
        token: viewer.token,
      });
      expect(res.status).toBe(201);
      expect(res.body.code).toMatch(/^[A-Z2-9]{5}-[A-Z2-9]{5}$/);
      expect(res.body.command).toBe(`/monitor link ${res.body.code}`);
      const ttl = Date.parse(res.body.expires_at) - Date.now();
      expect(ttl).toBeGreaterThan(9 * 60_000);
      expect(ttl).toBeLessThanOrEqual(10 * 60_000);
      const row = await env.DB.prepare("SELECT code_hash FROM slack_link_codes WHERE admin_id = ?")
        .bind(viewer.id)
        .first<{ code_hash: string }>();
      expect(row?.code_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row?.code_hash).not.toContain(res.body.code.replace("-", ""));
    });
  });
});

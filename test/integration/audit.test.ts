/**
 * The audit trail through the real Worker: configuration changes and alert actions are
 * recorded with who, when, from where (api by bearer token, dashboard by session cookie,
 * slack by a signed command) and before → after, never a secret; `GET /audit` lists them
 * newest first with filters and cursor paging, for admins and owners only.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "../../worker/db/client";
import { ingestKeys } from "../../worker/db/schema";
import { withAudit } from "../../worker/lib/audit";
import { recordSamples } from "../../worker/lib/series";
import { call, callJson, createAdmin, type ErrorBody, sha256Hex, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
// As set in vitest.config.ts.
const SLACK_SECRET = "test-signing-secret";

interface Entry {
  id: number;
  at: string;
  actor_admin_id: number | null;
  actor: string;
  via: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  changes: string[];
  note: string | null;
}
type Page = { entries: Entry[]; next_cursor: string | null };

let admin: TestAdmin;
let viewer: TestAdmin;
let counter = 0;
const fresh = (name: string) => `${name}_${Date.now().toString(36)}_${++counter}`;
const MEMBER = `UAUDIT${Date.now().toString(36).toUpperCase()}`;

beforeAll(async () => {
  [admin, viewer] = await Promise.all([createAdmin("admin"), createAdmin("viewer")]);
  await env.DB.prepare("INSERT INTO admin_notification_preferences (admin_id, slack_member_id) VALUES (?, ?)")
    .bind(admin.id, MEMBER)
    .run();
});

const list = (query: string, token = admin.token) => callJson<Page>("GET", `${BASE}/audit?${query}`, { token });

/** The entries of one target, newest first. */
async function entriesOf(targetType: string, targetId: number | string): Promise<Entry[]> {
  const res = await list(`target_type=${targetType}&target_id=${targetId}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.entries;
}

const ruleBody = (metric: string) => ({
  rule_name: fresh("Queue depth"),
  metric_name: metric,
  service: "worker",
  threshold_value: 10,
  severity: "critical",
  notification_channels: ["email"],
  comparison_operator: ">",
  resolve_for_seconds: 3600,
});

/** Slack's v0 signature, computed here independently of the Worker's code. */
async function slackCommand(userId: string, text: string) {
  const body = new URLSearchParams({ user_id: userId, command: "/monitor", text, team_id: "T0" }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(SLACK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, enc.encode(`v0:${timestamp}:${body}`));
  const signature = `v0=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  const res = await call("POST", "/slack/commands", {
    body,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
    },
  });
  return (await res.json()) as { text?: string };
}

describe("audit trail", () => {
  it("records a rule edit before → after, with the admin and via api", async () => {
    const metric = fresh("queue_depth");
    const created = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
      token: admin.token,
      body: ruleBody(metric),
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const updated = await callJson("PUT", `${BASE}/rules/${id}`, { token: admin.token, body: { threshold_value: 25 } });
    expect(updated.status).toBe(200);

    const [update, create] = await entriesOf("rule", id);
    expect(update).toMatchObject({
      actor_admin_id: admin.id,
      actor: admin.email,
      via: "api",
      action: "rule.update",
      target_type: "rule",
      target_id: String(id),
      changes: ["threshold_value"],
    });
    expect(update?.before?.threshold_value).toBe(10);
    expect(update?.after?.threshold_value).toBe(25);
    expect(Date.parse(update?.at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    // The create is batched with the insert: its target id is the new row's.
    expect(create).toMatchObject({ action: "rule.create", target_id: String(id), before: null, via: "api" });
    expect(create?.after?.metric_name).toBe(metric);

    expect((await call("DELETE", `${BASE}/rules/${id}`, { token: admin.token })).status).toBe(204);
    const [deleted] = await entriesOf("rule", id);
    expect(deleted).toMatchObject({ action: "rule.delete", after: null });
    expect(deleted?.before?.threshold_value).toBe(25);
  });

  it("records an alert acknowledged from Slack as the linked admin, via slack", async () => {
    const metric = fresh("queue_depth");
    const rule = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
      token: admin.token,
      body: ruleBody(metric),
    });
    const ts = Date.now();
    await recordSamples(env, [{ metric, service: "worker", labels: {}, value: 50, ts }], ts, "push");
    const alert = await vi.waitUntil(
      () =>
        env.DB.prepare("SELECT id FROM alert_history WHERE alert_rule_id = ?")
          .bind(rule.body.id)
          .first<{ id: number }>(),
      { timeout: 5000, interval: 20 },
    );
    expect((await slackCommand(MEMBER, `ack ${alert.id}`)).text).toBe(`Alert #${alert.id} acknowledged.`);

    const [ack] = await entriesOf("alert", alert.id);
    expect(ack).toMatchObject({
      action: "alert.acknowledge",
      actor_admin_id: admin.id,
      actor: `slack:${MEMBER}`,
      via: "slack",
      before: { status: "firing" },
      after: { status: "acknowledged" },
      changes: ["status"],
    });

    // A silence from Slack too.
    expect((await slackCommand(MEMBER, `silence ${rule.body.id} 30m`)).text).toMatch(/silenced for 30m/);
    const [silenced] = (await list("action=silence.create&via=slack&limit=1")).body.entries;
    expect(silenced).toMatchObject({ actor: `slack:${MEMBER}`, actor_admin_id: admin.id, target_type: "silence" });
    expect(silenced?.after?.matchers).toEqual([
      { name: "rule_id", value: String(rule.body.id), is_regex: false, is_equal: true },
    ]);

    // Resolving from the API is recorded too, via api.
    const resolved = await callJson("POST", `${BASE}/alerts/${alert.id}/resolve`, {
      token: admin.token,
      body: { note: "drained", force: true },
    });
    expect(resolved.status).toBe(200);
    const [resolve] = await entriesOf("alert", alert.id);
    expect(resolve).toMatchObject({
      action: "alert.resolve",
      via: "api",
      before: { status: "acknowledged" },
      after: { status: "resolved", forced: true },
      note: "drained",
    });
  });

  it("records a silence created from the dashboard (session cookie) via dashboard", async () => {
    const login = await call("POST", "/api/auth/session", { body: { token: admin.token } });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const service = fresh("svc");
    const created = await callJson<{ id: number }>("POST", `${BASE}/silences`, {
      // What the dashboard's own same-origin fetch sends.
      headers: { cookie, origin: "http://localhost", "sec-fetch-site": "same-origin" },
      body: {
        matchers: [{ name: "service", value: service }],
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        comment: "maintenance",
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const [entry] = await entriesOf("silence", created.body.id);
    expect(entry).toMatchObject({
      action: "silence.create",
      actor_admin_id: admin.id,
      actor: admin.email,
      via: "dashboard",
      before: null,
    });
    expect(entry?.after).toMatchObject({ matchers: [{ name: "service", value: service }], comment: "maintenance" });
  });

  it("records a key creation without the key or its hash", async () => {
    const created = await callJson<{ id: number; key: string }>("POST", `${BASE}/keys`, {
      token: admin.token,
      body: { name: fresh("shop"), scope: "ingest" },
    });
    expect(created.status).toBe(201);
    const [entry] = await entriesOf("key", created.body.id);
    expect(entry).toMatchObject({ action: "key.create", via: "api", after: { scope: "ingest" } });
    const stored = await env.DB.prepare("SELECT before, after FROM audit_log WHERE id = ?")
      .bind(entry?.id)
      .first<{ before: string | null; after: string }>();
    const text = JSON.stringify(stored);
    expect(text).not.toContain(created.body.key);
    expect(text).not.toContain(await sha256Hex(created.body.key));
  });

  it("records a token issue without the token", async () => {
    const created = await callJson<{ id: number; token: string }>("POST", "/api/admin/tokens", {
      token: admin.token,
      body: { name: "ci" },
    });
    expect(created.status).toBe(201);
    const [entry] = await entriesOf("token", created.body.id);
    expect(entry).toMatchObject({ action: "token.create", after: { admin_id: admin.id, name: "ci" } });
    expect(JSON.stringify(entry)).not.toContain(created.body.token);
  });

  it("filters, pages newest first, and refuses bad filters", async () => {
    const names = [fresh("p1"), fresh("p2"), fresh("p3")];
    const ids: number[] = [];
    for (const name of names) {
      const res = await callJson<{ id: number }>("POST", `${BASE}/keys`, {
        token: admin.token,
        body: { name, scope: "heartbeat" },
      });
      ids.push(res.body.id);
    }
    const seen: Entry[] = [];
    let cursor: string | null = "";
    let pages = 0;
    while (cursor !== null && pages < 20) {
      const res = await list(`action=key.create&actor=${admin.id}&via=api&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.body.entries.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.entries);
      cursor = res.body.next_cursor;
      pages++;
    }
    expect(cursor).toBeNull();
    expect(seen.every((e) => e.action === "key.create" && e.actor_admin_id === admin.id)).toBe(true);
    // Newest first, no entry twice, and ours among them in reverse order of creation.
    const order = seen.map((e) => e.id);
    expect(order).toEqual([...order].sort((a, b) => b - a));
    expect(new Set(order).size).toBe(order.length);
    const ours = seen.filter((e) => ids.includes(Number(e.target_id))).map((e) => Number(e.target_id));
    expect(ours).toEqual([...ids].sort((a, b) => b - a));

    // By actor label, by "<type>.*", and by time.
    const byLabel = await list(`actor=${encodeURIComponent(admin.email)}&action=key.*&limit=500`);
    expect(byLabel.body.entries.length).toBe(seen.length);
    const future = await list(`from=${Date.now() + 60_000}`);
    expect(future.body.entries).toEqual([]);

    for (const bad of [
      "via=email",
      "limit=0",
      "limit=501",
      "cursor=abc",
      "from=tomorrow",
      "action=rule*",
      "actor=a%20b",
    ]) {
      const res = await callJson<ErrorBody>("GET", `${BASE}/audit?${bad}`, { token: admin.token });
      expect(res.status, bad).toBe(400);
    }
    const backwards = await callJson<ErrorBody>(
      "GET",
      `${BASE}/audit?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`,
      {
        token: admin.token,
      },
    );
    expect(backwards.status).toBe(400);
  });

  it("sums up a configuration import in one entry, via config-import", async () => {
    const body = ruleBody(fresh("imported"));
    const created = await callJson<{ id: number }>("POST", `${BASE}/rules`, { token: admin.token, body });
    const doc = (await callJson<{ rules: Record<string, unknown>[] }>("GET", `${BASE}/config`, { token: admin.token }))
      .body;
    const rule = doc.rules.find((r) => r.rule_name === body.rule_name);
    if (!rule) throw new Error("the export lacks the rule");
    rule.threshold_value = 42;
    const res = await callJson("POST", `${BASE}/config/import`, { token: admin.token, body: doc });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [entry] = (await list("action=config.import&via=config-import&limit=1")).body.entries;
    expect(entry).toMatchObject({
      actor_admin_id: admin.id,
      actor: admin.email,
      target_type: "config",
      note: "api import",
    });
    const diff = entry?.after?.diff as Record<string, { update: { key: string; changes: unknown[] }[] }>;
    expect(diff.rules?.update).toContainEqual({
      key: body.rule_name,
      changes: [{ field: "threshold_value", from: 10, to: 42 }],
    });
    expect(diff).not.toHaveProperty("monitors");
    expect(created.status).toBe(201);
  });

  it("keeps the change when the audit write fails, and logs it", async () => {
    const db = getDb(env.DB);
    const name = fresh("kept");
    let batches = 0;
    // A database whose first batch (change + entry) fails as a broken audit insert would.
    const flaky = {
      insert: db.insert.bind(db),
      batch: (items: Parameters<typeof db.batch>[0]) => {
        batches++;
        return batches === 1 ? Promise.reject(new Error("no such table: audit_log")) : db.batch(items);
      },
    } as unknown as typeof db;
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const rows = await withAudit(
      flaky,
      db
        .insert(ingestKeys)
        .values({ name, scope: "ingest", keyHash: fresh("hash"), prefix: "p" })
        .returning(),
      { adminId: admin.id, label: admin.email, via: "api" },
      { action: "key.create", targetType: "key" },
    );
    expect(rows[0]?.name).toBe(name);
    expect(batches).toBe(2);
    expect(error).toHaveBeenCalledWith("audit: could not record", "key.create", expect.any(Error));
    error.mockRestore();
  });

  it("refuses viewers", async () => {
    const res = await callJson<ErrorBody>("GET", `${BASE}/audit`, { token: viewer.token });
    expect(res.status).toBe(403);
  });

  it("is in the OpenAPI document", async () => {
    const doc = await callJson<{ paths: Record<string, Record<string, unknown>> }>("GET", "/api/openapi.json");
    expect(doc.body.paths[`${BASE}/audit`]?.get).toBeDefined();
  });
});

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_RULES } from "../../scripts/lib/seed.mjs";
import { familyStub } from "../../worker/lib/series";
import { call, callJson, createAdmin, type TestAdmin, type ErrorBody } from "./helpers";

type Rule = Record<string, unknown> & { id: number };

const BASE = "/api/admin/monitoring/rules";
// The seed's own example rule, so the demo configuration is proven valid too.
const [seededPaymentRule] = DEMO_RULES;
const paymentRule = { ...seededPaymentRule, is_active: true };

let admin: TestAdmin;
beforeAll(async () => {
  admin = await createAdmin("admin");
});

const fieldsOf = (body: unknown) => (body as ErrorBody).details.map((d) => d.field);

describe("rules CRUD", () => {
  it("creates, reads, lists, partially updates and deletes a rule", async () => {
    const created = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      ...paymentRule,
      params: {},
      labels: {},
      escalation_policy_id: null,
      created_by: admin.id,
    });
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const id = created.body.id;

    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).body).toEqual(created.body);
    const list = await callJson<{ rules: Rule[] }>("GET", BASE, { token: admin.token });
    expect(list.body.rules.map((r) => r.id)).toContain(id);

    const updated = await callJson<Rule>("PUT", `${BASE}/${id}`, {
      token: admin.token,
      body: { threshold_value: 7.5 },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ ...paymentRule, threshold_value: 7.5 });

    expect((await call("DELETE", `${BASE}/${id}`, { token: admin.token })).status).toBe(204);
    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).status).toBe(404);
  });

  it("keeps the rule's Durable Object in step with the API", async () => {
    const { body } = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    const stub = env.ALERT_RULE.getByName(String(body.id));
    expect(await stub.definition()).toMatchObject({
      id: body.id,
      kind: "threshold",
      thresholdValue: 5,
      service: "ecpay",
    });
    await callJson("PUT", `${BASE}/${body.id}`, { token: admin.token, body: { is_active: false } });
    expect(await stub.definition()).toBeNull();
    await callJson("PUT", `${BASE}/${body.id}`, { token: admin.token, body: { is_active: true, threshold_value: 9 } });
    expect(await stub.definition()).toMatchObject({ thresholdValue: 9 });
    await call("DELETE", `${BASE}/${body.id}`, { token: admin.token });
    expect(await stub.definition()).toBeNull();
  });

  it("applies defaults and per-kind parameters", async () => {
    const { status, body } = await callJson<Rule>("POST", BASE, {
      token: admin.token,
      body: {
        rule_name: "Payments failing",
        metric_name: "payments_failed_total",
        kind: "ratio",
        threshold_value: 5,
        severity: "critical",
        notification_channels: ["email"],
        params: { denominator_metric: "payments_total" },
      },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      service: null,
      comparison_operator: ">",
      for_seconds: 0,
      cooldown_minutes: 15,
      max_alerts_per_hour: 4,
      is_active: true,
      params: { denominator_metric: "payments_total", window_seconds: 300 },
    });
  });

  it("names every invalid field and why", async () => {
    const res = await callJson("POST", BASE, {
      token: admin.token,
      body: {
        ...paymentRule,
        rule_name: "",
        metric_name: "9 bad name",
        comparison_operator: "=>",
        threshold_value: "high",
        severity: "urgent",
        notification_channels: [],
        for_seconds: -1,
      },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "invalid_request" });
    expect(fieldsOf(res.body).sort()).toEqual(
      [
        "comparison_operator",
        "for_seconds",
        "metric_name",
        "notification_channels",
        "rule_name",
        "severity",
        "threshold_value",
      ].sort(),
    );
    for (const d of (res.body as unknown as ErrorBody).details) expect(d.reason.length).toBeGreaterThan(3);
  });

  it("validates parameters against the rule kind", async () => {
    const missing = await callJson("POST", BASE, { token: admin.token, body: { ...paymentRule, kind: "ratio" } });
    expect(fieldsOf(missing.body)).toEqual(["params.denominator_metric"]);
    const stray = await callJson("POST", BASE, {
      token: admin.token,
      body: { ...paymentRule, params: { window_seconds: 60 } },
    });
    expect(stray.status).toBe(400);
    expect(fieldsOf(stray.body)).toEqual(["params"]);
    const absence = await callJson("POST", BASE, {
      token: admin.token,
      body: { ...paymentRule, kind: "absence", params: { window_seconds: 0 } },
    });
    expect(fieldsOf(absence.body)).toEqual(["params.window_seconds"]);
  });

  it("validates a partial update against the merged rule", async () => {
    const { body } = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    const res = await callJson("PUT", `${BASE}/${body.id}`, { token: admin.token, body: { kind: "absence" } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(["params.window_seconds"]);
    const unchanged = await callJson<Rule>("GET", `${BASE}/${body.id}`, { token: admin.token });
    expect(unchanged.body.kind).toBe("threshold");
  });

  it("refuses an escalation policy that does not exist", async () => {
    const res = await callJson("POST", BASE, {
      token: admin.token,
      body: { ...paymentRule, escalation_policy_id: 4242 },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(["escalation_policy_id"]);
  });

  it("answers 404 for unknown ids and 400 for malformed ones", async () => {
    for (const [method, path] of [
      ["GET", `${BASE}/987654`],
      ["PUT", `${BASE}/987654`],
      ["DELETE", `${BASE}/987654`],
      ["POST", `${BASE}/987654/test`],
    ] as const) {
      const res = await callJson(method, path, {
        token: admin.token,
        body: method === "PUT" ? { threshold_value: 1 } : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ error: "not_found" });
    }
    const bad = await callJson("GET", `${BASE}/abc`, { token: admin.token });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(["id"]);
  });

  it("answers 400 to malformed JSON and 413 to an oversized body, writing nothing", async () => {
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM alert_rules").first<{ n: number }>();
    const malformed = await callJson("POST", BASE, { token: admin.token, body: '{"rule_name": ' });
    expect(malformed.status).toBe(400);
    const huge = await callJson("POST", BASE, {
      token: admin.token,
      body: { ...paymentRule, description: "x".repeat(70 * 1024) },
    });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ error: "payload_too_large" });
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM alert_rules").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("pages through a long list with next_cursor", async () => {
    for (let i = 0; i < 3; i++)
      await callJson("POST", BASE, { token: admin.token, body: { ...paymentRule, rule_name: `page ${i}` } });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const path: string = `${BASE}?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await callJson<{ rules: Rule[]; next_cursor: string | null }>("GET", path, { token: admin.token });
      expect(page.body.rules.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.rules.map((r) => r.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    const all = await callJson<{ rules: Rule[] }>("GET", BASE, { token: admin.token });
    expect(seen).toEqual(all.body.rules.map((r) => r.id));
    expect((await callJson("GET", `${BASE}?limit=0`, { token: admin.token })).status).toBe(400);
  });
});

describe("rule dry run", () => {
  const record = (metric: string, value: number, ts: number, service = "ecpay") =>
    familyStub(env, metric, service).record([{ metric, service, labels: {}, value, ts }]);

  it("says whether the rule would fire on the latest data and previews the notification", async () => {
    const { body } = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    const noData = await callJson("POST", `${BASE}/${body.id}/test`, { token: admin.token });
    expect(noData.body).toMatchObject({ would_fire: false, state: "no_data", value: null });

    const now = Date.now();
    await record("payment_failure_rate", 2.5, now - 20_000);
    await record("payment_failure_rate", 8.25, now - 5_000);
    const res = await callJson<
      Record<string, unknown> & { notification: { title: string; body: string; channels: string[] } }
    >("POST", `${BASE}/${body.id}/test`, { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      rule_id: body.id,
      would_fire: true,
      state: "firing",
      value: 8.25,
      observed_at: new Date(now - 5_000).toISOString(),
    });
    expect(res.body.notification.title).toBe("[CRITICAL] Payment Failure Rate > 5% on ecpay");
    expect(res.body.notification.body).toContain("payment_failure_rate on ecpay: 8.25");
    expect(res.body.notification.channels).toEqual(["email", "slack"]);

    await record("payment_failure_rate", 1, now - 1_000);
    const ok = await callJson("POST", `${BASE}/${body.id}/test`, { token: admin.token });
    expect(ok.body).toMatchObject({ would_fire: false, state: "ok", value: 1 });
  });

  it("computes a ratio rule from both series over its window", async () => {
    const { body } = await callJson<Rule>("POST", BASE, {
      token: admin.token,
      body: {
        ...paymentRule,
        rule_name: "failure ratio",
        metric_name: "payments_failed",
        kind: "ratio",
        params: { denominator_metric: "payments_total", window_seconds: 60 },
      },
    });
    const now = Date.now();
    await record("payments_failed", 3, now - 10_000);
    await record("payments_total", 40, now - 10_000);
    await record("payments_failed", 50, now - 600_000); // outside the window
    const res = await callJson("POST", `${BASE}/${body.id}/test`, { token: admin.token });
    expect(res.body).toMatchObject({ state: "firing", value: 7.5 });
  });
});

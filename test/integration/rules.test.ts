import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO_RULES } from "../../scripts/lib/seed.mjs";
import { familyStub } from "../../worker/lib/series";
import type { Sample } from "../../worker/core/series";
import { call, callJson, createAdmin, type TestAdmin, type ErrorBody, recordIndexed } from "./helpers";

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

/** Fields over the payment rule that must be refused, the field the 400 must name, and the reason it must give. */
type Case = [label: string, over: Record<string, unknown>, field: string, reason: RegExp];

describe("rules CRUD", () => {
  it("creates, reads, lists, partially updates and deletes a rule", async () => {
    const created = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      ...paymentRule,
      params: { aggregation: "last", window_seconds: 0 },
      labels: {},
      resolve_for_seconds: 0,
      resolve_threshold_value: null,
      depends_on: [],
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
      params: { denominator_metric: "payments_total", window_seconds: 300, min_denominator: 10 },
    });
  });

  it("stores the engine's fields and hands them to the rule's Durable Object", async () => {
    const input = {
      ...paymentRule,
      rule_name: "p95 latency",
      metric_name: "api_response_ms",
      service: "api",
      labels: { region: "tw" },
      threshold_value: 1000,
      resolve_threshold_value: 800,
      resolve_for_seconds: 300,
      depends_on: ["database", "redis"],
      params: { aggregation: "p95" },
    };
    const { status, body } = await callJson<Rule>("POST", BASE, { token: admin.token, body: input });
    expect(status).toBe(201);
    expect(body).toMatchObject({ ...input, params: { aggregation: "p95", window_seconds: 300 } });
    expect(await env.ALERT_RULE.getByName(String(body.id)).definition()).toMatchObject({
      kind: "threshold",
      params: { aggregation: "p95", windowSeconds: 300 },
      resolveForSeconds: 300,
      resolveThresholdValue: 800,
      dependsOn: ["database", "redis"],
      cooldownMinutes: 15,
      maxAlertsPerHour: 4,
      escalationPolicyId: null,
    });
    const cleared = await callJson<Rule>("PUT", `${BASE}/${body.id}`, {
      token: admin.token,
      body: { resolve_threshold_value: null, depends_on: [] },
    });
    expect(cleared.body).toMatchObject({ resolve_threshold_value: null, depends_on: [], resolve_for_seconds: 300 });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["threshold", {}, { aggregation: "last", window_seconds: 0 }],
    ["threshold", { aggregation: "last", window_seconds: 60 }, { aggregation: "last", window_seconds: 60 }],
    ["threshold", { aggregation: "rate", window_seconds: 600 }, { aggregation: "rate", window_seconds: 600 }],
    ["threshold", { aggregation: "count" }, { aggregation: "count", window_seconds: 300 }],
    [
      "ratio",
      { denominator_metric: "payments_total", min_denominator: 0 },
      { denominator_metric: "payments_total", window_seconds: 300, min_denominator: 0 },
    ],
    ["absence", { absent_for_seconds: 900 }, { absent_for_seconds: 900 }],
    ["heartbeat", {}, { monitor_id: null }],
    // A new anomaly rule uses the detector; the z-score's window and samples are stored with their defaults.
    [
      "anomaly",
      {},
      { method: "detector", sensitivity: "medium", direction: "both", window_seconds: 21_600, min_samples: 12 },
    ],
    [
      "anomaly",
      { method: "zscore", direction: "up", window_seconds: 3600 },
      { method: "zscore", sensitivity: "medium", direction: "up", window_seconds: 3600, min_samples: 12 },
    ],
    // Without a method, the z-score's window or samples mean the z-score (rules and configurations written before the detector).
    [
      "anomaly",
      { window_seconds: 3600, min_samples: 30, direction: "both" },
      { method: "zscore", sensitivity: "medium", direction: "both", window_seconds: 3600, min_samples: 30 },
    ],
    [
      "anomaly",
      { sensitivity: "low", direction: "down" },
      { method: "detector", sensitivity: "low", direction: "down", window_seconds: 21_600, min_samples: 12 },
    ],
  ])("fills in the %s parameters %j", async (kind, params, stored) => {
    const metric = kind === "heartbeat" ? { metric_name: "heartbeat_ok" } : {};
    const res = await callJson<Rule>("POST", BASE, {
      token: admin.token,
      body: { ...paymentRule, kind, params, ...metric },
    });
    expect(res.status).toBe(201);
    expect(res.body.params).toEqual(stored);
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
      body: { ...paymentRule, params: { denominator_metric: "payments_total" } },
    });
    expect(stray.status).toBe(400);
    expect(fieldsOf(stray.body)).toEqual(["params.denominator_metric"]);
  });

  const heartbeatRule = { ...paymentRule, kind: "heartbeat", metric_name: "heartbeat_ok" };
  const invalid: Case[] = [
    ["a negative resolve_for_seconds", { resolve_for_seconds: -1 }, "resolve_for_seconds", /./],
    ["resolve_for_seconds over a day", { resolve_for_seconds: 86_401 }, "resolve_for_seconds", /./],
    ["a resolve value that is not a number", { resolve_threshold_value: "low" }, "resolve_threshold_value", /./],
    [
      "a resolve value with ==",
      { comparison_operator: "==", resolve_threshold_value: 4 },
      "resolve_threshold_value",
      /only allowed with >, >=, < or <=/,
    ],
    [
      "a resolve value with !=",
      { comparison_operator: "!=", resolve_threshold_value: 4 },
      "resolve_threshold_value",
      /only allowed/,
    ],
    [
      "a resolve value above a > threshold",
      { threshold_value: 5, resolve_threshold_value: 6 },
      "resolve_threshold_value",
      /at most threshold_value \(5\)/,
    ],
    [
      "a resolve value above a >= threshold",
      { comparison_operator: ">=", threshold_value: 5, resolve_threshold_value: 5.5 },
      "resolve_threshold_value",
      /at most/,
    ],
    [
      "a resolve value below a < threshold",
      { comparison_operator: "<", threshold_value: 5, resolve_threshold_value: 4 },
      "resolve_threshold_value",
      /at least threshold_value \(5\)/,
    ],
    [
      "a resolve value below a <= threshold",
      { comparison_operator: "<=", threshold_value: 5, resolve_threshold_value: 1 },
      "resolve_threshold_value",
      /at least/,
    ],
    [
      "a resolve value on an absence rule",
      { kind: "absence", params: { absent_for_seconds: 60 }, resolve_threshold_value: 1 },
      "resolve_threshold_value",
      /absence rules have no threshold/,
    ],
    ["depends_on that is not a list", { depends_on: "database" }, "depends_on", /./],
    ["a repeated dependency", { depends_on: ["database", "database"] }, "depends_on", /repeat/],
    ["a dependency that is not a service name", { depends_on: ["Data Base"] }, "depends_on.0", /lowercase/],
    ["21 dependencies", { depends_on: Array.from({ length: 21 }, (_, i) => `svc${i}`) }, "depends_on", /20/],
    ["a dependency on the rule's own service", { depends_on: ["redis", "ecpay"] }, "depends_on", /own service/],
    ["an unknown aggregation", { params: { aggregation: "median" } }, "params.aggregation", /./],
    [
      "an aggregate over no window",
      { params: { aggregation: "avg", window_seconds: 0 } },
      "params.window_seconds",
      /at least 1 for avg/,
    ],
    ["a window over a day", { params: { aggregation: "max", window_seconds: 86_401 } }, "params.window_seconds", /./],
    [
      "a negative min_denominator",
      { kind: "ratio", params: { denominator_metric: "payments_total", min_denominator: -1 } },
      "params.min_denominator",
      /./,
    ],
    ["an absence without absent_for_seconds", { kind: "absence", params: {} }, "params.absent_for_seconds", /./],
    [
      "an absence with the old window_seconds",
      { kind: "absence", params: { window_seconds: 60 } },
      "params.window_seconds",
      /not a known field/,
    ],
    [
      "an absence of 0 seconds",
      { kind: "absence", params: { absent_for_seconds: 0 } },
      "params.absent_for_seconds",
      /./,
    ],
    ["a heartbeat rule on another metric", { kind: "heartbeat" }, "metric_name", /heartbeat_ok/],
    ["an unknown anomaly method", { kind: "anomaly", params: { method: "ewma" } }, "params.method", /detector/],
    [
      "an unknown sensitivity",
      { kind: "anomaly", params: { sensitivity: "extreme" } },
      "params.sensitivity",
      /low|medium|high/,
    ],
    ["an unknown direction", { kind: "anomaly", params: { direction: "sideways" } }, "params.direction", /./],
    [
      "a z-score window of 0",
      { kind: "anomaly", params: { method: "zscore", window_seconds: 0 } },
      "params.window_seconds",
      /./,
    ],
    [
      "too few z-score samples",
      { kind: "anomaly", params: { method: "zscore", min_samples: 2 } },
      "params.min_samples",
      /./,
    ],
    [
      "a resolve value on a detector anomaly rule",
      { kind: "anomaly", params: { method: "detector" }, resolve_threshold_value: 1 },
      "resolve_threshold_value",
      /method detector have no threshold/,
    ],
    ["a threshold rule without a threshold", { threshold_value: undefined }, "threshold_value", /required/],
    [
      "a heartbeat monitor id that is not an id",
      { ...heartbeatRule, params: { monitor_id: "3" } },
      "params.monitor_id",
      /./,
    ],
    [
      "a resolve value on a heartbeat rule",
      { ...heartbeatRule, resolve_threshold_value: 1 },
      "resolve_threshold_value",
      /heartbeat rules have no threshold/,
    ],
  ];

  it.each(invalid)("rejects %s", async (_label, over, field, reason) => {
    const res = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body: { ...paymentRule, ...over } });
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("needs no threshold for an anomaly rule: the detector does not read one, the z-score defaults to 3.5", async () => {
    // Undefined fields are left out of the JSON body.
    const noThreshold = { ...paymentRule, threshold_value: undefined };
    const post = (params: Record<string, unknown>) =>
      callJson<Rule>("POST", BASE, { token: admin.token, body: { ...noThreshold, kind: "anomaly", params } });
    const detector = await post({ direction: "up" });
    expect(detector.status).toBe(201);
    expect(detector.body).toMatchObject({ threshold_value: 0, params: { method: "detector", direction: "up" } });
    const zscore = await post({ method: "zscore" });
    expect(zscore.status).toBe(201);
    expect(zscore.body).toMatchObject({ threshold_value: 3.5, comparison_operator: ">" });
  });

  it("reads an anomaly rule stored before methods existed as a z-score rule", async () => {
    const row = await env.DB.prepare(
      `INSERT INTO alert_rules (rule_name, metric_name, kind, comparison_operator, threshold_value, params, severity, notification_channels)
       VALUES ('old anomaly', 'm', 'anomaly', '>', 4, '{"window_seconds":3600,"min_samples":30,"direction":"up"}', 'warning', '["email"]')
       RETURNING id`,
    ).first<{ id: number }>();
    const res = await callJson<Rule>("GET", `${BASE}/${row?.id}`, { token: admin.token });
    expect(res.body.params).toEqual({
      method: "zscore",
      sensitivity: "medium",
      direction: "up",
      window_seconds: 3600,
      min_samples: 30,
    });
  });

  it("accepts a resolve value on the clear side, or equal to the threshold", async () => {
    for (const [op, resolve] of [
      [">", 3],
      [">=", 5],
      ["<", 8],
      ["<=", 5],
    ] as const) {
      const res = await callJson<Rule>("POST", BASE, {
        token: admin.token,
        body: { ...paymentRule, comparison_operator: op, threshold_value: 5, resolve_threshold_value: resolve },
      });
      expect(res.status, op).toBe(201);
      expect(res.body.resolve_threshold_value).toBe(resolve);
    }
  });

  it("requires a heartbeat rule's monitor to be a heartbeat monitor of the rule's service", async () => {
    const insert = (kind: string, service: string) =>
      env.DB.prepare("INSERT INTO monitors (name, service, kind, config) VALUES (?, ?, ?, '{}') RETURNING id")
        .bind(`${kind} on ${service}`, service, kind)
        .first<{ id: number }>()
        .then((row) => row?.id ?? 0);
    const [beat, http, elsewhere] = await Promise.all([
      insert("heartbeat", "ecpay"),
      insert("http", "ecpay"),
      insert("heartbeat", "shop"),
    ]);
    const post = (monitorId: number, service: string | null = "ecpay") =>
      callJson<ErrorBody & Rule>("POST", BASE, {
        token: admin.token,
        body: { ...heartbeatRule, service, params: { monitor_id: monitorId } },
      });
    const ok = await post(beat);
    expect(ok.status).toBe(201);
    expect(ok.body.params).toEqual({ monitor_id: beat });
    expect((await post(elsewhere, null)).status).toBe(201);
    for (const [id, reason] of [
      [999_999, /no monitor with id 999999/],
      [http, /not a heartbeat monitor \(it is http\)/],
      [elsewhere, /belongs to service shop, not ecpay/],
    ] as const) {
      const res = await post(id);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual([{ field: "params.monitor_id", reason: expect.stringMatching(reason) }]);
    }
  });

  it("validates a partial update against the merged rule", async () => {
    const { body } = await callJson<Rule>("POST", BASE, { token: admin.token, body: paymentRule });
    const res = await callJson("PUT", `${BASE}/${body.id}`, { token: admin.token, body: { kind: "absence" } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toContain("params.absent_for_seconds");
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
    expect(noData.body).toMatchObject({
      series: [],
      reason: "no payment_failure_rate series on ecpay matches the rule",
    });
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
    // As each channel would send it, from the channels' own renderers.
    const previews = (res.body.notification as unknown as { previews: { channel: string; content: string }[] })
      .previews;
    expect(previews.map((p) => p.channel)).toEqual(["email", "slack"]);
    expect(previews[0]?.content).toMatch(/^Subject: \[CRITICAL\] FIRING: Payment Failure Rate > 5% on ecpay \(#0\)\n/);
    const slack = JSON.parse(previews[1]?.content ?? "{}") as { text: string; blocks: unknown[] };
    expect(slack.text).toContain("Payment Failure Rate &gt; 5% on ecpay");
    expect(slack.blocks.length).toBeGreaterThan(1);
    expect(res.body.series).toEqual([
      {
        fingerprint: "payment_failure_rate|ecpay|",
        service: "ecpay",
        labels: {},
        state: "firing",
        value: 8.25,
        observed_at: new Date(now - 5_000).toISOString(),
        reason: "latest value 8.25 > 5",
      },
    ]);

    await record("payment_failure_rate", 1, now - 1_000);
    const ok = await callJson("POST", `${BASE}/${body.id}/test`, { token: admin.token });
    expect(ok.body).toMatchObject({ would_fire: false, state: "ok", value: 1 });
  });

  it("dry-runs an unsaved rule as the saved one would run, and names a bad field", async () => {
    const metric = "unsaved_dry_run_rate";
    await record(metric, 9.5, Date.now() - 3_000);
    const res = await callJson<Record<string, unknown>>("POST", `${BASE}/test`, {
      token: admin.token,
      body: { ...paymentRule, rule_name: "Unsaved", metric_name: metric },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rule_id: null, would_fire: true, state: "firing", value: 9.5 });
    const bad = await callJson("POST", `${BASE}/test`, {
      token: admin.token,
      body: { ...paymentRule, metric_name: metric, kind: "ratio", params: { window_seconds: 60 } },
    });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(["params.denominator_metric"]);
    // Nothing was saved.
    const list = await callJson<{ rules: Rule[] }>("GET", `${BASE}?limit=500`, { token: admin.token });
    expect(list.body.rules.some((r) => r.metric_name === metric)).toBe(false);
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

  type TestBody = Record<string, unknown> & {
    series: Record<string, unknown>[];
    notification: { title: string; body: string };
  };
  const dryRun = async (rule: Record<string, unknown>) => {
    const created = await callJson<Rule>("POST", BASE, { token: admin.token, body: { ...paymentRule, ...rule } });
    expect(created.status).toBe(201);
    return callJson<TestBody>("POST", `${BASE}/${created.body.id}/test`, { token: admin.token });
  };
  const sample = (
    metric: string,
    service: string,
    labels: Record<string, string>,
    value: number,
    ts: number,
  ): Sample => ({
    metric,
    service,
    labels,
    value,
    ts,
  });

  it("evaluates a rule without a service on every series the index knows, worst first in the verdict", async () => {
    const now = Date.now();
    const m = "checkout_latency_ms";
    await recordIndexed([
      sample(m, "shop-a", { region: "tw" }, 300, now - 120_000),
      sample(m, "shop-a", { region: "tw" }, 500, now - 60_000),
      sample(m, "shop-b", { region: "tw" }, 900, now - 60_000),
      sample(m, "shop-b", { region: "tw" }, 1100, now - 30_000),
      sample(m, "shop-b", { region: "jp" }, 5000, now - 30_000),
    ]);
    const res = await dryRun({
      rule_name: "Checkout slow",
      metric_name: m,
      service: null,
      labels: { region: "tw" },
      threshold_value: 800,
      params: { aggregation: "avg", window_seconds: 300 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      would_fire: true,
      state: "firing",
      value: 1000,
      observed_at: new Date(now - 30_000).toISOString(),
      reason: "avg over 300s 1000 > 800",
    });
    expect(res.body.notification.title).toBe("[CRITICAL] Checkout slow on shop-b");
    expect(res.body.notification.body).toContain('checkout_latency_ms{region="tw"} on shop-b: 1000');
    expect(res.body.series).toEqual([
      expect.objectContaining({ fingerprint: `${m}|shop-a|region="tw"`, service: "shop-a", state: "ok", value: 400 }),
      expect.objectContaining({
        fingerprint: `${m}|shop-b|region="tw"`,
        service: "shop-b",
        state: "firing",
        value: 1000,
      }),
    ]);
  });

  it("gives no data for a ratio below its min_denominator", async () => {
    const now = Date.now();
    await record("refunds_failed", 3, now - 10_000, "shop-r");
    await record("refunds_total", 5, now - 10_000, "shop-r");
    const res = await dryRun({
      metric_name: "refunds_failed",
      service: "shop-r",
      kind: "ratio",
      params: { denominator_metric: "refunds_total", window_seconds: 60, min_denominator: 10 },
    });
    expect(res.body).toMatchObject({
      would_fire: false,
      state: "no_data",
      value: null,
      reason: "only 5 refunds_total in the last 60s; need 10",
    });
  });

  it("fires a heartbeat rule with the late or failed job's own message", async () => {
    const now = Date.now();
    const beat = (monitor: string, value: number, ts: number, message?: string) =>
      familyStub(env, "heartbeat_ok", "cron-jobs").record([
        { ...sample("heartbeat_ok", "cron-jobs", { monitor }, value, ts), ...(message ? { message } : {}) },
      ]);
    await beat("41", 1, now - 120_000);
    await beat("41", 0, now - 60_000, "failed: exit code 2");
    await beat("42", 1, now - 60_000);
    const res = await dryRun({
      rule_name: "Cron jobs",
      metric_name: "heartbeat_ok",
      service: "cron-jobs",
      kind: "heartbeat",
      params: {},
    });
    expect(res.body).toMatchObject({ would_fire: true, state: "firing", value: 0, reason: "failed: exit code 2" });
    expect(res.body.series.map((s) => [s.labels, s.state, s.reason])).toEqual([
      [{ monitor: "41" }, "firing", "failed: exit code 2"],
      [{ monitor: "42" }, "ok", "on time"],
    ]);
  });

  it("judges an absence rule on the series the index knows, including one that went quiet", async () => {
    const now = Date.now();
    await recordIndexed([
      sample("orders_total", "shop-c", { shop: "x" }, 1, now - 3_600_000),
      sample("orders_total", "shop-c", { shop: "y" }, 1, now - 5_000),
    ]);
    const res = await dryRun({
      metric_name: "orders_total",
      service: "shop-c",
      kind: "absence",
      params: { absent_for_seconds: 600 },
    });
    expect(res.body).toMatchObject({
      would_fire: true,
      state: "firing",
      observed_at: new Date(now - 3_600_000).toISOString(),
    });
    expect(res.body.reason).toMatch(/^last sample 360\ds ago \(limit 600s\)$/);
    expect(res.body.series.map((s) => [s.labels, s.state])).toEqual([
      [{ shop: "x" }, "firing"],
      [{ shop: "y" }, "ok"],
    ]);
    const never = await dryRun({
      metric_name: "orders_total",
      service: "shop-never",
      kind: "absence",
      params: { absent_for_seconds: 600 },
    });
    expect(never.body).toMatchObject({ state: "firing", value: null, reason: "no sample at all (limit 600s)" });
  });
});

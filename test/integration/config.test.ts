/**
 * Configuration as code through the real Worker: export, delete, import (dry run, then
 * apply) brings a rule back and configures its Durable Object; an export imports back
 * onto itself unchanged; a bad document is refused whole with the field's path; no
 * secrets leave.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { REDACTED } from "../../worker/core/config-doc";
import { runnerName } from "../../worker/core/schedule";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const API = "/api/admin/monitoring";
type Doc = Record<string, unknown> & { rules: Record<string, unknown>[]; monitors: Record<string, unknown>[] };
type SectionDiff = {
  create: string[];
  update: { key: string; changes: { field: string; from: unknown; to: unknown }[] }[];
  delete: string[];
  unchanged: string[];
};
type ImportResult = { dry_run: boolean; applied: boolean; changes: boolean; diff: Record<string, SectionDiff> };

let admin: TestAdmin;
let viewer: TestAdmin;
let oncall: TestAdmin;
let ruleId = 0;
let heartbeatMonitorId = 0;

const RULE_NAME = "Config: checkout latency";

/** Set-up must not go on from a refused create (expect belongs in the tests). */
function created(res: { status: number; body: unknown }) {
  if (res.status !== 201) throw new Error(`set-up create answered ${res.status}: ${JSON.stringify(res.body)}`);
}

beforeAll(async () => {
  admin = await createAdmin("admin");
  viewer = await createAdmin("viewer");
  oncall = await createAdmin("admin", "oncall-config@example.com");
  const policy = await callJson<{ id: number }>("POST", `${API}/escalation-policies`, {
    token: admin.token,
    body: {
      name: "Config on-call",
      steps: [{ after_minutes: 0, channels: ["email"], targets: { admin_ids: [oncall.id], roles: ["owner"] } }],
    },
  });
  created(policy);
  const rule = await callJson<{ id: number }>("POST", `${API}/rules`, {
    token: admin.token,
    body: {
      rule_name: RULE_NAME,
      metric_name: "checkout_latency_ms",
      service: "checkout",
      threshold_value: 800,
      severity: "warning",
      notification_channels: ["email"],
      escalation_policy_id: policy.body.id,
    },
  });
  created(rule);
  ruleId = rule.body.id;
  const scrape = await callJson("POST", `${API}/monitors`, {
    token: admin.token,
    body: {
      name: "Checkout metrics",
      service: "checkout",
      kind: "prometheus",
      url: "https://checkout.example.com/metrics",
      headers: { Authorization: "Bearer scrape-secret-123", Accept: "text/plain" },
    },
  });
  created(scrape);
  const hb = await callJson<{ id: number; heartbeat_url: string }>("POST", `${API}/monitors`, {
    token: admin.token,
    body: { name: "Nightly backup", service: "backup", kind: "heartbeat", period_seconds: 86_400 },
  });
  created(hb);
  heartbeatMonitorId = hb.body.id;
  const hbRule = await callJson("POST", `${API}/rules`, {
    token: admin.token,
    body: {
      rule_name: "Config: backup missed",
      metric_name: "heartbeat_ok",
      service: "backup",
      kind: "heartbeat",
      comparison_operator: "<",
      threshold_value: 1,
      params: { monitor_id: heartbeatMonitorId },
      severity: "warning",
      notification_channels: ["email"],
    },
  });
  created(hbRule);
  const silence = await callJson("POST", `${API}/silences`, {
    token: admin.token,
    body: {
      matchers: [{ name: "service", value: "backup" }],
      ends_at: new Date(Date.now() + 86_400_000).toISOString(),
      comment: "Backup migration",
    },
  });
  created(silence);
});

const exportDoc = async (token = admin.token) => {
  const res = await callJson<Doc>("GET", `${API}/config`, { token });
  expect(res.status).toBe(200);
  return res.body;
};

const importDoc = (doc: unknown, query = "", token = admin.token) =>
  callJson<ImportResult>("POST", `${API}/config/import${query}`, { token, body: doc });

describe("configuration as code", () => {
  it("exports every section by name, with references by name and no secrets", async () => {
    const doc = await exportDoc(viewer.token);
    expect(doc.version).toBe(1);
    const rule = doc.rules.find((r) => r.rule_name === RULE_NAME);
    expect(rule).toMatchObject({ escalation_policy: "Config on-call", threshold_value: 800 });
    expect(rule).not.toHaveProperty("id");
    expect(rule).not.toHaveProperty("escalation_policy_id");
    expect(doc.rules.map((r) => r.rule_name)).toContain("Edge Monitor: cron stopped");
    expect(doc.rules.find((r) => r.rule_name === "Config: backup missed")?.params).toEqual({
      monitor: "backup/Nightly backup",
    });
    const policy = (doc.escalation_policies as Record<string, unknown>[]).find((p) => p.name === "Config on-call");
    expect(policy?.steps).toEqual([
      { after_minutes: 0, channels: ["email"], targets: { admin_emails: [oncall.email], roles: ["owner"] } },
    ]);
    const scrape = doc.monitors.find((m) => m.name === "Checkout metrics");
    expect(scrape?.headers).toEqual({ Authorization: REDACTED, Accept: "text/plain" });
    expect((doc.silences as Record<string, unknown>[]).map((s) => s.comment)).toContain("Backup migration");
    expect(doc.service_names).toMatchObject({ ecpay: "ECPay Integration" });

    const text = JSON.stringify(doc);
    expect(text).not.toContain("scrape-secret-123");
    expect(text).not.toContain("/api/heartbeat/");
    expect(text).not.toMatch(/slug|token_hash|webhook/i);
    const [slug] = await env.DB.prepare("SELECT heartbeat_slug FROM monitors WHERE id = ?")
      .bind(heartbeatMonitorId)
      .raw<[string]>();
    expect(text).not.toContain(slug?.[0]);
  });

  it("imports an export back onto itself as unchanged", async () => {
    const doc = await exportDoc();
    const res = await importDoc(doc);
    expect(res.status).toBe(200);
    expect(res.body.changes).toBe(false);
    expect(res.body.applied).toBe(false);
    for (const section of Object.values(res.body.diff)) {
      expect(section.create).toEqual([]);
      expect(section.update).toEqual([]);
      expect(section.delete).toEqual([]);
    }
    expect(res.body.diff.rules?.unchanged).toContain(RULE_NAME);
    expect(res.body.diff.monitors?.unchanged).toContain("checkout/Checkout metrics");
    // The redacted header kept its stored value.
    const [config] = await env.DB.prepare("SELECT config FROM monitors WHERE name = 'Checkout metrics'").raw<
      [string]
    >();
    expect(JSON.parse(config?.[0] ?? "{}").headers.Authorization).toBe("Bearer scrape-secret-123");
  });

  it("brings a deleted rule back: the dry run shows it, the import creates and configures it", async () => {
    const doc = await exportDoc();
    expect((await call("DELETE", `${API}/rules/${ruleId}`, { token: admin.token })).status).toBe(204);

    const dry = await importDoc(doc, "?dry_run=1");
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dry_run: true, applied: false, changes: true });
    expect(dry.body.diff.rules?.create).toEqual([RULE_NAME]);
    expect(dry.body.diff.rules?.update).toEqual([]);
    const afterDry = await callJson<{ rules: { rule_name: string }[] }>("GET", `${API}/rules`, { token: admin.token });
    expect(afterDry.body.rules.map((r) => r.rule_name)).not.toContain(RULE_NAME);

    // Viewers export but do not import.
    expect((await importDoc(doc, "", viewer.token)).status).toBe(403);

    const applied = await importDoc(doc);
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ dry_run: false, applied: true });
    expect(applied.body.diff.rules?.create).toEqual([RULE_NAME]);
    const list = await callJson<{ rules: { id: number; rule_name: string; escalation_policy_id: number | null }[] }>(
      "GET",
      `${API}/rules`,
      { token: admin.token },
    );
    const back = list.body.rules.find((r) => r.rule_name === RULE_NAME);
    expect(back).toBeDefined();
    expect(back?.id).not.toBe(ruleId);
    expect(back?.escalation_policy_id).not.toBeNull();
    // The rule's object evaluates it, as after a create through the rules API.
    expect(await env.ALERT_RULE.getByName(String(back?.id)).definition()).toMatchObject({
      ruleName: RULE_NAME,
      thresholdValue: 800,
    });

    const again = await importDoc(doc);
    expect(again.body.changes).toBe(false);
  });

  it("updates changed fields, reporting each, and deletes only with prune", async () => {
    const doc = await exportDoc();
    const rules = doc.rules.map((r) => (r.rule_name === RULE_NAME ? { ...r, threshold_value: 900 } : r));
    const res = await importDoc({ version: 1, rules: rules.filter((r) => r.rule_name !== "Config: backup missed") });
    expect(res.status).toBe(200);
    expect(res.body.diff.rules?.update).toEqual([
      { key: RULE_NAME, changes: [{ field: "threshold_value", from: 800, to: 900 }] },
    ]);
    // Without prune a rule the document leaves out stays; sections left out are untouched.
    expect(res.body.diff.rules?.delete).toEqual([]);
    expect(res.body.diff.monitors).toEqual({ create: [], update: [], delete: [], unchanged: [] });
    const stored = await callJson<{ rules: { id: number; rule_name: string; threshold_value: number }[] }>(
      "GET",
      `${API}/rules`,
      { token: admin.token },
    );
    const rule = stored.body.rules.find((r) => r.rule_name === RULE_NAME);
    expect(rule?.threshold_value).toBe(900);
    expect(await env.ALERT_RULE.getByName(String(rule?.id)).definition()).toMatchObject({ thresholdValue: 900 });
    expect(stored.body.rules.map((r) => r.rule_name)).toContain("Config: backup missed");

    const pruneDry = await importDoc({ version: 1, rules }, "?dry_run=1&prune=1");
    expect(pruneDry.body.diff.rules?.delete).toEqual([]);
    const pruned = await importDoc(
      { version: 1, rules: rules.filter((r) => r.rule_name !== "Config: backup missed") },
      "?prune=1",
    );
    expect(pruned.body.diff.rules?.delete).toEqual(["Config: backup missed"]);
    const after = await callJson<{ rules: { rule_name: string }[] }>("GET", `${API}/rules`, { token: admin.token });
    expect(after.body.rules.map((r) => r.rule_name)).not.toContain("Config: backup missed");
  });

  it("creates a policy, a heartbeat monitor and the rules referencing them in one import", async () => {
    const res = await importDoc({
      version: 1,
      escalation_policies: [
        {
          name: "Imported policy",
          steps: [{ after_minutes: 0, channels: ["sms"], targets: { admin_emails: [oncall.email] } }],
        },
      ],
      monitors: [{ name: "Imported job", service: "jobs", kind: "heartbeat", period_seconds: 3600 }],
      rules: [
        {
          rule_name: "Imported job missed",
          metric_name: "heartbeat_ok",
          service: "jobs",
          kind: "heartbeat",
          comparison_operator: "<",
          threshold_value: 1,
          params: { monitor: "jobs/Imported job" },
          severity: "warning",
          notification_channels: ["sms"],
          escalation_policy: "Imported policy",
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.diff.rules?.create).toEqual(["Imported job missed"]);
    const monitors = await callJson<{ monitors: { id: number; name: string; heartbeat_url: string | null }[] }>(
      "GET",
      `${API}/monitors`,
      { token: admin.token },
    );
    const job = monitors.body.monitors.find((m) => m.name === "Imported job");
    expect(job?.heartbeat_url).toMatch(/\/api\/heartbeat\/[\w-]{20,}$/);
    const rules = await callJson<{ rules: { rule_name: string; params: { monitor_id: number } }[] }>(
      "GET",
      `${API}/rules`,
      { token: admin.token },
    );
    expect(rules.body.rules.find((r) => r.rule_name === "Imported job missed")?.params.monitor_id).toBe(job?.id);
  });

  it("imports anomaly rules: a detector rule without a threshold, and one exported before methods existed as a z-score rule", async () => {
    const anomaly = {
      service: "ecpay",
      kind: "anomaly",
      severity: "warning",
      notification_channels: ["email"],
      for_seconds: 120,
    };
    const doc = {
      version: 1,
      rules: [
        {
          ...anomaly,
          rule_name: "Imported unusual payments",
          metric_name: "payment_success_rate",
          params: { method: "detector", sensitivity: "medium", direction: "down" },
        },
        {
          ...anomaly,
          rule_name: "Imported old z-score",
          metric_name: "payment_failure_rate",
          threshold_value: 4,
          params: { window_seconds: 3600, min_samples: 30, direction: "up" },
        },
      ],
    };
    const res = await importDoc(doc);
    expect(res.status).toBe(200);
    expect(res.body.diff.rules?.create).toEqual(["Imported unusual payments", "Imported old z-score"]);
    const exported = await exportDoc();
    expect(exported.rules.find((r) => r.rule_name === "Imported unusual payments")).toMatchObject({
      threshold_value: 0,
      params: { method: "detector", sensitivity: "medium", direction: "down" },
    });
    expect(exported.rules.find((r) => r.rule_name === "Imported old z-score")?.params).toEqual({
      method: "zscore",
      sensitivity: "medium",
      direction: "up",
      window_seconds: 3600,
      min_samples: 30,
    });
    // The same document again changes nothing.
    expect((await importDoc(doc)).body.changes).toBe(false);
  });

  it("schedules an imported monitor and saves service names, as the API's own writes do", async () => {
    const res = await importDoc({
      version: 1,
      service_names: { checkout: "Checkout" },
      monitors: [
        { name: "Imported probe", service: "checkout", kind: "http", url: "http://127.0.0.1:9/", interval_seconds: 10 },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.diff.service_names?.create).toEqual(["checkout"]);
    const list = await callJson<{ monitors: { id: number; name: string }[] }>("GET", `${API}/monitors`, {
      token: admin.token,
    });
    const id = list.body.monitors.find((m) => m.name === "Imported probe")?.id ?? 0;
    // A 10 s probe runs in its ProbeRunner, which the import assigned it to.
    const held = await runInDurableObject(env.PROBE_RUNNER.getByName(runnerName(id)), (_runner, state) =>
      state.storage.sql
        .exec<{ id: number }>("SELECT id FROM monitors")
        .toArray()
        .map((r) => r.id),
    );
    expect(held).toContain(id);
    const settings = await callJson<{ service_names: Record<string, string> }>("GET", `${API}/dashboard`, {
      token: admin.token,
    });
    // Merged: the names the document leaves out stay.
    expect(settings.body.service_names).toMatchObject({ checkout: "Checkout", ecpay: "ECPay Integration" });
  });

  it("refuses a bad document whole, naming each field by its path", async () => {
    const doc = await exportDoc();
    const index = doc.rules.findIndex((r) => r.rule_name === RULE_NAME);
    doc.rules[index] = { ...doc.rules[index], threshold_value: "high", escalation_policy: "No such policy" };
    doc.rules.push({ ...doc.rules[index], rule_name: "Brand new rule", threshold_value: 5, escalation_policy: null });
    const res = await callJson<ErrorBody>("POST", `${API}/config/import`, { token: admin.token, body: doc });
    expect(res.status).toBe(400);
    const fields = res.body.details.map((d) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining([`rules.${index}.escalation_policy`, `rules.${index}.threshold_value`]),
    );
    const policies = (doc.escalation_policies as Record<string, unknown>[]).map((p) => ({
      ...p,
      steps: [{ after_minutes: 0, channels: ["email"], targets: { admin_emails: ["nobody@example.com"] } }],
    }));
    const bad = await callJson<ErrorBody>("POST", `${API}/config/import`, {
      token: admin.token,
      body: { version: 1, escalation_policies: policies, rules: [{ ...doc.rules[index], escalation_policy: null }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toContainEqual({
      field: "escalation_policies.0.steps.0.targets.admin_emails.0",
      reason: "no admin with email nobody@example.com",
    });
    expect(bad.body.details.map((d) => d.field)).toContain("rules.0.threshold_value");
    // Nothing of it was written.
    const rules = await callJson<{ rules: { rule_name: string }[] }>("GET", `${API}/rules`, { token: admin.token });
    expect(rules.body.rules.map((r) => r.rule_name)).not.toContain("Brand new rule");

    const version = await callJson<ErrorBody>("POST", `${API}/config/import`, {
      token: admin.token,
      body: { version: 2, rulez: [] },
    });
    expect(version.status).toBe(400);
    expect(version.body.details.map((d) => d.field)).toEqual(expect.arrayContaining(["version", "rulez"]));
    const notJson = await callJson<ErrorBody>("POST", `${API}/config/import`, { token: admin.token, body: "{rules" });
    expect(notJson.status).toBe(400);
  });

  it("refuses a document over the size limit with 413", async () => {
    const huge = { version: 1, rules: [{ rule_name: "x".repeat(3 * 1024 * 1024) }] };
    const res = await callJson<ErrorBody>("POST", `${API}/config/import`, { token: admin.token, body: huge });
    expect(res.status).toBe(413);
  });

  it("takes the README's example document", async () => {
    const section = readme.slice(readme.indexOf("## Configuration as code"));
    const example = section.match(/```json\n([\s\S]*?)\n```/)?.[1];
    expect(example).toBeDefined();
    await createAdmin("admin", "oncall@example.com");
    const res = await importDoc(JSON.parse(example ?? "null"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.diff.rules?.create).toEqual(["Payment Failure Rate > 5%", "Backup missed"]);
    // "backup/Nightly backup" is stored already (beforeAll): an update.
    expect(res.body.diff.monitors?.create).toEqual(["api/Metrics"]);
    expect(res.body.diff.escalation_policies?.create).toEqual(["Payments on-call"]);
  });
});

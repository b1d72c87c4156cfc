import { describe, expect, it } from "vitest";
import {
  canonical,
  diffConfig,
  diffIsEmpty,
  indexByKey,
  itemKey,
  monitorToDoc,
  naturalKey,
  policyFromDoc,
  policyToDoc,
  REDACTED,
  restoreSecrets,
  ruleFromDoc,
  ruleToDoc,
  silenceToDoc,
  withKeys,
} from "../../../worker/core/config-doc";

const rule = (name: string, over: Record<string, unknown> = {}) => ({
  rule_name: name,
  metric_name: "m",
  threshold_value: 1,
  params: { aggregation: "last", window_seconds: 0 },
  ...over,
});

describe("keys", () => {
  it("keys each section by its natural key", () => {
    expect(naturalKey("rules", rule(" High latency "))).toBe("High latency");
    expect(naturalKey("monitors", { name: "Gateway", service: "ecpay" })).toBe("ecpay/Gateway");
    expect(naturalKey("escalation_policies", { name: "On-call" })).toBe("On-call");
    const matchers = [
      { name: "service", value: "db", is_regex: false, is_equal: true },
      { name: "env", value: "prod.*", is_regex: true, is_equal: false },
    ];
    expect(naturalKey("silences", { comment: "Upgrade", matchers })).toBe('Upgrade {env!~"prod.*", service="db"}');
    // Matcher order does not change the key.
    expect(naturalKey("silences", { comment: "Upgrade", matchers: [matchers[1], matchers[0]] })).toBe(
      naturalKey("silences", { comment: "Upgrade", matchers }),
    );
  });

  it("gives duplicates distinct explicit keys, which win over the natural one", () => {
    const items = withKeys("rules", [rule("A"), rule("B"), rule("A"), rule("A")]);
    expect(items.map((i) => itemKey("rules", i))).toEqual(["A", "B", "A #2", "A #3"]);
    expect(items[0]).not.toHaveProperty("key");
    expect(indexByKey("rules", items).issues).toEqual([]);
  });

  it("names the second object that reuses a key", () => {
    const { issues } = indexByKey("rules", [rule("A"), rule("B"), rule("A")]);
    expect(issues).toEqual([{ field: "rules.2", reason: expect.stringContaining('"A" is already used by rules.0') }]);
  });
});

describe("mapping references", () => {
  it("turns a rule's policy id and heartbeat monitor id into names and back", () => {
    const wire = rule("Backup missed", { escalation_policy_id: 7, params: { monitor_id: 3 } });
    const doc = ruleToDoc(
      wire,
      (id) => (id === 7 ? "On-call" : undefined),
      (id) => (id === 3 ? "backup/Nightly" : undefined),
    );
    expect(doc).toEqual(rule("Backup missed", { escalation_policy: "On-call", params: { monitor: "backup/Nightly" } }));
    const back = ruleFromDoc(
      doc,
      {
        policyId: (name) => (name === "On-call" ? 7 : undefined),
        monitor: (key) => (key === "backup/Nightly" ? { id: 3, kind: "heartbeat" } : undefined),
      },
      "rules.0",
    );
    expect(back).toEqual({ wire, issues: [] });
  });

  it("reports unknown references and monitors that are not heartbeats, by path", () => {
    const { issues } = ruleFromDoc(
      rule("R", { escalation_policy: "Nobody", params: { monitor: "web/Home" } }),
      { policyId: () => undefined, monitor: () => ({ id: 1, kind: "http" }) },
      "rules.4",
    );
    expect(issues.map((i) => i.field)).toEqual(["rules.4.escalation_policy", "rules.4.params.monitor"]);
    expect(issues[1]?.reason).toMatch(/not a heartbeat monitor/);
  });

  it("targets admins by email in the document and by id in the API", () => {
    const wire = {
      name: "P",
      steps: [{ after_minutes: 0, channels: ["email"], targets: { admin_ids: [1, 2, 99], roles: ["owner"] } }],
    };
    const emails = new Map([
      [1, "a@example.com"],
      [2, "b@example.com"],
    ]);
    const doc = policyToDoc(wire, (id) => emails.get(id));
    // An id of a removed admin targets nobody: it is left out.
    expect(doc.steps).toEqual([
      {
        after_minutes: 0,
        channels: ["email"],
        targets: { admin_emails: ["a@example.com", "b@example.com"], roles: ["owner"] },
      },
    ]);
    const ids = new Map([...emails].map(([id, email]) => [email, id]));
    const back = policyFromDoc(doc, (email) => ids.get(email), "escalation_policies.0");
    expect(back.wire.steps).toEqual([
      { after_minutes: 0, channels: ["email"], targets: { admin_ids: [1, 2], roles: ["owner"] } },
    ]);
    const unknown = policyFromDoc(
      { ...doc, steps: [{ after_minutes: 0, channels: ["email"], targets: { admin_emails: ["C@example.com"] } }] },
      () => undefined,
      "escalation_policies.2",
    );
    expect(unknown.issues).toEqual([
      { field: "escalation_policies.2.steps.0.targets.admin_emails.0", reason: "no admin with email C@example.com" },
    ]);
  });

  it("leaves unset monitor settings out and redacts credential-like headers", () => {
    const wire = {
      name: "Scrape",
      service: "api",
      kind: "prometheus",
      url: "https://api.example.com/metrics",
      headers: { Authorization: "Bearer s3cret", "X-Api-Key": "k", Accept: "text/plain" },
      cron: null,
      timeout_ms: null,
    };
    const doc = monitorToDoc(wire);
    expect(doc).toEqual({
      name: "Scrape",
      service: "api",
      kind: "prometheus",
      url: "https://api.example.com/metrics",
      headers: { Authorization: REDACTED, "X-Api-Key": REDACTED, Accept: "text/plain" },
    });
    expect(JSON.stringify(doc)).not.toContain("s3cret");
    // Sent back redacted, a header keeps the stored value; with nothing stored it is an issue.
    expect(restoreSecrets(doc, wire, "monitors.0")).toEqual({
      item: { ...doc, headers: wire.headers },
      issues: [],
    });
    const fresh = restoreSecrets(doc, undefined, "monitors.1");
    expect(fresh.issues.map((i) => i.field)).toEqual([
      "monitors.1.headers.Authorization",
      "monitors.1.headers.X-Api-Key",
    ]);
  });

  it("writes a silence's window as ISO instants", () => {
    expect(silenceToDoc({ comment: "c", starts_at: 0, ends_at: 60_000 })).toMatchObject({
      starts_at: "1970-01-01T00:00:00.000Z",
      ends_at: "1970-01-01T00:01:00.000Z",
    });
  });
});

describe("diffConfig", () => {
  const current = {
    version: 1 as const,
    service_names: { api: "Shop API", db: "Database" },
    rules: [rule("A"), rule("B", { threshold_value: 2 }), rule("C")],
  };

  it("sorts objects into create, update (with each changed field), unchanged; never delete by default", () => {
    const incoming = {
      version: 1 as const,
      service_names: { api: "Storefront API", cache: "Redis" },
      rules: [
        rule("A"),
        rule("B", { threshold_value: 3, params: { window_seconds: 0, aggregation: "last" } }),
        rule("D"),
      ],
    };
    const diff = diffConfig(current, incoming);
    expect(diff.rules).toEqual({
      create: ["D"],
      update: [{ key: "B", changes: [{ field: "threshold_value", from: 2, to: 3 }] }],
      delete: [],
      unchanged: ["A"],
    });
    expect(diff.service_names).toEqual({
      create: ["cache"],
      update: [{ key: "api", changes: [{ field: "name", from: "Shop API", to: "Storefront API" }] }],
      delete: [],
      unchanged: [],
    });
    // Sections the document leaves out are untouched.
    expect(diff.monitors).toEqual({ create: [], update: [], delete: [], unchanged: [] });
    expect(diffIsEmpty(diff)).toBe(false);
  });

  it("deletes what a section leaves out only with prune, and only in the sections it has", () => {
    const diff = diffConfig(current, { version: 1, rules: [rule("A")] }, { prune: true });
    expect(diff.rules.delete).toEqual(["B", "C"]);
    expect(diff.service_names.delete).toEqual([]);
  });

  it("finds nothing to do for the same configuration, whatever the key order", () => {
    const same = {
      version: 1 as const,
      rules: current.rules.map((r) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? 1 : -1)))),
    };
    const diff = diffConfig(current, same, { prune: true });
    expect(diffIsEmpty(diff)).toBe(true);
    expect(diff.rules.unchanged).toEqual(["A", "B", "C"]);
  });

  it("treats a missing field as null", () => {
    const diff = diffConfig(
      { version: 1, rules: [rule("A", { escalation_policy: null })] },
      { version: 1, rules: [rule("A")] },
    );
    expect(diff.rules.unchanged).toEqual(["A"]);
    expect(canonical({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});

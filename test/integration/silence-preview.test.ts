/**
 * A silence before and after saving: the preview answers the open alerts its matchers
 * match (on the engine's pseudo-labels too) and whether it is in effect now; the alert
 * API marks an open alert with the silences in effect on it; expiring ends one early.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
const HOUR = 3_600_000;

let admin: TestAdmin;
let viewer: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
  viewer = await createAdmin("viewer");
});

let counter = 0;
const fresh = (name: string) => `${name}_${Date.now().toString(36)}_${++counter}`;

async function createRule(name: string): Promise<number> {
  const res = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
    token: admin.token,
    body: {
      rule_name: name,
      metric_name: fresh("m"),
      threshold_value: 10,
      comparison_operator: ">",
      severity: "critical",
      notification_channels: ["email"],
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

/** An alert row as the engine writes one (the engine is not needed to match silences). */
async function insertAlert(ruleId: number, service: string, labels: Record<string, string>, status = "firing") {
  const now = Date.now();
  const row = await env.DB.prepare(
    `INSERT INTO alert_history (alert_rule_id, service, fingerprint, labels, alert_severity, status, message, observed_at, triggered_at, resolved_at)
     VALUES (?, ?, ?, ?, 'critical', ?, 'high', ?, ?, ?) RETURNING id`,
  )
    .bind(ruleId, service, fresh("fp"), JSON.stringify(labels), status, now, now, status === "resolved" ? now : null)
    .first<{ id: number }>();
  return row?.id ?? 0;
}

interface Preview {
  in_effect_now: boolean;
  next_change: string | null;
  alerts: { id: number; silenced_by: number[] }[];
}

const preview = (body: unknown, token = admin.token) =>
  callJson<Preview>("POST", `${BASE}/silences/preview`, { token, body });

const silenceOf = (matchers: unknown[], over: Record<string, unknown> = {}) => ({
  matchers,
  ends_at: new Date(Date.now() + HOUR).toISOString(),
  comment: "maintenance",
  ...over,
});

describe("silence preview", () => {
  it("answers the open alerts the matchers match, by rule name, service and labels", async () => {
    const name = fresh("Checkout errors");
    const ruleId = await createRule(name);
    const shop = await insertAlert(ruleId, "shop", { region: "tw" });
    const api = await insertAlert(ruleId, "api", { region: "jp" });
    const resolved = await insertAlert(ruleId, "shop", { region: "tw" }, "resolved");

    const byName = await preview(silenceOf([{ name: "alertname", value: name }]));
    expect(byName.status, JSON.stringify(byName.body)).toBe(200);
    expect(byName.body.in_effect_now).toBe(true);
    expect(byName.body.alerts.map((a) => a.id).sort()).toEqual([shop, api].sort());
    expect(byName.body.alerts.map((a) => a.id)).not.toContain(resolved);

    const narrowed = await preview(
      silenceOf([
        { name: "rule_id", value: String(ruleId) },
        { name: "service", value: "sh.*", is_regex: true },
        { name: "region", value: "jp", is_equal: false },
      ]),
    );
    expect(narrowed.body.alerts.map((a) => a.id)).toEqual([shop]);
    // Nothing was stored: the alert is not silenced.
    expect(narrowed.body.alerts[0]?.silenced_by).toEqual([]);

    // A draft without its comment yet is previewed too.
    const { comment: _, ...draft } = silenceOf([{ name: "alertname", value: name }]);
    const drafted = await preview(draft);
    expect(drafted.status, JSON.stringify(drafted.body)).toBe(200);
    expect(drafted.body.alerts).toHaveLength(2);
  });

  it("says when a recurring window is not in effect now, and when it next is", async () => {
    const ruleId = await createRule(fresh("Nightly"));
    const alert = await insertAlert(ruleId, "batch", {});
    // A one-minute window on every weekday starting two hours from now (UTC): not in effect now.
    const at = new Date(Date.now() + 2 * HOUR);
    const start = `${String(at.getUTCHours()).padStart(2, "0")}:${String(at.getUTCMinutes()).padStart(2, "0")}`;
    const res = await preview(
      silenceOf([{ name: "rule_id", value: String(ruleId) }], {
        ends_at: new Date(Date.now() + 10 * 24 * HOUR).toISOString(),
        recurrence: { weekdays: [0, 1, 2, 3, 4, 5, 6], start, duration_minutes: 1, timezone: "UTC" },
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.in_effect_now).toBe(false);
    expect(res.body.alerts.map((a) => a.id)).toEqual([alert]);
    const next = Date.parse(String(res.body.next_change));
    expect(next).toBeGreaterThan(Date.now() + HOUR);
    expect(next).toBeLessThanOrEqual(Date.now() + 2 * HOUR);
  });

  it("refuses what a create refuses, with the field named", async () => {
    const bad = await callJson<ErrorBody>("POST", `${BASE}/silences/preview`, {
      token: admin.token,
      body: silenceOf([{ name: "service", value: "(", is_regex: true }]),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ field: "matchers.0.value" })]);
    const past = await preview(silenceOf([{ name: "service", value: "x" }], { ends_at: new Date(0).toISOString() }));
    expect(past.status).toBe(400);
    const unknown = await preview({ ...silenceOf([{ name: "service", value: "x" }]), extra: 1 });
    expect(unknown.status).toBe(400);
  });

  it("is refused to a viewer, who may not write silences", async () => {
    const res = await preview(silenceOf([{ name: "service", value: "x" }]), viewer.token);
    expect(res.status).toBe(403);
  });
});

describe("silenced alerts", () => {
  it("marks an open alert with the silences in effect on it, until one is expired early", async () => {
    const ruleId = await createRule(fresh("Latency"));
    const alert = await insertAlert(ruleId, "shop", { region: "tw" });
    const other = await insertAlert(ruleId, "api", {});
    const created = await callJson<{ id: number }>("POST", `${BASE}/silences`, {
      token: admin.token,
      body: silenceOf([
        { name: "rule_id", value: String(ruleId) },
        { name: "service", value: "shop" },
      ]),
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    const silencedBy = async (alertId: number) => {
      const one = await callJson<{ silenced_by: number[] }>("GET", `${BASE}/alerts/${alertId}`, {
        token: viewer.token,
      });
      const active = await callJson<{ alerts: { id: number; silenced_by: number[] }[] }>(
        "GET",
        `${BASE}/alerts/active`,
        { token: viewer.token },
      );
      const history = await callJson<{ alerts: { id: number; silenced_by: number[] }[] }>(
        "GET",
        `${BASE}/alerts/history?rule_id=${ruleId}`,
        { token: viewer.token },
      );
      const listed = active.body.alerts.find((a) => a.id === alertId)?.silenced_by;
      const inHistory = history.body.alerts.find((a) => a.id === alertId)?.silenced_by;
      expect(listed).toEqual(one.body.silenced_by);
      expect(inHistory).toEqual(one.body.silenced_by);
      return one.body.silenced_by;
    };
    expect(await silencedBy(alert)).toEqual([id]);
    expect(await silencedBy(other)).toEqual([]);

    const expired = await callJson<{ status: string; ends_at: string }>("POST", `${BASE}/silences/${id}/expire`, {
      token: admin.token,
    });
    expect(expired.status).toBe(200);
    expect(expired.body.status).toBe("expired");
    expect(Date.parse(expired.body.ends_at)).toBeLessThanOrEqual(Date.now());
    expect(await silencedBy(alert)).toEqual([]);

    // Again: nothing changes.
    const again = await callJson<{ ends_at: string }>("POST", `${BASE}/silences/${id}/expire`, { token: admin.token });
    expect(again.status).toBe(200);
    expect(again.body.ends_at).toBe(expired.body.ends_at);
  });

  it("expires a silence that has not started: it ends before it starts", async () => {
    const created = await callJson<{ id: number; status: string }>("POST", `${BASE}/silences`, {
      token: admin.token,
      body: silenceOf([{ name: "service", value: "later" }], {
        starts_at: new Date(Date.now() + HOUR).toISOString(),
        ends_at: new Date(Date.now() + 2 * HOUR).toISOString(),
      }),
    });
    expect(created.body.status).toBe("pending");
    const expired = await callJson<{ status: string; starts_at: string; ends_at: string }>(
      "POST",
      `${BASE}/silences/${created.body.id}/expire`,
      { token: admin.token },
    );
    expect(expired.status).toBe(200);
    expect(expired.body.status).toBe("expired");
    expect(expired.body.starts_at).toBe(expired.body.ends_at);
    expect((await callJson("POST", `${BASE}/silences/999999/expire`, { token: admin.token })).status).toBe(404);
    expect((await callJson("POST", `${BASE}/silences/${created.body.id}/expire`, { token: viewer.token })).status).toBe(
      403,
    );
  });
});

/** Behaviour every configuration resource gets from the shared CRUD mechanism. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../../worker/db/client";
import { escalationPolicies } from "../../worker/db/schema";
import { ApiError, asConflict } from "../../worker/lib/errors";
import { callJson, createAdmin, type ErrorBody } from "./helpers";

const rule = {
  rule_name: "API Response Time > 1000ms",
  metric_name: "api_response_ms",
  service: "api",
  threshold_value: 1000,
  severity: "warning",
  notification_channels: ["email"],
};

describe("shared CRUD behaviour", () => {
  it("refuses unknown fields, naming them, instead of ignoring a typo", async () => {
    const { token } = await createAdmin("admin");
    const created = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", { token, body: rule });
    const res = await callJson<ErrorBody>("PUT", `/api/admin/monitoring/rules/${created.body.id}`, {
      token,
      body: { treshold_value: 5 },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "treshold_value", reason: "is not a known field" }]);
  });

  it("accepts an object read from the API sent back whole, read-only fields included", async () => {
    const { token } = await createAdmin("admin");
    const created = await callJson<Record<string, unknown> & { id: number }>("POST", "/api/admin/monitoring/rules", {
      token,
      body: rule,
    });
    const edited = { ...created.body, threshold_value: 1500, id: 424242, created_at: "2000-01-01T00:00:00Z" };
    const res = await callJson<Record<string, unknown>>("PUT", `/api/admin/monitoring/rules/${created.body.id}`, {
      token,
      body: edited,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: created.body.id, threshold_value: 1500, created_at: created.body.created_at });
  });

  it("turns concurrent duplicates into exactly one 201 and 409s, never a 500", async () => {
    const { token } = await createAdmin("admin");
    const body = {
      name: "Payments on call",
      steps: [{ after_minutes: 0, channels: ["email"], targets: { roles: ["admin"] } }],
    };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        callJson<ErrorBody>("POST", "/api/admin/monitoring/escalation-policies", { token, body }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) {
      expect(r.body).toMatchObject({ error: "conflict", details: [{ field: "name" }] });
    }
  });

  it("maps a real D1 UNIQUE violation to a 409 naming the column", async () => {
    const db = getDb(env.DB);
    const values = { name: "dup", steps: [] };
    await db.insert(escalationPolicies).values(values);
    const err = await db
      .insert(escalationPolicies)
      .values(values)
      .then(
        () => null,
        (e: unknown) => e,
      );
    const mapped = asConflict(err);
    expect(mapped).toBeInstanceOf(ApiError);
    expect(mapped).toMatchObject({ status: 409, details: [{ field: "name", reason: "must be unique" }] });
    const other = new Error("disk full");
    expect(asConflict(other)).toBe(other);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { RULE_TEMPLATES } from "../../worker/core/rules/templates";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const RULES = "/api/admin/monitoring/rules";

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

describe("ready-made rules", () => {
  it("each is a rule the API takes as it is, and reads back with its condition", async () => {
    expect(RULE_TEMPLATES.length).toBeGreaterThanOrEqual(5);
    for (const { body } of RULE_TEMPLATES) {
      const created = await callJson<Record<string, unknown>>("POST", RULES, { token: admin.token, body });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const read = await callJson<Record<string, unknown>>("GET", `${RULES}/${created.body.id}`, {
        token: admin.token,
      });
      const { params, ...rest } = body;
      expect(read.body).toMatchObject({ ...rest, is_active: true });
      expect(read.body.params).toMatchObject(params);
    }
  });

  it("cover failing tasks, late beats and slow endpoints", () => {
    const watched = RULE_TEMPLATES.map((t) => `${t.body.kind}:${t.body.service}:${t.body.metric_name}`);
    expect(watched).toEqual(
      expect.arrayContaining([
        "threshold:celery:celery_task_failures_total",
        "heartbeat:celery:heartbeat_ok",
        "threshold:api:api_response_ms",
      ]),
    );
  });
});

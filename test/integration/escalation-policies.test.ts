import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, createAdmin, type TestAdmin, type ErrorBody, expectUnknownIdNotFound } from "./helpers";

const BASE = "/api/admin/monitoring/escalation-policies";

let admin: TestAdmin;
let other: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
  other = await createAdmin("viewer");
});

const create = (body: unknown) => callJson("POST", BASE, { token: admin.token, body });

/** A body that must be refused, the field the 400 must name, and the reason it must give. */
type Case = [label: string, body: unknown, field: string, reason: RegExp];

let seq = 0;
const policy = (over: Record<string, unknown> = {}) => ({
  name: `Payments on-call ${++seq}`,
  steps: [
    { after_minutes: 0, channels: ["slack"], targets: { roles: ["admin"] } },
    { after_minutes: 15, channels: ["sms", "email"], targets: { roles: ["owner"] } },
  ],
  ...over,
});
const step = (over: Record<string, unknown> = {}) => ({
  after_minutes: 0,
  channels: ["email"],
  targets: { roles: ["admin"] },
  ...over,
});

describe("escalation policies", () => {
  it("creates, reads, lists, updates partially and deletes", async () => {
    const base = policy();
    const paging = { after_minutes: 30, channels: ["pagerduty"], targets: { admin_ids: [admin.id, other.id] } };
    const input = { ...base, steps: [...base.steps, paging] };
    const created = await create(input);
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(id).toEqual(expect.any(Number));
    expect(created.body).toMatchObject({
      ...input,
      description: "",
      repeat_count: 0,
      repeat_interval_minutes: null,
      ack_timeout_minutes: null,
    });
    expect(created.body.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const got = await callJson("GET", `${BASE}/${id}`, { token: admin.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const list = await callJson<{ "escalation-policies": { id: number }[] }>("GET", BASE, { token: admin.token });
    expect(list.status).toBe(200);
    expect(list.body["escalation-policies"].map((p) => p.id)).toContain(id);

    const put = await callJson("PUT", `${BASE}/${id}`, { token: admin.token, body: { repeat_count: 2 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ ...input, repeat_count: 2, description: "" });

    const same = await callJson("PUT", `${BASE}/${id}`, {
      token: admin.token,
      body: { name: input.name, description: "Pages" },
    });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ name: input.name, description: "Pages", repeat_count: 2, steps: input.steps });

    expect((await callJson("DELETE", `${BASE}/${id}`, { token: admin.token })).status).toBe(204);
    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).status).toBe(404);
  });

  it("stores reminder and acknowledgement timeouts, and clears them with null", async () => {
    const created = await create(policy({ repeat_interval_minutes: 30, ack_timeout_minutes: 240 }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ repeat_interval_minutes: 30, ack_timeout_minutes: 240 });
    const row = await env.DB.prepare(
      "SELECT repeat_interval_minutes AS r, ack_timeout_minutes AS a FROM escalation_policies WHERE id = ?",
    )
      .bind(created.body.id)
      .first();
    expect(row).toEqual({ r: 30, a: 240 });

    const put = await callJson("PUT", `${BASE}/${created.body.id}`, {
      token: admin.token,
      body: { repeat_interval_minutes: null },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ repeat_interval_minutes: null, ack_timeout_minutes: 240 });
    const limits = await create(policy({ repeat_interval_minutes: 1440, ack_timeout_minutes: 10_080 }));
    expect(limits.status).toBe(201);
  });

  it("answers 409 naming `name` when the name is taken", async () => {
    const first = await create(policy({ name: "Primary" }));
    expect(first.status).toBe(201);
    const dup = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body: policy({ name: "Primary" }) });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe("conflict");
    expect(dup.body.details).toContainEqual({ field: "name", reason: expect.stringMatching(/already used/) });

    const second = await create(policy({ name: "Secondary" }));
    const rename = await callJson<ErrorBody>("PUT", `${BASE}/${second.body.id}`, {
      token: admin.token,
      body: { name: "Primary" },
    });
    expect(rename.status).toBe(409);
    expect(rename.body.details).toContainEqual({ field: "name", reason: expect.any(String) });
  });

  const invalid: Case[] = [
    ["no steps", policy({ steps: [] }), "steps", /at least one/],
    ["11 steps", policy({ steps: Array.from({ length: 11 }, () => step()) }), "steps", /./],
    [
      "a step earlier than the one before",
      policy({ steps: [step({ after_minutes: 30 }), step({ after_minutes: 10 })] }),
      "steps.1.after_minutes",
      /previous/,
    ],
    ["after_minutes above a week", policy({ steps: [step({ after_minutes: 10_081 })] }), "steps.0.after_minutes", /./],
    ["negative after_minutes", policy({ steps: [step({ after_minutes: -1 })] }), "steps.0.after_minutes", /./],
    ["no channels", policy({ steps: [step({ channels: [] })] }), "steps.0.channels", /at least one/],
    ["a repeated channel", policy({ steps: [step({ channels: ["sms", "sms"] })] }), "steps.0.channels", /repeat/],
    ["an unknown channel", policy({ steps: [step({ channels: ["fax"] })] }), "steps.0.channels.0", /./],
    ["no targets", policy({ steps: [step({ targets: {} })] }), "steps.0.targets", /admin id or role/],
    [
      "empty target lists",
      policy({ steps: [step({ targets: { admin_ids: [], roles: [] } })] }),
      "steps.0.targets",
      /admin id or role/,
    ],
    ["an unknown role", policy({ steps: [step({ targets: { roles: ["root"] } })] }), "steps.0.targets.roles.0", /./],
    ["repeat_count 11", policy({ repeat_count: 11 }), "repeat_count", /./],
    ["repeat_interval_minutes 0", policy({ repeat_interval_minutes: 0 }), "repeat_interval_minutes", /./],
    ["repeat_interval_minutes over a day", policy({ repeat_interval_minutes: 1441 }), "repeat_interval_minutes", /./],
    ["a fractional repeat_interval_minutes", policy({ repeat_interval_minutes: 1.5 }), "repeat_interval_minutes", /./],
    ["ack_timeout_minutes 0", policy({ ack_timeout_minutes: 0 }), "ack_timeout_minutes", /./],
    ["ack_timeout_minutes over a week", policy({ ack_timeout_minutes: 10_081 }), "ack_timeout_minutes", /./],
    ["ack_timeout_minutes as text", policy({ ack_timeout_minutes: "60" }), "ack_timeout_minutes", /./],
    ["an empty name", policy({ name: "" }), "name", /empty/],
  ];

  it.each(invalid)("rejects %s", async (_label, body, field, reason) => {
    const res = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body });
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("requires targeted admins to exist", async () => {
    const res = await callJson<ErrorBody>("POST", BASE, {
      token: admin.token,
      body: policy({
        steps: [step(), step({ after_minutes: 5, targets: { admin_ids: [admin.id, 999_999, 888_888] } })],
      }),
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: "steps.1.targets.admin_ids.1", reason: expect.stringMatching(/999999/) },
      { field: "steps.1.targets.admin_ids.2", reason: expect.stringMatching(/888888/) },
    ]);

    const { body } = await create(policy());
    const put = await callJson<ErrorBody>("PUT", `${BASE}/${body.id}`, {
      token: admin.token,
      body: { steps: [step({ targets: { admin_ids: [999_999] } })] },
    });
    expect(put.status).toBe(400);
    expect(put.body.details).toEqual([
      { field: "steps.0.targets.admin_ids.0", reason: expect.stringMatching(/no admin/) },
    ]);
  });

  it("answers 404 for an unknown id", async () => {
    await expectUnknownIdNotFound(BASE, admin.token, { repeat_count: 1 });
  });
});

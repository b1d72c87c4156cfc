import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, createAdmin, type TestAdmin, type ErrorBody, expectUnknownIdNotFound } from "./helpers";

const BASE = "/api/admin/monitoring/silences";
const HOUR = 3_600_000;

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

const create = (body: unknown, token = admin.token) => callJson("POST", BASE, { token, body });

/** A body that must be refused, the field the 400 must name, and the reason it must give. */
type Case = [label: string, body: unknown, field: string, reason: RegExp];

const every = (over: Record<string, unknown> = {}) => ({
  weekdays: [1, 2, 3, 4, 5],
  start: "22:30",
  duration_minutes: 90,
  timezone: "Europe/Berlin",
  ...over,
});

const silence = (over: Record<string, unknown> = {}) => ({
  matchers: [{ name: "service", value: "ecpay" }],
  ends_at: new Date(Date.now() + HOUR).toISOString(),
  comment: "Gateway maintenance",
  ...over,
});

describe("silences", () => {
  it("creates, reads, lists, updates partially and deletes", async () => {
    const before = Date.now();
    const endsAt = new Date(before + 2 * HOUR).toISOString();
    const created = await create(silence({ ends_at: endsAt }));
    const after = Date.now();
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(id).toEqual(expect.any(Number));
    expect(created.body).toMatchObject({
      matchers: [{ name: "service", value: "ecpay", is_regex: false, is_equal: true }],
      ends_at: endsAt,
      comment: "Gateway maintenance",
      recurrence: null,
      status: "active",
      created_by: admin.id,
    });
    const startsAt = Date.parse(String(created.body.starts_at));
    expect(startsAt).toBeGreaterThanOrEqual(before);
    expect(startsAt).toBeLessThanOrEqual(after);

    const got = await callJson("GET", `${BASE}/${id}`, { token: admin.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const list = await callJson<{ silences: { id: number }[] }>("GET", BASE, { token: admin.token });
    expect(list.body.silences.map((s) => s.id)).toContain(id);

    const put = await callJson("PUT", `${BASE}/${id}`, { token: admin.token, body: { comment: "Extended" } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ ...created.body, comment: "Extended", updated_at: expect.any(String) });

    expect((await callJson("DELETE", `${BASE}/${id}`, { token: admin.token })).status).toBe(204);
    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).status).toBe(404);
  });

  it("stores a weekly recurrence, and drops it with null", async () => {
    const recurrence = { weekdays: [0, 6], start: "02:00", duration_minutes: 120, timezone: "Asia/Taipei" };
    const created = await create(silence({ ends_at: Date.now() + 30 * 24 * HOUR, recurrence }));
    expect(created.status).toBe(201);
    expect(created.body.recurrence).toEqual(recurrence);
    const row = await env.DB.prepare("SELECT recurrence FROM silences WHERE id = ?")
      .bind(created.body.id)
      .first<{ recurrence: string }>();
    expect(JSON.parse(row?.recurrence ?? "null")).toEqual(recurrence);
    expect((await callJson("GET", `${BASE}/${created.body.id}`, { token: admin.token })).body).toEqual(created.body);

    const comment = await callJson("PUT", `${BASE}/${created.body.id}`, { token: admin.token, body: { comment: "x" } });
    expect(comment.body.recurrence).toEqual(recurrence);
    const cleared = await callJson("PUT", `${BASE}/${created.body.id}`, {
      token: admin.token,
      body: { recurrence: null },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.recurrence).toBeNull();
  });

  it("accepts epoch milliseconds and reports a future silence as pending", async () => {
    const start = Date.now() + HOUR;
    const res = await create(silence({ starts_at: start, ends_at: start + HOUR }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      starts_at: new Date(start).toISOString(),
      ends_at: new Date(start + HOUR).toISOString(),
      status: "pending",
    });
  });

  it("can be ended early, and is then expired", async () => {
    const { body } = await create(silence({ starts_at: Date.now() - HOUR }));
    const ended = await callJson("PUT", `${BASE}/${body.id}`, {
      token: admin.token,
      body: { ends_at: Date.now() - 1000 },
    });
    expect(ended.status).toBe(200);
    expect(ended.body.status).toBe("expired");
  });

  it("keeps the author read-only", async () => {
    const other = await createAdmin("admin");
    const res = await create(silence({ created_by: 999_999 }), other.token);
    expect(res.status).toBe(201);
    expect(res.body.created_by).toBe(other.id);
    const put = await callJson("PUT", `${BASE}/${res.body.id}`, { token: admin.token, body: { created_by: admin.id } });
    expect(put.status).toBe(200);
    expect(put.body.created_by).toBe(other.id);
  });

  it("stores regex and negative matchers", async () => {
    const matchers = [
      { name: "service", value: "ecpay|linepay", is_regex: true, is_equal: true },
      { name: "region", value: "tw", is_regex: false, is_equal: false },
    ];
    const res = await create(silence({ matchers }));
    expect(res.status).toBe(201);
    expect(res.body.matchers).toEqual(matchers);
  });

  const now = Date.now();
  const many = Array.from({ length: 21 }, (_, i) => ({ name: `l${i}`, value: "x" }));
  const badRegex = [
    { name: "service", value: "ok" },
    { name: "service", value: "(unclosed", is_regex: true },
  ];
  const invalid: Case[] = [
    ["no matchers", silence({ matchers: [] }), "matchers", /at least one/],
    ["21 matchers", silence({ matchers: many }), "matchers", /./],
    ["a regex that does not compile", silence({ matchers: badRegex }), "matchers.1.value", /regular expression/],
    ["a bad label name", silence({ matchers: [{ name: "bad-name", value: "x" }] }), "matchers.0.name", /label/],
    ["a 501-character value", silence({ matchers: [{ name: "a", value: "x".repeat(501) }] }), "matchers.0.value", /./],
    ["a matcher without value", silence({ matchers: [{ name: "a" }] }), "matchers.0.value", /./],
    ["a missing end", silence({ ends_at: undefined }), "ends_at", /./],
    ["an end that is not a time", silence({ ends_at: "tomorrow" }), "ends_at", /ISO 8601/],
    [
      "an end before the start",
      silence({ starts_at: now + 2 * HOUR, ends_at: now + HOUR }),
      "ends_at",
      /after starts_at/,
    ],
    ["a window wholly in the past", silence({ starts_at: now - 2 * HOUR, ends_at: now - HOUR }), "ends_at", /future/],
    ["an end before the default start (now)", silence({ ends_at: now - HOUR }), "ends_at", /after starts_at/],
    ["a missing comment", silence({ comment: undefined }), "comment", /./],
    ["a blank comment", silence({ comment: "   " }), "comment", /say why/],
    ["a 1001-character comment", silence({ comment: "x".repeat(1001) }), "comment", /./],
    [
      "a recurrence without weekdays",
      silence({ recurrence: every({ weekdays: [] }) }),
      "recurrence.weekdays",
      /at least one/,
    ],
    ["a weekday 7", silence({ recurrence: every({ weekdays: [1, 7] }) }), "recurrence.weekdays.1", /./],
    ["a fractional weekday", silence({ recurrence: every({ weekdays: [1.5] }) }), "recurrence.weekdays.0", /./],
    ["a repeated weekday", silence({ recurrence: every({ weekdays: [1, 1] }) }), "recurrence.weekdays", /repeat/],
    ["a start of 24:00", silence({ recurrence: every({ start: "24:00" }) }), "recurrence.start", /HH:MM/],
    ["a start without minutes", silence({ recurrence: every({ start: "2" }) }), "recurrence.start", /HH:MM/],
    ["a duration of 0", silence({ recurrence: every({ duration_minutes: 0 }) }), "recurrence.duration_minutes", /./],
    [
      "a duration over a week",
      silence({ recurrence: every({ duration_minutes: 10_081 }) }),
      "recurrence.duration_minutes",
      /./,
    ],
    [
      "an unknown time zone",
      silence({ recurrence: every({ timezone: "Mars/Olympus" }) }),
      "recurrence.timezone",
      /IANA/,
    ],
    ["a missing time zone", silence({ recurrence: every({ timezone: undefined }) }), "recurrence.timezone", /./],
    [
      "an unknown recurrence field",
      silence({ recurrence: every({ months: [1] }) }),
      "recurrence.months",
      /not a known/,
    ],
    ["a recurrence that is not an object", silence({ recurrence: "weekends" }), "recurrence", /./],
  ];

  it.each(invalid)("rejects %s", async (_label, body, field, reason) => {
    const res = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body });
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("treats parentheses in a plain matcher as characters", async () => {
    const res = await create(silence({ matchers: [{ name: "a", value: "(unclosed" }] }));
    expect(res.status).toBe(201);
  });

  it("validates the window of an update against the stored start", async () => {
    const { body } = await create(silence({ starts_at: now - HOUR }));
    const res = await callJson<ErrorBody>("PUT", `${BASE}/${body.id}`, {
      token: admin.token,
      body: { ends_at: now - 2 * HOUR },
    });
    expect(res.body.details).toContainEqual({ field: "ends_at", reason: expect.stringMatching(/after starts_at/) });
    expect(res.status).toBe(400);
  });

  it("answers 404 for an unknown id", async () => {
    await expectUnknownIdNotFound(BASE, admin.token, { comment: "x" });
  });
});

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, createAdmin, type TestAdmin, type ErrorBody, expectUnknownIdNotFound } from "./helpers";

const BASE = "/api/admin/monitoring/monitors";

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

const create = (body: unknown) => callJson("POST", BASE, { token: admin.token, body });

/** A body that must be refused, the field the 400 must name, and the reason it must give. */
type Case = [label: string, body: unknown, field: string, reason: RegExp];

async function expectInvalid(method: string, path: string, body: unknown, field: string, reason: RegExp) {
  const res = await callJson<ErrorBody>(method, path, { token: admin.token, body });
  expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
  expect(res.status).toBe(400);
  expect(res.body.error).toBe("invalid_request");
}

const http = { name: "ECPay gateway", service: "ecpay", kind: "http", url: "https://payment.example.com/health" };
const heartbeat = { name: "Nightly export", service: "shop", kind: "heartbeat", period_seconds: 60, grace_seconds: 30 };

describe("monitors", () => {
  it("creates, reads, lists, updates partially and deletes an HTTP monitor", async () => {
    const created = await create(http);
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect(id).toEqual(expect.any(Number));
    expect(created.body).toMatchObject({
      ...http,
      method: "GET",
      headers: {},
      body: null,
      timeout_ms: 5000,
      expect: { status: [200] },
      follow_redirects: true,
      confirm_locations: 2,
      confirm_quorum: 2,
      interval_seconds: 60,
      is_active: true,
      metrics_allowlist: null,
      period_seconds: null,
      cron: null,
      heartbeat_url: null,
    });
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const got = await callJson("GET", `${BASE}/${id}`, { token: admin.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const list = await callJson<{ monitors: { id: number }[]; next_cursor: string | null }>("GET", BASE, {
      token: admin.token,
    });
    expect(list.status).toBe(200);
    expect(list.body.monitors.map((m) => m.id)).toContain(id);

    const put = await callJson("PUT", `${BASE}/${id}`, { token: admin.token, body: { interval_seconds: 30 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ ...http, interval_seconds: 30, timeout_ms: 5000, method: "GET" });

    const row = await env.DB.prepare("SELECT interval_seconds, config, heartbeat_slug FROM monitors WHERE id = ?")
      .bind(id)
      .first<{ interval_seconds: number; config: string; heartbeat_slug: string | null }>();
    expect(row?.interval_seconds).toBe(30);
    expect(row?.heartbeat_slug).toBeNull();
    // Only the HTTP settings are stored, defaults applied (an unset timeout and confirmation stay null).
    expect(Object.keys(JSON.parse(row?.config ?? "{}")).sort()).toEqual(
      [
        "body",
        "confirm_locations",
        "confirm_quorum",
        "expect",
        "follow_redirects",
        "headers",
        "method",
        "timeout_ms",
        "url",
      ].sort(),
    );

    const del = await callJson("DELETE", `${BASE}/${id}`, { token: admin.token });
    expect(del.status).toBe(204);
    expect((await callJson("GET", `${BASE}/${id}`, { token: admin.token })).status).toBe(404);
  });

  it("keeps every HTTP setting it is given", async () => {
    const full = {
      ...http,
      method: "POST",
      headers: { "X-Probe": "1", Authorization: "Bearer abc" },
      body: '{"ping":true}',
      interval_seconds: 30,
      timeout_ms: 2000,
      expect: {
        status: [200, 204],
        body_contains: "ok",
        body_not_contains: "error",
        json_path: { path: "$.status", equals: "up" },
      },
      follow_redirects: false,
      is_active: false,
    };
    const res = await create(full);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject(full);
  });

  it("gives a heartbeat monitor an unguessable URL that survives updates", async () => {
    const a = await create(heartbeat);
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ ...heartbeat, url: null, method: null, timeout_ms: null, expect: null, cron: null });
    const url = String(a.body.heartbeat_url);
    expect(url).toMatch(/^http:\/\/localhost\/api\/heartbeat\/[A-Za-z0-9_-]{32,}$/);

    const b = await create({ ...heartbeat, name: "Other" });
    expect(b.body.heartbeat_url).not.toBe(url);

    const put = await callJson("PUT", `${BASE}/${a.body.id}`, { token: admin.token, body: { grace_seconds: 10 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ grace_seconds: 10, period_seconds: 60, heartbeat_url: url });
  });

  it("accepts a cron heartbeat with UTC as the default time zone", async () => {
    const res = await create({
      name: "Beat",
      service: "celery",
      kind: "heartbeat",
      cron: "*/15 9-17 * JAN-MAR mon-fri",
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      cron: "*/15 9-17 * JAN-MAR mon-fri",
      timezone: "UTC",
      period_seconds: null,
      grace_seconds: 0,
    });
    const tz = await create({
      name: "Beat",
      service: "celery",
      kind: "heartbeat",
      cron: "0 3 1,15 * 0",
      timezone: "Asia/Taipei",
    });
    expect(tz.status).toBe(201);
    expect(tz.body.timezone).toBe("Asia/Taipei");
  });

  it("accepts a Prometheus scrape with an allowlist", async () => {
    const res = await create({
      name: "Shop metrics",
      service: "shop",
      kind: "prometheus",
      url: "http://shop.example.com:9090/metrics",
      metrics_allowlist: ["http_requests_total", "process_cpu_seconds_total"],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: "prometheus",
      metrics_allowlist: ["http_requests_total", "process_cpu_seconds_total"],
      timeout_ms: 5000,
      method: null,
      expect: null,
    });
  });

  const many = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, "v"]));
  const beat = { name: "Beat", service: "celery", kind: "heartbeat" };
  const invalid: Case[] = [
    // Fields of another kind are named.
    ["url on a heartbeat", { ...heartbeat, url: "https://x.example.com" }, "url", /heartbeat/],
    ["method on a heartbeat", { ...heartbeat, method: "GET" }, "method", /heartbeat/],
    ["period_seconds on http", { ...http, period_seconds: 60 }, "period_seconds", /http/],
    ["metrics_allowlist on http", { ...http, metrics_allowlist: ["up"] }, "metrics_allowlist", /http/],
    ["expect on prometheus", { ...http, kind: "prometheus", expect: { status: [200] } }, "expect", /prometheus/],
    // HTTP settings.
    ["http without url", { ...http, url: undefined }, "url", /required/],
    ["prometheus without url", { ...http, kind: "prometheus", url: null }, "url", /required/],
    ["an ftp url", { ...http, url: "ftp://files.example.com/x" }, "url", /http/],
    ["a url that is not one", { ...http, url: "not a url" }, "url", /URL/],
    ["an unknown method", { ...http, method: "TRACE" }, "method", /./],
    ["a body with GET", { ...http, body: "x" }, "body", /GET/],
    ["a body with HEAD", { ...http, method: "HEAD", body: "x" }, "body", /HEAD/],
    ["interval_seconds 0", { ...http, interval_seconds: 0 }, "interval_seconds", /./],
    ["interval_seconds 1.5", { ...http, interval_seconds: 1.5 }, "interval_seconds", /./],
    ["interval_seconds 3601", { ...http, interval_seconds: 3601 }, "interval_seconds", /./],
    ["timeout_ms 99", { ...http, timeout_ms: 99 }, "timeout_ms", /./],
    [
      "a timeout as long as a 1 s interval",
      { ...http, interval_seconds: 1, timeout_ms: 1000 },
      "timeout_ms",
      /less than .*1000/,
    ],
    ["a timeout equal to the interval", { ...http, interval_seconds: 10, timeout_ms: 10_000 }, "timeout_ms", /10000/],
    ["21 headers", { ...http, headers: many }, "headers", /20/],
    ["a header with a line break", { ...http, headers: { "X-A": "a\r\nInjected: 1" } }, "headers.X-A", /line breaks/],
    ["status 99", { ...http, expect: { status: [99] } }, "expect.status.0", /./],
    ["no status", { ...http, expect: { status: [] } }, "expect.status", /./],
    [
      "a json_path without $",
      { ...http, expect: { json_path: { path: "a", equals: 1 } } },
      "expect.json_path.path",
      /\$/,
    ],
    ["a json_path without equals", { ...http, expect: { json_path: { path: "$.a" } } }, "expect.json_path.equals", /./],
    ["a misspelt expect key", { ...http, expect: { stauts: [200] } }, "expect.stauts", /not a known field/],
    ["an uppercase service", { ...http, service: "ECPay Gateway" }, "service", /lowercase/],
    ["an unknown kind", { ...http, kind: "ping" }, "kind", /./],
    // Heartbeat schedules.
    ["a heartbeat without a schedule", beat, "period_seconds", /period_seconds or cron/],
    ["both period and cron", { ...beat, period_seconds: 60, cron: "* * * * *" }, "cron", /not both/],
    ["period_seconds 9", { ...beat, period_seconds: 9 }, "period_seconds", /./],
    ["grace_seconds 86401", { ...beat, period_seconds: 60, grace_seconds: 86_401 }, "grace_seconds", /./],
    ["a 6-field cron", { ...beat, cron: "* * * * * *" }, "cron", /5 fields.*found 6/],
    ["minute 60", { ...beat, cron: "60 * * * *" }, "cron", /minute/],
    ["hour 24", { ...beat, cron: "0 24 * * *" }, "cron", /hour/],
    ["day-of-month 0", { ...beat, cron: "0 0 0 * *" }, "cron", /day-of-month/],
    ["an unknown month name", { ...beat, cron: "0 0 * FOO *" }, "cron", /month/],
    ["a zero step", { ...beat, cron: "*/0 * * * *" }, "cron", /minute/],
    ["a backwards range", { ...beat, cron: "5-1 * * * *" }, "cron", /minute/],
    ["day-of-week 8", { ...beat, cron: "0 0 * * 8" }, "cron", /day-of-week/],
    ["a cron macro", { ...beat, cron: "@daily" }, "cron", /5 fields/],
    ["an unknown time zone", { ...beat, cron: "0 3 * * *", timezone: "Mars/Olympus" }, "timezone", /IANA/],
    ["a time zone without cron", { ...beat, period_seconds: 60, timezone: "UTC" }, "timezone", /cron/],
  ];

  it.each(invalid)("rejects %s", async (_label, body, field, reason) => {
    const res = await callJson<ErrorBody>("POST", BASE, { token: admin.token, body });
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
  });

  it("accepts a body with POST", async () => {
    const res = await create({ ...http, method: "POST", body: "ping" });
    expect(res.status).toBe(201);
    expect(res.body.body).toBe("ping");
  });

  it("accepts a 1 s interval and derives an unset timeout from the interval", async () => {
    const fast = await create({ ...http, interval_seconds: 1, is_active: false });
    expect(fast.status).toBe(201);
    expect(fast.body).toMatchObject({ interval_seconds: 1, timeout_ms: 800 });
    const scrape = await create({ ...http, kind: "prometheus", interval_seconds: 2, is_active: false });
    expect(scrape.status).toBe(201);
    expect(scrape.body).toMatchObject({ interval_seconds: 2, timeout_ms: 1600 });

    // The derived timeout is not stored: it follows later changes of the interval.
    const path = `${BASE}/${fast.body.id}`;
    const row = await env.DB.prepare("SELECT config FROM monitors WHERE id = ?")
      .bind(fast.body.id)
      .first<{ config: string }>();
    expect(JSON.parse(row?.config ?? "{}")).toMatchObject({ timeout_ms: null });
    const slower = await callJson("PUT", path, { token: admin.token, body: { interval_seconds: 30 } });
    expect(slower.status).toBe(200);
    expect(slower.body).toMatchObject({ interval_seconds: 30, timeout_ms: 5000 });
    const faster = await callJson("PUT", path, { token: admin.token, body: { interval_seconds: 3 } });
    expect(faster.body).toMatchObject({ interval_seconds: 3, timeout_ms: 2400 });

    // An explicit timeout is kept, and must stay shorter than the interval.
    const set = await callJson("PUT", path, { token: admin.token, body: { timeout_ms: 700, interval_seconds: 1 } });
    expect(set.body).toMatchObject({ interval_seconds: 1, timeout_ms: 700 });
    const kept = await callJson("PUT", path, { token: admin.token, body: { interval_seconds: 10 } });
    expect(kept.body).toMatchObject({ interval_seconds: 10, timeout_ms: 700 });
  });

  it("validates a partial update against the merged monitor", async () => {
    const { body } = await create({ ...http, timeout_ms: 5000 });
    const path = `${BASE}/${body.id}`;
    await expectInvalid("PUT", path, { interval_seconds: 5 }, "timeout_ms", /less than/);
    await expectInvalid("PUT", path, { kind: "heartbeat", period_seconds: 60 }, "url", /heartbeat/);
    const unchanged = await callJson("GET", path, { token: admin.token });
    expect(unchanged.body).toEqual(body);

    // Switching kind works once the old kind's settings are cleared.
    const cleared = {
      url: null,
      method: null,
      headers: null,
      body: null,
      timeout_ms: null,
      expect: null,
      follow_redirects: null,
    };
    const switched = await callJson("PUT", path, {
      token: admin.token,
      body: { ...cleared, kind: "heartbeat", period_seconds: 60 },
    });
    expect(switched.body).toMatchObject({ kind: "heartbeat", url: null, period_seconds: 60, name: http.name });
    expect(switched.body.heartbeat_url).toMatch(/\/api\/heartbeat\/[A-Za-z0-9_-]{32,}$/);
    expect(switched.status).toBe(200);
  });

  it("answers 404 for an unknown id", async () => {
    await expectUnknownIdNotFound(BASE, admin.token, { name: "x" });
  });

  it("lets viewers read but not write", async () => {
    const viewer = await createAdmin("viewer");
    expect((await callJson("GET", BASE, { token: viewer.token })).status).toBe(200);
    expect((await callJson("POST", BASE, { token: viewer.token, body: http })).status).toBe(403);
  });

  it("documents all four resources in the OpenAPI document", async () => {
    const doc = await callJson<{ paths: Record<string, unknown> }>("GET", "/api/openapi.json");
    expect(doc.status).toBe(200);
    for (const collection of ["monitors", "keys", "escalation-policies", "silences"]) {
      expect(Object.keys(doc.body.paths)).toContain(`/api/admin/monitoring/${collection}/{id}`);
    }
  });
});

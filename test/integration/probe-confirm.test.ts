import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { ProbeRunner } from "../../durable-objects/probe-runner";
import { confirmerName } from "../../worker/core/confirm";
import type { ProbeMonitor } from "../../worker/core/probe";
import { runnerName } from "../../worker/core/schedule";
import { type AskLocation, runMonitor, runScheduledProbes } from "../../worker/handlers/probes";
import { readSeries, seriesStub } from "../../worker/lib/series";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const base = `http://127.0.0.1:${inject("targetsPort")}`;
const MONITORS = "/api/admin/monitoring/monitors";
let admin: TestAdmin;
const created: number[] = [];
let nextId = 5000;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

afterEach(async () => {
  for (const id of created.splice(0)) await call("DELETE", `${MONITORS}/${id}`, { token: admin.token });
});

/** A monitor of `/flaky?key=`: its first `fail` requests answer 503, later ones 200. */
function flaky(key: string, fail: number, config: Record<string, unknown> = {}, service = "shop"): ProbeMonitor {
  return {
    id: nextId++,
    service,
    kind: "http",
    intervalSeconds: 60,
    config: { url: `${base}/flaky?key=${key}&fail=${fail}`, timeout_ms: 2000, ...config },
  };
}

async function hits(key: string): Promise<number> {
  return Number(await (await fetch(`${base}/hits?key=${key}`)).text());
}

const series = (metric: string, id: number, since: number) =>
  readSeries(env, metric, "shop", { monitor: String(id) }, since);
/** The newest sample of a monitor's series, with its message (the store keeps the newest one's only). */
const latest = (metric: string, id: number) => seriesStub(env, metric, "shop", { monitor: String(id) }).latest();

describe("confirming a failure from another location", () => {
  it("records no outage when the second location sees the target up", async () => {
    const m = flaky("blip", 1);
    const since = Date.now() - 1000;
    await runMonitor(env, m);
    // Both locations probed: the first saw 503, the confirming runner 200.
    expect(await hits("blip")).toBe(2);
    expect(await series("probe_up", m.id, since)).toMatchObject([{ value: 1 }]);
    expect(await series("probe_status_code", m.id, since)).toMatchObject([{ value: 200 }]);
    expect(await series("probe_unconfirmed_failures", m.id, since)).toHaveLength(1);
    expect(await latest("probe_unconfirmed_failures", m.id)).toMatchObject({
      value: 1,
      message: "status 503 (expected 200); failing from 1 of 2 locations, 2 needed",
    });
  });

  it("records the outage when both locations see it fail", async () => {
    const m = flaky("everywhere", 100);
    const since = Date.now() - 1000;
    await runMonitor(env, m);
    expect(await hits("everywhere")).toBe(2);
    expect(await series("probe_up", m.id, since)).toMatchObject([{ value: 0 }]);
    expect(await latest("probe_up", m.id)).toMatchObject({ value: 0, message: "status 503 (expected 200)" });
    expect(await series("probe_unconfirmed_failures", m.id, since)).toEqual([]);
  });

  it("asks no other location with confirm_locations 1", async () => {
    const m = flaky("single", 1, { confirm_locations: 1 });
    const since = Date.now() - 1000;
    await runMonitor(env, m);
    expect(await hits("single")).toBe(1);
    expect(await series("probe_up", m.id, since)).toMatchObject([{ value: 0 }]);
  });

  it("asks no other location while the probe passes", async () => {
    const m = flaky("passing", 0);
    await runMonitor(env, m);
    expect(await hits("passing")).toBe(1);
  });

  it("needs N of M: with 2 of 3, one location seeing it up does not dismiss the failure", async () => {
    // Requests 1 and 2 fail (the first location and one confirming runner), the third passes.
    const m = flaky("quorum", 2, { confirm_locations: 3, confirm_quorum: 2 });
    const since = Date.now() - 1000;
    await runMonitor(env, m);
    expect(await hits("quorum")).toBe(3);
    expect(await series("probe_up", m.id, since)).toMatchObject([{ value: 0 }]);
  });

  it("falls back to the first location's verdict when the confirming runner cannot be asked", async () => {
    const m = flaky("unreachable", 1);
    const since = Date.now() - 1000;
    const broken: AskLocation = () => Promise.reject(new Error("runner unreachable"));
    await runMonitor(env, m, null, broken);
    expect(await hits("unreachable")).toBe(1);
    expect(await series("probe_up", m.id, since)).toMatchObject([{ value: 0 }]);
  });

  it("has a confirming runner probe once and record nothing", async () => {
    const m = flaky("direct", 0);
    const since = Date.now() - 1000;
    const answer = await env.PROBE_RUNNER.getByName(confirmerName("weur"), { locationHint: "weur" }).confirm(m);
    expect(answer).toMatchObject({ up: true, message: null });
    expect(answer.samples).toContainEqual(expect.objectContaining({ metric: "probe_up", value: 1 }));
    expect(await hits("direct")).toBe(1);
    expect(await series("probe_up", m.id, since)).toEqual([]);
  });
});

describe("paging", () => {
  it("a critical rule on probe_up fires for the outage both locations see, not for the blip", async () => {
    const service = `confirm-page-${Date.now().toString(36)}`;
    const rule = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
      token: admin.token,
      body: {
        rule_name: "probe down",
        metric_name: "probe_up",
        service,
        comparison_operator: "<",
        threshold_value: 1,
        severity: "critical",
        notification_channels: ["email"],
      },
    });
    expect(rule.status).toBe(201);
    const blip = flaky(`${service}-blip`, 1, {}, service);
    const down = flaky(`${service}-down`, 100, {}, service);
    await runMonitor(env, blip);
    await runMonitor(env, down);
    const alerts = () =>
      env.DB.prepare("SELECT labels FROM alert_history WHERE alert_rule_id = ?")
        .bind(rule.body.id)
        .all<{ labels: string }>()
        .then((r) => r.results.map((a) => JSON.parse(a.labels) as Record<string, string>));
    // The blip's sample reached the rule first: once the outage has fired, the blip had its chance.
    await vi.waitFor(async () => expect(await alerts()).toContainEqual({ monitor: String(down.id) }), {
      timeout: 5000,
    });
    expect(await alerts()).toEqual([{ monitor: String(down.id) }]);
  });
});

/** An http monitor of the target created through the API. */
async function createMonitor(body: Record<string, unknown>): Promise<number> {
  const res = await callJson<{ id: number }>("POST", MONITORS, {
    token: admin.token,
    body: { name: "confirm", service: "shop", kind: "http", ...body },
  });
  expect(res.status).toBe(201);
  created.push(res.body.id);
  return res.body.id;
}

describe("both collectors confirm the same way", () => {
  it("the cron path dismisses a failure only the first location saw", async () => {
    await env.DB.prepare("DELETE FROM monitors").run();
    const id = await createMonitor({ url: `${base}/flaky?key=cron-blip&fail=1`, interval_seconds: 60 });
    const since = Date.now() - 1000;
    await runScheduledProbes(env, Date.now());
    expect(await hits("cron-blip")).toBe(2);
    expect(await series("probe_up", id, since)).toMatchObject([{ value: 1 }]);
    expect(await series("probe_unconfirmed_failures", id, since)).toMatchObject([{ value: 1 }]);
  });

  it("a ProbeRunner's alarm loop dismisses it too, and records an outage both locations see", async () => {
    const since = Date.now() - 1000;
    for (const [key, fail, up] of [
      ["loop-blip", 1, 1],
      ["loop-down", 100, 0],
    ] as const) {
      // Created on a steady target and pinned an hour ahead before it turns flaky, so a
      // real alarm on its first slot never spends the target's failing request.
      const id = await createMonitor({ url: `${base}/up`, interval_seconds: 10, timeout_ms: 2000 });
      const runner = env.PROBE_RUNNER.getByName(runnerName(id));
      const at = Math.ceil((Date.now() + 3_600_000) / 10_000) * 10_000;
      await runInDurableObject(runner, (_instance: ProbeRunner, state) => {
        state.storage.sql.exec("UPDATE monitors SET next_run_at = ? WHERE id = ?", at, id);
      });
      const put = await callJson("PUT", `${MONITORS}/${id}`, {
        token: admin.token,
        body: { url: `${base}/flaky?key=${key}&fail=${fail}` },
      });
      expect(put.status).toBe(200);
      // The update kept the pinned slot and armed the alarm on it.
      expect((await runner.status()).alarmAt).toBe(at);
      expect(await runDurableObjectAlarm(runner)).toBe(true);
      expect(await hits(key)).toBe(2);
      expect(await series("probe_up", id, since)).toMatchObject([{ value: up }]);
    }
  });
});

describe("the API", () => {
  it("shows the default policy, 2 of 2, and keeps one it is given", async () => {
    const id = await createMonitor({ url: `${base}/up` });
    const read = await callJson("GET", `${MONITORS}/${id}`, { token: admin.token });
    expect(read.body).toMatchObject({ confirm_locations: 2, confirm_quorum: 2 });

    const put = await callJson("PUT", `${MONITORS}/${id}`, {
      token: admin.token,
      body: { confirm_locations: 3, confirm_quorum: 2 },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ confirm_locations: 3, confirm_quorum: 2 });
    // An unset quorum follows the locations.
    const all = await callJson("PUT", `${MONITORS}/${id}`, {
      token: admin.token,
      body: { confirm_quorum: null },
    });
    expect(all.body).toMatchObject({ confirm_locations: 3, confirm_quorum: 3 });
  });

  it.each([
    ["more locations than exist", { confirm_locations: 4 }, "confirm_locations", /less than or equal to 3|<=3/],
    ["no location", { confirm_locations: 0 }, "confirm_locations", /greater than or equal to 1|>=1/],
    ["a fraction", { confirm_locations: 1.5 }, "confirm_locations", /integer|int/],
    [
      "a quorum above the locations",
      { confirm_locations: 2, confirm_quorum: 3 },
      "confirm_quorum",
      /at most confirm_locations \(2\)/,
    ],
    [
      "a quorum above the default locations",
      { confirm_quorum: 3 },
      "confirm_quorum",
      /at most confirm_locations \(2\)/,
    ],
    [
      "a quorum of 1 of several",
      { confirm_locations: 3, confirm_quorum: 1 },
      "confirm_quorum",
      /set confirm_locations to 1/,
    ],
  ])("refuses %s", async (_label, extra, field, reason) => {
    const res = await callJson<ErrorBody>("POST", MONITORS, {
      token: admin.token,
      body: { name: "bad", service: "shop", kind: "http", url: `${base}/up`, ...extra },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toContainEqual({ field, reason: expect.stringMatching(reason) });
  });

  it("refuses a confirmation policy on a scrape", async () => {
    const res = await callJson<ErrorBody>("POST", MONITORS, {
      token: admin.token,
      body: { name: "bad", service: "shop", kind: "prometheus", url: `${base}/metrics`, confirm_locations: 2 },
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toContainEqual({
      field: "confirm_locations",
      reason: expect.stringMatching(/not used by prometheus/),
    });
  });
});

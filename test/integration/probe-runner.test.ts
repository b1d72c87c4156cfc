import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import type { ProbeRunner } from "../../durable-objects/probe-runner";
import type { ProbeMonitor } from "../../worker/core/probe";
import { RUNNER_SELF_CHECK_MS, runnerName } from "../../worker/core/schedule";
import { watchProbeRunners } from "../../worker/handlers/probes";
import { readSeries } from "../../worker/lib/series";
import { call, callJson, createAdmin, type TestAdmin } from "./helpers";

const base = `http://127.0.0.1:${inject("targetsPort")}`;
const MONITORS = "/api/admin/monitoring/monitors";
let admin: TestAdmin;
const created: number[] = [];

beforeAll(async () => {
  admin = await createAdmin("admin");
});

afterEach(async () => {
  // Deleting unassigns, which clears the runners' alarms: no loop outlives its test.
  for (const id of created.splice(0)) await call("DELETE", `${MONITORS}/${id}`, { token: admin.token });
});

/** An http monitor of the test target; `timeoutMs` null leaves the timeout to its default. */
async function createMonitor(key: string, intervalSeconds = 10, timeoutMs: number | null = 2000): Promise<number> {
  const res = await callJson<{ id: number }>("POST", MONITORS, {
    token: admin.token,
    body: {
      name: key,
      service: "shop",
      kind: "http",
      url: `${base}/count?key=${key}`,
      interval_seconds: intervalSeconds,
      timeout_ms: timeoutMs,
    },
  });
  expect(res.status).toBe(201);
  created.push(res.body.id);
  return res.body.id;
}

const runnerOf = (id: number) => env.PROBE_RUNNER.getByName(runnerName(id));

async function hits(key: string): Promise<number> {
  return Number(await (await fetch(`${base}/hits?key=${key}`)).text());
}

/** The monitor ids a runner holds and their next runs. */
function held(id: number) {
  return runInDurableObject(runnerOf(id), (_instance: ProbeRunner, state) =>
    Object.fromEntries(
      state.storage.sql
        .exec<{ id: number; next_run_at: number }>("SELECT id, next_run_at FROM monitors")
        .toArray()
        .map((r) => [r.id, r.next_run_at]),
    ),
  );
}

/**
 * Puts a monitor's next run at `nextRunAt` and the runner's alarm at `alarmAt` (an hour
 * ahead by default, so no real alarm fires during the test; runDurableObjectAlarm runs it).
 */
function pin(id: number, nextRunAt: number, alarmAt = nextRunAt) {
  return runInDurableObject(runnerOf(id), async (_instance: ProbeRunner, state) => {
    state.storage.sql.exec("UPDATE monitors SET next_run_at = ? WHERE id = ?", nextRunAt, id);
    state.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('armed_at', ?)", alarmAt);
    await state.storage.setAlarm(alarmAt);
  });
}

const anHourAhead = () => Math.ceil((Date.now() + 3_600_000) / 10_000) * 10_000;

describe("assignment", () => {
  it("gives a monitor faster than a minute to its runner, with an alarm on its first slot", async () => {
    const before = Date.now();
    const id = await createMonitor("loop-assign");
    expect(Object.keys(await held(id))).toContain(String(id));
    // The first slot may be due at once: while its alarm runs, getAlarm() is null until it re-arms.
    const status = await vi.waitFor(async () => {
      const s = await runnerOf(id).status();
      expect(s.alarmAt).not.toBeNull();
      return s;
    });
    expect((status.alarmAt ?? 1) % 10_000).toBe(0);
    expect(status.alarmAt).toBeGreaterThanOrEqual(before - 10_000);
    expect(status.alarmAt).toBeLessThanOrEqual(Date.now() + 10_000);
    const row = await env.DB.prepare("SELECT next_due_at FROM monitors WHERE id = ?").bind(id).first();
    expect(row).toEqual({ next_due_at: null });
  });

  it("moves a monitor between the runner and the cron as it is updated, paused and deleted", async () => {
    const id = await createMonitor("loop-move");
    const put = async (body: Record<string, unknown>) => {
      expect((await callJson("PUT", `${MONITORS}/${id}`, { token: admin.token, body })).status).toBe(200);
    };

    await put({ interval_seconds: 60 });
    expect(Object.keys(await held(id))).not.toContain(String(id));
    await put({ interval_seconds: 5, timeout_ms: 1000 });
    expect(Object.keys(await held(id))).toContain(String(id));
    await put({ is_active: false });
    expect(Object.keys(await held(id))).not.toContain(String(id));
    await put({ is_active: true });
    expect(Object.keys(await held(id))).toContain(String(id));

    created.splice(created.indexOf(id), 1);
    expect((await call("DELETE", `${MONITORS}/${id}`, { token: admin.token })).status).toBe(204);
    expect(Object.keys(await held(id))).not.toContain(String(id));
  });
});

describe("the alarm loop", () => {
  it("runs a due monitor and re-arms at the scheduled time plus the interval", async () => {
    const id = await createMonitor("loop-run");
    const t0 = anHourAhead();
    await pin(id, t0);
    const before = await hits("loop-run");
    const since = Date.now() - 1000;

    expect(await runDurableObjectAlarm(runnerOf(id))).toBe(true);
    expect(await hits("loop-run")).toBe(before + 1);
    const status = await runnerOf(id).status();
    expect(status.alarmAt).toBe(t0 + 10_000);
    expect(status.lastRunAt).toBeGreaterThanOrEqual(since);
    expect(await readSeries(env, "probe_up", "shop", { monitor: String(id) }, since)).toMatchObject([{ value: 1 }]);

    // The next run is one interval later again: no drift from how long the run took.
    expect(await runDurableObjectAlarm(runnerOf(id))).toBe(true);
    expect(await hits("loop-run")).toBe(before + 2);
    expect((await runnerOf(id).status()).alarmAt).toBe(t0 + 20_000);
  });

  it("runs a 1 s monitor every second", async () => {
    const id = await createMonitor("loop-1s", 1, null);
    const t0 = anHourAhead();
    await pin(id, t0);
    const before = await hits("loop-1s");
    for (let run = 1; run <= 3; run++) {
      expect(await runDurableObjectAlarm(runnerOf(id))).toBe(true);
      expect(await hits("loop-1s")).toBe(before + run);
      expect((await runnerOf(id).status()).alarmAt).toBe(t0 + run * 1000);
    }
  });

  it("keeps a 1 s cadence on real alarms", async () => {
    const id = await createMonitor("loop-1s-real", 1, null);
    // Its first slot is the next whole second; from then on one run a second.
    const first = await vi.waitUntil(async () => (await hits("loop-1s-real")) > 0 && Date.now(), {
      timeout: 3000,
      interval: 20,
    });
    await new Promise((resolve) => setTimeout(resolve, 3000 - (Date.now() - first)));
    // Three seconds after the first run: the runs at +1, +2 and +3 s, give or take the one at the edge.
    expect(await hits("loop-1s-real")).toBeGreaterThanOrEqual(3);
    expect(await hits("loop-1s-real")).toBeLessThanOrEqual(5);
    const status = await runnerOf(id).status();
    expect((status.nextRunAt ?? 1) % 1000).toBe(0);
    expect(status.nextRunAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("skips the slots it missed instead of running them all", async () => {
    const id = await createMonitor("loop-skip");
    const t0 = anHourAhead();
    // The alarm fires 35 s after the run was due: slots t0-25, t0-15 and t0-5 are gone.
    await pin(id, t0 - 35_000, t0);
    const before = await hits("loop-skip");
    expect(await runDurableObjectAlarm(runnerOf(id))).toBe(true);
    expect(await hits("loop-skip")).toBe(before + 1);
    expect((await held(id))[id]).toBe(t0 + 5_000);
    expect((await runnerOf(id).status()).alarmAt).toBe(t0 + 5_000);
  });

  it("keeps going when a probe throws", async () => {
    // Two monitors of one runner: the second id shares the first's runner unless it starts a new group.
    let good = await createMonitor("loop-good");
    let bad = await createMonitor("loop-bad");
    if (runnerName(good) !== runnerName(bad)) {
      good = bad;
      bad = await createMonitor("loop-bad");
    }
    const goodKey = good === created[0] ? "loop-good" : "loop-bad";
    const t0 = anHourAhead();
    await pin(good, t0);
    await pin(bad, t0);
    await runInDurableObject(runnerOf(bad), (instance: ProbeRunner) => {
      const original = instance.runOne.bind(instance);
      instance.runOne = async (monitor: ProbeMonitor) => {
        if (monitor.id === bad) throw new Error("probe exploded");
        return original(monitor);
      };
    });
    const before = await hits(goodKey);

    expect(await runDurableObjectAlarm(runnerOf(bad))).toBe(true);
    expect(await hits(goodKey)).toBe(before + 1);
    expect((await runnerOf(bad).status()).alarmAt).toBe(t0 + 10_000);
    const slots = await held(bad);
    expect([slots[good], slots[bad]]).toEqual([t0 + 10_000, t0 + 10_000]);
  });
});

describe("the watchdog", () => {
  it("re-arms a runner whose alarm is gone and records how far behind it is", async () => {
    const id = await createMonitor("loop-stalled");
    const now = Date.now();
    // Overdue by 30 s, and the alarm (set far off, so it cannot fire first) then lost.
    await pin(id, now - 30_000, anHourAhead());
    await runInDurableObject(runnerOf(id), (_instance: ProbeRunner, state) => state.storage.deleteAlarm());
    expect((await runnerOf(id).status()).alarmAt).toBeNull();

    const before = await hits("loop-stalled");
    await watchProbeRunners(env, now);
    // Re-armed for now, the loop runs at once and goes on from its schedule: the slot after
    // now-30 s that lies ahead is now+10 s (missed slots skipped).
    await vi.waitUntil(async () => (await hits("loop-stalled")) > before, { timeout: 5000 });
    await vi.waitUntil(async () => (await runnerOf(id).status()).alarmAt === now + 10_000, { timeout: 5000 });
    expect(await hits("loop-stalled")).toBe(before + 1);
    const lag = await readSeries(env, "collector_lag_seconds", "edge-monitor", { runner: runnerName(id) }, now);
    expect(lag.find((s) => s.ts === now)?.value).toBe(30);
  });

  it("brings forward an alarm set later than the runner's earliest run, and leaves a healthy one alone", async () => {
    const id = await createMonitor("loop-late-alarm");
    const t0 = anHourAhead();
    await pin(id, t0);
    const now = Date.now();
    await watchProbeRunners(env, now);
    expect(await runnerOf(id).status()).toMatchObject({ alarmAt: t0, nextRunAt: t0 });
    const lag = await readSeries(env, "collector_lag_seconds", "edge-monitor", { runner: runnerName(id) }, now);
    expect(lag.find((s) => s.ts === now)?.value).toBe(0);

    await pin(id, t0, t0 + 3_600_000);
    await watchProbeRunners(env, Date.now());
    expect((await runnerOf(id).status()).alarmAt).toBe(t0);
  });

  it("gives a runner the monitors it is missing; a runner it no longer visits asks D1 itself", async () => {
    const row = await env.DB.prepare(
      "INSERT INTO monitors (name, service, kind, config, interval_seconds) VALUES ('direct', 'shop', 'http', ?, 5) RETURNING id",
    )
      .bind(JSON.stringify({ url: `${base}/count?key=loop-direct`, timeout_ms: 1000 }))
      .first<{ id: number }>();
    if (!row) throw new Error("insert failed");
    const id = row.id;
    created.push(id);
    expect(Object.keys(await held(id))).not.toContain(String(id));

    await watchProbeRunners(env, Date.now());
    expect(Object.keys(await held(id))).toContain(String(id));

    // Paused behind the API's back: the watchdog skips runners that should hold nothing,
    // so the runner finds out on its first alarm after RUNNER_SELF_CHECK_MS without a sync.
    await env.DB.prepare("UPDATE monitors SET is_active = 0 WHERE id = ?").bind(id).run();
    const t0 = anHourAhead();
    await pin(id, t0);
    await runInDurableObject(runnerOf(id), (_instance: ProbeRunner, state) => {
      state.storage.sql.exec(
        "UPDATE meta SET value = ? WHERE key = 'synced_at'",
        Date.now() - RUNNER_SELF_CHECK_MS - 1,
      );
    });
    const before = await hits("loop-direct");
    expect(await runDurableObjectAlarm(runnerOf(id))).toBe(true);
    expect(Object.keys(await held(id))).not.toContain(String(id));
    expect(await hits("loop-direct")).toBe(before);
  });
});

import { describe, expect, it } from "vitest";
import {
  applyHeartbeatEvent,
  type HeartbeatEvent,
  type HeartbeatMonitor,
  type HeartbeatSchedule,
  type HeartbeatState,
  heartbeatOkSample,
  initialHeartbeatState,
  lateAt,
  lateSince,
  RECENT_RUNTIMES,
  runtimeAnomaly,
} from "../../../worker/core/heartbeat";

const at = (iso: string) => Date.parse(iso);
const S = 1000;
const MIN = 60 * S;

const monitor = (schedule: HeartbeatSchedule, since = at("2026-01-01T00:00:00Z")): HeartbeatMonitor => ({
  id: 7,
  service: "celery",
  schedule,
  since,
});

/** Applies events in order, returning every transition. */
function run(m: HeartbeatMonitor, events: HeartbeatEvent[], state: HeartbeatState = initialHeartbeatState()) {
  const steps = [];
  for (const e of events) {
    const t = applyHeartbeatEvent(m, state, e);
    steps.push(t);
    state = t.state;
  }
  return { steps, state };
}

const metricValues = (t: { samples: { metric: string; value: number }[] }) =>
  Object.fromEntries(t.samples.map((s) => [s.metric, s.value]));

describe("period schedule (every 5 min, 2 min grace)", () => {
  const T0 = at("2026-11-26T10:00:00Z");
  const m = monitor({ kind: "period", periodSeconds: 300, graceSeconds: 120 }, T0);

  it("stays ok while pings come on time", () => {
    const { steps, state } = run(m, [
      { type: "success", at: T0 + 4 * MIN },
      { type: "tick", at: T0 + 11 * MIN }, // deadline: 4 + 5 + 2 min
      { type: "success", at: T0 + 9 * MIN + 30 * S },
      { type: "tick", at: T0 + 16 * MIN + 30 * S },
    ]);
    expect(state.status).toBe("ok");
    expect(steps[0]?.samples).toEqual([
      { metric: "heartbeat_ok", service: "celery", labels: { monitor: "7" }, value: 1, ts: T0 + 4 * MIN },
    ]);
    expect(steps[1]).toMatchObject({ changed: false, samples: [] });
    expect(steps[3]?.changed).toBe(false);
  });

  it("turns late once period + grace pass without a success, saying when it was expected", () => {
    const { steps, state } = run(m, [
      { type: "success", at: T0 + 4 * MIN },
      { type: "tick", at: T0 + 11 * MIN + 1 },
      { type: "tick", at: T0 + 12 * MIN },
    ]);
    expect(state.status).toBe("late");
    const msg = "late: expected by 2026-11-26T10:09:00.000Z, last ping 2026-11-26T10:04:00.000Z";
    expect(steps[1]).toMatchObject({ changed: true, message: msg });
    expect(steps[1]?.samples).toEqual([
      {
        metric: "heartbeat_ok",
        service: "celery",
        labels: { monitor: "7" },
        value: 0,
        ts: T0 + 11 * MIN + 1,
        message: msg,
      },
    ]);
    // Already late: nothing new to store.
    expect(steps[2]?.changed).toBe(false);
    expect(heartbeatOkSample(m, state, T0 + 12 * MIN)).toMatchObject({ value: 0, message: msg });
  });

  it("records a failure with its exit code, and a failed run is not also a missed one", () => {
    const { steps, state } = run(m, [
      { type: "success", at: T0 + 4 * MIN },
      { type: "fail", at: T0 + 9 * MIN, exitCode: 2 },
      { type: "tick", at: T0 + 15 * MIN }, // within 9 + 5 + 2
      { type: "tick", at: T0 + 16 * MIN + 1 },
    ]);
    expect(steps[1]).toMatchObject({ changed: true, message: "failed: exit code 2" });
    expect(steps[1]?.state).toMatchObject({ status: "failed", lastExitCode: 2, lastFailAt: T0 + 9 * MIN });
    expect(steps[1]?.samples).toEqual([
      expect.objectContaining({ metric: "heartbeat_ok", value: 0, message: "failed: exit code 2" }),
    ]);
    expect(steps[2]?.changed).toBe(false);
    expect(state.status).toBe("late");
    expect(state.message).toBe("late: expected by 2026-11-26T10:14:00.000Z, last ping 2026-11-26T10:09:00.000Z");
  });

  it("names a failure without an exit code and keeps the job's own words", () => {
    const t = applyHeartbeatEvent(m, initialHeartbeatState(), {
      type: "fail",
      at: T0,
      exitCode: null,
      detail: "disk full",
    });
    expect(t.message).toBe("failed: disk full");
    expect(t.state.lastExitCode).toBeNull();
  });

  it("recovers from late and from failed with the next success", () => {
    const late = run(m, [{ type: "tick", at: T0 + 8 * MIN }]).state;
    expect(late.status).toBe("late");
    const ok = applyHeartbeatEvent(m, late, { type: "success", at: T0 + 9 * MIN });
    expect(ok.state).toMatchObject({ status: "ok", message: null, lastPingAt: T0 + 9 * MIN });
    expect(metricValues(ok)).toEqual({ heartbeat_ok: 1 });

    const failed = applyHeartbeatEvent(m, ok.state, { type: "fail", at: T0 + 10 * MIN, exitCode: 1 }).state;
    const again = applyHeartbeatEvent(m, failed, { type: "success", at: T0 + 11 * MIN, exitCode: 0 });
    expect(again.state).toMatchObject({ status: "ok", lastExitCode: 0 });
    expect(metricValues(again)).toEqual({ heartbeat_ok: 1 });
  });

  it("keeps a monitor that never pinged new until its first expected time + grace", () => {
    const { steps, state } = run(m, [
      { type: "tick", at: T0 + 7 * MIN },
      { type: "tick", at: T0 + 7 * MIN + 1 },
    ]);
    expect(steps[0]?.changed).toBe(false);
    expect(steps[0]?.state.status).toBe("new");
    expect(heartbeatOkSample(m, steps[0]?.state ?? state, T0).value).toBe(1);
    expect(state.status).toBe("late");
    expect(state.message).toBe("late: expected by 2026-11-26T10:05:00.000Z, last ping never");
  });

  it("applies at least a second of grace, and honours a short one (period 10 s, grace 5 s)", () => {
    const m0 = monitor({ kind: "period", periodSeconds: 60, graceSeconds: 0 }, T0);
    const { steps } = run(m0, [
      { type: "success", at: T0 + 500 },
      { type: "tick", at: T0 + 500 + MIN + S },
      { type: "tick", at: T0 + 500 + MIN + S + 1 },
    ]);
    expect(steps[1]?.changed).toBe(false);
    expect(steps[2]?.state.status).toBe("late");
    const fast = monitor({ kind: "period", periodSeconds: 10, graceSeconds: 5 }, T0);
    const late = run(fast, [
      { type: "success", at: T0 },
      { type: "tick", at: T0 + 15 * S },
      { type: "tick", at: T0 + 15 * S + 1 },
    ]).steps;
    expect(late[1]?.state.status).toBe("ok");
    expect(late[2]?.state.status).toBe("late");
  });

  it("knows the deadline at which a job becomes late, for an alarm then", () => {
    const fast = monitor({ kind: "period", periodSeconds: 10, graceSeconds: 5 }, T0);
    const { state } = run(fast, [{ type: "success", at: T0 }]);
    const due = lateAt(fast, state, T0 + S);
    expect(due).toBe(T0 + 15 * S + 1);
    expect(lateSince(fast, state, (due ?? 0) - 1)).toBeNull();
    expect(lateSince(fast, state, due ?? 0)).not.toBeNull();
    // Late already: no deadline ahead.
    expect(lateAt(fast, state, T0 + 20 * S)).toBeNull();
    const nightly = monitor(
      { kind: "cron", cron: "0 3 * * *", timeZone: "UTC", graceSeconds: 60 },
      at("2026-01-02T00:00:00Z"),
    );
    expect(lateAt(nightly, initialHeartbeatState(), at("2026-01-02T01:00:00Z"))).toBe(at("2026-01-02T03:01:00Z") + 1);
  });

  it("gives a started run until start + period + grace, then calls it late", () => {
    const { steps } = run(m, [
      { type: "success", at: T0 },
      { type: "start", at: T0 + 5 * MIN },
      { type: "tick", at: T0 + 12 * MIN },
      { type: "tick", at: T0 + 12 * MIN + 1 },
    ]);
    expect(steps[1]?.state).toMatchObject({ status: "running", lastStartAt: T0 + 5 * MIN });
    expect(metricValues(steps[1] ?? { samples: [] })).toEqual({ heartbeat_ok: 1 });
    expect(steps[2]?.changed).toBe(false);
    expect(steps[3]?.state.status).toBe("late");
    expect(steps[3]?.message).toBe("late: expected by 2026-11-26T10:10:00.000Z, last ping 2026-11-26T10:05:00.000Z");
  });

  it("does not clear a failure when the next run starts", () => {
    const { steps } = run(m, [
      { type: "fail", at: T0 + MIN, exitCode: 3 },
      { type: "start", at: T0 + 2 * MIN },
    ]);
    expect(steps[1]?.state.status).toBe("running");
    expect(steps[1]?.samples).toEqual([
      expect.objectContaining({
        metric: "heartbeat_ok",
        value: 0,
        message: "running; the previous run failed: exit code 3",
      }),
    ]);
  });
});

describe("runtimes", () => {
  const T0 = at("2026-11-26T10:00:00Z");
  const m = monitor({ kind: "period", periodSeconds: 3600, graceSeconds: 300 }, T0);
  const withHistory = (recent: number[]): HeartbeatState => ({
    ...initialHeartbeatState(),
    status: "ok",
    lastPingAt: T0,
    recentRuntimesMs: recent,
  });
  const history = [58, 60, 61, 65, 62, 59].map((s) => s * S);

  it("measures start → success and records it", () => {
    const { steps, state } = run(m, [
      { type: "start", at: T0 + 10 * MIN },
      { type: "success", at: T0 + 10 * MIN + 42_500 },
    ]);
    expect(metricValues(steps[1] ?? { samples: [] })).toEqual({
      heartbeat_ok: 1,
      heartbeat_runtime_ms: 42_500,
      heartbeat_runtime_anomaly: 0,
    });
    expect(state).toMatchObject({ lastRuntimeMs: 42_500, recentRuntimesMs: [42_500], message: null });
  });

  it("does not invent a runtime without a start in the same run", () => {
    const { steps, state } = run(m, [
      { type: "start", at: T0 },
      { type: "success", at: T0 + MIN },
      { type: "success", at: T0 + 2 * MIN }, // the start belonged to the previous run
      { type: "start", at: T0 + 3 * MIN },
      { type: "success", at: T0 + 3 * MIN + 65 * MIN + 1 }, // longer than period + grace: a lost run
    ]);
    expect(metricValues(steps[2] ?? { samples: [] })).toEqual({ heartbeat_ok: 1 });
    expect(metricValues(steps[4] ?? { samples: [] })).toEqual({ heartbeat_ok: 1 });
    expect(state.recentRuntimesMs).toEqual([MIN]);
  });

  it("flags a suspiciously fast run without failing the heartbeat", () => {
    const start = applyHeartbeatEvent(m, withHistory(history), { type: "start", at: T0 + MIN });
    const t = applyHeartbeatEvent(m, start.state, { type: "success", at: T0 + MIN + 2 * S });
    expect(t.state.status).toBe("ok");
    expect(t.message).toBe("run took 2 s, suspiciously fast (median of the last 6 runs: 60.5 s)");
    expect(t.samples).toEqual([
      expect.objectContaining({ metric: "heartbeat_ok", value: 1 }),
      expect.objectContaining({ metric: "heartbeat_runtime_ms", value: 2000 }),
      expect.objectContaining({ metric: "heartbeat_runtime_anomaly", value: 1, message: t.message }),
    ]);
    expect(t.samples[0]).not.toHaveProperty("message");
  });

  it("flags a suspiciously slow run", () => {
    const start = applyHeartbeatEvent(m, withHistory(history), { type: "start", at: T0 + MIN });
    const t = applyHeartbeatEvent(m, start.state, { type: "success", at: T0 + MIN + 5 * MIN });
    expect(t.message).toBe("run took 5 min, suspiciously slow (median of the last 6 runs: 60.5 s)");
    expect(metricValues(t)).toMatchObject({ heartbeat_ok: 1, heartbeat_runtime_anomaly: 1 });
  });

  it("judges only with enough history, outside median/4 … median×4, and ignores sub-second jitter", () => {
    expect(runtimeAnomaly(2 * S, history.slice(0, 4))).toBeNull();
    expect(runtimeAnomaly(16 * S, history)).toBeNull();
    expect(runtimeAnomaly(15 * S, history)).toMatch(/fast/);
    expect(runtimeAnomaly(242 * S, history)).toBeNull();
    expect(runtimeAnomaly(243 * S, history)).toMatch(/slow/);
    // One outlier among the recent runs does not move the median.
    expect(runtimeAnomaly(60 * S, [...history, 3600 * S])).toBeNull();
    expect(runtimeAnomaly(10, [200, 210, 190, 205, 199])).toBeNull();
    expect(runtimeAnomaly(1900, [200, 210, 190, 205, 199])).toMatch(/slow/);
  });

  it("keeps the last 20 runtimes", () => {
    const recent = Array.from({ length: RECENT_RUNTIMES }, (_, i) => 60 * S + i);
    const start = applyHeartbeatEvent(m, withHistory(recent), { type: "start", at: T0 + MIN });
    const t = applyHeartbeatEvent(m, start.state, { type: "success", at: T0 + 2 * MIN });
    expect(t.state.recentRuntimesMs).toHaveLength(RECENT_RUNTIMES);
    expect(t.state.recentRuntimesMs.at(0)).toBe(60 * S + 1);
    expect(t.state.recentRuntimesMs.at(-1)).toBe(MIN);
  });
});

describe("cron schedule", () => {
  it('"0 3 * * *" in Asia/Taipei: on time, slightly early, and late', () => {
    const m = monitor({ kind: "cron", cron: "0 3 * * *", timeZone: "Asia/Taipei", graceSeconds: 600 });
    const lastNight = { ...initialHeartbeatState(), status: "ok" as const, lastPingAt: at("2026-11-25T19:00:30Z") };
    // 03:00 Taipei on the 27th is 2026-11-26T19:00Z; the grace ends 19:10Z.
    expect(applyHeartbeatEvent(m, lastNight, { type: "tick", at: at("2026-11-26T19:10:00Z") }).changed).toBe(false);
    const late = applyHeartbeatEvent(m, lastNight, { type: "tick", at: at("2026-11-26T19:10:01Z") });
    expect(late.state.status).toBe("late");
    expect(late.message).toBe("late: expected by 2026-11-26T19:00:00.000Z, last ping 2026-11-25T19:00:30.000Z");

    const early = applyHeartbeatEvent(m, lastNight, { type: "success", at: at("2026-11-26T18:55:00Z") }).state;
    expect(applyHeartbeatEvent(m, early, { type: "tick", at: at("2026-11-26T19:30:00Z") }).changed).toBe(false);
    const tooEarly = applyHeartbeatEvent(m, lastNight, { type: "success", at: at("2026-11-26T18:45:00Z") }).state;
    expect(applyHeartbeatEvent(m, tooEarly, { type: "tick", at: at("2026-11-26T19:30:00Z") }).state.status).toBe(
      "late",
    );
  });

  it('"*/15 * * * *" in UTC: each quarter hour needs its own run', () => {
    const m = monitor({ kind: "cron", cron: "*/15 * * * *", timeZone: "UTC", graceSeconds: 60 });
    const { steps } = run(m, [
      { type: "success", at: at("2026-11-26T10:00:20Z") },
      { type: "tick", at: at("2026-11-26T10:16:00Z") },
      { type: "tick", at: at("2026-11-26T10:16:01Z") },
      { type: "success", at: at("2026-11-26T10:17:00Z") },
      { type: "tick", at: at("2026-11-26T10:20:00Z") },
    ]);
    expect(steps[1]?.changed).toBe(false);
    expect(steps[2]?.message).toBe("late: expected by 2026-11-26T10:15:00.000Z, last ping 2026-11-26T10:00:20.000Z");
    expect(steps[4]?.changed).toBe(false);
    expect(steps[4]?.state.status).toBe("ok");
  });

  it("never lets the previous run's ping stand in for this one, however long the grace", () => {
    const m = monitor({ kind: "cron", cron: "*/15 * * * *", timeZone: "UTC", graceSeconds: 3600 });
    const state = { ...initialHeartbeatState(), status: "ok" as const, lastPingAt: at("2026-11-26T10:00:20Z") };
    // Latest fire due: 10:15 (11:15:01 − 1 h); a ping may be at most 7.5 min early.
    const t = applyHeartbeatEvent(m, state, { type: "tick", at: at("2026-11-26T11:15:01Z") });
    expect(t.message).toBe("late: expected by 2026-11-26T10:15:00.000Z, last ping 2026-11-26T10:00:20.000Z");
  });

  it("does not expect runs scheduled before the monitor existed", () => {
    const m = monitor(
      { kind: "cron", cron: "*/15 * * * *", timeZone: "UTC", graceSeconds: 60 },
      at("2026-11-26T10:05:00Z"),
    );
    const { steps } = run(m, [
      { type: "tick", at: at("2026-11-26T10:15:30Z") },
      { type: "tick", at: at("2026-11-26T10:16:01Z") },
    ]);
    expect(steps[0]?.state.status).toBe("new");
    expect(steps[1]?.message).toBe("late: expected by 2026-11-26T10:15:00.000Z, last ping never");
  });

  it("lets a started cron run go on until the next fire + grace", () => {
    const m = monitor({ kind: "cron", cron: "0 * * * *", timeZone: "UTC", graceSeconds: 300 });
    const { steps } = run(m, [
      { type: "success", at: at("2026-11-26T09:20:00Z") },
      { type: "start", at: at("2026-11-26T10:00:05Z") },
      { type: "tick", at: at("2026-11-26T11:05:00Z") },
      { type: "tick", at: at("2026-11-26T11:05:01Z") },
    ]);
    expect(steps[2]?.changed).toBe(false);
    expect(steps[3]?.message).toBe("late: expected by 2026-11-26T11:00:00.000Z, last ping 2026-11-26T10:00:05.000Z");
  });

  it("measures cron runtimes within the schedule's interval", () => {
    const m = monitor({ kind: "cron", cron: "0 3 * * *", timeZone: "Asia/Taipei", graceSeconds: 600 });
    const { steps } = run(m, [
      { type: "start", at: at("2026-11-26T19:00:02Z") },
      { type: "success", at: at("2026-11-26T21:00:02Z") },
    ]);
    expect(metricValues(steps[1] ?? { samples: [] })).toMatchObject({ heartbeat_runtime_ms: 2 * 3600 * S });
  });

  describe("America/New_York across DST", () => {
    it("spring forward: a 02:30 job is due when the clocks jump, not a day later and not never", () => {
      const m = monitor({ kind: "cron", cron: "30 2 * * *", timeZone: "America/New_York", graceSeconds: 300 });
      const state = { ...initialHeartbeatState(), status: "ok" as const, lastPingAt: at("2026-03-07T07:30:30Z") };
      expect(applyHeartbeatEvent(m, state, { type: "tick", at: at("2026-03-08T07:05:00Z") }).changed).toBe(false);
      const late = applyHeartbeatEvent(m, state, { type: "tick", at: at("2026-03-08T07:05:01Z") });
      expect(late.message).toBe("late: expected by 2026-03-08T07:00:00.000Z, last ping 2026-03-07T07:30:30.000Z");
      // The host's cron runs it right after the jump (03:00 EDT).
      const ran = applyHeartbeatEvent(m, state, { type: "success", at: at("2026-03-08T07:00:40Z") }).state;
      expect(applyHeartbeatEvent(m, ran, { type: "tick", at: at("2026-03-08T12:00:00Z") }).changed).toBe(false);
    });

    it("fall back: no false late in the repeated hour, and a 25-hour day for a 03:00 job", () => {
      const m = monitor({ kind: "cron", cron: "30 1 * * *", timeZone: "America/New_York", graceSeconds: 300 });
      const ran = { ...initialHeartbeatState(), status: "ok" as const, lastPingAt: at("2026-11-01T05:30:20Z") };
      // 06:36Z is the second 01:36 local: the 01:30 fire already happened (at 05:30Z).
      expect(applyHeartbeatEvent(m, ran, { type: "tick", at: at("2026-11-01T06:36:00Z") }).changed).toBe(false);

      const daily = monitor({ kind: "cron", cron: "0 3 * * *", timeZone: "America/New_York", graceSeconds: 300 });
      const yesterday = { ...initialHeartbeatState(), status: "ok" as const, lastPingAt: at("2026-10-31T07:00:30Z") };
      // 24.5 h later it is only 02:30 EST: not late yet.
      expect(applyHeartbeatEvent(daily, yesterday, { type: "tick", at: at("2026-11-01T07:30:00Z") }).changed).toBe(
        false,
      );
      const late = applyHeartbeatEvent(daily, yesterday, { type: "tick", at: at("2026-11-01T08:05:01Z") });
      expect(late.message).toBe("late: expected by 2026-11-01T08:00:00.000Z, last ping 2026-10-31T07:00:30.000Z");
    });
  });
});

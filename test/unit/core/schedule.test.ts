import { describe, expect, it } from "vitest";
import {
  CRON_INTERVAL_MS,
  cronLagSeconds,
  firstSlot,
  LEASE_MARGIN_MS,
  leaseUntil,
  MAX_CONCURRENT_PROBES,
  nextSlot,
  rearmAt,
  runBounded,
  RUNNER_CAPACITY,
  runnerLagSeconds,
  runnerName,
  runsOnCron,
  runsOnRunner,
} from "../../../worker/core/schedule";

const T = Date.UTC(2026, 10, 26, 10, 0, 0);
const s = (seconds: number) => seconds * 1000;

describe("nextSlot", () => {
  it("steps one interval from the previous due time, not from when the run happened", () => {
    expect(nextSlot(T, s(60), T)).toBe(T + s(60));
    // A run 7 s late keeps the phase: no drift.
    expect(nextSlot(T, s(60), T + s(7))).toBe(T + s(60));
    expect(nextSlot(T, s(10), T + s(9.999))).toBe(T + s(10));
  });

  it("skips the slots missed while late instead of running them in a burst", () => {
    expect(nextSlot(T, s(10), T + s(35))).toBe(T + s(40));
    expect(nextSlot(T, s(10), T + s(40))).toBe(T + s(50));
    expect(nextSlot(T, s(300), T + s(3600))).toBe(T + s(3900));
  });

  it("stays on the grid however many runs follow, late or not", () => {
    let due = T;
    const lateness = [0, 3, 17, 59, 1, 0, 44];
    for (const late of lateness) due = nextSlot(due, s(90), due + s(late));
    expect((due - T) % s(90)).toBe(0);
    expect(due).toBe(T + lateness.length * s(90));
  });

  it("refuses a non-positive interval", () => {
    expect(() => nextSlot(T, 0, T)).toThrow(RangeError);
  });
});

describe("firstSlot", () => {
  it("aligns to multiples of the interval, so equal intervals share alarms", () => {
    expect(firstSlot(T + 1, s(10))).toBe(T + s(10));
    expect(firstSlot(T, s(10))).toBe(T);
    expect(firstSlot(T + s(12), s(5)) % s(5)).toBe(0);
  });
});

describe("who runs a monitor", () => {
  const m = (kind: string, intervalSeconds: number, isActive = true) => ({ kind, intervalSeconds, isActive });

  it("sends ≥ 60 s probes to the cron and faster ones to a runner", () => {
    expect(runsOnCron(m("http", 60))).toBe(true);
    expect(runsOnRunner(m("http", 60))).toBe(false);
    expect(runsOnCron(m("prometheus", 59))).toBe(false);
    expect(runsOnRunner(m("prometheus", 59))).toBe(true);
    expect(runsOnRunner(m("http", 5))).toBe(true);
  });

  it("leaves heartbeats and paused monitors to nobody", () => {
    expect(runsOnCron(m("heartbeat", 60))).toBe(false);
    expect(runsOnRunner(m("heartbeat", 10))).toBe(false);
    expect(runsOnCron(m("http", 60, false))).toBe(false);
    expect(runsOnRunner(m("http", 10, false))).toBe(false);
  });

  it("groups consecutive ids, never more than one invocation's connections per runner", () => {
    expect(RUNNER_CAPACITY).toBe(MAX_CONCURRENT_PROBES);
    expect(runnerName(0)).toBe("runner-0");
    expect(runnerName(5)).toBe("runner-0");
    expect(runnerName(6)).toBe("runner-1");
    expect(runnerName(13)).toBe("runner-2");
    const counts = new Map<string, number>();
    for (let id = 1; id <= 1000; id++) counts.set(runnerName(id), (counts.get(runnerName(id)) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(RUNNER_CAPACITY);
  });
});

describe("leases and lag", () => {
  it("holds a lease for the timeout plus a margin", () => {
    expect(leaseUntil(T, 5000)).toBe(T + 5000 + LEASE_MARGIN_MS);
  });

  it("measures cron lag from the first tick that could have run the monitor", () => {
    expect(cronLagSeconds([], T)).toBe(0);
    expect(cronLagSeconds([T], T)).toBe(0);
    // Due at :30, the first tick is the next minute: on time there.
    expect(cronLagSeconds([T - s(30)], T)).toBe(0);
    expect(cronLagSeconds([T - s(30), T - s(300), T - s(60)], T)).toBe(300);
    expect(cronLagSeconds([T - s(90)], T + s(5))).toBe(65);
    expect(CRON_INTERVAL_MS).toBe(60_000);
  });

  it("measures a runner's lag by its oldest pending run", () => {
    expect(runnerLagSeconds(null, T)).toBe(0);
    expect(runnerLagSeconds(T + s(5), T)).toBe(0);
    expect(runnerLagSeconds(T - s(42), T)).toBe(42);
  });
});

describe("rearmAt (the watchdog)", () => {
  const state = (alarmAt: number | null, earliestDue: number | null) => ({
    alarmAt,
    earliestDue,
    minIntervalMs: s(10),
  });

  it("leaves a healthy loop alone", () => {
    expect(rearmAt(state(T + s(4), T + s(4)), T)).toBeNull();
    // Firing right now, or a moment late: not stuck.
    expect(rearmAt(state(T - s(3), T - s(3)), T)).toBeNull();
    expect(rearmAt(state(null, null), T)).toBeNull();
  });

  it("re-arms a missing alarm at the earliest pending run, or now when that has passed", () => {
    expect(rearmAt(state(null, T + s(4)), T)).toBe(T + s(4));
    expect(rearmAt(state(null, T - s(40)), T)).toBe(T);
  });

  it("re-arms an alarm stuck more than an interval in the past", () => {
    expect(rearmAt(state(T - s(11), T - s(11)), T)).toBe(T);
    expect(rearmAt(state(T - s(10), T - s(10)), T)).toBeNull();
  });

  it("brings forward an alarm set later than the earliest pending run", () => {
    expect(rearmAt(state(T + s(30), T + s(5)), T)).toBe(T + s(5));
  });
});

describe("runBounded", () => {
  it("never has more than the limit in flight and keeps outcomes in order", async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await runBounded([5, 1, 4, 2, 3, 6, 0, 2, 1, 3], 3, async (ms) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inFlight--;
      if (ms === 0) throw new Error("zero");
      return ms * 10;
    });
    expect(peak).toBe(3);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
      50,
      10,
      40,
      20,
      30,
      60,
      "Error: zero",
      20,
      10,
      30,
    ]);
  });

  it("handles nothing to do", async () => {
    expect(await runBounded([], 6, async () => 1)).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  CRON_SILENT_METRIC,
  CRON_STOPPED_SECONDS,
  DELIVERY_OVERDUE_METRIC,
  isStale,
  type ProbedMonitor,
  SELF_SERVICE,
  selfSamples,
  STALE_MONITORS_METRIC,
} from "../../../worker/core/self-watch";

const now = Date.UTC(2026, 11, 3, 12);
const monitor = (over: Partial<ProbedMonitor> = {}): ProbedMonitor => ({
  id: 1,
  intervalSeconds: 60,
  since: now - 3_600_000,
  lastResultAt: now - 30_000,
  ...over,
});
const values = (samples: ReturnType<typeof selfSamples>) => Object.fromEntries(samples.map((s) => [s.metric, s.value]));

describe("isStale", () => {
  it("needs three intervals without a result, and at least three minutes", () => {
    expect(isStale(monitor({ lastResultAt: now - 180_000 }), now)).toBe(false);
    expect(isStale(monitor({ lastResultAt: now - 180_001 }), now)).toBe(true);
    // A 10 s monitor: 30 s is three intervals, but the floor is three minutes.
    expect(isStale(monitor({ intervalSeconds: 10, lastResultAt: now - 60_000 }), now)).toBe(false);
    expect(isStale(monitor({ intervalSeconds: 10, lastResultAt: now - 181_000 }), now)).toBe(true);
    // A 5-minute monitor: 15 minutes.
    expect(isStale(monitor({ intervalSeconds: 300, lastResultAt: now - 600_000 }), now)).toBe(false);
  });

  it("counts from when the monitor was set up when it has no newer result", () => {
    expect(isStale(monitor({ lastResultAt: null, since: now - 60_000 }), now)).toBe(false);
    expect(isStale(monitor({ lastResultAt: null, since: now - 600_000 }), now)).toBe(true);
    expect(isStale(monitor({ lastResultAt: now - 3_600_000, since: now - 60_000 }), now)).toBe(false);
  });
});

describe("selfSamples", () => {
  it("says how long the cron has been silent, how overdue notifications are and how many monitors are stale", () => {
    const samples = selfSamples({
      now,
      cronAt: now - 150_000,
      oldestOverdueAt: now - 90_000,
      monitors: [monitor({ intervalSeconds: 10, lastResultAt: now - 200_000 }), monitor({ id: 2 })],
    });
    expect(samples.every((s) => s.service === SELF_SERVICE && s.ts === now)).toBe(true);
    expect(values(samples)).toEqual({
      [CRON_SILENT_METRIC]: 150,
      [DELIVERY_OVERDUE_METRIC]: 90,
      [STALE_MONITORS_METRIC]: 1,
    });
  });

  it("takes no cron sample before the first tick, and 0 for nothing overdue", () => {
    expect(values(selfSamples({ now, cronAt: null, oldestOverdueAt: null, monitors: [] }))).toEqual({
      [DELIVERY_OVERDUE_METRIC]: 0,
      [STALE_MONITORS_METRIC]: 0,
    });
  });

  it("leaves the cron's monitors out of the stale count while the cron has stopped: one cause, one page", () => {
    const monitors = [
      monitor({ id: 1, intervalSeconds: 60, lastResultAt: now - 600_000 }),
      monitor({ id: 2, intervalSeconds: 10, lastResultAt: now - 600_000 }),
    ];
    const stopped = now - CRON_STOPPED_SECONDS * 1000 - 1;
    expect(values(selfSamples({ now, cronAt: stopped, oldestOverdueAt: null, monitors }))[STALE_MONITORS_METRIC]).toBe(
      1,
    );
    expect(
      values(selfSamples({ now, cronAt: now - 60_000, oldestOverdueAt: null, monitors }))[STALE_MONITORS_METRIC],
    ).toBe(2);
  });
});

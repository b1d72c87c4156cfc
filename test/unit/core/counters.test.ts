import { describe, expect, it } from "vitest";
import {
  counterSeries,
  DEFAULT_FLUSH_INTERVAL_MS,
  flushIntervalMs,
  LOST_FLUSH_MS,
  REFUSAL_REASONS,
  SAMPLE_SOURCES,
  Tally,
} from "../../../worker/core/counters";
import { RULE_KINDS } from "../../../worker/core/rules/types";
import { GUARD_KINDS } from "../../../worker/core/auth-guard";

const T = 1_800_000_000_000;

describe("Tally", () => {
  it("sums counts per counter and label until they are taken, then starts from empty", () => {
    const t = new Tally(5_000);
    t.add("samples_accepted", "push", 3, T);
    t.add("samples_accepted", "push", 2, T + 1);
    t.add("samples_accepted", "probe", 1, T + 2);
    t.add("samples_refused", "push", 4, T + 3);
    expect(t.take(T + 10)).toEqual([
      { counter: "samples_accepted", label: "push", n: 5 },
      { counter: "samples_accepted", label: "probe", n: 1 },
      { counter: "samples_refused", label: "push", n: 4 },
    ]);
    expect(t.size).toBe(0);
    expect(t.take(T + 11)).toEqual([]);
  });

  it("ignores counts that are not positive integers", () => {
    const t = new Tally(5_000);
    for (const n of [0, -1, 1.5, NaN, Infinity]) expect(t.add("rule_evaluations", "threshold", n, T)).toBeNull();
    expect(t.size).toBe(0);
  });

  it("asks for a flush at once the first time, then once per interval, one at a time", () => {
    const t = new Tally(5_000);
    expect(t.add("samples_accepted", "push", 1, T)).toBe(0);
    // Scheduled already: later counts ride on it.
    expect(t.add("samples_accepted", "push", 1, T + 1)).toBeNull();
    t.take(T + 2);
    // The next flush waits out the interval from the last one's start.
    expect(t.add("samples_accepted", "push", 1, T + 1_000)).toBe(4_002);
    expect(t.add("samples_accepted", "push", 1, T + 2_000)).toBeNull();
    t.take(T + 5_002);
    // Long after the last flush: at once again.
    expect(t.add("samples_accepted", "push", 1, T + 60_000)).toBe(0);
  });

  it("flushes every count at once with an interval of 0", () => {
    const t = new Tally(0);
    expect(t.add("samples_accepted", "push", 1, T)).toBe(0);
    t.take(T);
    expect(t.add("samples_accepted", "push", 1, T)).toBe(0);
  });

  it("schedules again when a scheduled flush never started", () => {
    const t = new Tally(5_000);
    expect(t.add("samples_accepted", "push", 1, T)).toBe(0);
    expect(t.add("samples_accepted", "push", 1, T + LOST_FLUSH_MS - 1)).toBeNull();
    expect(t.add("samples_accepted", "push", 1, T + LOST_FLUSH_MS)).toBe(0);
    expect(t.take(T + LOST_FLUSH_MS)).toEqual([{ counter: "samples_accepted", label: "push", n: 3 }]);
  });

  it("keeps the counts of a failed flush for the next one", () => {
    const t = new Tally(5_000);
    t.add("samples_refused", "duplicate", 2, T);
    const taken = t.take(T);
    t.add("samples_refused", "duplicate", 1, T + 1);
    t.putBack(taken);
    expect(t.take(T + 2)).toEqual([{ counter: "samples_refused", label: "duplicate", n: 3 }]);
    // The taken list was not changed by merging into it.
    expect(taken).toEqual([{ counter: "samples_refused", label: "duplicate", n: 2 }]);
  });
});

describe("flushIntervalMs", () => {
  it("reads a non-negative number of ms, else the default", () => {
    expect(flushIntervalMs("0")).toBe(0);
    expect(flushIntervalMs("250")).toBe(250);
    for (const bad of [undefined, "", " ", "-1", "soon"]) expect(flushIntervalMs(bad)).toBe(DEFAULT_FLUSH_INTERVAL_MS);
  });
});

describe("counterSeries", () => {
  it("lists every known label value of every counter, with the totals, 0 when missing", () => {
    const series = counterSeries([
      { counter: "samples_refused", label: "rate_limited", n: 7 },
      { counter: "rule_evaluations", label: "ratio", n: 2 },
    ]);
    expect(series).toHaveLength(
      SAMPLE_SOURCES.length + REFUSAL_REASONS.length + RULE_KINDS.length + 2 * GUARD_KINDS.length,
    );
    expect(series.find((s) => s.counter === "samples_refused" && s.label === "rate_limited")?.n).toBe(7);
    expect(series.find((s) => s.counter === "rule_evaluations" && s.label === "ratio")?.n).toBe(2);
    expect(series.find((s) => s.counter === "samples_accepted" && s.label === "push")?.n).toBe(0);
  });

  it("keeps a stored label value it does not know (from another version) at the end of its counter", () => {
    const series = counterSeries([{ counter: "samples_accepted", label: "import", n: 4 }]);
    const accepted = series.filter((s) => s.counter === "samples_accepted");
    expect(accepted.at(-1)).toEqual({ counter: "samples_accepted", label: "import", n: 4 });
  });
});

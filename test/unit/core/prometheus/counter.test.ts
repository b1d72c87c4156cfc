import { describe, expect, it } from "vitest";
import { counterIncrease, counterRate } from "../../../../worker/core/prometheus/counter";

const points = (...values: number[]) => values.map((value, i) => ({ ts: 1_000 * i, value }));

describe("counterIncrease", () => {
  it("is last minus first for a counter that only grows", () => {
    expect(counterIncrease(points(100, 100, 130, 175.5))).toBe(75.5);
  });

  it("counts the value after a reset in full", () => {
    expect(counterIncrease(points(10, 15, 3, 8))).toBe(5 + 3 + 5);
    expect(counterIncrease(points(500, 0, 0, 4))).toBe(4);
    expect(counterIncrease(points(10, 20, 5, 30, 2, 2))).toBe(10 + 5 + 25 + 2);
  });

  it("is zero for fewer than two points or a flat counter", () => {
    expect(counterIncrease([])).toBe(0);
    expect(counterIncrease(points(42))).toBe(0);
    expect(counterIncrease(points(7, 7, 7))).toBe(0);
  });

  it("takes points in time order and skips non-finite ones", () => {
    expect(
      counterIncrease([
        { ts: 3, value: 30 },
        { ts: 1, value: 10 },
        { ts: 2, value: 5 },
      ]),
    ).toBe(5 + 25);
    expect(counterIncrease(points(1, Number.NaN, 4, Number.POSITIVE_INFINITY, 6))).toBe(5);
  });
});

describe("counterRate", () => {
  it("is the increase per second of the window", () => {
    expect(counterRate(points(10, 15, 3, 8), 60)).toBeCloseTo(13 / 60, 12);
    expect(counterRate(points(0, 300), 300)).toBe(1);
  });

  it("is zero for a window that is not positive", () => {
    expect(counterRate(points(0, 300), 0)).toBe(0);
    expect(counterRate(points(0, 300), -5)).toBe(0);
    expect(counterRate(points(0, 300), Number.NaN)).toBe(0);
  });
});

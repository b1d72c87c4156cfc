import { describe, expect, it } from "vitest";
import {
  ALPHA,
  addValue,
  emptySketch,
  mergeInto,
  parseSketch,
  quantile,
  serializeSketch,
} from "../../../worker/core/sketch";
import { mulberry32 } from "../../../worker/core/random";

const rng = mulberry32;

const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? 0;

describe("sketch", () => {
  it("answers quantiles within 1% of the exact value on a skewed latency distribution", () => {
    const random = rng(7);
    const values = Array.from({ length: 20_000 }, () => 20 + Math.exp(random() * 7)); // 21 ms … ~1.1 s, long tail
    const sketch = emptySketch();
    for (const v of values) addValue(sketch, v);
    for (const q of [0, 0.5, 0.9, 0.95, 0.99, 1]) {
      const truth = exact(values, q);
      expect(Math.abs((quantile(sketch, q) ?? 0) - truth) / truth, `q=${q}`).toBeLessThanOrEqual(ALPHA + 1e-9);
    }
  });

  it("merges exactly: minute sketches combined equal one sketch of all values", () => {
    const random = rng(42);
    const minutes = Array.from({ length: 60 }, () => Array.from({ length: 50 }, () => random() * 1000 - 100));
    const whole = emptySketch();
    const merged = emptySketch();
    for (const minute of minutes) {
      const part = emptySketch();
      for (const v of minute) {
        addValue(part, v);
        addValue(whole, v);
      }
      mergeInto(merged, parseSketch(serializeSketch(part)));
    }
    expect(merged.count).toBe(3000);
    for (const q of [0.01, 0.5, 0.99]) expect(quantile(merged, q)).toBe(quantile(whole, q));
  });

  it("handles zeros, negatives, non-finite input and emptiness", () => {
    const sketch = emptySketch();
    expect(quantile(sketch, 0.5)).toBeNull();
    for (const v of [-50, -5, 0, 0, 5, 50, Number.NaN, Number.POSITIVE_INFINITY]) addValue(sketch, v);
    expect(sketch.count).toBe(6);
    expect(quantile(sketch, 0)).toBeCloseTo(-50, -0.5);
    expect(quantile(sketch, 0.5)).toBe(0);
    expect(quantile(sketch, 1)).toBeCloseTo(50, -0.5);
  });

  it("reads malformed text as an empty sketch", () => {
    for (const bad of ["", "nonsense", '{"p":"x"}', '{"p":[[1,-3],[1.5,2]]}', null]) {
      expect(parseSketch(bad).count).toBe(0);
    }
  });
});

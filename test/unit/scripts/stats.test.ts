import { describe, expect, it } from "vitest";
import { mapLimit, percentile, summarize } from "../../../scripts/lib/stats.mjs";

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const tick = () => new Promise((r) => setTimeout(r, 1));

describe("percentile", () => {
  it("takes the nearest rank", () => {
    expect(percentile(range(100), 50)).toBe(50);
    expect(percentile(range(100), 99)).toBe(99);
    expect(percentile(range(300), 99)).toBe(297);
    expect(percentile(range(300), 100)).toBe(300);
    expect(percentile([7], 1)).toBe(7);
  });

  it("is NaN without values", () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("summarize", () => {
  it("sorts numerically before ranking", () => {
    expect(summarize([30, 4, 100, 2, 9])).toEqual({ n: 5, p50: 9, p99: 100, max: 100 });
  });
});

describe("mapLimit", () => {
  it("keeps at most `limit` calls running and returns results in input order", async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit(range(20), 3, async (x, i) => {
      running++;
      most = Math.max(most, running);
      // Later items finish first, so the order must come from the index.
      await new Promise((r) => setTimeout(r, 20 - i));
      running--;
      return x * 10;
    });
    expect(most).toBe(3);
    expect(out).toEqual(range(20).map((x) => x * 10));
  });

  it("starts nothing new after a failure and throws the first error", async () => {
    const started: number[] = [];
    const run = mapLimit(range(10), 2, async (x) => {
      started.push(x);
      await tick();
      if (x === 2) throw new Error("boom 2");
      if (x === 3) throw new Error("boom 3");
      return x;
    });
    await expect(run).rejects.toThrow("boom 2");
    expect(started).toEqual([1, 2, 3]);
  });

  it("returns an empty list for no items", async () => {
    expect(await mapLimit([], 8, async () => 1)).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  addCounts,
  firstPerInstant,
  instantKey,
  NO_DUPLICATES,
  settleAgainstStored,
} from "../../../worker/core/duplicates";
import { type Sample, seriesKey } from "../../../worker/core/series";

const at = (value: number, ts: number, labels: Record<string, string> = {}): Sample => ({
  metric: "m",
  service: "s",
  labels,
  value,
  ts,
});
const keyOf = (s: Sample) => seriesKey(s.metric, s.service, s.labels);

describe("firstPerInstant", () => {
  it("keeps a batch without repeats whole and in order", () => {
    const batch = [at(1, 30), at(2, 10), at(3, 20), at(4, 10, { r: "tw" })];
    expect(firstPerInstant(batch, keyOf)).toEqual({ kept: batch, duplicates: 0, conflicts: 0 });
  });

  it("keeps the first sample of an instant; identical repeats are duplicates, other values also conflicts", () => {
    const first = at(5, 100);
    const result = firstPerInstant([first, at(5, 100), at(6, 100), at(7, 101), at(5, 100)], keyOf);
    expect(result.kept).toEqual([first, at(7, 101)]);
    expect(result.kept[0]).toBe(first);
    expect(result).toMatchObject({ duplicates: 3, conflicts: 1 });
  });

  it("tells series apart by their labels, and an instant by its exact millisecond", () => {
    const batch = [at(1, 100, { r: "tw" }), at(1, 100, { r: "jp" }), at(1, 101, { r: "tw" })];
    expect(firstPerInstant(batch, keyOf)).toEqual({ kept: batch, duplicates: 0, conflicts: 0 });
  });

  it("compares values exactly (0 and -0 are the same value)", () => {
    expect(firstPerInstant([at(0.1 + 0.2, 1), at(0.3, 1)], keyOf)).toMatchObject({ duplicates: 1, conflicts: 1 });
    expect(firstPerInstant([at(0, 1), at(-0, 1)], keyOf)).toMatchObject({ duplicates: 1, conflicts: 0 });
  });
});

describe("settleAgainstStored", () => {
  const key = (s: Sample) => instantKey(7, s.ts);

  it("passes on what the store added, and counts the rest against the values it holds", () => {
    const offered = [at(1, 10), at(2, 20), at(3, 30), at(4, 40)];
    const added = new Set([instantKey(7, 10), instantKey(7, 40)]);
    const stored = new Map([
      [instantKey(7, 20), 2],
      [instantKey(7, 30), 99],
    ]);
    expect(settleAgainstStored(offered, key, added, stored)).toEqual({
      added: [at(1, 10), at(4, 40)],
      duplicates: 2,
      conflicts: 1,
    });
  });

  it("counts everything as a retry when nothing was added and every value matches", () => {
    const offered = [at(1, 10), at(2, 20)];
    const stored = new Map(offered.map((s) => [key(s), s.value]));
    expect(settleAgainstStored(offered, key, new Set(), stored)).toEqual({ added: [], duplicates: 2, conflicts: 0 });
  });
});

describe("counts", () => {
  it("add up, starting from none", () => {
    expect(addCounts(NO_DUPLICATES, { duplicates: 2, conflicts: 1 })).toEqual({ duplicates: 2, conflicts: 1 });
    expect(addCounts({ duplicates: 1, conflicts: 0 }, { duplicates: 2, conflicts: 1 })).toEqual({
      duplicates: 3,
      conflicts: 1,
    });
  });
});

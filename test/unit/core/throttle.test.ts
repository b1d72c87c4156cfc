import { describe, expect, it } from "vitest";
import { publishAt } from "../../../worker/core/throttle";

describe("publishAt (leading-edge throttle)", () => {
  const T = 1_800_000_000_000;

  it("publishes at once without a previous publication or when it is an interval old", () => {
    expect(publishAt(T, undefined, 1_000)).toBe(T);
    expect(publishAt(T, null, 1_000)).toBe(T);
    expect(publishAt(T, T - 1_000, 1_000)).toBe(T);
    expect(publishAt(T, T - 60_000, 250)).toBe(T);
  });

  it("holds a change within the interval until the interval ends", () => {
    expect(publishAt(T, T - 1, 1_000)).toBe(T + 999);
    expect(publishAt(T, T, 250)).toBe(T + 250);
    // A burst of changes after one publication all wait for the same instant: one more publication.
    const last = T - 100;
    expect(new Set([T, T + 50, T + 120].map((now) => publishAt(now, last, 250)))).toEqual(new Set([T + 150]));
  });

  it("never schedules in the past, also when the clock went backwards", () => {
    expect(publishAt(T, T + 5_000, 1_000)).toBe(T + 6_000);
    expect(publishAt(T, T - 5_000, 1_000)).toBe(T);
  });
});

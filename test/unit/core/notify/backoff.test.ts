import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, retryDelaySeconds } from "../../../../worker/core/notify/backoff";

describe("retryDelaySeconds", () => {
  // Ceiling min(900, 5 × 2^(attempt-1)); random 0.999 lands just under it.
  it.each<[number, number, number]>([
    [1, 5, 4],
    [2, 10, 9],
    [3, 20, 19],
    [4, 40, 39],
    [5, 80, 79],
    [6, 160, 159],
    [7, 320, 319],
    [8, 640, 639],
    [9, 900, 899],
    [10, 900, 899],
  ])("attempt %i: ceiling %i s", (attempt, ceiling, high) => {
    expect(retryDelaySeconds(attempt, 0, null)).toBe(0);
    expect(retryDelaySeconds(attempt, 0.999, null)).toBe(high);
    expect(retryDelaySeconds(attempt, 0.5, null)).toBe(Math.floor(ceiling / 2));
    expect(high).toBeLessThan(ceiling);
  });

  it("grows with the attempt until the 15 minute cap", () => {
    const delays = Array.from({ length: 10 }, (_, i) => retryDelaySeconds(i + 1, 0.999, null));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    expect(Math.max(...delays)).toBeLessThan(15 * 60);
  });

  it.each<[string, number, number, number | null, number]>([
    ["Retry-After above the jitter wins", 1, 0, 30, 30],
    ["jitter above Retry-After wins", 10, 0.999, 30, 899],
    ["Retry-After is capped at an hour", 1, 0.5, 7200, 3600],
    ["a long Retry-After beats the 15 minute cap", 10, 0.999, 1800, 1800],
    ["fractional Retry-After rounds up", 1, 0, 2.5, 3],
    ["zero Retry-After is no floor", 1, 0.5, 0, 2],
    ["negative Retry-After is ignored", 2, 0.5, -10, 5],
    ["attempt 0 counts as the first", 0, 0.999, null, 4],
    ["a huge attempt stays capped", 1000, 0.999, null, 899],
    ["random out of range is clamped", 3, 1.5, null, 20],
  ])("%s", (_, attempt, random, retryAfter, expected) => {
    expect(retryDelaySeconds(attempt, random, retryAfter)).toBe(expected);
  });

  it("gives up on a channel within a few minutes unless the provider asks to wait", () => {
    const retries = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelaySeconds(i + 1, 0.999, null));
    expect(retries.reduce((a, b) => a + b, 0)).toBeLessThan(5 * 60);
    expect(MAX_ATTEMPTS).toBeGreaterThan(1);
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  FLOOR_SECONDS,
  MAX_ATTEMPTS,
  MIN_SPAN_SECONDS,
  RETRY_AFTER_CAP_SECONDS,
  retryDelaySeconds,
  retrySpanSeconds,
} from "../../../../worker/core/notify/backoff";

describe("retryDelaySeconds", () => {
  // Nominal min(300, 10 × 2^(attempt-1)), jittered within [max(5, nominal/2), nominal].
  it.each<[number, number, number]>([
    [1, 5, 10],
    [2, 10, 20],
    [3, 20, 40],
    [4, 40, 80],
    [5, 80, 160],
    [6, 150, 300],
    [7, 150, 300],
    [10, 150, 300],
  ])("attempt %i: between %i and %i s", (attempt, low, high) => {
    expect(retryDelaySeconds(attempt, 0, null)).toBe(low);
    expect(retryDelaySeconds(attempt, 0.999, null)).toBe(high);
    expect(retryDelaySeconds(attempt, 0.5, null)).toBe(Math.ceil((low + high) / 2));
  });

  it("never waits less than 5 s, however the jitter falls", () => {
    expect(FLOOR_SECONDS).toBeGreaterThanOrEqual(5);
    for (let attempt = 1; attempt <= 20; attempt++) {
      for (const random of [0, 1e-9, 0.25, 0.5, 0.75, 0.999999]) {
        const delay = retryDelaySeconds(attempt, random, null);
        expect(delay).toBeGreaterThanOrEqual(FLOOR_SECONDS);
        // Jitter stays within the step: at least half the nominal delay, at most all of it.
        const nominal = Math.min(300, 10 * 2 ** (attempt - 1));
        expect(delay).toBeGreaterThanOrEqual(Math.max(FLOOR_SECONDS, nominal / 2));
        expect(delay).toBeLessThanOrEqual(nominal);
      }
    }
  });

  it("spreads deliveries that failed together", () => {
    const delays = new Set(Array.from({ length: 20 }, (_, i) => retryDelaySeconds(4, i / 20, null)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it("grows with the attempt until the 5 minute cap", () => {
    const delays = Array.from({ length: 12 }, (_, i) => retryDelaySeconds(i + 1, 0.999, null));
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
    expect(Math.max(...delays)).toBe(300);
  });

  it.each<[string, number, number, number | null, number]>([
    ["Retry-After above the jitter wins", 1, 0, 30, 30],
    ["jitter above Retry-After wins", 10, 0.999, 30, 300],
    ["Retry-After is capped at 15 minutes", 1, 0.5, 7200, 900],
    ["a long Retry-After beats the 5 minute step cap", 10, 0.999, 600, 600],
    ["fractional Retry-After rounds up", 4, 0, 40.5, 41],
    ["zero Retry-After is no floor", 1, 0, 0, 5],
    ["negative Retry-After is ignored", 2, 0.5, -10, 15],
    ["a short Retry-After does not beat the floor", 1, 0, 1, 5],
    ["attempt 0 counts as the first", 0, 0.999, null, 10],
    ["a huge attempt stays capped", 1000, 0.999, null, 300],
    ["random out of range is clamped", 3, 1.5, null, 40],
    ["random NaN counts as the lowest", 3, Number.NaN, null, 20],
  ])("%s", (_, attempt, random, retryAfter, expected) => {
    expect(retryDelaySeconds(attempt, random, retryAfter)).toBe(expected);
  });

  it("keeps retrying for at least 15 minutes before a job is given up, and at most about 30", () => {
    const { min, max } = retrySpanSeconds();
    expect(MIN_SPAN_SECONDS).toBe(15 * 60);
    expect(min).toBeGreaterThanOrEqual(15 * 60);
    expect(max).toBeLessThanOrEqual(31 * 60);
    // The sum by hand, lowest jitter: one attempt fewer would give up before 15 minutes.
    const waits = Array.from({ length: MAX_ATTEMPTS - 1 }, (_, i) => retryDelaySeconds(i + 1, 0, null));
    expect(waits.reduce((a, b) => a + b, 0)).toBe(min);
    expect(min - (waits.at(-1) ?? 0)).toBeLessThan(15 * 60);
  });

  it("outlasts a 22 s outage at the first retry already", () => {
    // Two retries at the lowest jitter: 5 + 10 s; a 22 s outage is over by the third.
    const firstThree = [1, 2, 3].map((n) => retryDelaySeconds(n, 0, null));
    expect(firstThree.reduce((a, b) => a + b, 0)).toBeGreaterThan(22);
  });

  it("caps a provider's Retry-After at the whole retry span", () => {
    expect(RETRY_AFTER_CAP_SECONDS).toBe(MIN_SPAN_SECONDS);
  });
});

describe("the notifications queue in wrangler.toml", () => {
  it("allows more redeliveries than the consumer's own tries, within the platform's limit of 100", () => {
    const toml = readFileSync(new URL("../../../../wrangler.toml", import.meta.url), "utf8");
    const consumer = toml
      .split("[[queues.consumers]]")
      .slice(1)
      .find((block) => /^queue = "notifications"$/m.test(block));
    const maxRetries = Number(/^max_retries = (\d+)$/m.exec(consumer ?? "")?.[1]);
    expect(maxRetries).toBeGreaterThan(MAX_ATTEMPTS - 1);
    expect(maxRetries).toBeLessThanOrEqual(100);
    expect(consumer).toMatch(/^dead_letter_queue = "notifications-dlq"$/m);
  });
});

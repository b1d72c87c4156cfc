import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS } from "../../../../worker/core/notify/backoff";
import {
  dueAfterEnqueue,
  dueAfterRetry,
  dueWhileSending,
  OUTBOX_GRACE_MS,
  redriveTo,
} from "../../../../worker/core/notify/outbox";

describe("outbox deadlines", () => {
  const now = 1_800_000_000_000;

  it("give every carrier its time, then the grace", () => {
    expect(dueAfterEnqueue(now)).toBe(now + OUTBOX_GRACE_MS);
    expect(dueWhileSending(now, 10_000)).toBe(now + 10_000 + OUTBOX_GRACE_MS);
    expect(dueAfterRetry(now, 300)).toBe(now + 300_000 + OUTBOX_GRACE_MS);
  });

  it("outlast the longest wait a carrier may take", () => {
    // A try may last the provider timeout; a retry may wait up to the Retry-After cap.
    expect(dueWhileSending(now, 10_000)).toBeGreaterThan(now + 10_000);
    expect(dueAfterRetry(now, 15 * 60)).toBeGreaterThan(now + 15 * 60_000);
  });
});

describe("redriveTo", () => {
  const row = (attempts: number, dueAt: number) => ({ idempotencyKey: "k", attempts, dueAt });

  it.each<[string, number, number, number, ReturnType<typeof redriveTo>]>([
    ["not yet due", 0, 1_001, 1_000, null],
    ["due now, never tried", 0, 1_000, 1_000, "queue"],
    ["overdue mid-retries", 3, 500, 1_000, "queue"],
    ["overdue with the last try used", MAX_ATTEMPTS, 500, 1_000, "dead_letter"],
    ["overdue past the last try", MAX_ATTEMPTS + 2, 500, 1_000, "dead_letter"],
  ])("%s", (_name, attempts, dueAt, now, expected) => {
    expect(redriveTo(row(attempts, dueAt), now)).toBe(expected);
  });
});

import { describe, expect, it } from "vitest";
import { createBucket, giveBack, leaseSize, reserve, resize, take } from "../../../worker/core/rate-limit";

const T0 = 1_800_000_000_000;

describe("token bucket", () => {
  it("starts full and allows a burst up to the per-minute limit", () => {
    const first = take(createBucket(60, T0), 60, T0);
    expect(first.ok).toBe(true);
    expect(first.bucket.tokens).toBe(0);
    expect(first.retryAfterSeconds).toBe(0);
  });

  it("refuses without taking anything and says how long until the tokens are there", () => {
    const empty = take(createBucket(60, T0), 55, T0).bucket; // 5 left, 1 token per second
    const refused = take(empty, 8, T0);
    expect(refused.ok).toBe(false);
    expect(refused.bucket.tokens).toBe(5);
    expect(refused.retryAfterSeconds).toBe(3);
    expect(take(refused.bucket, 8, T0 + 2_999).ok).toBe(false);
    expect(take(refused.bucket, 8, T0 + 3_000).ok).toBe(true);
  });

  it("rounds a partial second up and waits at least one second", () => {
    const empty = take(createBucket(120, T0), 120, T0).bucket; // 2 tokens per second
    expect(take(empty, 1, T0).retryAfterSeconds).toBe(1);
    expect(take(empty, 3, T0).retryAfterSeconds).toBe(2);
  });

  it("refills continuously but never beyond the capacity", () => {
    const empty = take(createBucket(600, T0), 600, T0).bucket; // 10 per second
    expect(take(empty, 10, T0 + 1_000).ok).toBe(true);
    expect(take(empty, 11, T0 + 1_000).ok).toBe(false);
    const later = take(empty, 0, T0 + 3_600_000).bucket;
    expect(later.tokens).toBe(600);
  });

  it("says Infinity when n can never fit", () => {
    const res = take(createBucket(10, T0), 11, T0);
    expect(res.ok).toBe(false);
    expect(res.retryAfterSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(res.bucket.tokens).toBe(10);
  });

  it("ignores a clock going backwards", () => {
    const used = take(createBucket(60, T0), 30, T0).bucket;
    const back = take(used, 0, T0 - 60_000).bucket;
    expect(back.tokens).toBe(30);
    expect(back.updatedAt).toBe(T0);
  });

  it("gives back tokens up to the capacity", () => {
    const used = take(createBucket(60, T0), 50, T0).bucket;
    expect(giveBack(used, 20).tokens).toBe(30);
    expect(giveBack(used, 100).tokens).toBe(60);
  });

  it("applies a changed limit at once, keeping what was earned up to the new capacity", () => {
    const half = take(createBucket(100, T0), 50, T0).bucket;
    const lower = resize(half, 20, T0);
    expect(lower).toMatchObject({ capacity: 20, tokens: 20 });
    expect(take(lower, 21, T0).ok).toBe(false);
    const higher = resize(half, 1000, T0);
    expect(higher).toMatchObject({ capacity: 1000, tokens: 50 });
    expect(take(higher, 66, T0 + 1_000).ok).toBe(true);
    expect(take(higher, 67, T0 + 1_000).ok).toBe(false);
  });
});

describe("leases", () => {
  it("asks for about one second of the refill, or the batch when larger", () => {
    expect(leaseSize(1, 60_000)).toBe(1000);
    expect(leaseSize(5000, 60_000)).toBe(5000);
    expect(leaseSize(1, 10)).toBe(1);
  });

  it("hands out what is needed and whatever more is there, up to the lease", () => {
    const full = createBucket(600, T0); // 600 tokens
    const r = reserve(full, 5, 10, T0);
    expect(r.granted).toBe(10);
    expect(r.bucket.tokens).toBe(590);
    const low = reserve(take(full, 594, T0).bucket, 5, 10, T0); // 6 left
    expect(low.granted).toBe(6);
    expect(low.bucket.tokens).toBe(0);
  });

  it("refuses without taking anything, with the wait, or Infinity for more than the capacity", () => {
    const empty = take(createBucket(60, T0), 60, T0).bucket;
    const r = reserve(empty, 3, 10, T0);
    expect(r).toEqual({ bucket: empty, granted: 0, retryAfterSeconds: 3 });
    expect(reserve(createBucket(60, T0), 61, 61, T0).retryAfterSeconds).toBe(Number.POSITIVE_INFINITY);
  });
});

import { describe, expect, it } from "vitest";
import {
  clientNetwork,
  DEFAULT_GUARD_LIMITS as L,
  type FailureRecord,
  forgetAt,
  guardLimits,
  isAccount,
  limitOf,
  live,
  lockedFor,
  lockoutMs,
  recordFailure,
  retryAfterSeconds,
  subjectKey,
} from "../../../worker/core/auth-guard";

const T0 = 1_800_000_000_000;

/** `n` failures one second apart from `start`, each against `limit`. */
function fail(n: number, limit: number, start = T0, from: FailureRecord | null = null) {
  let record = from;
  const locked: number[] = [];
  for (let i = 0; i < n; i++) {
    const out = recordFailure(record, limit, L, start + i * 1000);
    record = out.record;
    if (out.lockedNow) locked.push(i + 1);
  }
  return { record: record!, locked };
}

describe("brute-force guard decisions", () => {
  it("documents its numbers: 10 per address, 5 per account, per 10 minutes, 30 s doubling to 1 h", () => {
    expect(L).toEqual({
      perAddress: 10,
      perAccount: 5,
      windowMs: 600_000,
      firstLockoutMs: 30_000,
      maxLockoutMs: 3_600_000,
    });
    expect(limitOf(subjectKey("admin", "addr", "203.0.113.9"), L)).toBe(10);
    expect(limitOf(subjectKey("admin", "acct", "emt_abcdef"), L)).toBe(5);
    expect(isAccount("ingest:acct:emk_abc:def")).toBe(true);
    expect(isAccount("ingest:addr:2001:db8::1")).toBe(false);
  });

  it("locks at the limit-th failure within the window, for 30 s", () => {
    const { record, locked } = fail(10, 10);
    expect(locked).toEqual([10]);
    const at = T0 + 9_000;
    expect(record.lockedUntil).toBe(at + 30_000);
    expect(lockedFor(record, at)).toBe(30_000);
    expect(lockedFor(record, at + 29_999)).toBe(1);
    expect(lockedFor(record, at + 30_000)).toBe(0);
  });

  it("starts counting again when the window has passed without reaching the limit", () => {
    const nine = fail(9, 10).record;
    const later = recordFailure(nine, 10, L, T0 + L.windowMs);
    expect(later.lockedNow).toBe(false);
    expect(later.record.failures).toBe(1);
    // Within the window, the tenth locks.
    expect(recordFailure(nine, 10, L, T0 + L.windowMs - 1).lockedNow).toBe(true);
  });

  it("after a lockout, every further failure locks again for twice as long, up to 1 h", () => {
    let { record } = fail(5, 5);
    const lengths: number[] = [];
    let now = record.lockedUntil;
    for (let i = 0; i < 9; i++) {
      const out = recordFailure(record, 5, L, now);
      expect(out.lockedNow).toBe(true);
      lengths.push(out.record.lockedUntil - now);
      record = out.record;
      now = record.lockedUntil;
    }
    expect(lengths).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);
    expect(lockoutMs(0, L)).toBe(30_000);
    expect(lockoutMs(1000, L)).toBe(3_600_000);
  });

  it("a failure during a lockout (from an isolate that had not heard) never shortens it", () => {
    const { record } = fail(5, 5);
    const out = recordFailure(record, 5, L, record.lockedUntil - 29_000);
    expect(out.record.lockedUntil).toBeGreaterThanOrEqual(record.lockedUntil);
  });

  it("forgets a record a window after its lockout ends: quiet time resets the doubling", () => {
    const { record } = fail(5, 5);
    const forget = forgetAt(record, L);
    expect(forget).toBe(record.lockedUntil + L.windowMs);
    expect(live(record, L, forget - 1)).toBe(record);
    expect(live(record, L, forget)).toBeNull();
    const again = recordFailure(record, 5, L, forget);
    expect(again.lockedNow).toBe(false);
    expect(again.record).toEqual({ failures: 1, windowStart: forget, lockouts: 0, lockedUntil: 0 });
    // A record without a lockout is forgotten a window after its window began.
    const one = fail(1, 5).record;
    expect(live(one, L, T0 + L.windowMs)).toBeNull();
  });

  it("locks at once with a limit of one", () => {
    expect(recordFailure(null, 1, L, T0)).toEqual({
      record: { failures: 0, windowStart: T0, lockouts: 1, lockedUntil: T0 + 30_000 },
      lockedNow: true,
    });
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(30_000)).toBe(30);
    expect(retryAfterSeconds(29_001)).toBe(30);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
  });

  it("counts an IPv4 address whole and an IPv6 one by its /64, in any spelling", () => {
    expect(clientNetwork("203.0.113.9")).toBe("203.0.113.9");
    expect(clientNetwork("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientNetwork("::1")).toBe("0:0:0:0::/64");
    expect(clientNetwork("::ffff:203.0.113.9")).toBe("::ffff:203.0.113.9");
    expect(clientNetwork("unknown")).toBe("unknown");
  });

  it("reads the settings: off, and the two allowances (bad values keep the defaults)", () => {
    expect(guardLimits({})).toEqual(L);
    expect(guardLimits({ AUTH_LOCKOUT: " OFF " })).toBeNull();
    expect(guardLimits({ AUTH_FAILURES_PER_ADDRESS: "100", AUTH_FAILURES_PER_ACCOUNT: "20" })).toEqual({
      ...L,
      perAddress: 100,
      perAccount: 20,
    });
    expect(guardLimits({ AUTH_FAILURES_PER_ADDRESS: "0", AUTH_FAILURES_PER_ACCOUNT: "2.5" })).toEqual(L);
  });
});

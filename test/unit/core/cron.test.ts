import { describe, expect, it } from "vitest";
import {
  cronError,
  instantOfWallClock,
  nextFireAfter,
  parseCron,
  previousFireAtOrBefore,
  wallClock,
} from "../../../worker/core/cron";

describe("cronError", () => {
  it.each(["* * * * *", "*/15 * * * *", "0 3 * * MON-FRI", "5,35 8-18/2 1 JAN,jul 0", "0 0 1-31 12 7"])(
    "accepts %s",
    (expr) => {
      expect(cronError(expr)).toBeNull();
    },
  );

  it.each<[string, string]>([
    ["* * * *", "must have 5 fields (minute hour day-of-month month day-of-week), found 4"],
    ["* * * * * *", "found 6"],
    ["60 * * * *", 'invalid minute field "60"'],
    ["* 24 * * *", 'invalid hour field "24"'],
    ["* * 0 * *", 'invalid day-of-month field "0"'],
    ["* * * 13 *", 'invalid month field "13"'],
    ["* * * * FUNDAY", 'invalid day-of-week field "FUNDAY"'],
    ["5-1 * * * *", 'invalid minute field "5-1"'],
    ["*/0 * * * *", 'invalid minute field "*/0"'],
    ["@hourly", "found 1"],
  ])("refuses %s", (expr, reason) => {
    expect(cronError(expr)).toContain(reason);
  });
});

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("parseCron", () => {
  it("expands lists, ranges, steps, names and Sunday as 7", () => {
    const s = parseCron("5,35 8-18/5 */10 JAN,jul SAT-7");
    expect(s.minutes.flatMap((on, i) => (on ? [i] : []))).toEqual([5, 35]);
    expect(s.hours.flatMap((on, i) => (on ? [i] : []))).toEqual([8, 13, 18]);
    expect(s.daysOfMonth.flatMap((on, i) => (on ? [i] : []))).toEqual([1, 11, 21, 31]);
    expect(s.months.flatMap((on, i) => (on ? [i] : []))).toEqual([1, 7]);
    expect(s.daysOfWeek.flatMap((on, i) => (on ? [i] : []))).toEqual([0, 6]);
    // */10 starts with "*": only the day of week restricts, so the day fields AND.
    expect(s.dayOr).toBe(false);
  });

  it("reads n/step as n to the field's end", () => {
    expect(parseCron("50/3 * * * *").minutes.flatMap((on, i) => (on ? [i] : []))).toEqual([50, 53, 56, 59]);
  });

  it("throws the validation reason for an invalid expression", () => {
    expect(() => parseCron("61 * * * *")).toThrow(/invalid minute field "61"/);
  });
});

describe("nextFireAfter / previousFireAtOrBefore", () => {
  // Hand-computed: Taipei is UTC+8 without DST; 03:00 there is 19:00Z the day before.
  it("fires a daily job at 03:00 Asia/Taipei", () => {
    expect(iso(nextFireAfter("0 3 * * *", "Asia/Taipei", at("2026-11-26T00:00:00Z")))).toBe("2026-11-26T19:00:00.000Z");
    expect(iso(nextFireAfter("0 3 * * *", "Asia/Taipei", at("2026-11-26T19:00:00Z")))).toBe("2026-11-27T19:00:00.000Z");
    expect(iso(previousFireAtOrBefore("0 3 * * *", "Asia/Taipei", at("2026-11-26T18:59:59Z")))).toBe(
      "2026-11-25T19:00:00.000Z",
    );
    expect(iso(previousFireAtOrBefore("0 3 * * *", "Asia/Taipei", at("2026-11-26T19:00:00Z")))).toBe(
      "2026-11-26T19:00:00.000Z",
    );
  });

  it("fires every 15 minutes in UTC, strictly after and at-or-before", () => {
    expect(iso(nextFireAfter("*/15 * * * *", "UTC", at("2026-11-26T10:07:30Z")))).toBe("2026-11-26T10:15:00.000Z");
    expect(iso(nextFireAfter("*/15 * * * *", "UTC", at("2026-11-26T10:15:00Z")))).toBe("2026-11-26T10:30:00.000Z");
    expect(iso(nextFireAfter("*/15 * * * *", "UTC", at("2026-11-26T23:59:00Z")))).toBe("2026-11-27T00:00:00.000Z");
    expect(iso(previousFireAtOrBefore("*/15 * * * *", "UTC", at("2026-11-26T10:15:00Z")))).toBe(
      "2026-11-26T10:15:00.000Z",
    );
    expect(iso(previousFireAtOrBefore("*/15 * * * *", "UTC", at("2026-11-26T10:14:59.999Z")))).toBe(
      "2026-11-26T10:00:00.000Z",
    );
  });

  it("crosses months and years and applies the day-of-month OR day-of-week rule", () => {
    // 2026-12-31 is a Thursday; the next Monday is 2027-01-04, and the 1st comes first.
    expect(iso(nextFireAfter("0 0 1 * MON", "UTC", at("2026-12-31T12:00:00Z")))).toBe("2027-01-01T00:00:00.000Z");
    expect(iso(nextFireAfter("0 0 2 * MON", "UTC", at("2026-12-31T12:00:00Z")))).toBe("2027-01-02T00:00:00.000Z");
    // With a "*" day of month only the weekday counts.
    expect(iso(nextFireAfter("0 0 * * MON", "UTC", at("2026-12-31T12:00:00Z")))).toBe("2027-01-04T00:00:00.000Z");
    expect(iso(previousFireAtOrBefore("30 9 * * MON-FRI", "UTC", at("2027-01-04T09:00:00Z")))).toBe(
      "2027-01-01T09:30:00.000Z",
    );
  });

  it("finds Feb 29 four years away and gives up on dates that never exist", () => {
    expect(iso(nextFireAfter("0 12 29 2 *", "UTC", at("2024-03-01T00:00:00Z")))).toBe("2028-02-29T12:00:00.000Z");
    expect(iso(previousFireAtOrBefore("0 12 29 2 *", "UTC", at("2028-02-28T00:00:00Z")))).toBe(
      "2024-02-29T12:00:00.000Z",
    );
    expect(nextFireAfter("0 0 30 2 *", "UTC", at("2026-01-01T00:00:00Z"))).toBeNull();
    expect(previousFireAtOrBefore("0 0 31 4 *", "UTC", at("2026-01-01T00:00:00Z"))).toBeNull();
  });

  // New York, 2026-03-08: at 02:00 EST (07:00Z) clocks jump to 03:00 EDT.
  describe("America/New_York spring forward", () => {
    const NY = "America/New_York";
    it("runs a job of the skipped hour once, when the clocks jump", () => {
      expect(iso(nextFireAfter("30 2 * * *", NY, at("2026-03-08T05:00:00Z")))).toBe("2026-03-08T07:00:00.000Z");
      expect(iso(nextFireAfter("30 2 * * *", NY, at("2026-03-08T07:00:00Z")))).toBe("2026-03-09T06:30:00.000Z");
      expect(iso(previousFireAtOrBefore("30 2 * * *", NY, at("2026-03-08T07:30:00Z")))).toBe(
        "2026-03-08T07:00:00.000Z",
      );
      expect(iso(previousFireAtOrBefore("30 2 * * *", NY, at("2026-03-08T06:59:59Z")))).toBe(
        "2026-03-07T07:30:00.000Z",
      );
    });

    it("keeps an hourly job hourly across the jump, without a duplicate", () => {
      const fires: string[] = [];
      let t = at("2026-03-08T05:30:00Z");
      for (let i = 0; i < 4; i++) {
        t = nextFireAfter("0 * * * *", NY, t) ?? Number.NaN;
        fires.push(iso(t) ?? "");
      }
      // 01:00 EST, (02:00 does not exist) 03:00 EDT, 04:00 EDT, 05:00 EDT.
      expect(fires).toEqual([
        "2026-03-08T06:00:00.000Z",
        "2026-03-08T07:00:00.000Z",
        "2026-03-08T08:00:00.000Z",
        "2026-03-08T09:00:00.000Z",
      ]);
    });

    it("keeps a daily 03:00 job at 03:00 local on both sides", () => {
      expect(iso(nextFireAfter("0 3 * * *", NY, at("2026-03-07T12:00:00Z")))).toBe("2026-03-08T07:00:00.000Z");
      expect(iso(nextFireAfter("0 3 * * *", NY, at("2026-03-08T07:00:00Z")))).toBe("2026-03-09T07:00:00.000Z");
      expect(iso(nextFireAfter("0 3 * * *", NY, at("2026-03-06T12:00:00Z")))).toBe("2026-03-07T08:00:00.000Z");
    });
  });

  // New York, 2026-11-01: at 02:00 EDT (06:00Z) clocks go back to 01:00 EST; 01:xx happens twice.
  describe("America/New_York fall back", () => {
    const NY = "America/New_York";
    it("fires a job of the repeated hour once, at its first occurrence", () => {
      expect(iso(nextFireAfter("30 1 * * *", NY, at("2026-11-01T04:00:00Z")))).toBe("2026-11-01T05:30:00.000Z");
      expect(iso(nextFireAfter("30 1 * * *", NY, at("2026-11-01T05:30:00Z")))).toBe("2026-11-02T06:30:00.000Z");
      // During the second 01:30 (06:30Z) the latest fire is still the first one.
      expect(iso(previousFireAtOrBefore("30 1 * * *", NY, at("2026-11-01T06:45:00Z")))).toBe(
        "2026-11-01T05:30:00.000Z",
      );
    });

    it("skips the repeated wall times of a 15-minute job instead of looping", () => {
      expect(iso(nextFireAfter("*/15 * * * *", NY, at("2026-11-01T05:45:00Z")))).toBe("2026-11-01T07:00:00.000Z");
      expect(iso(nextFireAfter("*/15 * * * *", NY, at("2026-11-01T06:20:00Z")))).toBe("2026-11-01T07:00:00.000Z");
      expect(iso(previousFireAtOrBefore("*/15 * * * *", NY, at("2026-11-01T06:30:00Z")))).toBe(
        "2026-11-01T05:45:00.000Z",
      );
      expect(iso(previousFireAtOrBefore("*/15 * * * *", NY, at("2026-11-01T07:10:00Z")))).toBe(
        "2026-11-01T07:00:00.000Z",
      );
    });

    it("keeps a daily 03:00 job at 03:00 local", () => {
      expect(iso(previousFireAtOrBefore("0 3 * * *", NY, at("2026-11-01T12:00:00Z")))).toBe("2026-11-01T08:00:00.000Z");
      expect(iso(previousFireAtOrBefore("0 3 * * *", NY, at("2026-11-01T07:59:00Z")))).toBe("2026-10-31T07:00:00.000Z");
    });
  });

  it.each<[string, string, string, number]>([
    // 6 fires a day; on the spring-forward day 02:00, 02:30 (skipped) and 03:00 EDT are one instant, the jump.
    ["spring forward", "2026-03-01T00:00:00Z", "2026-03-15T00:00:00Z", 14 * 6 - 2],
    // The fall-back day fires 01:00 and 01:30 once each (at their first occurrence).
    ["fall back", "2026-10-25T00:00:00Z", "2026-11-08T00:00:00Z", 14 * 6],
  ])(
    "walks two weeks around the %s in both directions, strictly ordered, on local :00 and :30",
    (_, from, to, fires) => {
      const NY = "America/New_York";
      const expr = "0,30 1-3 * * *";
      let t = previousFireAtOrBefore(expr, NY, at(from)) ?? Number.NaN;
      let count = 0;
      for (;;) {
        const next = nextFireAfter(expr, NY, t);
        if (next === null || next >= at(to)) break;
        expect(next).toBeGreaterThan(t);
        expect(previousFireAtOrBefore(expr, NY, next)).toBe(next);
        expect(previousFireAtOrBefore(expr, NY, next - 1)).toBe(t);
        expect([0, 30]).toContain(new Date(wallClock(NY, next)).getUTCMinutes());
        t = next;
        if (++count > 1000) break;
      }
      expect(count).toBe(fires);
    },
  );

  it("maps a wall-clock time to its instant, choosing the first of two and the jump for none", () => {
    const NY = "America/New_York";
    expect(iso(instantOfWallClock(NY, at("2026-07-01T12:00:00Z")))).toBe("2026-07-01T16:00:00.000Z");
    expect(iso(instantOfWallClock(NY, at("2026-11-01T01:30:00Z")))).toBe("2026-11-01T05:30:00.000Z");
    expect(iso(instantOfWallClock(NY, at("2026-03-08T02:30:00Z")))).toBe("2026-03-08T07:00:00.000Z");
    // Lord Howe Island moves its clocks by 30 minutes (UTC+10:30 → +11 on 2026-10-04 02:00).
    expect(iso(instantOfWallClock("Australia/Lord_Howe", at("2026-10-04T02:15:00Z")))).toBe("2026-10-03T15:30:00.000Z");
  });
});

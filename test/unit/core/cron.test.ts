import { describe, expect, it } from "vitest";
import { cronError } from "../../../worker/core/cron";

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

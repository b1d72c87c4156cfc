import { describe, expect, it } from "vitest";
import { formatDateTime, formatLatency, formatRelative, formatValue } from "../../../dashboard/src/lib/format";

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe("formatRelative", () => {
  it("uses the largest sensible unit", () => {
    expect(formatRelative(ago(0), NOW)).toBe("just now");
    expect(formatRelative(ago(4_999), NOW)).toBe("just now");
    expect(formatRelative(ago(42_000), NOW)).toBe("42 s ago");
    expect(formatRelative(ago(5 * 60_000 + 59_000), NOW)).toBe("5 min ago");
    expect(formatRelative(ago(3 * 3_600_000), NOW)).toBe("3 h ago");
    expect(formatRelative(ago(2 * 86_400_000 + 1), NOW)).toBe("2 d ago");
  });

  it("handles future times (clock skew), missing and malformed values", () => {
    expect(formatRelative(ago(-30_000), NOW)).toBe("in 30 s");
    expect(formatRelative(null, NOW)).toBe("never");
    expect(formatRelative("yesterday-ish", NOW)).toBe("unknown");
  });
});

describe("formatDateTime", () => {
  it("renders in the given time zone, falling back to UTC for an unknown zone", () => {
    expect(formatDateTime("2026-03-01T12:00:05.000Z")).toBe("2026-03-01 12:00:05 UTC");
    expect(formatDateTime("2026-03-01T23:30:00.000Z", "Asia/Taipei")).toBe("2026-03-02 07:30:00 GMT+8");
    expect(formatDateTime("2026-03-01T12:00:05.000Z", "Not/AZone")).toBe("2026-03-01 12:00:05 UTC");
    expect(formatDateTime("2026-03-01T00:00:00.000Z")).toBe("2026-03-01 00:00:00 UTC");
  });

  it("handles missing and malformed values", () => {
    expect(formatDateTime(null)).toBe("never");
    expect(formatDateTime("nope")).toBe("unknown");
  });
});

describe("formatLatency", () => {
  it("picks ms or s", () => {
    expect(formatLatency(84.4)).toBe("84 ms");
    expect(formatLatency(1250)).toBe("1.25 s");
    expect(formatLatency(12_345)).toBe("12.3 s");
    expect(formatLatency(null)).toBe("\u2014");
    expect(formatLatency(Number.NaN)).toBe("\u2014");
  });
});

describe("formatValue", () => {
  it("writes values with their unit", () => {
    expect(formatValue(97.456, "%")).toBe("97.5 %");
    expect(formatValue(4.256, "ms")).toBe("4.26 ms");
    expect(formatValue(1234, "requests")).toBe("1,234 requests");
    expect(formatValue(null, "ms")).toBe("\u2014");
    expect(formatValue(12, "")).toBe("12");
  });

  it("takes a missing value as no value and no unit as a plain number", () => {
    expect(formatValue(undefined)).toBe("\u2014");
    expect(formatValue(3)).toBe("3");
  });
});

import { describe, expect, it } from "vitest";
import { elapsedText, isTimeZone, parseInstant, toIso } from "../../../worker/core/time";

describe("parseInstant", () => {
  it.each<[unknown, number | null]>([
    [1795860000000, 1795860000000],
    ["1795860000000", 1795860000000],
    ["2026-11-26T10:00:00Z", Date.UTC(2026, 10, 26, 10)],
    ["2026-11-26T18:00:00+08:00", Date.UTC(2026, 10, 26, 10)],
    ["2026-11-26T10:00:00.250Z", Date.UTC(2026, 10, 26, 10) + 250],
    ["next tuesday", null],
    ["2026-13-45T00:00:00Z", null],
    ["", null],
    [-5, null],
    [1.5, null],
    [Number.NaN, null],
    [null, null],
    [{}, null],
  ])("reads %j as %j", (input, expected) => {
    expect(parseInstant(input)).toBe(expected);
  });
});

describe("toIso", () => {
  it("renders epoch ms as ISO UTC and keeps null", () => {
    expect(toIso(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe("2026-01-02T03:04:05.000Z");
    expect(toIso(null)).toBeNull();
  });
});

describe("isTimeZone", () => {
  it("accepts IANA names and rejects others", () => {
    expect(isTimeZone("Asia/Taipei")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });
});

describe("elapsedText", () => {
  it.each<[number, string]>([
    [0, "0 seconds"],
    [1, "1 second"],
    [45.4, "45 seconds"],
    [119, "119 seconds"],
    [120, "2 minutes"],
    [185, "3 minutes"],
    [7199, "119 minutes"],
    [7200, "2 hours"],
    [-5, "0 seconds"],
  ])("%s s reads %s", (seconds, text) => {
    expect(elapsedText(seconds)).toBe(text);
  });
});

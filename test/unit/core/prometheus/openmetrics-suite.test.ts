/**
 * The OpenMetrics project's parser test suite (test/fixtures/openmetrics), every case: inputs
 * it marks valid parse with no error and one sample per sample line; the others are refused
 * with a line number and a reason. The suite gives no expected samples, so the cases whose
 * meaning the product's model carries (escapes, timestamps, types) are checked by hand below.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type ExpositionSample, parseExposition } from "../../../../worker/core/prometheus/parse";

const ROOT = new URL("../../../fixtures/openmetrics/cases/", import.meta.url);

interface Case {
  name: string;
  text: string;
  shouldParse: boolean;
}

const CASES: Case[] = readdirSync(ROOT)
  .sort()
  .map((name) => {
    const spec = JSON.parse(readFileSync(new URL(`${name}/test.json`, ROOT), "utf8")) as {
      type: string;
      file: string;
      shouldParse: boolean;
    };
    if (spec.type !== "text") throw new Error(`${name}: unexpected case type ${spec.type}`);
    return { name, text: readFileSync(new URL(`${name}/${spec.file}`, ROOT), "utf8"), shouldParse: spec.shouldParse };
  });
const VALID = CASES.filter((c) => c.shouldParse);
const INVALID = CASES.filter((c) => !c.shouldParse);

const parse = (text: string) => parseExposition(text, { format: "openmetrics" });
const sampleLineCount = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;

describe("the OpenMetrics parser test suite", () => {
  it("is all there: 211 cases, 44 valid and 167 invalid", () => {
    expect([CASES.length, VALID.length, INVALID.length]).toEqual([211, 44, 167]);
  });

  it.each(VALID.map((c) => [c.name, c] as const))("valid: %s parses, every sample kept", (_, c) => {
    const result = parse(c.text);
    expect(result.errors).toEqual([]);
    expect(result.samples).toHaveLength(sampleLineCount(c.text));
    // Detected as OpenMetrics too, so a scrape without the Content-Type reads it the same way.
    expect(parseExposition(c.text)).toEqual(result);
  });

  it.each(INVALID.map((c) => [c.name, c] as const))("invalid: %s is refused with a line and a reason", (_, c) => {
    const result = parse(c.text);
    expect(result.errors.length).toBeGreaterThan(0);
    const lines = c.text.split("\n").length;
    for (const error of result.errors) {
      expect(error.line).toBeGreaterThanOrEqual(1);
      expect(error.line).toBeLessThanOrEqual(lines + 1);
      expect(error.reason).toMatch(/\S/);
    }
  });
});

describe("the suite's valid cases, as the product stores them", () => {
  const byName = (name: string) => parse(CASES.find((c) => c.name === name)?.text ?? "");
  const pick = (samples: ExpositionSample[]) => samples.map((s) => [s.name, s.labels, s.value, s.timestampMs, s.type]);

  it('escaping: \\\\, \\" and \\n are decoded, an unknown escape (\\z) kept as written', () => {
    expect(byName("escaping").samples.map((s) => s.labels.foo)).toEqual([
      'b"a\nr',
      "b\\a\\z",
      'b"a\nr # ',
      "b\\a\\z # ",
    ]);
  });

  it("label_escaping: \\f kept as written", () => {
    const foo = byName("label_escaping").samples.map((s) => s.labels.foo);
    expect(foo.slice(0, 6)).toEqual(["foo", "\\foo", "\\foo", "foo\\", "\\", "\n"]);
  });

  it("timestamps: decimal seconds become epoch milliseconds", () => {
    expect(byName("timestamps").samples.map((s) => s.timestampMs)).toEqual([
      0,
      0,
      1100,
      Math.round(Number("12345678901234567890.123456789") * 1000),
      1_500_000,
      1_234_567_890_000,
    ]);
  });

  it("simple_histogram, simple_gaugehistogram, simple_stateset, info_timestamps: samples typed by family", () => {
    expect(pick(byName("simple_histogram").samples)).toEqual([
      ["a_bucket", { le: "1.0" }, 0, null, "histogram"],
      ["a_bucket", { le: "+Inf" }, 3, null, "histogram"],
      ["a_count", {}, 3, null, "histogram"],
      ["a_sum", {}, 2, null, "histogram"],
    ]);
    expect(byName("simple_gaugehistogram").samples.map((s) => s.type)).toEqual(Array(4).fill("gaugehistogram"));
    expect(pick(byName("simple_stateset").samples)).toEqual([
      ["a", { a: "bar" }, 0, null, "stateset"],
      ["a", { a: "foo" }, 1, null, "stateset"],
    ]);
    expect(pick(byName("info_timestamps").samples)).toEqual([
      ["a_info", { a: "1", foo: "bar" }, 1, 1000, "info"],
      ["a_info", { a: "2", foo: "bar" }, 1, 0, "info"],
    ]);
  });

  it("labels_and_infinite, nan, uint64_counter: values beyond finite floats read as written", () => {
    expect(byName("labels_and_infinite").samples.map((s) => s.value)).toEqual([Infinity, -Infinity]);
    expect(byName("nan").samples[0]?.value).toBeNaN();
    expect(byName("uint64_counter").samples[0]?.value).toBe(9223372036854775808);
  });
});

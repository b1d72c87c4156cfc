import { describe, expect, it } from "vitest";
import {
  MAX_FUTURE_MS,
  RAW_WINDOW_MARGIN_MS,
  readEnvelope,
  type TimeRules,
  timestampProblem,
  validateSample,
  validateSamples,
} from "../../../worker/core/ingest";

const NOW = Date.parse("2026-11-26T10:00:00Z");
const HOUR = 3_600_000;
const rules: TimeRules = { now: NOW, rawWindowMs: 24 * HOUR };

/** The problems one sample gets, as "field: reason". */
function problemsOf(raw: unknown, r = rules): string[] {
  const out: string[] = [];
  validateSample(raw, r, (field, reason) => out.push(`${field}: ${reason}`));
  return out;
}

const ok = { metric: "api_response_ms", service: "api", value: 240 };

describe("readEnvelope", () => {
  it("accepts {samples: [...]} and names what is wrong otherwise", () => {
    expect(readEnvelope({ samples: [1, 2] })).toEqual({ ok: true, items: [1, 2] });
    expect(readEnvelope([])).toMatchObject({ ok: false, reason: "the body must be a JSON object, not an array" });
    expect(readEnvelope(null)).toMatchObject({ ok: false, reason: expect.stringContaining("not null") });
    expect(readEnvelope({})).toEqual({ ok: false, field: "samples", reason: "is required" });
    expect(readEnvelope({ samples: {} })).toEqual({
      ok: false,
      field: "samples",
      reason: "must be an array of samples",
    });
    expect(readEnvelope({ samples: [], extra: 1 })).toEqual({
      ok: false,
      field: "extra",
      reason: "is not a known field",
    });
  });
});

describe("validateSample", () => {
  it("returns a sample with empty labels and the server time when ts is absent", () => {
    expect(validateSample(ok, rules, () => {})).toEqual({ ...ok, labels: {}, ts: NOW });
    expect(validateSample({ ...ok, ts: null }, rules, () => {})?.ts).toBe(NOW);
  });

  it("reads ts as epoch ms (number or digits, fractions floored) or ISO 8601 with a zone", () => {
    const ts = (value: unknown) => validateSample({ ...ok, ts: value }, rules, () => {})?.ts;
    expect(ts(NOW - 1000)).toBe(NOW - 1000);
    expect(ts(NOW - 1000.7)).toBe(NOW - 1001);
    expect(ts(String(NOW - 5))).toBe(NOW - 5);
    expect(ts("2026-11-26T09:30:00Z")).toBe(NOW - 30 * 60_000);
    expect(ts("2026-11-26T17:30:00.250+08:00")).toBe(NOW - 30 * 60_000 + 250);
  });

  it("accepts the valid name forms", () => {
    const sample = {
      metric: "http:requests_total",
      service: "shop-api.v2_eu",
      value: -1.5e-3,
      labels: { _x: "", Region2: "tw" },
    };
    expect(problemsOf(sample)).toEqual([]);
    expect(problemsOf({ ...ok, metric: "a".repeat(200), service: "b".repeat(100) })).toEqual([]);
  });

  it.each([
    ["a missing metric", { service: "api", value: 1 }, "metric: is required"],
    ["a metric starting with a digit", { ...ok, metric: "9lives" }, "metric: must be a metric name"],
    ["a metric with a dash", { ...ok, metric: "api-ms" }, "metric: must be a metric name"],
    ["a metric over 200 characters", { ...ok, metric: "m".repeat(201) }, "metric: must be at most 200 characters"],
    ["an empty metric", { ...ok, metric: "" }, "metric: must not be empty"],
    ["a numeric metric", { ...ok, metric: 5 }, "metric: must be a string, not a number"],
    ["an uppercase service", { ...ok, service: "API" }, "service: must be lowercase"],
    ["a service starting with a dot", { ...ok, service: ".api" }, "service: must be lowercase"],
    ["a service over 100 characters", { ...ok, service: "s".repeat(101) }, "service: must be at most 100 characters"],
    ["a missing value", { metric: "m", service: "s" }, "value: is required"],
    ["a string value", { ...ok, value: "1" }, "value: must be a number, not a string"],
    ["an infinite value", { ...ok, value: Number.POSITIVE_INFINITY }, "value: must be a finite number"],
    ["NaN", { ...ok, value: Number.NaN }, "value: must be a finite number"],
    ["a boolean ts", { ...ok, ts: true }, "ts: must be epoch milliseconds or an ISO 8601 string, not a boolean"],
    ["a negative ts", { ...ok, ts: -1 }, "ts: must be epoch milliseconds"],
    [
      "a ts without a zone",
      { ...ok, ts: "2026-11-26T09:00:00" },
      "ts: must be epoch milliseconds or an ISO 8601 date-time with a zone",
    ],
    ["an impossible date", { ...ok, ts: "2026-13-45T00:00:00Z" }, "ts: is not a valid date-time"],
    ["labels as an array", { ...ok, labels: ["a"] }, "labels: must be an object of string values, not an array"],
    [
      "a numeric label value",
      { ...ok, labels: { code: 500 } },
      "labels.code: label values must be strings, not a number",
    ],
    [
      "a label name with a dash",
      { ...ok, labels: { "a-b": "1" } },
      "labels.a-b: label names are letters, digits and _",
    ],
    [
      "a reserved label name",
      { ...ok, labels: { __name__: "x" } },
      "labels.__name__: label names starting with __ are reserved",
    ],
    ["a long label value", { ...ok, labels: { a: "v".repeat(501) } }, "labels.a: must be at most 500 characters"],
    ["an unknown field", { ...ok, timestamp: NOW }, "timestamp: is not a known field"],
    ["a sample that is not an object", 42, ": each sample must be an object, not a number"],
  ])("refuses %s", (_label, raw, expected) => {
    const problems = problemsOf(raw);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(validateSample(raw, rules, () => {})).toBeNull();
  });

  it("allows 20 labels and refuses 21", () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, "v"]));
    expect(problemsOf({ ...ok, labels: labels(20) })).toEqual([]);
    expect(problemsOf({ ...ok, labels: labels(21) })).toEqual(["labels: must have at most 20 labels (has 21)"]);
  });

  it("reports every problem of a sample, not just the first", () => {
    expect(
      problemsOf({ metric: "1", service: "X", value: "v", ts: "soon", extra: 1 }).map((p) => p.split(":")[0]),
    ).toEqual(["extra", "metric", "service", "value", "ts"]);
  });
});

describe("timestampProblem", () => {
  it("allows up to 5 minutes ahead and refuses beyond, naming the limit", () => {
    expect(timestampProblem(NOW + MAX_FUTURE_MS, rules)).toBeNull();
    expect(timestampProblem(NOW + MAX_FUTURE_MS + 1, rules)).toBe(
      "is 301 seconds ahead of the server clock; the limit is 5 minutes",
    );
    expect(timestampProblem(NOW + HOUR, rules)).toMatch(/^is 3600 seconds ahead/);
  });

  it("allows the raw window (less a minute's margin) and refuses older samples, naming the window", () => {
    const edge = NOW - 24 * HOUR + RAW_WINDOW_MARGIN_MS;
    expect(timestampProblem(edge, rules)).toBeNull();
    expect(timestampProblem(edge - 1, rules)).toBe("is older than the raw window of 24 hours");
    expect(timestampProblem(NOW - 2 * HOUR, { now: NOW, rawWindowMs: HOUR })).toBe(
      "is older than the raw window of 1 hour",
    );
  });

  it("hints at epoch seconds sent as milliseconds", () => {
    expect(timestampProblem(Math.floor(NOW / 1000), rules)).toMatch(/looks like epoch seconds/);
    expect(timestampProblem(NOW - 48 * HOUR, rules)).not.toMatch(/seconds/);
  });
});

describe("validateSamples", () => {
  it("returns every sample of a valid batch in order", () => {
    const res = validateSamples([ok, { ...ok, value: 2, ts: NOW - 1 }], rules);
    expect(res).toEqual({
      ok: true,
      samples: [
        { ...ok, labels: {}, ts: NOW },
        { ...ok, value: 2, labels: {}, ts: NOW - 1 },
      ],
    });
  });

  it("returns no samples when one is bad, listing every failing index", () => {
    const res = validateSamples([ok, { ...ok, value: null }, ok, { ...ok, service: "A", ts: NOW + HOUR }], rules);
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.invalid).toBe(2);
    expect(res.problems.map((p) => [p.index, p.field])).toEqual([
      [1, "value"],
      [3, "service"],
      [3, "ts"],
    ]);
  });

  it("caps the listed problems but still counts every invalid sample", () => {
    const res = validateSamples(
      Array.from({ length: 300 }, () => ({ ...ok, value: "x" })),
      rules,
      100,
    );
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.problems).toHaveLength(100);
    expect(res.invalid).toBe(300);
    expect(res.outOfRange).toBe(0);
  });

  it("counts the samples whose only problem is a timestamp outside the accepted range", () => {
    const res = validateSamples(
      [
        ok,
        { ...ok, ts: NOW + HOUR },
        { ...ok, ts: NOW - 48 * HOUR },
        { ...ok, service: "A", ts: NOW + HOUR },
        { ...ok, ts: "soon" },
      ],
      rules,
    );
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.invalid).toBe(4);
    expect(res.outOfRange).toBe(2);
  });
});

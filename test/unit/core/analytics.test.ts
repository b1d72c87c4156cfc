import { describe, expect, it } from "vitest";
import {
  AE_MAX_BLOB_BYTES,
  AE_MAX_INDEX_BYTES,
  AE_MAX_POINTS,
  type DataPoint,
  hash53,
  planDataPoints,
  seriesIndexKey,
  truncateUtf8,
  utf8Length,
} from "../../../worker/core/analytics";
import { type Sample, seriesKey } from "../../../worker/core/series";

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
const sample = (value: number, ts: number, labels: Record<string, string> = { region: "tw" }): Sample => ({
  metric: "api_response_ms",
  service: "api",
  labels,
  value,
  ts,
});

/** Every AE write limit, checked independently of the planner. */
function expectWithinLimits(points: DataPoint[], limit = AE_MAX_POINTS) {
  expect(points.length).toBeLessThanOrEqual(limit);
  for (const p of points) {
    expect(p.indexes).toHaveLength(1);
    expect(new TextEncoder().encode(p.indexes[0]).length).toBeLessThanOrEqual(96);
    expect(p.blobs.length).toBeLessThanOrEqual(20);
    expect(p.doubles.length).toBeLessThanOrEqual(20);
    expect(p.blobs.reduce((n, b) => n + new TextEncoder().encode(b).length, 0)).toBeLessThanOrEqual(16 * 1024);
  }
}

describe("planDataPoints", () => {
  it("writes one point per sample when they fit", () => {
    const samples = [sample(120, T0), { ...sample(0, T0 + 1), message: "status 503" }];
    const points = planDataPoints(samples);
    expectWithinLimits(points);
    expect(points).toEqual([
      {
        indexes: [seriesKey("api_response_ms", "api", { region: "tw" })],
        blobs: ["api_response_ms", "api", '{"region":"tw"}', ""],
        doubles: [120, 1, 120, 120, 120, T0, 0],
      },
      {
        indexes: [seriesKey("api_response_ms", "api", { region: "tw" })],
        blobs: ["api_response_ms", "api", '{"region":"tw"}', "status 503"],
        doubles: [0, 1, 0, 0, 0, T0 + 1, 0],
      },
    ]);
  });

  it("aggregates per second beyond the limit, keeping count, sum, min and max", () => {
    // 1,000 samples at 4 per second: 250 seconds.
    const samples = Array.from({ length: 1000 }, (_, i) => sample(i, T0 + i * 250));
    const points = planDataPoints(samples);
    expectWithinLimits(points);
    expect(points).toHaveLength(250);
    expect(points.every((p) => p.doubles[6] === 1)).toBe(true);
    expect(points.reduce((n, p) => n + (p.doubles[1] ?? 0), 0)).toBe(1000);
    expect(points.reduce((n, p) => n + (p.doubles[2] ?? 0), 0)).toBe((999 * 1000) / 2);
    expect(Math.min(...points.map((p) => p.doubles[3] ?? 0))).toBe(0);
    expect(Math.max(...points.map((p) => p.doubles[4] ?? 0))).toBe(999);
    expect(points[1]?.doubles).toEqual([5.5, 4, 22, 4, 7, T0 + 1000, 1]);
  });

  it("falls back to minutes when seconds still do not fit", () => {
    const samples = Array.from({ length: 600 }, (_, i) => sample(1, T0 + i * 1000)); // 600 seconds, 10 minutes
    const points = planDataPoints(samples);
    expectWithinLimits(points);
    expect(points.map((p) => [p.doubles[1], p.doubles[5], p.doubles[6]])).toEqual(
      Array.from({ length: 10 }, (_, m) => [60, T0 + m * 60_000, 60]),
    );
  });

  it("keeps series apart when aggregating", () => {
    const samples = Array.from({ length: 300 }, (_, i) =>
      sample(i % 2, T0 + Math.floor(i / 2), { region: `r${i % 2}` }),
    );
    const points = planDataPoints(samples, 100);
    expectWithinLimits(points, 100);
    expect(points.map((p) => [p.blobs[2], p.doubles[1], p.doubles[2]])).toEqual([
      ['{"region":"r0"}', 150, 0],
      ['{"region":"r1"}', 150, 150],
    ]);
  });

  it("caps points at the limit even with more series than it allows", () => {
    const samples = Array.from({ length: 30 }, (_, i) => sample(i, T0, { n: String(i) }));
    expectWithinLimits(planDataPoints(samples, 10), 10);
    expect(planDataPoints(samples, 10)).toHaveLength(10);
  });

  it("keeps the index within 96 bytes and the blobs within 16 KB for huge label sets", () => {
    const labels = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`label_${i}`, "é".repeat(500)]));
    const s = { ...sample(1, T0, labels), message: "x".repeat(5000) };
    const [p] = planDataPoints([s]);
    expectWithinLimits(p ? [p] : []);
    expect(p?.indexes[0]).toMatch(/^api_response_ms\|api\|.*#[0-9a-f]{14}$/);
    expect(p?.indexes[0]).not.toBe(planDataPoints([{ ...s, labels: { ...labels, label_0: "other" } }])[0]?.indexes[0]);
    expect(p?.blobs.reduce((n, b) => n + utf8Length(b), 0)).toBeLessThanOrEqual(AE_MAX_BLOB_BYTES);
  });
});

describe("helpers", () => {
  it("measure and cut UTF-8 without splitting characters", () => {
    expect(utf8Length("aé€😀")).toBe(new TextEncoder().encode("aé€😀").length);
    expect(truncateUtf8("aé€😀", 6)).toBe("aé€");
    expect(truncateUtf8("aé€😀", 5)).toBe("aé");
    expect(truncateUtf8("short", 100)).toBe("short");
  });

  it("hashes deterministically into 14 hex digits; short keys stay readable", () => {
    expect(hash53("abc")).toBe(hash53("abc"));
    expect(hash53("abc")).not.toBe(hash53("abd"));
    expect(hash53("abc")).toMatch(/^[0-9a-f]{14}$/);
    expect(seriesIndexKey('probe_up|api|monitor="1"')).toBe('probe_up|api|monitor="1"');
    expect(utf8Length(seriesIndexKey("k".repeat(500)))).toBeLessThanOrEqual(AE_MAX_INDEX_BYTES);
  });
});

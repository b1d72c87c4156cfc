import { describe, expect, it } from "vitest";
import {
  FLUSH_DELAY_MS,
  FLUSH_SPREAD_MS,
  HOUR_MS,
  CHECKPOINT_INTERVAL_MS,
  checkpointAt,
  INDEX_DELAY_MS,
  INDEX_EARLY_MS,
  indexFromWrite,
  INDEX_RETRY_MS,
  MINUTE_MS,
  PRUNE_SLACK_MS,
  RETRY_DELAY_MS,
  ROW_COLUMNS,
  addToRollup,
  bucketStart,
  chunkRows,
  emptyRollup,
  flushOffset,
  foldByBucket,
  isClosed,
  loadRollup,
  mergeRollups,
  nextWakeAt,
  parseRetention,
  rawPruneBefore,
  rowValues,
  storeRollup,
  withinRawWindow,
} from "../../../worker/core/rollup";
import { addValue, ALPHA, emptySketch, quantile, quantileWithin } from "../../../worker/core/sketch";

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0); // an hour boundary
const retention = parseRetention({});

const exact = (values: number[], q: number) =>
  [...values].sort((a, b) => a - b)[Math.floor(q * (values.length - 1))] ?? 0;

describe("buckets", () => {
  it("floors epoch ms to the minute and the hour", () => {
    expect(bucketStart(T0 + 59_999, 60)).toBe(T0);
    expect(bucketStart(T0 + 60_000, 60)).toBe(T0 + MINUTE_MS);
    expect(bucketStart(T0 - 1, 60)).toBe(T0 - MINUTE_MS);
    expect(bucketStart(T0 + 3_599_999, 3600)).toBe(T0);
    expect(bucketStart(T0 - 1, 3600)).toBe(T0 - HOUR_MS);
  });

  it("closes a bucket once its last instant is past", () => {
    expect(isClosed(T0, 60, T0 + 59_999)).toBe(false);
    expect(isClosed(T0, 60, T0 + 60_000)).toBe(true);
    expect(isClosed(T0, 3600, T0 + HOUR_MS - 1)).toBe(false);
    expect(isClosed(T0, 3600, T0 + HOUR_MS)).toBe(true);
  });
});

describe("rollups", () => {
  it("fold samples per minute with exact count, sum, min and max, ignoring non-finite values", () => {
    const buckets = foldByBucket(
      [
        { ts: T0 + 1_000, value: 5 },
        { ts: T0 + 61_000, value: 7 },
        { ts: T0 + 2_000, value: -3 },
        { ts: T0 + 3_000, value: Number.NaN },
        { ts: T0 + 59_000, value: 10 },
      ],
      60,
    );
    expect([...buckets.keys()]).toEqual([T0, T0 + MINUTE_MS]);
    const first = buckets.get(T0);
    expect(first && { count: first.count, sum: first.sum, min: first.min, max: first.max }).toEqual({
      count: 3,
      sum: 12,
      min: -3,
      max: 10,
    });
    expect(first?.sketch.count).toBe(3);
    expect(buckets.get(T0 + MINUTE_MS)?.count).toBe(1);
  });

  it("merge minutes into an hour equal to folding the hour directly, through storage", () => {
    const points = Array.from({ length: 3600 }, (_, i) => ({ ts: T0 + i * 1000, value: 10 + ((i * 7919) % 500) }));
    const minutes = foldByBucket(points, 60);
    expect(minutes.size).toBe(60);
    const hour = emptyRollup();
    for (const m of minutes.values()) mergeRollups(hour, loadRollup(storeRollup(m)));
    const direct = foldByBucket(points, 3600).get(T0);
    expect(direct).toBeDefined();
    expect(storeRollup(hour)).toEqual(storeRollup(direct ?? emptyRollup()));
    const values = points.map((p) => p.value);
    for (const q of [0.5, 0.95, 0.99]) {
      expect(Math.abs((quantile(hour.sketch, q) ?? 0) - exact(values, q)) / exact(values, q)).toBeLessThanOrEqual(
        ALPHA + 1e-9,
      );
    }
  });

  it("merging an empty rollup changes nothing", () => {
    const r = emptyRollup();
    addToRollup(r, 4);
    mergeRollups(r, emptyRollup());
    expect({ count: r.count, min: r.min, max: r.max }).toEqual({ count: 1, min: 4, max: 4 });
  });

  it("renders a D1 row in column order with quantiles from the sketch", () => {
    const r = emptyRollup();
    for (let v = 1; v <= 100; v++) addToRollup(r, v);
    const row = rowValues({ seriesKey: 'm|s|a="1"', metric: "m", service: "s", labels: { a: "1" } }, 60, T0, r);
    expect(row).toHaveLength(ROW_COLUMNS.length);
    const named = Object.fromEntries(ROW_COLUMNS.map((c, i) => [c, row[i]]));
    expect(named).toMatchObject({
      metric_name: "m",
      service: "s",
      labels: '{"a":"1"}',
      series_key: 'm|s|a="1"',
      resolution_seconds: 60,
      bucket_start: T0,
      count: 100,
      sum: 5050,
      min: 1,
      max: 100,
    });
    expect(Math.abs(Number(named.p50) - 50) / 50).toBeLessThanOrEqual(ALPHA);
    expect(Math.abs(Number(named.p95) - 95) / 95).toBeLessThanOrEqual(ALPHA);
    expect(Math.abs(Number(named.p99) - 99) / 99).toBeLessThanOrEqual(ALPHA);
    expect(loadRollup({ count: 100, sum: 5050, min: 1, max: 100, sketch: String(named.sketch) }).sketch.count).toBe(
      100,
    );
  });

  it("chunks rows under the bound-parameter and size limits of one statement", () => {
    const row = (sketch: string) => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, sketch];
    expect(chunkRows(Array.from({ length: 15 }, () => row("x"))).map((c) => c.length)).toEqual([7, 7, 1]);
    const big = "y".repeat(40_000);
    expect(chunkRows([row(big), row(big), row(big)]).map((c) => c.length)).toEqual([2, 1]);
    expect(chunkRows([])).toEqual([]);
  });
});

describe("retention", () => {
  it("reads the RETENTION_* variables, with defaults for missing or invalid ones", () => {
    expect(retention).toEqual({ rawMs: 24 * HOUR_MS, minuteMs: 14 * 24 * HOUR_MS, hourMs: 400 * 24 * HOUR_MS });
    expect(
      parseRetention({ RETENTION_RAW_HOURS: "48", RETENTION_MINUTE_DAYS: "7", RETENTION_HOUR_DAYS: "30" }),
    ).toEqual({
      rawMs: 48 * HOUR_MS,
      minuteMs: 7 * 24 * HOUR_MS,
      hourMs: 30 * 24 * HOUR_MS,
    });
    expect(parseRetention({ RETENTION_RAW_HOURS: "-1", RETENTION_MINUTE_DAYS: "x", RETENTION_HOUR_DAYS: "" })).toEqual(
      retention,
    );
  });

  it("keeps minutes at least an hour longer than the raw window, so late data can rebuild hours", () => {
    expect(parseRetention({ RETENTION_RAW_HOURS: "72", RETENTION_MINUTE_DAYS: "1" }).minuteMs).toBe(73 * HOUR_MS);
  });

  it("accepts samples inside the raw window only", () => {
    expect(withinRawWindow(T0 - 24 * HOUR_MS, T0, retention)).toBe(true);
    expect(withinRawWindow(T0 - 24 * HOUR_MS - 1, T0, retention)).toBe(false);
    expect(withinRawWindow(T0 + 5_000, T0, retention)).toBe(true);
  });
});

describe("nextWakeAt", () => {
  const base = { pendingHours: [], oldestRaw: null, oldestFlushedMinute: null, retention };

  it("wakes a few seconds after the earliest pending minute closes, on the minute grid", () => {
    for (const offset of [1_000, 30_000, 59_000]) {
      expect(nextWakeAt({ ...base, now: T0 + offset, pendingMinutes: [T0, T0 + MINUTE_MS] })).toBe(
        T0 + MINUTE_MS + FLUSH_DELAY_MS,
      );
    }
  });

  it("offsets each series by a fixed share of the spread window, so series do not flush at once", () => {
    const offsets = Array.from({ length: 200 }, (_, i) => flushOffset(`probe_up|api|monitor="${i}"`));
    expect(offsets.every((o) => Number.isInteger(o) && o >= 0 && o < FLUSH_SPREAD_MS)).toBe(true);
    expect(new Set(offsets.map((o) => Math.floor(o / 1000))).size).toBeGreaterThanOrEqual(15);
    expect(flushOffset("a|b|")).toBe(flushOffset("a|b|"));
    const offsetMs = flushOffset("a|b|");
    for (const minute of [0, 1, 2]) {
      const now = T0 + minute * MINUTE_MS + 30_000;
      expect(nextWakeAt({ ...base, now, pendingMinutes: [T0 + minute * MINUTE_MS], offsetMs })).toBe(
        T0 + (minute + 1) * MINUTE_MS + FLUSH_DELAY_MS + offsetMs,
      );
    }
  });

  it("batches late samples of a closed minute a few seconds from now", () => {
    expect(nextWakeAt({ ...base, now: T0 + 10 * MINUTE_MS, pendingMinutes: [T0] })).toBe(
      T0 + 10 * MINUTE_MS + FLUSH_DELAY_MS,
    );
  });

  it("wakes for a pending hour when it closes", () => {
    expect(nextWakeAt({ ...base, now: T0 + 30 * MINUTE_MS, pendingMinutes: [], pendingHours: [T0] })).toBe(
      T0 + HOUR_MS + FLUSH_DELAY_MS,
    );
  });

  it("retries a failed flush after the retry delay", () => {
    expect(nextWakeAt({ ...base, now: T0 + 5 * MINUTE_MS, pendingMinutes: [T0], failed: true })).toBe(
      T0 + 5 * MINUTE_MS + RETRY_DELAY_MS,
    );
  });

  it("wakes to prune expired raw samples and flushed minutes, and not at all when idle", () => {
    const now = T0 + 10 * MINUTE_MS;
    expect(nextWakeAt({ ...base, now, pendingMinutes: [] })).toBeNull();
    expect(nextWakeAt({ ...base, now, pendingMinutes: [], oldestRaw: T0 })).toBe(T0 + retention.rawMs + PRUNE_SLACK_MS);
    expect(nextWakeAt({ ...base, now, pendingMinutes: [], oldestFlushedMinute: T0 })).toBe(
      T0 + retention.rawMs + HOUR_MS + PRUNE_SLACK_MS,
    );
    // Overdue pruning happens now, never in the past.
    expect(nextWakeAt({ ...base, now, pendingMinutes: [], oldestRaw: now - 2 * retention.rawMs })).toBe(now);
  });
});

describe("the SeriesIndex wake-up", () => {
  const base = { pendingMinutes: [], pendingHours: [], oldestRaw: null, oldestFlushedMinute: null, retention };

  it("sends new latest values shortly, before any rollup is due, and retries a failed update later", () => {
    const now = T0 + 10_000;
    // Just after an update: the next one an interval later.
    expect(nextWakeAt({ ...base, now, unindexed: true, indexedAt: now })).toBe(now + INDEX_DELAY_MS);
    expect(nextWakeAt({ ...base, now, unindexed: "failed" })).toBe(now + INDEX_RETRY_MS);
    expect(nextWakeAt({ ...base, now, pendingMinutes: [T0], unindexed: true, indexedAt: now })).toBe(
      now + INDEX_DELAY_MS,
    );
    expect(nextWakeAt({ ...base, now, unindexed: false })).toBeNull();
  });

  it("sends at once when the last index update is an interval old, else when the interval ends", () => {
    const now = T0 + 10_000;
    expect(nextWakeAt({ ...base, now, unindexed: true, indexedAt: null })).toBe(now);
    expect(nextWakeAt({ ...base, now, unindexed: true, indexedAt: now - INDEX_DELAY_MS })).toBe(now);
    expect(nextWakeAt({ ...base, now, unindexed: true, indexedAt: now - 300 })).toBe(now - 300 + INDEX_DELAY_MS);
    // A failed update is retried after INDEX_RETRY_MS whenever it was.
    expect(nextWakeAt({ ...base, now, unindexed: "failed", indexedAt: now - 5_000 })).toBe(now + INDEX_RETRY_MS);
    expect(nextWakeAt({ ...base, now, unindexed: false, indexedAt: null })).toBeNull();
  });
});

describe("rawPruneBefore", () => {
  it("keeps the whole minute holding the oldest acceptable sample", () => {
    const now = T0 + 90 * HOUR_MS + 42_123;
    const before = rawPruneBefore(now, retention, null);
    expect(before).toBe(bucketStart(now - retention.rawMs, 60));
    // A sample accepted now, however late, finds its whole minute still held.
    const oldestAccepted = now - retention.rawMs;
    expect(withinRawWindow(oldestAccepted, now, retention)).toBe(true);
    expect(bucketStart(oldestAccepted, 60)).toBeGreaterThanOrEqual(before);
    // …and at any earlier prune too.
    expect(rawPruneBefore(now - 30_000, retention, null)).toBeLessThanOrEqual(bucketStart(oldestAccepted, 60));
  });

  it("never deletes samples of a minute still waiting to be rolled up", () => {
    const now = T0 + 90 * HOUR_MS;
    const pending = now - 30 * HOUR_MS;
    expect(rawPruneBefore(now, retention, pending)).toBe(pending);
    expect(rawPruneBefore(now, retention, now - MINUTE_MS)).toBe(bucketStart(now - retention.rawMs, 60));
  });
});

describe("quantiles inside the values seen", () => {
  it("never puts a percentile outside [min, max], which the sketch's relative error alone could", () => {
    const sketch = emptySketch();
    for (let i = 0; i < 100; i++) addValue(sketch, 100);
    // The bucket holding 100 answers a value up to 1 % away from it.
    expect(quantile(sketch, 0.99)).not.toBe(100);
    expect(quantileWithin(sketch, 0.99, 100, 100)).toBe(100);
    expect(quantileWithin(sketch, 0.5, 100, 100)).toBe(100);
    expect(quantileWithin(emptySketch(), 0.5, 0, 1)).toBeNull();
  });
});

describe("the detector checkpoint wake-up", () => {
  const base = { pendingMinutes: [], pendingHours: [], oldestRaw: null, oldestFlushedMinute: null, retention };

  it("wakes when changed detectors are a checkpoint interval past the last checkpoint, at once when never", () => {
    const now = T0 + 10_000;
    expect(nextWakeAt({ ...base, now, uncheckpointed: true, checkpointedAt: now - 1_000 })).toBe(
      now - 1_000 + CHECKPOINT_INTERVAL_MS,
    );
    expect(nextWakeAt({ ...base, now, uncheckpointed: true, checkpointedAt: undefined })).toBe(now);
    expect(nextWakeAt({ ...base, now, uncheckpointed: true, checkpointedAt: now - 5 * CHECKPOINT_INTERVAL_MS })).toBe(
      now,
    );
    expect(nextWakeAt({ ...base, now, uncheckpointed: false, checkpointedAt: now - 1_000 })).toBeNull();
    // The index's wake-up every second comes first; the checkpoint does not delay it.
    expect(
      nextWakeAt({ ...base, now, unindexed: true, indexedAt: now, uncheckpointed: true, checkpointedAt: now }),
    ).toBe(now + INDEX_DELAY_MS);
    expect(checkpointAt(now, now - 1_000)).toBe(now - 1_000 + CHECKPOINT_INTERVAL_MS);
  });
});

describe("indexFromWrite", () => {
  it("sends from a write once the last update is an interval old, or nearly (INDEX_EARLY_MS)", () => {
    const now = T0 + 10_000;
    expect(indexFromWrite(now, undefined)).toBe(true);
    expect(indexFromWrite(now, null)).toBe(true);
    expect(indexFromWrite(now, now - INDEX_DELAY_MS)).toBe(true);
    expect(indexFromWrite(now, now - INDEX_DELAY_MS + INDEX_EARLY_MS)).toBe(true);
    expect(indexFromWrite(now, now - INDEX_DELAY_MS + INDEX_EARLY_MS + 1)).toBe(false);
    expect(indexFromWrite(now, now - 10)).toBe(false);
  });
});

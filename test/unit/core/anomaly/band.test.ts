import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS } from "../../../../worker/core/history";
import {
  bandReadRanges,
  DAY_MS,
  normalBands,
  quantileSorted,
  typicalStep,
  type ValuePoint,
  WEEK_MS,
} from "../../../../worker/core/anomaly/band";

const T0 = Date.UTC(2026, 10, 2); // a Monday, midnight UTC

/** Points every `step` ms over [from, to) with value f(ts). */
const series = (from: number, to: number, step: number, f: (ts: number) => number): ValuePoint[] => {
  const out: ValuePoint[] = [];
  for (let ts = from; ts < to; ts += step) out.push({ ts, value: f(ts) });
  return out;
};

const dailySine = (ts: number) => 100 + 50 * Math.sin((2 * Math.PI * (ts % DAY_MS)) / DAY_MS);

describe("quantileSorted", () => {
  it("interpolates between neighbours", () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([7], 0.9)).toBe(7);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});

describe("normalBands", () => {
  it("follows a daily sine: the band moves with the time of day and holds the value", () => {
    const step = 5 * MINUTE_MS;
    const shownFrom = T0 + 7 * DAY_MS;
    const history = series(T0, shownFrom + DAY_MS, step, dailySine);
    const at = history.filter((p) => p.ts >= shownFrom).map((p) => p.ts);
    const bands = normalBands(history, at, step);
    bands.forEach((b, i) => {
      const truth = dailySine(at[i] ?? 0);
      expect(b.expected).not.toBeNull();
      // Neighbouring buckets within ±10 minutes count too: the median sits within a hair of the curve.
      expect(Math.abs((b.expected ?? 0) - truth)).toBeLessThan(0.5);
      expect(b.low ?? Infinity).toBeLessThanOrEqual(truth);
      expect(b.high ?? -Infinity).toBeGreaterThanOrEqual(truth);
      // Narrow against the daily swing of 100: the band is the time of day's, not the whole day's range.
      expect((b.high ?? 0) - (b.low ?? 0)).toBeLessThan(20);
    });
    // The expected value at the daily peak is far above the one at the trough.
    const at6 = at.indexOf(shownFrom + 6 * HOUR_MS);
    const at18 = at.indexOf(shownFrom + 18 * HOUR_MS);
    expect((bands[at6]?.expected ?? 0) - (bands[at18]?.expected ?? 0)).toBeGreaterThan(90);
  });

  it("does not widen its own band with a spike: only earlier days count", () => {
    const step = HOUR_MS;
    const shownFrom = T0 + 7 * DAY_MS;
    const history = series(T0, shownFrom + DAY_MS, step, dailySine);
    const spikeAt = shownFrom + 10 * HOUR_MS;
    const spiked = history.map((p) => (p.ts === spikeAt ? { ts: p.ts, value: 1000 } : p));
    const [band] = normalBands(spiked, [spikeAt], step);
    expect(band?.high ?? Infinity).toBeLessThan(200);
  });

  it("gives a flat series a band of non-zero width, also when it is flat at zero", () => {
    for (const level of [42, 0]) {
      const step = HOUR_MS;
      const history = series(T0, T0 + 9 * DAY_MS, step, () => level);
      const at = [T0 + 8 * DAY_MS, T0 + 8 * DAY_MS + 5 * HOUR_MS];
      for (const b of normalBands(history, at, step)) {
        expect(b.expected).toBe(level);
        expect(b.low ?? Infinity).toBeLessThan(level);
        expect(b.high ?? -Infinity).toBeGreaterThan(level);
        // Narrow: a fraction of a percent of the level, or a hair around zero.
        expect((b.high ?? 0) - (b.low ?? 0)).toBeLessThanOrEqual(Math.max(level * 0.01, 0.01));
      }
    }
  });

  it("answers null with too little history, and falls back to the trailing buckets with less than two days", () => {
    const step = 5 * MINUTE_MS;
    expect(normalBands([], [T0], step)).toEqual([{ expected: null, low: null, high: null }]);
    const few = series(T0, T0 + 3 * step, step, () => 5);
    expect(normalBands(few, [T0 + 3 * step], step)[0]?.expected).toBeNull();
    // Half a day of data: no earlier day, but enough trailing buckets for a level.
    const halfDay = series(T0, T0 + 12 * HOUR_MS, step, (ts) => (ts % (2 * step) === 0 ? 10 : 12));
    const [band] = normalBands(halfDay, [T0 + 12 * HOUR_MS], step);
    expect(band?.expected).toBe(11);
    expect(band?.low ?? Infinity).toBeLessThanOrEqual(10);
    expect(band?.high ?? -Infinity).toBeGreaterThanOrEqual(12);
  });

  it("uses the same time of week once three weeks are available (weekends apart from weekdays)", () => {
    const step = HOUR_MS;
    // Busy weekdays (100), quiet weekends (20): T0 is a Monday.
    const weekly = (ts: number) => (Math.floor((ts - T0) / DAY_MS) % 7 >= 5 ? 20 : 100);
    const history = series(T0, T0 + 4 * WEEK_MS, step, weekly);
    const saturday = T0 + 3 * WEEK_MS + 5 * DAY_MS + 12 * HOUR_MS;
    const monday = T0 + 3 * WEEK_MS + 12 * HOUR_MS;
    const [sat, mon] = normalBands(history, [saturday, monday], step);
    expect(sat?.expected).toBe(20);
    expect(mon?.expected).toBe(100);
    // With only two weeks, the daily peers mix weekdays and the weekend.
    const short = history.filter((p) => p.ts >= T0 + 2 * WEEK_MS - 1);
    const [satDaily] = normalBands(short, [saturday], step);
    expect(satDaily?.expected).toBe(100);
  });

  it("skips missing buckets and null values", () => {
    const step = HOUR_MS;
    const history = series(T0, T0 + 8 * DAY_MS, step, () => 50).map((p, i) =>
      i % 3 === 0 ? { ts: p.ts, value: null } : p,
    );
    const bands = normalBands(history, [T0 + 7 * DAY_MS + HOUR_MS], step);
    expect(bands[0]?.expected).toBe(50);
  });
});

describe("the band's floor", () => {
  it("keeps a steady high percentage's band narrow enough for a two-point dip to fall outside", () => {
    const step = HOUR_MS;
    const history = series(T0, T0 + 8 * DAY_MS, step, (ts) => 99 + (Math.floor(ts / step) % 2 ? 0.05 : -0.05));
    const [b] = normalBands(history, [T0 + 8 * DAY_MS], step);
    expect(b?.low ?? 0).toBeGreaterThan(97.5);
    expect(b?.high ?? Infinity).toBeLessThan(100);
  });

  it("reads the noise as the median step between buckets", () => {
    expect(typicalStep([1, 2, 1, 2, 10])).toBe(1);
    expect(typicalStep([5, 5, 5])).toBe(0);
    expect(typicalStep([3])).toBe(0);
  });
});

describe("bandReadRanges", () => {
  it("reads one week before a day or more, and short daily windows before an hour", () => {
    const now = T0 + 30 * DAY_MS + 17 * MINUTE_MS;
    const dayFrom = Math.floor((now - DAY_MS) / (5 * MINUTE_MS)) * 5 * MINUTE_MS;
    const day = bandReadRanges(dayFrom, now, 5 * MINUTE_MS);
    expect(day).toHaveLength(1);
    expect(day[0]?.[1]).toBe(dayFrom);
    expect(day[0]?.[0]).toBeLessThanOrEqual(dayFrom - 7 * DAY_MS);

    const hourFrom = Math.floor((now - HOUR_MS) / MINUTE_MS) * MINUTE_MS;
    const hour = bandReadRanges(hourFrom, now, MINUTE_MS);
    expect(hour).toHaveLength(8);
    const total = hour.reduce((sum, [a, b]) => sum + (b - a), 0);
    expect(total).toBeLessThan(10 * HOUR_MS);
    for (const [a, b] of hour) {
      expect(a % MINUTE_MS).toBe(0);
      expect(b).toBeLessThanOrEqual(hourFrom);
    }
  });
});

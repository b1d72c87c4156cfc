import { describe, expect, it } from "vitest";
import {
  createDetector,
  type Detector,
  restoreDetector,
  SENSITIVITY_THRESHOLDS,
} from "../../../../worker/core/anomaly";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 5); // a Monday
const MEDIUM = SENSITIVITY_THRESHOLDS.medium;

/** A deterministic pseudo-random stream in [0, 1). */
function noise(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Feeds `count` samples every `step` ms from `from`, values from `f`; returns the judgements. */
function feed(d: Detector, from: number, step: number, count: number, f: (t: number, i: number) => number) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const t = from + i * step;
    out.push({ t, ...d.judge(t, f(t, i)) });
  }
  return out;
}

/** A shop-like daily shape: quiet at night, a peak in the evening (UTC hours). */
const daily = (t: number) => 100 + 80 * Math.sin(((t % DAY) / DAY) * 2 * Math.PI - Math.PI / 2);

describe("streaming anomaly detector", () => {
  it("scores in [0, 1], learns quietly, and needs only the past", () => {
    const d = createDetector();
    const rnd = noise(1);
    const judged = feed(d, T0, 5 * MINUTE, 2000, () => 50 + 5 * rnd());
    for (const j of judged) expect(j.score).toBeGreaterThanOrEqual(0);
    for (const j of judged) expect(j.score).toBeLessThan(1);
    expect(judged[0]?.learning).toBe(true);
    expect(judged.at(-1)?.learning).toBe(false);
    // The learning period never alarms.
    expect(Math.max(...judged.slice(0, 60).map((j) => j.score))).toBeLessThan(MEDIUM);
  });

  it("learns a daily shape: the usual evening peak is normal, the band follows the day", () => {
    const d = createDetector();
    const rnd = noise(2);
    const judged = feed(d, T0, 5 * MINUTE, 12 * 288, (t) => daily(t) + 6 * (rnd() - 0.5));
    const lastDays = judged.slice(9 * 288);
    expect(Math.max(...lastDays.map((j) => j.score))).toBeLessThan(MEDIUM);
    // The expectation at tomorrow's peak and trough is close to the shape.
    const next = T0 + 12 * DAY;
    const peak = d.expectationAt(next + 12 * HOUR);
    const trough = d.expectationAt(next);
    expect(peak?.expected).toBeGreaterThan(160);
    expect(trough?.expected).toBeLessThan(40);
    expect((peak?.low ?? 0) < 180 && 180 < (peak?.high ?? 0)).toBe(true);
  });

  it("flags the daily peak that comes at the wrong time of day", () => {
    const d = createDetector();
    const rnd = noise(3);
    feed(d, T0, 5 * MINUTE, 12 * 288, (t) => daily(t) + 6 * (rnd() - 0.5));
    // 04:00, usually the quiet hours, at peak-hour traffic.
    const t = T0 + 12 * DAY + 4 * HOUR;
    const j = d.judge(t, 180);
    expect(j.score).toBeGreaterThanOrEqual(MEDIUM);
    expect(j.direction).toBe("up");
  });

  it("copes with a flat series: no division by zero, and a step out of it is an anomaly", () => {
    const d = createDetector();
    const flat = feed(d, T0, MINUTE, 3000, () => 42);
    for (const j of flat) expect(Number.isFinite(j.score)).toBe(true);
    expect(Math.max(...flat.map((j) => j.score))).toBeLessThan(MEDIUM);
    const step = d.judge(T0 + 3000 * MINUTE, 50);
    expect(step.score).toBeGreaterThanOrEqual(MEDIUM);
    expect(step.direction).toBe("up");
    expect(step.expected).toBeCloseTo(42, 6);
  });

  it("flags a spike in a noisy series, and the noise alone rarely", () => {
    const d = createDetector();
    const rnd = noise(4);
    const judged = feed(d, T0, MINUTE, 5000, () => 200 + 40 * rnd());
    const after = judged.slice(500);
    const alarms = after.filter((j) => j.score >= MEDIUM).length;
    expect(alarms / after.length).toBeLessThan(0.01);
    const spike = d.judge(T0 + 5000 * MINUTE, 1000);
    expect(spike.score).toBeGreaterThanOrEqual(SENSITIVITY_THRESHOLDS.low);
    expect(spike.direction).toBe("up");
  });

  it("flags a level shift when it happens, then accepts the new level", () => {
    const d = createDetector();
    const rnd = noise(5);
    feed(d, T0, MINUTE, 4000, () => 100 + 10 * rnd());
    const shifted = feed(d, T0 + 4000 * MINUTE, MINUTE, 2000, () => 30 + 10 * rnd());
    expect(Math.max(...shifted.slice(0, 10).map((j) => j.score))).toBeGreaterThanOrEqual(MEDIUM);
    expect(shifted.slice(0, 10).find((j) => j.score >= MEDIUM)?.direction).toBe("down");
    const settled = shifted.slice(1000);
    expect(settled.filter((j) => j.score >= MEDIUM).length).toBe(0);
  });

  it("holds an anomaly's level while the deviation lasts, and lets a lasting shift become normal", () => {
    const d = createDetector();
    const rnd = noise(11);
    feed(d, T0, MINUTE, 3000, () => 100 + 4 * rnd());
    const shifted = feed(d, T0 + 3000 * MINUTE, MINUTE, 300, () => 300 + 4 * rnd());
    const onset = shifted.findIndex((j) => j.score >= MEDIUM);
    expect(onset).toBeGreaterThanOrEqual(0);
    expect(onset).toBeLessThan(3);
    // Samples' own scores drop back at once (a move is news once), the level stays up for the
    // next minutes…
    const next = shifted.slice(onset + 1, onset + 11);
    expect(next.some((j) => j.score < MEDIUM)).toBe(true);
    expect(next.every((j) => j.level >= MEDIUM && j.direction === "up")).toBe(true);
    // …then fades: hours later the new level is normal.
    expect(shifted.slice(120).every((j) => j.level < MEDIUM)).toBe(true);
  });

  it("takes missing samples and irregular intervals in its stride; old samples are ignored", () => {
    const d = createDetector();
    const rnd = noise(6);
    let t = T0;
    const judged = [];
    for (let i = 0; i < 3000; i++) {
      t += (30 + 60 * rnd()) * 1000;
      // A six-hour hole in the middle.
      if (i === 1500) t += 6 * HOUR;
      judged.push(d.judge(t, 70 + 5 * rnd()));
    }
    expect(Math.max(...judged.slice(300).map((j) => j.score))).toBeLessThan(MEDIUM);
    // A sample not newer than the last one is not judged.
    const stale = d.judge(t - MINUTE, 1e6);
    expect(stale.score).toBe(0);
    expect(d.judge(t + MINUTE, 72).score).toBeLessThan(MEDIUM);
  });

  it("judges a counter on its rate: steady growth and resets are normal, a burst is not", () => {
    const d = createDetector();
    const rnd = noise(7);
    let total = 0;
    const judged = feed(d, T0, MINUTE, 3000, (_t, i) => {
      if (i === 2000) total = 0; // the process restarted
      total += 600 + 60 * rnd();
      return total;
    });
    expect(judged.at(-1)?.counter).toBe(true);
    expect(judged.at(-1)?.observed).toBeGreaterThan(9);
    expect(judged.at(-1)?.observed).toBeLessThan(12);
    // On its raw values every sample would break out of the range; on its rate the noise rarely does.
    const after = judged.slice(300);
    expect(after.filter((j) => j.score >= MEDIUM).length / after.length).toBeLessThan(0.005);
    expect(judged[2000]?.score).toBeLessThan(MEDIUM);
    const burst = d.judge(T0 + 3000 * MINUTE, total + 6000);
    expect(burst.score).toBeGreaterThanOrEqual(MEDIUM);
    expect(burst.direction).toBe("up");
    // A gauge that goes up and down is not a counter.
    const gauge = createDetector();
    const g = feed(gauge, T0, MINUTE, 100, (_t, i) => 10 + (i % 3));
    expect(g.at(-1)?.counter).toBe(false);
  });

  it("round-trips through JSON: a restored detector scores exactly as the original", () => {
    const a = createDetector();
    const rnd = noise(8);
    const values = Array.from({ length: 6000 }, (_, i) => daily(T0 + i * 5 * MINUTE) + 10 * rnd());
    values.slice(0, 4000).forEach((v, i) => a.score(T0 + i * 5 * MINUTE, v));
    const json = JSON.stringify(a);
    expect(json.length).toBeLessThanOrEqual(8 * 1024);
    const b = restoreDetector(JSON.parse(json));
    for (let i = 4000; i < 6000; i++) {
      const t = T0 + i * 5 * MINUTE;
      expect(b.judge(t, values[i] as number)).toEqual(a.judge(t, values[i] as number));
    }
    // A state of another shape (an older version, garbage) starts a fresh detector.
    expect(JSON.stringify(restoreDetector({ v: 1, n: 5 }))).toBe(JSON.stringify(createDetector()));
    expect(JSON.stringify(restoreDetector("nonsense"))).toBe(JSON.stringify(createDetector()));
  });

  it("keeps its state small over a month of minute samples", () => {
    const d = createDetector();
    const rnd = noise(9);
    feed(d, T0, MINUTE, 30 * 1440, (t) => daily(t) * (1 + 0.1 * rnd()));
    expect(JSON.stringify(d).length).toBeLessThanOrEqual(8 * 1024);
  });

  it("orders its sensitivities: high is the most sensitive", () => {
    expect(SENSITIVITY_THRESHOLDS.high).toBeLessThan(SENSITIVITY_THRESHOLDS.medium);
    expect(SENSITIVITY_THRESHOLDS.medium).toBeLessThan(SENSITIVITY_THRESHOLDS.low);
  });
});

/**
 * The streaming anomaly detector, one per series (state: a few KB of JSON).
 *
 * 1. Two forecasts of each sample, made before it is seen: a fast exponentially weighted
 *    level (what the series did a moment ago) and a seasonal one (a slow level plus a
 *    learned offset per time-of-day bin, additive Holt-Winters over DAY_BINS bins). Each
 *    keeps its mean absolute error; the one with the smaller error speaks, so a series with
 *    a daily shape is judged against its usual day and a random-walking one against its
 *    recent level.
 * 2. The surprise of the sample: its residual over that error (z), and how rarely the
 *    series has produced a z that large (a decayed histogram of log z): the tail
 *    probability makes scores comparable across series, noisy or smooth.
 * 3. The score is that surprise squashed into [0, 1) without saturating; during the
 *    learning period it is damped towards 0.
 */
import type { AnomalyDirection, Detector, DetectorState, Expectation, Judgement, Sensitivity } from "./types";

/** Score thresholds per rule sensitivity: a sample scoring at or above the sensitivity's threshold is anomalous. */
export const SENSITIVITY_THRESHOLDS: Record<Sensitivity, number> = { low: 0.8, medium: 0.7, high: 0.6 };

const VERSION = 2;
const DAY_MS = 86_400_000;
/** Time-of-day bins of the seasonal forecast. */
const DAY_BINS = 144;
const BIN_MS = DAY_MS / DAY_BINS;
/** Histogram of log2 z: bins of half an octave from 2^-6 up. */
const Z_BINS = 36;
const Z_LOW = -6;
const Z_STEP = 0.5;

export interface DetectorOptions {
  /** Samples before scores count fully (they ramp up from 0). */
  learningSamples?: number;
  /** Weight of the newest sample in the fast level. */
  fastAlpha?: number;
  /** Time constant of the seasonal forecast's level, ms. */
  slowTauMs?: number;
  /** Weight of a new day's value in its time-of-day bin. */
  seasonGamma?: number;
  /** Samples over which the forecasts' errors average. */
  errorSamples?: number;
  /** Samples over which the surprise histogram forgets. */
  memorySamples?: number;
  /** Score = s / (s + k) for a surprise s (in decades of rarity). */
  squash?: number;
  /** How much the recent peak surprise is taken off (an ongoing anomaly is news once). */
  suppress?: number;
  suppressHalfLife?: number;
  mode?: number;
  shortSamples?: number;
  longSamples?: number;
  zCap?: number;
  rangeHalfLife?: number;
  breakWeight?: number;
  combine?: number;
  residualWeight?: number;
  matureSamples?: number;
  shortRangeHalfLife?: number;
  shortWeight?: number;
  novelWeight?: number;
  smoothWeight?: number;
  smoothAlpha?: number;
  levels?: number;
  novelMemory?: number;
  novelFloor?: number;
}

interface Options extends Required<DetectorOptions> {}

const DEFAULTS: Options = {
  learningSamples: 120,
  fastAlpha: 0.5,
  slowTauMs: 6 * 3_600_000,
  seasonGamma: 0.3,
  errorSamples: 200,
  memorySamples: 2000,
  squash: 2,
  suppress: 0,
  suppressHalfLife: 100,
  mode: 1,
  shortSamples: 10,
  longSamples: 3000,
  zCap: 4,
  rangeHalfLife: 2000,
  breakWeight: 1,
  combine: 0,
  residualWeight: 1,
  matureSamples: 0,
  shortRangeHalfLife: 300,
  shortWeight: 0,
  novelWeight: 0,
  smoothWeight: 0,
  smoothAlpha: 0.1,
  levels: 12,
  novelMemory: 3000,
  novelFloor: 0.5,
};

interface State extends DetectorState {
  /** Samples seen, first and last instant. */
  n: number;
  t0: number;
  t: number;
  /** Typical interval between samples, ms. */
  dt: number;
  /** Fast level; slow level; seasonal offsets per time-of-day bin. */
  fast: number;
  slow: number;
  season: number[];
  /** Mean absolute error of the fast and seasonal forecasts. */
  eFast: number;
  eSeason: number;
  /** Decayed counts of log2 z per bin, and their total. */
  hist: number[];
  total: number;
  /** The recent peak surprise, decaying. */
  peak: number;
  /** Recent raw anomalies (ring), their running sum, and the long-run mean and variance of their average. */
  hi: number;
  lo: number;
  hi2: number;
  lo2: number;
  sm: number;
  hs: number;
  ls: number;
  pairs: number[];
  pairTotal: number;
  prevLevel: number;
  ring: number[];
  ri: number;
  mu: number;
  var: number;
}

const fresh = (): State => ({
  v: VERSION,
  n: 0,
  t0: 0,
  t: Number.NEGATIVE_INFINITY,
  dt: 0,
  fast: 0,
  slow: 0,
  season: new Array<number>(DAY_BINS).fill(0),
  eFast: 0,
  eSeason: 0,
  hist: new Array<number>(Z_BINS).fill(0),
  total: 0,
  peak: 0,
  hi: Number.NaN,
  lo: Number.NaN,
  hi2: Number.NaN,
  lo2: Number.NaN,
  sm: Number.NaN,
  hs: Number.NaN,
  ls: Number.NaN,
  pairs: [],
  pairTotal: 0,
  prevLevel: 0,
  ring: [],
  ri: 0,
  mu: 0,
  var: 0,
});

/** Complementary error function (Abramowitz-Stegun 7.1.26, error < 1.5e-7). */
function erfc(x: number): number {
  const t = 1 / (1 + 0.3275911 * x);
  const y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return y * Math.exp(-x * x);
}

const binOf = (t: number) => Math.floor((((t % DAY_MS) + DAY_MS) % DAY_MS) / BIN_MS);
const zBin = (z: number) => {
  if (!(z > 0)) return 0;
  const b = Math.floor((Math.log2(z) - Z_LOW) / Z_STEP);
  return b < 0 ? 0 : b >= Z_BINS ? Z_BINS - 1 : b;
};

class StreamingDetector implements Detector {
  constructor(
    private readonly s: State,
    private readonly o: Options,
  ) {}

  /** The seasonal forecast takes part once a day and a half has been seen. */
  private seasonal(): boolean {
    return this.s.t - this.s.t0 >= 1.5 * DAY_MS;
  }

  private forecast(t: number): { expected: number; error: number } {
    const s = this.s;
    const seasonal = this.seasonal() && s.eSeason < s.eFast;
    return seasonal
      ? { expected: s.slow + (s.season[binOf(t)] as number), error: s.eSeason }
      : { expected: s.fast, error: s.eFast };
  }

  private floor(): number {
    return 1e-9 + 1e-6 * Math.abs(this.s.slow);
  }

  /** Decades of rarity of a z: -log10 of the share of past z at least as large. */
  private surprise(z: number): number {
    const s = this.s;
    const b = zBin(z);
    let above = 0;
    for (let i = b; i < Z_BINS; i++) above += s.hist[i] as number;
    return Math.log10((s.total + 1) / (above + 1));
  }

  expectationAt(t: number): Expectation | null {
    if (this.s.n < this.o.learningSamples) return null;
    const { expected, error } = this.forecast(t);
    const width = 4 * Math.max(error, this.floor());
    return { expected, low: expected - width, high: expected + width };
  }

  judge(t: number, value: number): Judgement {
    const s = this.s;
    const o = this.o;
    const learning = s.n < o.learningSamples;
    if (!(t > s.t) || !Number.isFinite(value)) {
      return { score: 0, direction: null, expected: null, low: null, high: null, learning };
    }
    if (s.n === 0) {
      Object.assign(s, { n: 1, t0: t, t, fast: value, slow: value });
      return { score: 0, direction: null, expected: null, low: null, high: null, learning };
    }
    const band = this.expectationAt(t);
    const { expected, error } = this.forecast(t);
    const r = value - expected;
    const z = Math.abs(r) / Math.max(error, this.floor());
    let score = 0;
    if (s.n > 2) {
      if (o.mode === 2) {
        // How far z breaks the record of the recent past (a decaying maximum).
        const ref = Math.max(s.peak, 1e-9);
        const ratio = z / ref;
        s.peak = Math.max(s.peak * 0.5 ** (1 / o.suppressHalfLife), z);
        let x = o.residualWeight * Math.log2(Math.max(ratio, 1e-6)) + 6;
        if (Number.isNaN(s.hi)) { s.hi = value; s.lo = value; }
        const range = Math.max(s.hi - s.lo, this.floor());
        const brk = value > s.hi ? (value - s.hi) / range : value < s.lo ? (s.lo - value) / range : 0;
        const mid = (s.hi + s.lo) / 2;
        const k = 1 - 0.5 ** (1 / o.rangeHalfLife);
        s.hi = Math.max(value, s.hi - k * (s.hi - mid));
        s.lo = Math.min(value, s.lo + k * (mid - s.lo));
        if (o.matureSamples > 0) x = Math.min(x, 6 + (x - 6) * Math.min(1, s.n / o.matureSamples));
        if (Number.isNaN(s.hi2)) { s.hi2 = value; s.lo2 = value; }
        const range2 = Math.max(s.hi2 - s.lo2, this.floor());
        const brk2 = value > s.hi2 ? (value - s.hi2) / range2 : value < s.lo2 ? (s.lo2 - value) / range2 : 0;
        const mid2 = (s.hi2 + s.lo2) / 2;
        const k2 = 1 - 0.5 ** (1 / o.shortRangeHalfLife);
        s.hi2 = Math.max(value, s.hi2 - k2 * (s.hi2 - mid2));
        s.lo2 = Math.min(value, s.lo2 + k2 * (mid2 - s.lo2));
        let xn = 0;
        if (o.novelWeight > 0) {
          const L = o.levels;
          const lev = value > s.hi ? L + 1 : value < s.lo ? 0 : 1 + Math.min(L - 1, Math.floor(((value - s.lo) / range) * L));
          const idx = s.prevLevel * (L + 2) + lev;
          if (s.pairs.length !== (L + 2) * (L + 2)) s.pairs = new Array((L + 2) * (L + 2)).fill(0);
          const c = s.pairs[idx] as number;
          const novelty = Math.log((s.pairTotal + 1) / (c + 1)) / Math.log(s.pairTotal + 2);
          const keepP = 1 - 1 / o.novelMemory;
          for (let i = 0; i < s.pairs.length; i++) s.pairs[i] = (s.pairs[i] as number) * keepP;
          s.pairs[idx] = c * keepP + 1;
          s.pairTotal = s.pairTotal * keepP + 1;
          s.prevLevel = lev;
          xn = o.novelWeight * Math.max(0, novelty - o.novelFloor);
        }
        let xs = 0;
        if (o.smoothWeight > 0) {
          s.sm = Number.isNaN(s.sm) ? value : s.sm + o.smoothAlpha * (value - s.sm);
          if (Number.isNaN(s.hs)) { s.hs = s.sm; s.ls = s.sm; }
          const rs = Math.max(s.hs - s.ls, this.floor());
          const bs = s.sm > s.hs ? (s.sm - s.hs) / rs : s.sm < s.ls ? (s.ls - s.sm) / rs : 0;
          const ms = (s.hs + s.ls) / 2;
          s.hs = Math.max(s.sm, s.hs - k * (s.hs - ms));
          s.ls = Math.min(s.sm, s.ls + k * (ms - s.ls));
          xs = o.smoothWeight * 8 * bs;
        }
        const xb = 6 + Math.max(xn, xs) + o.breakWeight * 8 * (brk + o.shortWeight * brk2) * (o.matureSamples > 0 ? Math.min(1, s.n / o.matureSamples) : 1);
        if (o.combine === 1) x = x + o.breakWeight * 8 * brk;
        else if (o.combine === 2) x = Math.max(x, 6 + o.breakWeight * 8 * brk) + 0.5 * Math.min(x, 6 + o.breakWeight * 8 * brk);
        else if (o.breakWeight > 0) x = Math.max(x, xb);
        score = x <= 0 ? 0 : x / (x + o.squash);
        if (learning) score *= s.n / o.learningSamples;
        this.learn(t, value, z);
        const direction: AnomalyDirection | null = r > 0 ? "up" : r < 0 ? "down" : null;
        return { score, direction, expected, low: band?.low ?? null, high: band?.high ?? null, learning };
      }
      if (o.mode === 1) {
        const rawA = 1 - Math.exp(-z / o.zCap);
        if (s.ring.length < o.shortSamples) s.ring.push(rawA);
        else s.ring[s.ri] = rawA;
        s.ri = (s.ri + 1) % o.shortSamples;
        let m = 0;
        for (const x of s.ring) m += x;
        m /= s.ring.length;
        const a = 1 / Math.min(o.longSamples, s.n);
        const sd = Math.sqrt(s.var) + 1e-4;
        const q = (m - s.mu) / sd;
        // One-sided Gaussian tail of the recent average against its long-run distribution.
        const tail = q <= 0 ? 1 : 0.5 * erfc(q / Math.SQRT2);
        const d = m - s.mu;
        s.mu += a * d;
        s.var = (1 - a) * (s.var + a * d * d);
        const lik = -Math.log10(tail + 1e-12);
        score = lik / (lik + o.squash);
        if (learning) score *= s.n / o.learningSamples;
        this.learn(t, value, z);
        const direction: AnomalyDirection | null = r > 0 ? "up" : r < 0 ? "down" : null;
        return { score, direction, expected, low: band?.low ?? null, high: band?.high ?? null, learning };
      }
      const raw = this.surprise(z);
      const surprise = Math.max(0, raw - o.suppress * s.peak);
      s.peak = Math.max(s.peak * 0.5 ** (1 / o.suppressHalfLife), raw);
      score = surprise / (surprise + o.squash);
      if (learning) score *= s.n / o.learningSamples;
    }
    this.learn(t, value, z);
    const direction: AnomalyDirection | null = r > 0 ? "up" : r < 0 ? "down" : null;
    return { score, direction, expected, low: band?.low ?? null, high: band?.high ?? null, learning };
  }

  private learn(t: number, value: number, z: number): void {
    const s = this.s;
    const o = this.o;
    const gap = t - s.t;
    s.dt = s.dt === 0 ? gap : s.dt + 0.05 * (gap - s.dt);
    const bin = binOf(t);
    const seasonal = s.slow + (s.season[bin] as number);
    // Errors (winsorized so that one outlier does not blind the detector), then the forecasts.
    const aE = 1 / Math.min(o.errorSamples, s.n + 1);
    const rFast = Math.abs(value - s.fast);
    const rSeason = Math.abs(value - seasonal);
    s.eFast += aE * (Math.min(rFast, 5 * s.eFast || rFast) - s.eFast);
    s.eSeason += aE * (Math.min(rSeason, 5 * s.eSeason || rSeason) - s.eSeason);
    s.fast += o.fastAlpha * (value - s.fast);
    const aSlow = 1 - Math.exp(-gap / o.slowTauMs);
    s.slow += aSlow * (value - (s.season[bin] as number) - s.slow);
    const perBin = Math.max(1, BIN_MS / Math.max(s.dt, 1));
    s.season[bin] = (s.season[bin] as number) + (o.seasonGamma / perBin) * (value - s.slow - (s.season[bin] as number));
    // The surprise histogram forgets slowly.
    const keep = 1 - 1 / o.memorySamples;
    for (let i = 0; i < Z_BINS; i++) s.hist[i] = (s.hist[i] as number) * keep;
    s.hist[zBin(z)] = (s.hist[zBin(z)] as number) + 1;
    s.total = s.total * keep + 1;
    s.n += 1;
    s.t = t;
  }

  score(t: number, value: number): number {
    return this.judge(t, value).score;
  }

  toJSON(): DetectorState {
    return this.s;
  }
}

export function createDetector(options: DetectorOptions = {}): Detector {
  return new StreamingDetector(fresh(), { ...DEFAULTS, ...options });
}

/** A detector from its serialized state; a state of another version or shape starts afresh. */
export function restoreDetector(state: unknown, options: DetectorOptions = {}): Detector {
  const s = state as State | null;
  const ok =
    s !== null &&
    typeof s === "object" &&
    s.v === VERSION &&
    Array.isArray(s.season) &&
    s.season.length === DAY_BINS &&
    Array.isArray(s.hist) &&
    s.hist.length === Z_BINS;
  return new StreamingDetector(ok ? structuredClone(s) : fresh(), { ...DEFAULTS, ...options });
}

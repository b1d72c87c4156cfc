/**
 * The streaming anomaly detector, one per series; its state is a few KB of JSON.
 *
 * Every sample is weighed on three kinds of evidence, each measured against what the series
 * itself has done lately, so that one threshold means the same on a noisy series and on a
 * smooth one:
 *
 * 1. **Surprise against the forecast**: three forecasts are made of each sample before it is
 *    seen, a fast exponentially weighted level (what the series did a moment ago), a daily
 *    profile (a slow level plus a learned offset per time-of-day bin) and a weekly one (per
 *    hour of the week). The forecast whose recent worst error is smallest speaks: a series
 *    with a daily or weekly shape is judged against its usual day or week, a random-walking
 *    one against its recent level. The evidence is how far the residual breaks that forecast's
 *    recent record error (a slowly decaying maximum): a deviation of a size seen every day is
 *    no news, one several times larger is.
 * 2. **Breaking out of the usual range**: how far the value goes beyond the highest (or
 *    lowest) value of the recent past, as a share of that range. The range decays slowly
 *    towards its middle, so a level not seen for weeks counts again.
 * 3. **A sustained move**: the same breakout measured on a slow moving average, which sees a
 *    burst or a shift that no single sample makes stand out.
 *
 * The evidence beyond a usual sample's is squashed into a score in [0, 1) that never saturates
 * (distinct evidence keeps distinct scores): 0 for a usual sample. During the learning period
 * scores are damped towards 0, and breakouts count fully only once the usual range has been
 * watched for a while (matureSamples), so a young series' first extremes are not news.
 *
 * A counter (a series whose first COUNTER_CHECK samples never go down and mostly go up) would
 * break out of its range on every sample: it is judged on its rate per second instead, a
 * drop being a reset (the rate since the reset is the new value over the interval).
 */
import type { AnomalyDirection, Detector, DetectorState, Expectation, Judgement, Sensitivity } from "./types";

/**
 * Score thresholds per sensitivity: a sample scoring at or above its sensitivity's threshold
 * is anomalous. "high" is the threshold NAB's scorer finds best on its benchmark (standard
 * profile, which rewards catching); "medium" and "low" trade recall for fewer false alarms.
 * On stationary noise (uniform, Gaussian, log-normal, Poisson, counters; 20,000 samples each)
 * they are crossed by at most 0.13 %, 0.03 % and 0.005 % of samples (`npm run bench:anomaly`).
 */
export const SENSITIVITY_THRESHOLDS: Record<Sensitivity, number> = { low: 0.97, medium: 0.92, high: 0.83 };

const VERSION = 3;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;
/** Time-of-day bins of the daily profile, hour-of-week bins of the weekly one. */
const DAY_BINS = 96;
const WEEK_BINS = 168;
/** Evidence of an unremarkable sample (it scores 0). */
const BASE = 6;
/** Samples that decide whether a series is a counter. */
const COUNTER_CHECK = 12;

export interface DetectorOptions {
  /** Samples before scores count fully (they ramp up from 0). */
  learningSamples?: number;
  /** Weight of the newest sample in the fast level. */
  fastAlpha?: number;
  /** Time constant of the seasonal profiles' slow level, ms. */
  slowTauMs?: number;
  /** Weight of a new day's (week's) value in its profile bin. */
  seasonGamma?: number;
  /** Samples over which the forecasts' mean absolute errors average. */
  errorSamples?: number;
  /** Half-life, in samples, of the record errors and of the usual range. */
  recordHalfLife?: number;
  rangeHalfLife?: number;
  /** Weight of the moving average (per sample) whose breakouts count as a sustained move. */
  smoothAlpha?: number;
  /** Weights of the three kinds of evidence. */
  residualWeight?: number;
  breakoutWeight?: number;
  sustainedWeight?: number;
  /** How far ahead of a moving average that broke out its range is pushed (in breakouts): a move is news once. */
  ratchet?: number;
  /** Samples after which range breakouts count fully (they ramp up from 0). */
  matureSamples?: number;
  /** Half-life, in samples, of an anomaly's held evidence while its deviation persists. */
  holdHalfLife?: number;
}

type Options = Required<DetectorOptions>;

const DEFAULTS: Options = {
  learningSamples: 240,
  fastAlpha: 0.3,
  slowTauMs: 2 * DAY_MS,
  seasonGamma: 0.3,
  errorSamples: 200,
  recordHalfLife: 1000,
  rangeHalfLife: 4000,
  smoothAlpha: 0.02,
  residualWeight: 3,
  breakoutWeight: 40,
  sustainedWeight: 160,
  ratchet: 2,
  matureSamples: 720,
  holdHalfLife: 30,
};

/** The forecasts, in the order of their arrays in the state. */
const FAST = 0;
const DAILY = 1;
const WEEKLY = 2;

interface State extends DetectorState {
  /** Counter check: null while undecided, then whether the series is judged on its rate. */
  counter: boolean | null;
  /** The last raw value and how many steps went up and down, while deciding and for rates. */
  raw: number;
  ups: number;
  downs: number;
  /** Samples judged; first and last instant; typical interval between samples (ms). */
  n: number;
  t0: number;
  t: number;
  dt: number;
  /** Fast level, slow level, daily and weekly offsets from the slow level. */
  fast: number;
  slow: number;
  day: number[];
  week: number[];
  /** Per forecast: mean absolute error, and the decaying record absolute error. */
  err: number[];
  rec: number[];
  /** The usual range (decaying towards its middle), the moving average and its usual range. */
  hi: number;
  lo: number;
  avg: number;
  avgHi: number;
  avgLo: number;
  /** The side (+1 above, -1 below, 0 inside) of the normal band the last sample was on, and the evidence held since the run began. */
  side: number;
  held: number;
}

const fresh = (): State => ({
  v: VERSION,
  counter: null,
  raw: Number.NaN,
  ups: 0,
  downs: 0,
  n: 0,
  t0: 0,
  t: Number.NEGATIVE_INFINITY,
  dt: 0,
  fast: 0,
  slow: 0,
  day: Array.from({ length: DAY_BINS }, () => 0),
  week: Array.from({ length: WEEK_BINS }, () => 0),
  err: [0, 0, 0],
  rec: [0, 0, 0],
  hi: 0,
  lo: 0,
  avg: 0,
  avgHi: 0,
  avgLo: 0,
  side: 0,
  held: 0,
});

const mod = (t: number, m: number) => ((t % m) + m) % m;
const dayBin = (t: number) => Math.floor(mod(t, DAY_MS) / (DAY_MS / DAY_BINS));
/** Hours of the week from Monday 00:00 UTC (the epoch was a Thursday). */
const weekBin = (t: number) => Math.floor(mod(t + 3 * DAY_MS, WEEK_MS) / HOUR_MS);

/** How far x goes beyond [lo, hi], as a share of the range (0 inside). */
function breakout(x: number, hi: number, lo: number, floor: number): number {
  const range = Math.max(hi - lo, floor);
  return x > hi ? (x - hi) / range : x < lo ? (lo - x) / range : 0;
}

class StreamingDetector implements Detector {
  constructor(
    private readonly s: State,
    private readonly o: Options,
  ) {}

  /** The forecasts of an instant, the ones not ready yet as NaN. */
  private forecasts(t: number): [number, number, number] {
    const s = this.s;
    const span = t - s.t0;
    return [
      s.fast,
      span >= 1.5 * DAY_MS ? s.slow + (s.day[dayBin(t)] as number) : Number.NaN,
      span >= 8 * DAY_MS ? s.slow + (s.week[weekBin(t)] as number) : Number.NaN,
    ];
  }

  /** The ready forecast with the smallest record error (the simplest on a tie). */
  private best(forecasts: readonly number[]): number {
    let best = FAST;
    for (const m of [DAILY, WEEKLY]) {
      if (!Number.isNaN(forecasts[m] as number) && (this.s.rec[m] as number) < (this.s.rec[best] as number)) best = m;
    }
    return best;
  }

  /** A scale below which differences do not count (keeps a flat series finite). */
  private floor(): number {
    return 1e-9 + 1e-6 * Math.abs(this.s.slow);
  }

  /**
   * The normal range at an instant other than the next sample's: the seasonal forecast with
   * the smaller record error once one is ready (the fast level says nothing of another hour),
   * else the fast level.
   */
  expectationAt(t: number): Expectation | null {
    if (this.s.n < this.o.learningSamples) return null;
    const forecasts = this.forecasts(t);
    const seasonal = [DAILY, WEEKLY].filter((m) => !Number.isNaN(forecasts[m] as number));
    const m = seasonal.length
      ? seasonal.reduce((a, b) => ((this.s.rec[b] as number) < (this.s.rec[a] as number) ? b : a))
      : FAST;
    const expected = forecasts[m] as number;
    const width = 3 * Math.max(this.s.err[m] as number, this.floor());
    return { expected, low: expected - width, high: expected + width };
  }

  judge(t: number, sample: number): Judgement {
    const s = this.s;
    const o = this.o;
    const quiet = (observed: number): Judgement => ({
      score: 0,
      level: 0,
      direction: null,
      observed,
      counter: s.counter === true,
      expected: null,
      low: null,
      high: null,
      learning: s.n < o.learningSamples,
    });
    if (!(t > s.t) || !Number.isFinite(sample)) return quiet(sample);
    const value = this.observe(t, sample);
    if (value === null) return quiet(sample);
    const learning = s.n < o.learningSamples;
    if (s.n === 0) {
      Object.assign(s, { n: 1, t0: t, t, fast: value, slow: value, hi: value, lo: value });
      Object.assign(s, { avg: value, avgHi: value, avgLo: value });
      return quiet(value);
    }
    const forecasts = this.forecasts(t);
    const m = this.best(forecasts);
    const expected = forecasts[m] as number;
    const width = 3 * Math.max(s.err[m] as number, this.floor());
    const r = value - expected;
    const floor = this.floor();

    // 1. The residual against the speaking forecast's record error.
    const record = Math.max(s.rec[m] as number, floor);
    let evidence = BASE + o.residualWeight * Math.log2(Math.max(Math.abs(r) / record, 1e-6));
    // 2 and 3. Breakouts of the value and of its moving average.
    const avg = s.avg + o.smoothAlpha * (value - s.avg);
    const moved =
      o.breakoutWeight * breakout(value, s.hi, s.lo, floor) +
      o.sustainedWeight * breakout(avg, s.avgHi, s.avgLo, floor);
    evidence = Math.max(evidence, BASE + moved * Math.min(1, s.n / o.matureSamples));

    // Evidence beyond an unremarkable sample's, squashed: 0 for a usual sample, 1/2 for one unit.
    const excess = Math.max(0, evidence - BASE);
    const ramp = s.n <= 2 ? 0 : learning ? s.n / o.learningSamples : 1;
    const score = ramp * (excess / (excess + 1));
    // The level holds the run's strongest evidence while the values stay outside the normal
    // band on the same side, fading with holdHalfLife: an anomaly lasts as long as the
    // deviation, not one sample, and a shift that persists becomes the new normal.
    const side = Math.abs(r) > width ? Math.sign(r) : 0;
    const fading = s.held * 0.5 ** (1 / o.holdHalfLife);
    s.held = side !== 0 && side === s.side ? Math.max(excess, fading) : excess;
    s.side = side;
    const level = ramp * (s.held / (s.held + 1));
    this.learn(t, value, forecasts, avg);
    const direction: AnomalyDirection | null = r > 0 ? "up" : r < 0 ? "down" : null;
    const band = learning ? null : { low: expected - width, high: expected + width };
    return {
      score,
      level,
      direction,
      observed: value,
      counter: s.counter === true,
      expected,
      low: band?.low ?? null,
      high: band?.high ?? null,
      learning,
    };
  }

  /**
   * The value the model judges for a sample: the sample itself, or a counter's rate per
   * second. Null while the counter check has nothing to judge (a counter's first sample).
   */
  private observe(t: number, sample: number): number | null {
    const s = this.s;
    const previous = s.raw;
    const gap = t - s.t;
    s.raw = sample;
    if (s.counter === null) {
      if (!Number.isNaN(previous)) {
        if (sample > previous) s.ups += 1;
        else if (sample < previous) s.downs += 1;
      }
      if (s.ups + s.downs + 1 < COUNTER_CHECK) {
        if (Number.isNaN(previous)) return sample;
      } else {
        s.counter = s.downs === 0 && s.ups >= COUNTER_CHECK / 2;
        // Judged on rates from now on: what was learned of the raw values is forgotten.
        if (s.counter) Object.assign(s, { ...fresh(), counter: true, raw: sample, t });
        if (s.counter) return null;
      }
    }
    if (s.counter !== true) return sample;
    if (Number.isNaN(previous) || !(gap > 0)) return null;
    // A drop is a reset: what was counted since is the new value.
    return ((sample >= previous ? sample - previous : sample) * 1000) / gap;
  }

  private learn(t: number, value: number, forecasts: readonly number[], avg: number): void {
    const s = this.s;
    const o = this.o;
    const gap = t - s.t;
    s.dt = s.dt === 0 ? gap : s.dt + 0.05 * (gap - s.dt);
    // Errors of each forecast (the mean winsorized, so one outlier does not blind it), and records.
    const aE = 1 / Math.min(o.errorSamples, s.n + 1);
    const decay = 0.5 ** (1 / o.recordHalfLife);
    for (const m of [FAST, DAILY, WEEKLY]) {
      const f = forecasts[m] as number;
      // A forecast not ready yet learns its errors from the fast one's.
      const e = Math.abs(value - (Number.isNaN(f) ? (forecasts[FAST] as number) : f));
      const mean = s.err[m] as number;
      s.err[m] = mean + aE * (Math.min(e, 5 * mean || e) - mean);
      s.rec[m] = Math.max((s.rec[m] as number) * decay, e);
    }
    // The forecasts.
    s.fast += o.fastAlpha * (value - s.fast);
    s.slow += (1 - Math.exp(-gap / o.slowTauMs)) * (value - s.slow);
    const perVisit = (binMs: number) => o.seasonGamma / Math.max(1, binMs / Math.max(s.dt, 1));
    const d = dayBin(t);
    s.day[d] = (s.day[d] as number) + perVisit(DAY_MS / DAY_BINS) * (value - s.slow - (s.day[d] as number));
    const w = weekBin(t);
    s.week[w] = (s.week[w] as number) + perVisit(HOUR_MS) * (value - s.slow - (s.week[w] as number));
    // The usual ranges decay towards their middle.
    const k = 1 - 0.5 ** (1 / o.rangeHalfLife);
    const mid = (s.hi + s.lo) / 2;
    s.hi = Math.max(value, s.hi - k * (s.hi - mid));
    s.lo = Math.min(value, s.lo + k * (mid - s.lo));
    s.avg = avg;
    const avgMid = (s.avgHi + s.avgLo) / 2;
    // A move of the average is news once: its range is pushed ahead of it by the breakout.
    const up = avg - s.avgHi;
    const down = s.avgLo - avg;
    s.avgHi = Math.max(avg + o.ratchet * Math.max(0, up), s.avgHi - k * (s.avgHi - avgMid));
    s.avgLo = Math.min(avg - o.ratchet * Math.max(0, down), s.avgLo + k * (avgMid - s.avgLo));
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
    Array.isArray(s.day) &&
    s.day.length === DAY_BINS &&
    Array.isArray(s.week) &&
    s.week.length === WEEK_BINS;
  return new StreamingDetector(ok ? (JSON.parse(JSON.stringify(s)) as State) : fresh(), { ...DEFAULTS, ...options });
}

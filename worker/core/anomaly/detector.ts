/**
 * The streaming anomaly detector (first version: an EWMA level with a robust residual scale).
 */
import type { AnomalyDirection, Detector, DetectorState, Expectation, Judgement, Sensitivity } from "./types";

/** Score thresholds per rule sensitivity: a sample scoring at or above the sensitivity's threshold is anomalous. */
export const SENSITIVITY_THRESHOLDS: Record<Sensitivity, number> = { low: 0.9, medium: 0.8, high: 0.65 };

const VERSION = 1;

interface State extends DetectorState {
  n: number;
  t: number;
  level: number;
  dev: number;
}

export interface DetectorOptions {
  /** Samples before scores count fully. */
  learningSamples?: number;
}

const fresh = (): State => ({ v: VERSION, n: 0, t: Number.NEGATIVE_INFINITY, level: 0, dev: 0 });

class Ewma implements Detector {
  constructor(
    private s: State,
    private readonly learning: number,
  ) {}

  expectationAt(_t: number): Expectation | null {
    if (this.s.n < this.learning) return null;
    const width = 3 * Math.max(this.s.dev, 1e-9);
    return { expected: this.s.level, low: this.s.level - width, high: this.s.level + width };
  }

  judge(t: number, value: number): Judgement {
    const s = this.s;
    if (!(t > s.t) || !Number.isFinite(value)) {
      return { score: 0, direction: null, expected: null, low: null, high: null, learning: s.n < this.learning };
    }
    const before = s.n > 0 ? this.expectationAt(t) : null;
    const expected = s.n > 0 ? s.level : null;
    const r = expected === null ? 0 : value - expected;
    const scale = Math.max(s.dev, 1e-9 * (Math.abs(s.level) + 1));
    const z = s.n > 1 ? Math.abs(r) / scale : 0;
    const learning = s.n < this.learning;
    let score = z / (z + 6);
    if (learning) score *= s.n / this.learning;
    s.n += 1;
    s.t = t;
    s.level = s.n === 1 ? value : s.level + 0.2 * r;
    s.dev = s.n <= 2 ? Math.abs(r) : s.dev + 0.02 * (Math.min(Math.abs(r), 4 * scale) - s.dev);
    const direction: AnomalyDirection | null = r > 0 ? "up" : r < 0 ? "down" : null;
    return { score, direction, expected, low: before?.low ?? null, high: before?.high ?? null, learning };
  }

  score(t: number, value: number): number {
    return this.judge(t, value).score;
  }

  toJSON(): DetectorState {
    return { ...this.s };
  }
}

export function createDetector(options: DetectorOptions = {}): Detector {
  return new Ewma(fresh(), options.learningSamples ?? 60);
}

/** A detector from its serialized state; a state of another version or shape starts afresh. */
export function restoreDetector(state: unknown, options: DetectorOptions = {}): Detector {
  const s = state as State | null;
  const ok = s !== null && typeof s === "object" && s.v === VERSION && typeof s.n === "number";
  return new Ewma(ok ? { ...s } : fresh(), options.learningSamples ?? 60);
}

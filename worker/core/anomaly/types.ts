/**
 * The streaming anomaly detector's contract, shared by the series store (which keeps one
 * detector per series and scores every stored sample), anomaly rules, the anomalies list
 * and the normal range drawn on charts.
 */

export type AnomalyDirection = "up" | "down";

/** What the detector made of one sample. */
export interface Judgement {
  /** How anomalous the sample is, in [0, 1]; compare with SENSITIVITY_THRESHOLDS. High at an anomaly's onset. */
  score: number;
  /**
   * How anomalous the series is now: the highest score since its values left the normal band,
   * held while they stay outside it on the same side (else the sample's score). What anomaly
   * rules and the anomalies list judge: an anomaly lasts as long as the deviation.
   */
  level: number;
  /** Whether the sample is above ("up") or below ("down") what was expected; null when it is as expected. */
  direction: AnomalyDirection | null;
  /**
   * The value the model judged: the sample's value, or for a counter (a series that only
   * ever grows, bar resets) its rate per second since the previous sample.
   */
  observed: number;
  /** Whether the series is judged as a counter (observed, expected and the band are rates per second). */
  counter: boolean;
  /** The value the model expected at this instant, before seeing the sample; null while it knows nothing. */
  expected: number | null;
  /** The normal band at this instant (values inside it would score low); null while learning. */
  low: number | null;
  high: number | null;
  /** True while the detector is still learning the series (its scores are then damped towards 0). */
  learning: boolean;
}

/** The model's view of an instant without a sample: for the normal range on charts. */
export interface Expectation {
  expected: number;
  low: number;
  high: number;
}

export interface Detector {
  /** Scores a sample (oldest first; a sample not newer than the last scored one is ignored and scores 0). */
  score(timestampMs: number, value: number): number;
  /** Like score, with the direction, the expected value and the band. */
  judge(timestampMs: number, value: number): Judgement;
  /** The expected value and normal band at an instant, as the model stands; null while learning. */
  expectationAt(timestampMs: number): Expectation | null;
  /** The detector's whole state as plain JSON (small: at most a few KB); restoreDetector takes it back. */
  toJSON(): DetectorState;
}

/** Serialized detector state: opaque to callers, versioned so an old shape is replaced by a fresh detector. */
export interface DetectorState {
  v: number;
  [key: string]: unknown;
}

export type Sensitivity = "low" | "medium" | "high";

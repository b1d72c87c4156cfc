/**
 * Administrators' "expected" feedback and its effect on a series' judgements. An anomaly
 * (or an anomaly alert) marked expected becomes a pattern: its direction, the time of day it
 * happened (UTC minutes), optionally its weekday, and how far from normal it went. A later
 * judgement that matches the pattern (same direction, within the time-of-day window give or
 * take TIME_TOLERANCE_MINUTES, on the same weekday when one is set, and not much further from
 * normal: at most MAGNITUDE_TOLERANCE times the marked magnitude) has its score damped to
 * FEEDBACK_SCORE_CAP, below every sensitivity's threshold: it opens no anomaly and breaches no
 * anomaly rule. A larger move at that time, or the other direction, still counts.
 *
 * The marked anomaly was a whole episode, aftermath included: a spike is often followed by
 * a dip while the model settles back (scoring high the other way). So a matching judgement
 * opens an "expected episode": until the scores have been quiet for the episode's quiet
 * period (QUIET_SAMPLES and QUIET_MS, as for listed anomalies), high judgements the other
 * way are damped too. High judgements the same way still go through the patterns (a larger
 * move counts).
 */
import { LIST_THRESHOLD, QUIET_MS, QUIET_SAMPLES } from "./episodes";
import { SENSITIVITY_THRESHOLDS } from "./index";
import type { AnomalyDirection } from "./types";

export const MINUTES_PER_DAY = 1440;
/** A pattern matches this many minutes before and after its window. */
export const TIME_TOLERANCE_MINUTES = 30;
/** A judgement matches while its magnitude is at most this multiple of the marked one. */
export const MAGNITUDE_TOLERANCE = 1.5;
/** A matching judgement's score is capped here: half the lowest threshold of any sensitivity. */
export const FEEDBACK_SCORE_CAP = 0.5 * Math.min(...Object.values(SENSITIVITY_THRESHOLDS));
/** The expected value's magnitude floor when dividing by it (an expected value of 0 still gives a finite measure). */
const EXPECTED_FLOOR = 1e-6;

/** One "expected" mark as the detector's filter sees it. */
export interface FeedbackPattern {
  id: number;
  direction: AnomalyDirection;
  /** The marked window's first and last UTC minute of the day (0–1439); from > to wraps past midnight. */
  minuteFrom: number;
  minuteTo: number;
  /** UTC weekday (0 = Sunday) the pattern holds on; null: every day. */
  weekday: number | null;
  /** The marked anomaly's magnitude (see magnitudeOf); null: any magnitude. */
  magnitude: number | null;
}

/** What the detector judged one sample to be, with the sample's value. */
export interface JudgedSample {
  ts: number;
  observed: number;
  score: number;
  direction: AnomalyDirection | null;
  expected: number | null;
}

/** How far a value is from the expected one, relative to the expected value's size (0.5: half again or half of it). */
export function magnitudeOf(observed: number, expected: number): number {
  return Math.abs(observed - expected) / Math.max(Math.abs(expected), EXPECTED_FLOOR);
}

export const minuteOfDay = (ts: number): number => Math.floor((((ts % 86_400_000) + 86_400_000) % 86_400_000) / 60_000);
export const weekdayOf = (ts: number): number => new Date(ts).getUTCDay();

/** Whether a UTC minute of the day falls in [from, to] (wrapping past midnight) widened by the tolerance. */
export function inTimeWindow(minute: number, from: number, to: number, tolerance = TIME_TOLERANCE_MINUTES): boolean {
  const span = ((to - from + MINUTES_PER_DAY) % MINUTES_PER_DAY) + 2 * tolerance;
  if (span >= MINUTES_PER_DAY - 1) return true;
  const start = (((from - tolerance) % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  return (minute - start + MINUTES_PER_DAY) % MINUTES_PER_DAY <= span;
}

/** Whether a judgement matches a pattern (see the module comment). */
export function matchesPattern(pattern: FeedbackPattern, j: JudgedSample): boolean {
  if (j.direction !== pattern.direction) return false;
  if (!inTimeWindow(minuteOfDay(j.ts), pattern.minuteFrom, pattern.minuteTo)) return false;
  if (pattern.weekday !== null && weekdayOf(j.ts) !== pattern.weekday) return false;
  if (pattern.magnitude === null) return true;
  if (j.expected === null) return false;
  return magnitudeOf(j.observed, j.expected) <= MAGNITUDE_TOLERANCE * pattern.magnitude;
}

/**
 * The score after feedback: capped at FEEDBACK_SCORE_CAP when a pattern matches (with the
 * pattern's id), else unchanged.
 */
export function applyFeedback(
  patterns: readonly FeedbackPattern[],
  j: JudgedSample,
): { score: number; expectedBy: number | null } {
  if (j.score <= FEEDBACK_SCORE_CAP) return { score: j.score, expectedBy: null };
  for (const p of patterns) {
    if (matchesPattern(p, j)) return { score: FEEDBACK_SCORE_CAP, expectedBy: p.id };
  }
  return { score: j.score, expectedBy: null };
}

/** An expected episode under way (see the module comment); plain JSON, kept with the series' episodes. */
export interface ExpectedEpisode {
  direction: AnomalyDirection;
  patternId: number;
  lastHighAt: number;
  quietCount: number;
}

/**
 * The score after feedback, with the expected episode it leaves (null: none). A judgement
 * matching a pattern is damped and opens (or extends) the expected episode; while one is
 * under way, a high judgement the other way is damped as its aftermath.
 */
export function judgeWithFeedback(
  episode: ExpectedEpisode | null,
  patterns: readonly FeedbackPattern[],
  j: JudgedSample,
): { score: number; expectedBy: number | null; episode: ExpectedEpisode | null } {
  const high = j.score >= LIST_THRESHOLD && j.direction !== null;
  const matched = applyFeedback(patterns, j);
  if (matched.expectedBy !== null) {
    const next =
      high && j.direction !== null
        ? { direction: j.direction, patternId: matched.expectedBy, lastHighAt: j.ts, quietCount: 0 }
        : episode;
    return { ...matched, episode: next };
  }
  if (!episode) return { ...matched, episode: null };
  if (high) {
    if (j.direction !== episode.direction) {
      return {
        score: Math.min(j.score, FEEDBACK_SCORE_CAP),
        expectedBy: episode.patternId,
        episode: { ...episode, lastHighAt: j.ts, quietCount: 0 },
      };
    }
    // The same way and beyond the pattern: it counts, and the expected episode is over.
    return { ...matched, episode: null };
  }
  const quietCount = episode.quietCount + 1;
  const over = quietCount >= QUIET_SAMPLES && j.ts - episode.lastHighAt >= QUIET_MS;
  return { ...matched, episode: over ? null : { ...episode, quietCount } };
}

/** What an anomaly that is marked expected was: its window, direction and values at its peak. */
export interface MarkedAnomaly {
  startedAt: number;
  /** When it ended; null while ongoing (the window then ends at its peak, or at `now` when given). */
  endedAt: number | null;
  peakAt: number;
  direction: AnomalyDirection;
  observed: number;
  expected: number | null;
}

/**
 * The pattern an anomaly marked expected stands for: its UTC time-of-day window (at most a
 * whole day), on its weekday when `weekly`, with its magnitude at the peak (null when the
 * expected value was unknown: any magnitude at that time then matches).
 */
export function patternFor(a: MarkedAnomaly, weekly = false, now?: number): Omit<FeedbackPattern, "id"> {
  const end = a.endedAt ?? Math.max(a.peakAt, now ?? a.peakAt);
  const whole = end - a.startedAt >= 86_400_000 - 60_000;
  const minuteFrom = minuteOfDay(a.startedAt);
  return {
    direction: a.direction,
    minuteFrom,
    minuteTo: whole ? (minuteFrom + MINUTES_PER_DAY - 1) % MINUTES_PER_DAY : minuteOfDay(end),
    weekday: weekly ? weekdayOf(a.startedAt) : null,
    magnitude: a.expected === null ? null : magnitudeOf(a.observed, a.expected),
  };
}

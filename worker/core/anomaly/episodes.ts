/**
 * Anomaly episodes of one series, from its stream of (post-feedback) judgements: what the
 * anomalies list shows. An episode starts at the first sample scoring at least
 * LIST_THRESHOLD (the medium sensitivity's threshold) and tracks its peak: the highest
 * score, when, which way, and the observed and expected values there. It ends once the
 * scores have stayed below the threshold for QUIET_SAMPLES samples AND QUIET_MS (both: a
 * series sampled every second needs five minutes, one sampled every ten minutes five
 * samples), and its end is the first quiet sample (when the series was back to normal).
 * A sample scoring high again before that keeps the same episode going.
 *
 * The state is plain JSON, stored next to the series' detector state.
 */
import { SENSITIVITY_THRESHOLDS } from "./index";
import type { ExpectedEpisode } from "./feedback";
import type { AnomalyDirection } from "./types";

export const LIST_THRESHOLD = SENSITIVITY_THRESHOLDS.medium;
export const QUIET_SAMPLES = 5;
export const QUIET_MS = 5 * 60_000;
/** A growing peak is written out at most this often (by sample time) while the episode lasts. */
export const PEAK_WRITE_MS = 60_000;

export interface Episode {
  startedAt: number;
  /** The first quiet sample of the quiet period that ended it; null while ongoing. */
  endedAt: number | null;
  peakScore: number;
  peakAt: number;
  direction: AnomalyDirection;
  observed: number;
  expected: number | null;
}

export interface OpenEpisode extends Episode {
  endedAt: null;
  /** The last sample at or above the threshold. */
  lastHighAt: number;
  /** Samples below the threshold since then, and the first of them. */
  quietCount: number;
  quietSince: number | null;
  /** The peak score last written out, and the sample time of that write. */
  writtenPeak: number;
  writtenAt: number;
}

export interface EpisodeState {
  open: OpenEpisode | null;
  /** An episode administrators marked expected, under way (core/anomaly/feedback.ts); absent: none. */
  expected?: ExpectedEpisode | null;
}

export const initialEpisodes = (): EpisodeState => ({ open: null, expected: null });

/** A state read back from storage; anything else starts afresh. */
export function restoreEpisodes(raw: unknown): EpisodeState {
  const s = raw as EpisodeState | null;
  if (s && typeof s === "object" && (s.open === null || (typeof s.open === "object" && "startedAt" in s.open))) {
    return { open: s.open, expected: s.expected ?? null };
  }
  return initialEpisodes();
}

/** One judged sample, after feedback. */
export interface ScoredSample {
  ts: number;
  observed: number;
  score: number;
  direction: AnomalyDirection | null;
  expected: number | null;
}

/** What a sample did to the list: an episode started, its peak grew (written, throttled), or it ended. */
export type EpisodeEvent =
  | { kind: "start"; episode: Episode }
  | { kind: "update"; episode: Episode }
  | { kind: "end"; episode: Episode };

const publicPart = (o: OpenEpisode, endedAt: number | null = null): Episode => ({
  startedAt: o.startedAt,
  endedAt,
  peakScore: o.peakScore,
  peakAt: o.peakAt,
  direction: o.direction,
  observed: o.observed,
  expected: o.expected,
});

/** Steps the episode state by one sample (oldest first); returns the event it caused, if any. Mutates `state`. */
export function stepEpisodes(state: EpisodeState, s: ScoredSample): EpisodeEvent | null {
  const high = s.score >= LIST_THRESHOLD && s.direction !== null;
  const open = state.open;
  if (!open) {
    if (!high || s.direction === null) return null;
    state.open = {
      startedAt: s.ts,
      endedAt: null,
      peakScore: s.score,
      peakAt: s.ts,
      direction: s.direction,
      observed: s.observed,
      expected: s.expected,
      lastHighAt: s.ts,
      quietCount: 0,
      quietSince: null,
      writtenPeak: s.score,
      writtenAt: s.ts,
    };
    return { kind: "start", episode: publicPart(state.open) };
  }
  if (high && s.direction !== null) {
    open.lastHighAt = s.ts;
    open.quietCount = 0;
    open.quietSince = null;
    if (s.score > open.peakScore) {
      open.peakScore = s.score;
      open.peakAt = s.ts;
      open.direction = s.direction;
      open.observed = s.observed;
      open.expected = s.expected;
    }
    if (open.peakScore > open.writtenPeak && s.ts - open.writtenAt >= PEAK_WRITE_MS) {
      open.writtenPeak = open.peakScore;
      open.writtenAt = s.ts;
      return { kind: "update", episode: publicPart(open) };
    }
    return null;
  }
  open.quietCount += 1;
  open.quietSince ??= s.ts;
  if (open.quietCount >= QUIET_SAMPLES && s.ts - open.lastHighAt >= QUIET_MS) {
    state.open = null;
    return { kind: "end", episode: publicPart(open, open.quietSince) };
  }
  return null;
}

/** The current episode as the list shows it (unwritten peak growth included), or null. */
export function currentEpisode(state: EpisodeState): Episode | null {
  return state.open ? publicPart(state.open) : null;
}

// ---------------------------------------------------------------- summaries

/** A ratio to the usual level is shown ("3.1× its usual level") when it is at least this far from 1 either way. */
export const RATIO_UP = 1.5;
export const RATIO_DOWN = 0.67;

/** Percent-like metrics, whose differences read in points. */
const PERCENT_LIKE = /(_rate|_ratio|_pct|_percent|availability|utilization)$/;

/** The unit a metric's difference from normal is stated in, from its name's suffix. */
export function differenceUnit(metric: string): string {
  if (PERCENT_LIKE.test(metric)) return " points";
  if (metric.endsWith("_ms")) return " ms";
  if (metric.endsWith("_seconds")) return " s";
  if (metric.endsWith("_bytes")) return " bytes";
  return "";
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

function round(x: number): string {
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 1 : 2;
  return String(Number(x.toFixed(digits)));
}

/**
 * One line for an anomaly, times in UTC HH:MM: how far from normal it went at its peak,
 * then when. A ratio ("3.1× its usual level") when the expected value is positive and the
 * peak at least RATIO_UP times it or at most RATIO_DOWN times it; otherwise the difference
 * in the metric's units ("2.1 points below normal"; points for percent-like metrics).
 * Ongoing: "… at 14:30 (ongoing)"; ended: "…, 13:05–13:40, resolved".
 */
export function summarize(metric: string, e: Episode): string {
  const { observed, expected, direction } = e;
  let how: string;
  if (expected === null) {
    how = direction === "up" ? "unusually high" : "unusually low";
  } else {
    const ratio = expected > 0 && observed >= 0 ? observed / expected : null;
    if (ratio !== null && (ratio >= RATIO_UP || ratio <= RATIO_DOWN)) {
      how = `${round(ratio)}× its usual level`;
    } else {
      const side = observed >= expected ? "above" : "below";
      how = `${round(Math.abs(observed - expected))}${differenceUnit(metric)} ${side} normal`;
    }
  }
  return e.endedAt === null
    ? `${metric} ${how} at ${hhmm(e.startedAt)} (ongoing)`
    : `${metric} ${how}, ${hhmm(e.startedAt)}–${hhmm(e.endedAt)}, resolved`;
}

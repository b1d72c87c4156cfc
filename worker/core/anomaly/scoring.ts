/**
 * Scoring a series' new samples as the series store does it: the series' detector judges
 * each sample newer than the last one it judged, in timestamp order (a late sample, older
 * than that, is stored but not scored: the detector only moves forward); administrators'
 * feedback damps judgements matching an "expected" pattern (and their aftermath); the post-feedback judgements
 * drive the series' anomaly episodes. The newest judgement is what anomaly rules read.
 */
import { type EpisodeEvent, type EpisodeState, stepEpisodes } from "./episodes";
import { type FeedbackPattern, judgeWithFeedback } from "./feedback";
import type { AnomalyDirection, Detector } from "./types";

/** The post-feedback judgement of one sample (the shape of a rule window's `anomaly`). */
export interface LatestJudgement {
  ts: number;
  score: number;
  direction: AnomalyDirection | null;
  expected: number | null;
}

/** A series' scoring state: its detector, its episodes, and the newest sample judged. */
export interface SeriesScorer {
  detector: Detector;
  episodes: EpisodeState;
  lastTs: number | null;
  latest: LatestJudgement | null;
}

/**
 * Judges `samples` (any order) in timestamp order, skipping those not newer than the last
 * judged; mutates `scorer` and returns the episode events, oldest first, and how many
 * samples were scored.
 */
export function scoreSamples(
  scorer: SeriesScorer,
  samples: readonly { ts: number; value: number }[],
  patterns: readonly FeedbackPattern[],
): { events: EpisodeEvent[]; scored: number } {
  const events: EpisodeEvent[] = [];
  let scored = 0;
  const ordered = [...samples].sort((a, b) => a.ts - b.ts);
  for (const { ts, value } of ordered) {
    if (scorer.lastTs !== null && ts <= scorer.lastTs) continue;
    if (!Number.isFinite(value)) continue;
    const j = scorer.detector.judge(ts, value);
    // Episodes and rules judge the detector's level (the anomaly's score, held while it lasts);
    // a counter's observed and expected values are rates.
    const judged = { ts, observed: j.observed, score: j.level, direction: j.direction, expected: j.expected };
    let score = j.level;
    if (patterns.length || scorer.episodes.expected) {
      const after = judgeWithFeedback(scorer.episodes.expected ?? null, patterns, judged);
      score = after.score;
      scorer.episodes.expected = after.episode;
    }
    scorer.lastTs = ts;
    scorer.latest = { ts, score, direction: j.direction, expected: j.expected };
    scored += 1;
    const event = stepEpisodes(scorer.episodes, { ...judged, score });
    if (event) events.push(event);
  }
  return { events, scored };
}

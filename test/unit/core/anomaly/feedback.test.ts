import { describe, expect, it } from "vitest";
import { SENSITIVITY_THRESHOLDS } from "../../../../worker/core/anomaly";
import {
  applyFeedback,
  FEEDBACK_SCORE_CAP,
  type FeedbackPattern,
  inTimeWindow,
  judgeWithFeedback,
  type JudgedSample,
  magnitudeOf,
  matchesPattern,
  patternFor,
} from "../../../../worker/core/anomaly/feedback";

const DAY = 86_400_000;
/** Thursday 26 Nov 2026, 02:00 UTC. */
const NIGHT = Date.UTC(2026, 10, 26, 2, 0);

// A nightly batch pushing a metric to 5× its level from 02:00 to 02:20.
const marked = patternFor({
  startedAt: NIGHT,
  endedAt: NIGHT + 20 * 60_000,
  peakAt: NIGHT + 5 * 60_000,
  direction: "up",
  observed: 50,
  expected: 10,
});
const pattern: FeedbackPattern = { id: 7, ...marked };

const judged = (over: Partial<JudgedSample> = {}): JudgedSample => ({
  ts: NIGHT + DAY + 10 * 60_000,
  observed: 50,
  expected: 10,
  score: 0.99,
  direction: "up",
  ...over,
});

describe("feedback patterns", () => {
  it("come from the marked anomaly's window, direction and magnitude", () => {
    expect(marked).toEqual({ direction: "up", minuteFrom: 120, minuteTo: 140, weekday: null, magnitude: 4 });
    expect(
      patternFor({ ...pattern, startedAt: NIGHT, endedAt: null, peakAt: NIGHT, observed: 50, expected: 10 }, true),
    ).toMatchObject({ weekday: 4 });
  });

  it("cap the damped score below every sensitivity's threshold", () => {
    for (const t of Object.values(SENSITIVITY_THRESHOLDS)) expect(FEEDBACK_SCORE_CAP).toBeLessThan(t);
  });
});

describe("feedback matching", () => {
  it("matches the same pattern the next day: the score is damped", () => {
    expect(matchesPattern(pattern, judged())).toBe(true);
    expect(applyFeedback([pattern], judged())).toEqual({ score: FEEDBACK_SCORE_CAP, expectedBy: 7 });
  });

  it("does not match the other direction", () => {
    const j = judged({ direction: "down", observed: 2 });
    expect(matchesPattern(pattern, j)).toBe(false);
    expect(applyFeedback([pattern], j).score).toBe(0.99);
  });

  it("matches within the window ± 30 minutes, not at another time of day", () => {
    expect(matchesPattern(pattern, judged({ ts: NIGHT + DAY - 29 * 60_000 }))).toBe(true);
    expect(matchesPattern(pattern, judged({ ts: NIGHT + DAY + 50 * 60_000 }))).toBe(true);
    expect(matchesPattern(pattern, judged({ ts: NIGHT + DAY - 31 * 60_000 }))).toBe(false);
    expect(matchesPattern(pattern, judged({ ts: NIGHT + DAY + 51 * 60_000 }))).toBe(false);
    expect(matchesPattern(pattern, judged({ ts: NIGHT + DAY + 12 * 3_600_000 }))).toBe(false);
  });

  it("does not match a much larger move at the same time", () => {
    // Marked: 4× above expected (magnitude 4); 1.5× that is 6, i.e. up to 70 on an expected 10.
    expect(matchesPattern(pattern, judged({ observed: 70 }))).toBe(true);
    expect(matchesPattern(pattern, judged({ observed: 71 }))).toBe(false);
    expect(applyFeedback([pattern], judged({ observed: 200 })).expectedBy).toBeNull();
  });

  it("holds on its weekday only when it has one", () => {
    const weekly: FeedbackPattern = { ...pattern, weekday: 4 };
    expect(matchesPattern(weekly, judged({ ts: NIGHT + 7 * DAY }))).toBe(true);
    expect(matchesPattern(weekly, judged({ ts: NIGHT + DAY }))).toBe(false);
    expect(matchesPattern(pattern, judged({ ts: NIGHT + 3 * DAY }))).toBe(true);
  });

  it("needs an expected value to compare magnitudes, unless the pattern has none", () => {
    expect(matchesPattern(pattern, judged({ expected: null }))).toBe(false);
    expect(matchesPattern({ ...pattern, magnitude: null }, judged({ expected: null }))).toBe(true);
  });

  it("leaves low scores alone", () => {
    expect(applyFeedback([pattern], judged({ score: 0.1 }))).toEqual({ score: 0.1, expectedBy: null });
  });

  it("handles windows across midnight", () => {
    expect(inTimeWindow(10, 1430, 20)).toBe(true);
    expect(inTimeWindow(1400, 1430, 20)).toBe(true);
    expect(inTimeWindow(60, 1430, 20)).toBe(false);
    expect(inTimeWindow(700, 0, 1439)).toBe(true);
  });

  it("measures magnitude relative to the expected value", () => {
    expect(magnitudeOf(30, 10)).toBe(2);
    expect(magnitudeOf(5, 10)).toBe(0.5);
    expect(Number.isFinite(magnitudeOf(1, 0))).toBe(true);
  });
});

describe("expected episodes", () => {
  const at = NIGHT + DAY + 5 * 60_000;

  it("damp the aftermath the other way until the scores have been quiet", () => {
    const spike = judgeWithFeedback(null, [pattern], judged({ ts: at }));
    expect(spike.score).toBe(FEEDBACK_SCORE_CAP);
    expect(spike.episode).toMatchObject({ direction: "up", patternId: 7, lastHighAt: at });
    // The model settling back: high scores downwards, damped as part of the marked episode.
    const dip = judgeWithFeedback(
      spike.episode,
      [pattern],
      judged({ ts: at + 60_000, direction: "down", observed: 60 }),
    );
    expect(dip).toMatchObject({ score: FEEDBACK_SCORE_CAP, expectedBy: 7 });
    let episode = dip.episode;
    for (let i = 2; i < 7; i++) {
      episode = judgeWithFeedback(episode, [pattern], judged({ ts: at + i * 60_000, score: 0.1 })).episode;
    }
    expect(episode).toBeNull();
    // Over: the next dip counts.
    expect(judgeWithFeedback(episode, [pattern], judged({ ts: at + 8 * 60_000, direction: "down" })).score).toBe(0.99);
  });

  it("let a larger move the same way count", () => {
    const spike = judgeWithFeedback(null, [pattern], judged({ ts: at }));
    const larger = judgeWithFeedback(spike.episode, [pattern], judged({ ts: at + 60_000, observed: 500 }));
    expect(larger).toEqual({ score: 0.99, expectedBy: null, episode: null });
  });

  it("do not start without a match", () => {
    expect(judgeWithFeedback(null, [pattern], judged({ direction: "down", observed: 1 }))).toEqual({
      score: 0.99,
      expectedBy: null,
      episode: null,
    });
  });
});

import { describe, expect, it } from "vitest";
import { createDetector, restoreDetector } from "../../../../worker/core/anomaly";
import { initialEpisodes, restoreEpisodes } from "../../../../worker/core/anomaly/episodes";
import { FEEDBACK_SCORE_CAP, patternFor } from "../../../../worker/core/anomaly/feedback";
import { scoreSamples, type SeriesScorer } from "../../../../worker/core/anomaly/scoring";
import { mulberry32 } from "../../../../worker/core/random";

const T0 = Date.UTC(2026, 10, 26, 0, 0);
const MIN = 60_000;

/** A flat-ish noisy series (level 100) for `n` minutes. */
function steady(n: number, seed = 1, from = T0) {
  const random = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({ ts: from + i * MIN, value: 100 + (random() - 0.5) * 4 }));
}

const fresh = (): SeriesScorer => ({
  detector: createDetector(),
  episodes: initialEpisodes(),
  lastTs: null,
  latest: null,
});

describe("scoring a series' samples", () => {
  it("judges samples in timestamp order and skips late ones", () => {
    const scorer = fresh();
    const samples = steady(30);
    const shuffled = samples.map((_, i) => samples[samples.length - 1 - i]!);
    expect(scoreSamples(scorer, shuffled, []).scored).toBe(30);
    expect(scorer.lastTs).toBe(samples.at(-1)?.ts);
    // A sample older than the last judged is not scored.
    expect(scoreSamples(scorer, [{ ts: T0 + 5 * MIN + 1, value: 5000 }], []).scored).toBe(0);
    expect(scorer.latest?.ts).toBe(samples.at(-1)?.ts);
  });

  it("opens an episode on a 50× spike after hours of a steady series", () => {
    const scorer = fresh();
    scoreSamples(scorer, steady(240), []);
    const { events } = scoreSamples(scorer, [{ ts: T0 + 240 * MIN, value: 5000 }], []);
    expect(events.map((e) => e.kind)).toEqual(["start"]);
    expect(events[0]?.episode.direction).toBe("up");
  });

  it("gives the same judgements after a round trip through JSON", () => {
    const a = fresh();
    scoreSamples(a, steady(200), []);
    const b: SeriesScorer = {
      detector: restoreDetector(JSON.parse(JSON.stringify(a.detector.toJSON()))),
      episodes: restoreEpisodes(JSON.parse(JSON.stringify(a.episodes))),
      lastTs: a.lastTs,
      latest: a.latest,
    };
    const next = [...steady(20, 2, T0 + 200 * MIN), { ts: T0 + 220 * MIN, value: 5000 }];
    const judged = (s: SeriesScorer) =>
      next.map((x) => {
        scoreSamples(s, [x], []);
        return s.latest;
      });
    expect(judged(b)).toEqual(judged(a));
  });

  it("damps a spike that matches an expected pattern", () => {
    const scorer = fresh();
    scoreSamples(scorer, steady(240), []);
    const at = T0 + 240 * MIN;
    const pattern = {
      id: 1,
      ...patternFor({
        startedAt: at,
        endedAt: at + 5 * MIN,
        peakAt: at,
        direction: "up",
        observed: 5000,
        expected: 100,
      }),
    };
    const { events } = scoreSamples(scorer, [{ ts: at, value: 5000 }], [pattern]);
    expect(events).toEqual([]);
    expect(scorer.latest?.score).toBe(FEEDBACK_SCORE_CAP);
  });
});

import { describe, expect, it } from "vitest";
import {
  type EpisodeEvent,
  initialEpisodes,
  LIST_THRESHOLD,
  PEAK_WRITE_MS,
  QUIET_MS,
  QUIET_SAMPLES,
  restoreEpisodes,
  type ScoredSample,
  stepEpisodes,
  summarize,
} from "../../../../worker/core/anomaly/episodes";

const T0 = Date.UTC(2026, 10, 26, 14, 30);
const MIN = 60_000;

/** A score a share k (0..1) of the way from the list threshold to 1 (the thresholds are the detector's to tune). */
const above = (k: number) => LIST_THRESHOLD + (1 - LIST_THRESHOLD) * k;
const low = (ts: number): ScoredSample => ({ ts, observed: 10, score: 0.1, direction: "up", expected: 10 });
const high = (ts: number, score = above(0.5), observed = 50): ScoredSample => ({
  ts,
  observed,
  score,
  direction: "up",
  expected: 10,
});

function run(samples: ScoredSample[], state = initialEpisodes()): EpisodeEvent[] {
  return samples.flatMap((s) => {
    const e = stepEpisodes(state, s);
    return e ? [e] : [];
  });
}

describe("anomaly episodes", () => {
  it("starts at the first sample at the list threshold, not below it", () => {
    const state = initialEpisodes();
    expect(run([low(T0), { ...low(T0 + MIN), score: LIST_THRESHOLD - 0.01 }], state)).toEqual([]);
    const [start] = run([{ ...high(T0 + 2 * MIN), score: LIST_THRESHOLD }], state);
    expect(start?.kind).toBe("start");
    expect(start?.episode).toMatchObject({ startedAt: T0 + 2 * MIN, endedAt: null, direction: "up", observed: 50 });
  });

  it("needs a direction to start", () => {
    expect(run([{ ...high(T0), direction: null }])).toEqual([]);
  });

  it("tracks the peak: score, time, direction, observed and expected there", () => {
    const state = initialEpisodes();
    run([high(T0, above(0.1), 30), high(T0 + MIN, above(0.9), 80), high(T0 + 2 * MIN, above(0.3), 60)], state);
    expect(state.open).toMatchObject({ peakScore: above(0.9), peakAt: T0 + MIN, observed: 80, expected: 10 });
  });

  it("writes a growing peak at most every PEAK_WRITE_MS", () => {
    const events = run([
      high(T0, above(0.1)),
      high(T0 + 10_000, above(0.2)),
      high(T0 + PEAK_WRITE_MS, above(0.5)),
      high(T0 + PEAK_WRITE_MS + 10_000, above(0.7)),
    ]);
    expect(events.map((e) => e.kind)).toEqual(["start", "update"]);
    expect(events[1]?.episode.peakScore).toBe(above(0.5));
  });

  it("ends after QUIET_SAMPLES quiet samples AND QUIET_MS, at the first quiet sample", () => {
    const state = initialEpisodes();
    run([high(T0)], state);
    // Five quiet samples within a minute: not yet (too soon).
    const fast = Array.from({ length: QUIET_SAMPLES }, (_, i) => low(T0 + (i + 1) * 10_000));
    expect(run(fast, state)).toEqual([]);
    // Past QUIET_MS: it ends, its end the first quiet sample.
    const [end] = run([low(T0 + QUIET_MS)], state);
    expect(end?.kind).toBe("end");
    expect(end?.episode.endedAt).toBe(T0 + 10_000);
    expect(state.open).toBeNull();
  });

  it("does not end on time alone: sparse series need QUIET_SAMPLES samples", () => {
    const state = initialEpisodes();
    run([high(T0)], state);
    const sparse = Array.from({ length: QUIET_SAMPLES - 1 }, (_, i) => low(T0 + (i + 1) * 10 * MIN));
    expect(run(sparse, state)).toEqual([]);
    expect(run([low(T0 + QUIET_SAMPLES * 10 * MIN)], state).map((e) => e.kind)).toEqual(["end"]);
  });

  it("a high sample during the quiet period keeps the same episode", () => {
    const state = initialEpisodes();
    const events = run(
      [high(T0), low(T0 + MIN), low(T0 + 2 * MIN), high(T0 + 3 * MIN, above(0.1)), low(T0 + 4 * MIN)],
      state,
    );
    expect(events.map((e) => e.kind)).toEqual(["start"]);
    expect(state.open?.startedAt).toBe(T0);
    expect(state.open?.quietSince).toBe(T0 + 4 * MIN);
  });

  it("round-trips through JSON", () => {
    const state = initialEpisodes();
    run([high(T0), low(T0 + MIN)], state);
    const back = restoreEpisodes(JSON.parse(JSON.stringify(state)));
    expect(back).toEqual(state);
    expect(restoreEpisodes("garbage")).toEqual(initialEpisodes());
  });
});

describe("anomaly summaries", () => {
  const ep = (over: Partial<Parameters<typeof summarize>[1]>) => ({
    startedAt: T0,
    endedAt: null,
    peakScore: 0.95,
    peakAt: T0,
    direction: "up" as const,
    observed: 31,
    expected: 10,
    ...over,
  });

  it("reads a large move on a positive level as a ratio, ongoing at its start", () => {
    expect(summarize("db_pool_in_use", ep({}))).toBe("db_pool_in_use 3.1× its usual level at 14:30 (ongoing)");
  });

  it("reads a small move on a percentage in points, resolved with its window", () => {
    const text = summarize(
      "payment_success_rate",
      ep({
        startedAt: Date.UTC(2026, 10, 26, 13, 5),
        endedAt: Date.UTC(2026, 10, 26, 13, 40),
        direction: "down",
        observed: 96.9,
        expected: 99,
      }),
    );
    expect(text).toBe("payment_success_rate 2.1 points below normal, 13:05–13:40, resolved");
  });

  it("uses the metric's unit for differences and the ratio for large drops", () => {
    expect(summarize("db_query_ms", ep({ observed: 130, expected: 100 }))).toBe(
      "db_query_ms 30 ms above normal at 14:30 (ongoing)",
    );
    expect(summarize("http_requests_total", ep({ direction: "down", observed: 2.5, expected: 10 }))).toBe(
      "http_requests_total 0.25× its usual level at 14:30 (ongoing)",
    );
    expect(summarize("temperature", ep({ direction: "down", observed: -5, expected: 0 }))).toBe(
      "temperature 5 below normal at 14:30 (ongoing)",
    );
    expect(summarize("x", ep({ expected: null }))).toBe("x unusually high at 14:30 (ongoing)");
  });
});

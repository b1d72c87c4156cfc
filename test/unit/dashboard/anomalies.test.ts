import { describe, expect, it } from "vitest";
import {
  type Anomaly,
  anomaliesShown,
  anomalyServices,
  anomalySpans,
  parseAnomaly,
  patternText,
  upsertAnomalies,
} from "../../../dashboard/src/lib/anomalies";
import { parseFrame } from "../../../dashboard/src/lib/live";

const NOW = Date.UTC(2026, 11, 4, 12, 0, 0);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const anomaly = (id: number, startedAgoH: number, endedAgoH: number | null, over: Partial<Anomaly> = {}): Anomaly => ({
  id,
  series_key: `db_pool_in_use|database|{}`,
  metric: "db_pool_in_use",
  service: "database",
  labels: {},
  started_at: iso(NOW - startedAgoH * HOUR),
  ended_at: endedAgoH === null ? null : iso(NOW - endedAgoH * HOUR),
  peak_score: 0.97,
  peak_at: iso(NOW - startedAgoH * HOUR),
  direction: "up",
  observed: 31,
  expected: 10,
  summary: "db_pool_in_use 3.1× its usual level",
  feedback: null,
  ...over,
});

describe("anomaly list shaping", () => {
  it("puts socket updates in by id, newest first", () => {
    const list = [anomaly(1, 5, 4), anomaly(2, 2, null)];
    const ended = anomaly(2, 2, 1);
    const merged = upsertAnomalies(list, [ended, anomaly(3, 0.5, null)]);
    expect(merged.map((a) => a.id)).toEqual([3, 2, 1]);
    expect(merged.find((a) => a.id === 2)?.ended_at).toBe(ended.ended_at);
  });

  it("keeps the anomalies overlapping the period, of a service when asked", () => {
    const list = [anomaly(1, 30, 26), anomaly(2, 30, 20), anomaly(3, 1, null, { service: "api", metric: "x" })];
    expect(anomaliesShown(list, "24h", NOW, null).map((a) => a.id)).toEqual([2, 3]);
    expect(anomaliesShown(list, "24h", NOW, "api").map((a) => a.id)).toEqual([3]);
    expect(anomalyServices(list)).toEqual(["api", "database"]);
  });

  it("spans the anomalies of a chart's inputs, an ongoing one up to now", () => {
    const list = [
      anomaly(1, 5, 4),
      anomaly(2, 1, null, { feedback: { id: 9, note: "backup", created_by: "a", created_at: iso(NOW) } }),
      anomaly(3, 1, null, { metric: "other" }),
    ];
    const spans = anomalySpans(list, [{ metric: "db_pool_in_use", service: "database" }], NOW);
    expect(spans).toEqual([
      {
        from: (NOW - 5 * HOUR) / 1000,
        to: (NOW - 4 * HOUR) / 1000,
        label: list[0]?.summary,
        ongoing: false,
        expected: false,
      },
      { from: (NOW - HOUR) / 1000, to: NOW / 1000, label: list[1]?.summary, ongoing: true, expected: true },
    ]);
  });

  it("says a pattern in words", () => {
    expect(patternText({ direction: "up", minute_of_day_from: 840, minute_of_day_to: 900, weekday: null })).toBe(
      "rises, every day 14:00\u201315:00 UTC",
    );
    expect(patternText({ direction: "down", minute_of_day_from: 180, minute_of_day_to: 210, weekday: 6 })).toBe(
      "drops, Saturdays 03:00\u201303:30 UTC",
    );
  });
});

describe("anomaly socket frames", () => {
  it("parses an anomaly message, and refuses a malformed one", () => {
    const a = anomaly(7, 1, null);
    expect(parseFrame(JSON.stringify({ type: "anomaly", anomaly: a }))).toEqual({ kind: "anomaly", anomaly: a });
    expect(parseAnomaly({ id: 1 })).toBeNull();
    expect(parseFrame(JSON.stringify({ type: "anomaly", anomaly: { id: 1 } })).kind).toBe("invalid");
  });
});

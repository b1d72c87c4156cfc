import { describe, expect, it } from "vitest";
import { toAnomalyWire, toFeedbackWire } from "../../../../worker/core/anomaly/wire";

const T = Date.UTC(2026, 10, 26, 14, 30);

const row = {
  id: 3,
  series_key: "db_pool_in_use|database|{}",
  metric: "db_pool_in_use",
  service: "database",
  labels: '{"pool":"main"}',
  started_at: T,
  ended_at: null,
  peak_score: 0.97,
  peak_at: T + 60_000,
  direction: "up" as const,
  observed: 31,
  expected: 10,
};

describe("anomaly wire shapes", () => {
  it("an ongoing anomaly: ISO times, parsed labels, its summary, no feedback", () => {
    expect(toAnomalyWire(row)).toEqual({
      id: 3,
      series_key: row.series_key,
      metric: "db_pool_in_use",
      service: "database",
      labels: { pool: "main" },
      started_at: "2026-11-26T14:30:00.000Z",
      ended_at: null,
      peak_score: 0.97,
      peak_at: "2026-11-26T14:31:00.000Z",
      direction: "up",
      observed: 31,
      expected: 10,
      summary: "db_pool_in_use 3.1× its usual level at 14:30 (ongoing)",
      feedback: null,
    });
  });

  it("an ended anomaly with its feedback", () => {
    const wire = toAnomalyWire(
      { ...row, ended_at: T + 35 * 60_000 },
      { id: 9, note: "Batch", created_by: 2, created_at: T + 3_600_000 },
    );
    expect(wire.ended_at).toBe("2026-11-26T15:05:00.000Z");
    expect(wire.summary).toBe("db_pool_in_use 3.1× its usual level, 14:30–15:05, resolved");
    expect(wire.feedback).toEqual({ id: 9, note: "Batch", created_by: 2, created_at: "2026-11-26T15:30:00.000Z" });
  });

  it("feedback rows", () => {
    expect(
      toFeedbackWire({
        id: 1,
        series_key: "k",
        metric: "m",
        service: "s",
        labels: "not json",
        direction: "down",
        minute_of_day_from: 1430,
        minute_of_day_to: 10,
        weekday: null,
        magnitude: 0.5,
        note: "n",
        created_by: null,
        created_at: T,
        anomaly_id: null,
        alert_id: 4,
      }),
    ).toMatchObject({ labels: {}, created_at: "2026-11-26T14:30:00.000Z", minute_of_day_to: 10, alert_id: 4 });
  });
});

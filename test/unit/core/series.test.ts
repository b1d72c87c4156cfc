import { describe, expect, it } from "vitest";
import { SAMPLE_ROW_COLUMNS, sampleRow, seriesKey } from "../../../worker/core/series";

describe("sampleRow", () => {
  it("gives a sample's columns in SAMPLE_ROW_COLUMNS order, labels as JSON and no message as null", () => {
    const sample = {
      metric: "api_response_ms",
      service: "shop",
      labels: { route: "/pay", method: "POST" },
      value: 12.5,
      ts: 1_000,
    };
    expect(SAMPLE_ROW_COLUMNS.split(", ")).toEqual([
      "series_key",
      "metric",
      "service",
      "labels",
      "value",
      "ts",
      "message",
    ]);
    expect(sampleRow(sample)).toEqual([
      seriesKey("api_response_ms", "shop", { method: "POST", route: "/pay" }),
      "api_response_ms",
      "shop",
      '{"route":"/pay","method":"POST"}',
      12.5,
      1_000,
      null,
    ]);
    expect(sampleRow({ ...sample, message: "status 503" })[6]).toBe("status 503");
  });
});

import { describe, expect, it } from "vitest";
import { type ParseResult, parseExposition } from "../../../../worker/core/prometheus/parse";
import { expositionToSamples, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from "../../../../worker/core/prometheus/to-samples";
import { seriesKey } from "../../../../worker/core/series";
import { fixture, sampleLines } from "./fixtures";

const now = 1_700_000_000_000;

describe("expositionToSamples", () => {
  it("maps name, service, labels and timestamp; extra labels win a clash", () => {
    const parsed = parseExposition('m{a="1",monitor="spoofed"} 2.5 1699999999000\nn 3');
    const { samples, dropped } = expositionToSamples(parsed, { service: "shop", now, extraLabels: { monitor: "7" } });
    expect(dropped).toEqual([]);
    expect(samples).toEqual([
      { metric: "m", service: "shop", labels: { a: "1", monitor: "7" }, value: 2.5, ts: 1_699_999_999_000 },
      { metric: "n", service: "shop", labels: { monitor: "7" }, value: 3, ts: now },
    ]);
  });

  it('drops NaN and ±Inf values but keeps the le="+Inf" bucket', () => {
    const parsed = parseExposition('a NaN\nb +Inf\nc -Inf\nh_bucket{le="+Inf"} 4');
    const { samples, dropped } = expositionToSamples(parsed, { service: "s", now });
    expect(samples.map((s) => [s.metric, s.labels, s.value])).toEqual([["h_bucket", { le: "+Inf" }, 4]]);
    expect(dropped).toEqual([
      { name: "a", reason: "value is NaN" },
      { name: "b", reason: "value is +Inf" },
      { name: "c", reason: "value is -Inf" },
    ]);
  });

  it("drops samples whose labels the series store would refuse", () => {
    const many = Array.from({ length: MAX_LABELS + 1 }, (_, i) => `l${i}="v"`).join(",");
    const parsed = parseExposition(
      `wide{${many}} 1\nlong{a="${"x".repeat(MAX_LABEL_VALUE_LENGTH + 1)}"} 1\nfine{a="${"x".repeat(MAX_LABEL_VALUE_LENGTH)}"} 1`,
    );
    const { samples, dropped } = expositionToSamples(parsed, { service: "s", now });
    expect(samples.map((s) => s.metric)).toEqual(["fine"]);
    expect(dropped).toEqual([
      { name: "wide", reason: `more than ${MAX_LABELS} labels` },
      { name: "long", reason: `label a is longer than ${MAX_LABEL_VALUE_LENGTH} characters` },
    ]);
    // Extra labels count too, and must themselves be valid.
    const bad = expositionToSamples(parseExposition("m 1"), { service: "s", now, extraLabels: { "bad-name": "x" } });
    expect(bad).toEqual({ samples: [], dropped: [{ name: "m", reason: 'invalid label name "bad-name"' }] });
  });

  it("drops what a hand-made result gets wrong: metric names, timestamps", () => {
    const result: ParseResult = {
      format: "prometheus",
      errors: [],
      samples: [
        { name: "9lives", labels: {}, value: 1, timestampMs: null, type: "gauge" },
        { name: "x".repeat(201), labels: {}, value: 1, timestampMs: null, type: "gauge" },
        { name: "ok", labels: {}, value: 1, timestampMs: Number.POSITIVE_INFINITY, type: "gauge" },
      ],
    };
    expect(expositionToSamples(result, { service: "s", now }).dropped.map((d) => d.reason)).toEqual([
      "invalid metric name",
      "metric name is longer than 200 characters",
      "timestamp is not finite",
    ]);
  });

  it("converts a whole Go exposition, dropping only the NaN quantiles, into distinct series", () => {
    const text = fixture("go-client.prom");
    const { samples, dropped } = expositionToSamples(parseExposition(text), {
      service: "api",
      now,
      extraLabels: { monitor: "3" },
    });
    expect(dropped).toEqual(
      Array.from({ length: 3 }, () => ({ name: "api_request_duration_seconds", reason: "value is NaN" })),
    );
    expect(samples).toHaveLength(sampleLines(text).length - 3);
    expect(new Set(samples.map((s) => seriesKey(s.metric, s.service, s.labels))).size).toBe(samples.length);
    expect(samples.every((s) => s.labels.monitor === "3" && s.ts === now && Number.isFinite(s.value))).toBe(true);
  });

  it("keeps a __proto__ label as a label", () => {
    const { samples } = expositionToSamples(parseExposition('m{__proto__="x"} 1'), { service: "s", now });
    expect(Object.keys(samples[0]?.labels ?? {})).toEqual(["__proto__"]);
    expect(seriesKey("m", "s", samples[0]?.labels)).toBe('m|s|__proto__="x"');
  });
});

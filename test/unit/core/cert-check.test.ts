import { describe, expect, it } from "vitest";
import { certCheckDue, type ProbeResult, probeSamples } from "../../../worker/core/probe";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("certCheckDue", () => {
  const https = "https://shop.example/health";

  it("reads the certificate of https monitors only", () => {
    expect(certCheckDue(https, null)).toBe(true);
    expect(certCheckDue("HTTPS://shop.example", null)).toBe(true);
    expect(certCheckDue("http://shop.example/health", null)).toBe(false);
    expect(certCheckDue("http://shop.example/?next=https://x", { at: 0, intervalMs: 60_000, first: true })).toBe(false);
  });

  it("reads it on a monitor's first run, whenever that is", () => {
    expect(certCheckDue(https, { at: 10 * HOUR + 1_234_000, intervalMs: 30_000, first: true })).toBe(true);
  });

  it("then once per clock hour: on the first slot in it", () => {
    const interval = 20_000;
    const start = 10 * HOUR - 5 * interval;
    const due: number[] = [];
    for (let at = start; at < start + 3 * HOUR; at += interval) {
      if (certCheckDue(https, { at, intervalMs: interval, first: false })) due.push(at);
    }
    expect(due).toEqual([10 * HOUR, 11 * HOUR, 12 * HOUR]);
  });

  it("finds the first slot of an hour when slots do not fall on the hour", () => {
    const interval = 7 * 60_000;
    const due: number[] = [];
    for (let at = 1000; at < 5 * HOUR; at += interval) {
      if (certCheckDue(https, { at, intervalMs: interval, first: false })) due.push(Math.floor(at / HOUR));
    }
    expect(due).toEqual([0, 1, 2, 3, 4]);
  });

  it("reads it on every run of monitors slower than hourly", () => {
    for (const at of [2 * HOUR, 4 * HOUR + 17, 6 * HOUR + 5]) {
      expect(certCheckDue(https, { at, intervalMs: 2 * HOUR, first: false })).toBe(true);
    }
  });
});

describe("probeSamples with a certificate reading", () => {
  const monitor = { id: 7, service: "shop" };
  const base: ProbeResult = {
    ts: 1_000_000,
    outcome: { kind: "response", status: 200, body: "ok", truncated: false, latencyMs: 12 },
    verdict: { up: true, message: null },
  };
  const days = (result: ProbeResult) => probeSamples(monitor, result).find((s) => s.metric === "probe_cert_days_left");

  it("adds probe_cert_days_left, a float of days from the run, labelled like probe_up", () => {
    expect(days({ ...base, cert: { notAfter: base.ts + 30.5 * DAY } })).toEqual({
      metric: "probe_cert_days_left",
      service: "shop",
      labels: { monitor: "7" },
      value: 30.5,
      ts: base.ts,
    });
  });

  it("goes negative once the certificate has expired", () => {
    expect(days({ ...base, cert: { notAfter: base.ts - 2 * DAY } })?.value).toBe(-2);
  });

  it("adds nothing when the certificate was not read, and leaves probe_up as the request decided", () => {
    expect(days({ ...base, cert: { error: "timeout after 5000 ms" } })).toBeUndefined();
    expect(days(base)).toBeUndefined();
    const samples = probeSamples(monitor, { ...base, cert: { error: "TLS alert handshake_failure (40)" } });
    expect(samples.find((s) => s.metric === "probe_up")).toMatchObject({ value: 1 });
    expect(samples.map((s) => s.metric)).toEqual(["probe_up", "probe_latency_ms", "probe_status_code"]);
  });
});

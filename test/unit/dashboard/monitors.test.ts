import { describe, expect, it } from "vitest";
import {
  emptyForm,
  formErrors,
  heartbeatSnippets,
  type Monitor,
  monitorStatus,
  parseHeaders,
  samplesByMonitor,
  sparklinePoints,
  toBody,
  toForm,
} from "../../../dashboard/src/lib/monitors";
import type { LatestSample } from "../../../dashboard/src/lib/types";

const http: Monitor = {
  id: 7,
  name: "Checkout",
  service: "checkout",
  kind: "http",
  interval_seconds: 30,
  is_active: true,
  url: "https://shop.example.com/healthz",
  method: "POST",
  headers: { Authorization: "Bearer x:y" },
  body: '{"ping":1}',
  timeout_ms: 5000,
  expect: { status: [200, 204], body_contains: "ok", json_path: { path: "$.count", equals: 3 } },
  follow_redirects: false,
  metrics_allowlist: null,
  period_seconds: null,
  grace_seconds: null,
  cron: null,
  timezone: null,
  heartbeat_url: null,
};

describe("monitor form ↔ API", () => {
  it("round-trips an http monitor", () => {
    const body = toBody(toForm(http));
    expect(body).toMatchObject({
      name: "Checkout",
      kind: "http",
      interval_seconds: 30,
      url: http.url,
      method: "POST",
      headers: { Authorization: "Bearer x:y" },
      body: '{"ping":1}',
      timeout_ms: 5000,
      expect: { status: [200, 204], body_contains: "ok", json_path: { path: "$.count", equals: 3 } },
      follow_redirects: false,
      period_seconds: null,
      cron: null,
    });
    expect(body.expect).not.toHaveProperty("body_not_contains");
  });

  it("keeps a JSON string value that reads like a number a string", () => {
    const m = { ...http, expect: { status: [200], json_path: { path: "$.v", equals: "42" } } };
    expect(toForm(m).json_equals).toBe('"42"');
    expect((toBody(toForm(m)).expect as { json_path: unknown }).json_path).toEqual({ path: "$.v", equals: "42" });
    const plain = { ...emptyForm(), json_path: "$.status", json_equals: "ok" };
    expect((toBody(plain).expect as { json_path: unknown }).json_path).toEqual({ path: "$.status", equals: "ok" });
  });

  it("sends blanks as null and typed nonsense as typed, for the server to judge", () => {
    const body = toBody({ ...emptyForm(), timeout_ms: " ", interval_seconds: "ten", status: "200, abc" });
    expect(body.timeout_ms).toBeNull();
    expect(body.interval_seconds).toBe("ten");
    expect((body.expect as { status: unknown }).status).toEqual([200, "abc"]);
    // No body with GET.
    expect(toBody({ ...emptyForm(), body: "x" }).body).toBeNull();
  });

  it("sends a heartbeat's period or its cron, never both, and no probe fields", () => {
    const f = { ...emptyForm("heartbeat"), name: "Nightly", service: "jobs", period_seconds: "3600" };
    expect(toBody(f)).toMatchObject({ kind: "heartbeat", period_seconds: 3600, cron: null, timezone: null, url: null });
    const cron = toBody({ ...f, schedule: "cron", cron: "0 3 * * *", timezone: "Asia/Taipei" });
    expect(cron).toMatchObject({ period_seconds: null, cron: "0 3 * * *", timezone: "Asia/Taipei", expect: null });
  });

  it("leaves an untouched timeout out of an update, so an unset one keeps following the interval", () => {
    expect(toBody(toForm(http), http)).not.toHaveProperty("timeout_ms");
    expect(toBody({ ...toForm(http), timeout_ms: "3000" }, http).timeout_ms).toBe(3000);
    expect(toBody({ ...toForm(http), timeout_ms: "" }, http).timeout_ms).toBeNull();
    // A create sends it as typed.
    expect(toBody(toForm(http)).timeout_ms).toBe(5000);
  });

  it("parses header lines, splitting at the first colon", () => {
    expect(parseHeaders("Authorization: Bearer a:b\n\n X-Env :prod \nbroken")).toEqual({
      Authorization: "Bearer a:b",
      "X-Env": "prod",
      broken: "",
    });
  });

  it("puts the API's reasons beside the form's fields", () => {
    expect(
      formErrors({
        timeout_ms: "must be less than interval_seconds × 1000 (5000 ms)",
        "expect.status.0": "too small",
        "expect.json_path.path": 'must start with "$"',
        "headers.bad name": "must be an HTTP header name",
        "": "general",
        mystery: "other",
      }),
    ).toEqual({
      timeout_ms: "must be less than interval_seconds × 1000 (5000 ms)",
      status: "too small",
      json_path: 'must start with "$"',
      headers: "must be an HTTP header name",
      "": "general; other",
    });
  });
});

describe("monitorStatus", () => {
  const sample = (metric: string, value: number, ts: string, message?: string): LatestSample => ({
    metric,
    service: "checkout",
    labels: { monitor: "7" },
    value,
    ts,
    ...(message ? { message } : {}),
  });

  it("is pending before the first result, then up or down with the reason", () => {
    expect(monitorStatus(http, undefined)).toMatchObject({ state: "pending", lastAt: null, nextAt: null });
    const own = samplesByMonitor([
      sample("probe_up", 1, "2026-03-01T12:00:00.000Z"),
      sample("probe_up", 0, "2026-03-01T12:00:30.000Z", "status 503"),
      sample("probe_latency_ms", 84, "2026-03-01T12:00:30.000Z"),
      sample("probe_cert_days_left", 41.5, "2026-03-01T12:00:30.000Z"),
      { ...sample("probe_up", 1, "2026-03-01T12:00:30.000Z"), labels: { monitor: "8" } },
    ]).get("7");
    expect(monitorStatus(http, own)).toEqual({
      state: "down",
      lastAt: "2026-03-01T12:00:30.000Z",
      reason: "status 503",
      latencyMs: 84,
      certDaysLeft: 41.5,
      nextAt: "2026-03-01T12:01:00.000Z",
    });
    expect(monitorStatus({ ...http, is_active: false }, own)).toMatchObject({ state: "paused", nextAt: null });
  });

  it("reads a heartbeat's state from heartbeat_ok", () => {
    const hb = { ...http, kind: "heartbeat" as const };
    const own = samplesByMonitor([sample("heartbeat_ok", 1, "2026-03-01T12:00:00.000Z")]).get("7");
    expect(monitorStatus(hb, own)).toMatchObject({ state: "up", nextAt: null, latencyMs: null });
  });
});

describe("sparklinePoints", () => {
  const p = (ts: string, avg: number) => ({ ts, count: 1, min: avg, max: avg, avg, p50: null, p95: null, p99: null });
  it("draws oldest to newest across the box, higher latency higher up", () => {
    expect(sparklinePoints([p("2026-03-01T12:01:00Z", 200), p("2026-03-01T12:00:00Z", 100)], 100, 20)).toBe(
      "0.0,19.0 100.0,1.0",
    );
    expect(sparklinePoints([p("2026-03-01T12:00:00Z", 100)], 100, 20)).toBe("");
  });
});

describe("heartbeatSnippets", () => {
  it("gives Celery, cron and requests snippets that call the URL", () => {
    const url = "https://mon.example.com/api/heartbeat/abc";
    const snippets = heartbeatSnippets(url);
    expect(snippets.map((s) => s.title)).toEqual(["Celery beat task", "Cron line (curl)", "Python requests"]);
    for (const s of snippets) expect(s.text).toContain(`"${url}"`);
    expect(snippets[0]!.text).toContain("@shared_task");
    expect(snippets[1]!.text).toMatch(/^\S+ \S+ \S+ \S+ \S+ .*curl -fsS/);
    expect(snippets[2]!.text).toContain(`requests.get("${url}", timeout=10)`);
  });
});

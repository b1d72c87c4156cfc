import { describe, expect, it } from "vitest";
import {
  cloudflareErrorReason,
  defaultTimeoutMs,
  describeFetchFailure,
  countParseErrors,
  describeParseErrors,
  evaluateHttp,
  evaluateScrapeResponse,
  type FetchFailure,
  type FetchOutcome,
  formatStatuses,
  type HttpExpect,
  isIpHost,
  MAX_SCRAPE_BYTES,
  probeSamples,
  readHttpConfig,
  readScrapeConfig,
  scrapeVerdict,
} from "../../../worker/core/probe";

const expect200: HttpExpect = { status: [200], bodyContains: null, bodyNotContains: null, jsonPath: null };
const response = (status: number, body = "", extra: Partial<FetchOutcome> = {}): FetchOutcome =>
  ({ kind: "response", status, body, truncated: false, latencyMs: 12, ...extra }) as FetchOutcome;

describe("evaluateHttp", () => {
  it("is up when the status is expected and no check fails", () => {
    expect(evaluateHttp(expect200, response(200, "ok"))).toEqual({ up: true, message: null });
    expect(evaluateHttp({ ...expect200, status: [200, 204] }, response(204))).toEqual({ up: true, message: null });
  });

  it("names an unexpected status and the expected ones", () => {
    expect(evaluateHttp(expect200, response(503))).toEqual({ up: false, message: "status 503 (expected 200)" });
    expect(evaluateHttp({ ...expect200, status: [204, 200, 201, 301] }, response(500)).message).toBe(
      "status 500 (expected 200-201, 204, 301)",
    );
    // Not following redirects, a 3xx is the status.
    expect(evaluateHttp(expect200, response(302)).message).toBe("status 302 (expected 200)");
    expect(evaluateHttp({ ...expect200, status: [302] }, response(302)).up).toBe(true);
  });

  it("checks a keyword is present and a forbidden one absent (case-sensitive)", () => {
    const words = { ...expect200, bodyContains: "ok", bodyNotContains: "error" };
    expect(evaluateHttp(words, response(200, "status=ok"))).toEqual({ up: true, message: null });
    expect(evaluateHttp(words, response(200, "status=OK"))).toEqual({ up: false, message: 'keyword "ok" missing' });
    expect(evaluateHttp(words, response(200, "ok, but error in worker 3"))).toEqual({
      up: false,
      message: 'forbidden keyword "error" present',
    });
  });

  it("checks the status before the body", () => {
    const words = { ...expect200, bodyContains: "ok" };
    expect(evaluateHttp(words, response(500, "nope")).message).toBe("status 500 (expected 200)");
  });

  it("compares a JSON path with the expected value", () => {
    const json = (equals: string | number | boolean | null, path = "$.status") => ({
      ...expect200,
      jsonPath: { path, equals },
    });
    const body = JSON.stringify({ status: "degraded", checks: { db: { ok: true, ms: 4 } }, list: [1, 2] });
    expect(evaluateHttp(json("ok"), response(200, body))).toEqual({
      up: false,
      message: '$.status is "degraded", expected "ok"',
    });
    expect(evaluateHttp(json("degraded"), response(200, body)).up).toBe(true);
    expect(evaluateHttp(json(true, "$.checks.db.ok"), response(200, body)).up).toBe(true);
    expect(evaluateHttp(json("4", "$.checks.db.ms"), response(200, body)).message).toBe(
      '$.checks.db.ms is 4, expected "4"',
    );
    expect(evaluateHttp(json(1, "$.list"), response(200, body)).message).toBe("$.list is [1,2], expected 1");
    expect(evaluateHttp(json("ok", "$.missing"), response(200, body)).message).toBe(
      '$.missing is missing, expected "ok"',
    );
    expect(evaluateHttp(json("ok", "$..x"), response(200, body)).message).toBe(
      "JSON path $..x: expected a member name at position 2",
    );
  });

  it("calls a body that does not parse invalid JSON", () => {
    const check = { ...expect200, jsonPath: { path: "$.status", equals: "ok" } };
    expect(evaluateHttp(check, response(200, '{"status": "ok", "checks": {'))).toEqual({
      up: false,
      message: "invalid JSON",
    });
    expect(evaluateHttp(check, response(200, '{"status": "ok"', { truncated: true })).message).toBe(
      "invalid JSON (body over 1048576 bytes)",
    );
  });

  it("passes on a failed request's reason", () => {
    const failed: FetchOutcome = { kind: "error", reason: "timeout after 5000 ms", timedOut: true, latencyMs: 5001 };
    expect(evaluateHttp(expect200, failed)).toEqual({ up: false, message: "timeout after 5000 ms" });
  });

  it("reads Cloudflare's own error pages as the failure they stand for", () => {
    expect(evaluateHttp(expect200, response(530, "error code: 1016"))).toEqual({
      up: false,
      message: "DNS lookup failed",
    });
    expect(evaluateHttp(expect200, response(522, "error code: 522\n")).message).toBe("connection timed out");
    // An origin's own 530 page is just a status.
    expect(evaluateHttp(expect200, response(530, "maintenance")).message).toBe("status 530 (expected 200)");
  });
});

describe("cloudflareErrorReason", () => {
  it("maps error codes and ignores other bodies", () => {
    expect(cloudflareErrorReason(521, "error code: 521")).toBe("connection refused");
    expect(cloudflareErrorReason(526, "error code: 526")).toBe("invalid TLS certificate");
    expect(cloudflareErrorReason(524, "error code: 524")).toBe("Cloudflare error 524");
    expect(cloudflareErrorReason(200, "error code: 200")).toBeNull();
    expect(cloudflareErrorReason(521, "<html>down</html>")).toBeNull();
  });
});

describe("describeFetchFailure", () => {
  const failure = (f: Partial<FetchFailure>): string =>
    describeFetchFailure({
      name: "Error",
      message: "",
      timedOut: false,
      timeoutMs: 5000,
      https: false,
      ipHost: false,
      tcpReachable: null,
      ...f,
    });

  it("names a timeout by its limit, whatever the error says", () => {
    expect(failure({ timedOut: true, name: "AbortError", message: "The operation was aborted", timeoutMs: 300 })).toBe(
      "timeout after 300 ms",
    );
  });

  it("tells a refused connection from one closed without a response (workerd says both are lost)", () => {
    expect(failure({ message: "Network connection lost.", tcpReachable: false })).toBe("connection refused");
    expect(failure({ message: "Network connection lost.", tcpReachable: true })).toBe(
      "connection closed without a response",
    );
    expect(failure({ message: "Network connection lost." })).toBe("network connection lost");
  });

  it("tells a failed DNS lookup from a failed TLS handshake (workerd says internal error to both)", () => {
    const internal = "internal error; reference = abc123";
    expect(failure({ message: internal, tcpReachable: false })).toBe("DNS lookup failed");
    expect(failure({ message: internal, tcpReachable: false, ipHost: true })).toBe("connection failed");
    expect(failure({ message: internal, tcpReachable: true, https: true })).toBe("TLS handshake failed");
    expect(failure({ message: internal, tcpReachable: true })).toBe(`fetch failed: ${internal}`);
  });

  it("recognises the causes other runtimes spell out", () => {
    expect(failure({ message: "getaddrinfo ENOTFOUND shop.example" })).toBe("DNS lookup failed");
    expect(failure({ message: "connect ECONNREFUSED 10.0.0.1:443" })).toBe("connection refused");
    expect(failure({ message: "read ECONNRESET" })).toBe("connection reset");
    expect(failure({ message: "certificate has expired" })).toBe("TLS error: certificate has expired");
    expect(failure({ name: "TypeError", message: "Fetch API cannot load: ftp://x/" })).toBe(
      "fetch failed: Fetch API cannot load: ftp://x/",
    );
  });
});

describe("isIpHost", () => {
  it("knows IP literals from names", () => {
    expect(isIpHost("127.0.0.1")).toBe(true);
    expect(isIpHost("[::1]")).toBe(true);
    expect(isIpHost("shop.example.com")).toBe(false);
    expect(isIpHost("1.2.3.example")).toBe(false);
  });
});

describe("formatStatuses", () => {
  it("joins runs into ranges", () => {
    expect(formatStatuses([200])).toBe("200");
    expect(formatStatuses([204, 200, 201, 202, 301, 302, 404])).toBe("200-202, 204, 301-302, 404");
  });
});

describe("probeSamples", () => {
  const monitor = { id: 7, service: "ecpay" };
  const labels = { monitor: "7" };

  it("records up, latency and status for an answer", () => {
    const samples = probeSamples(monitor, { ts: 1000, outcome: response(200), verdict: { up: true, message: null } });
    expect(samples).toEqual([
      { metric: "probe_up", service: "ecpay", labels, value: 1, ts: 1000 },
      { metric: "probe_latency_ms", service: "ecpay", labels, value: 12, ts: 1000 },
      { metric: "probe_status_code", service: "ecpay", labels, value: 200, ts: 1000 },
    ]);
  });

  it("says why when down, with no status when nothing answered", () => {
    const refused: FetchOutcome = { kind: "error", reason: "connection refused", timedOut: false, latencyMs: 1 };
    expect(
      probeSamples(monitor, { ts: 5, outcome: refused, verdict: { up: false, message: "connection refused" } }),
    ).toEqual([{ metric: "probe_up", service: "ecpay", labels, value: 0, ts: 5, message: "connection refused" }]);
  });

  it("records a timeout's latency: it was that slow at least", () => {
    const slow: FetchOutcome = { kind: "error", reason: "timeout after 300 ms", timedOut: true, latencyMs: 301 };
    const samples = probeSamples(monitor, { ts: 5, outcome: slow, verdict: { up: false, message: slow.reason } });
    expect(samples.map((s) => [s.metric, s.value])).toEqual([
      ["probe_up", 0],
      ["probe_latency_ms", 301],
    ]);
  });
});

describe("readHttpConfig", () => {
  it("reads the API's stored config with its defaults", () => {
    expect(
      readHttpConfig({
        url: "https://shop.example/health",
        method: "POST",
        headers: { "x-token": "t" },
        body: "{}",
        timeout_ms: 2000,
        follow_redirects: false,
        expect: { status: [200, 204], body_contains: "ok", json_path: { path: "$.status", equals: "ok" } },
      }),
    ).toEqual({
      ok: true,
      config: {
        url: "https://shop.example/health",
        method: "POST",
        headers: { "x-token": "t" },
        body: "{}",
        timeoutMs: 2000,
        followRedirects: false,
        expect: {
          status: [200, 204],
          bodyContains: "ok",
          bodyNotContains: null,
          jsonPath: { path: "$.status", equals: "ok" },
        },
      },
    });
    const minimal = readHttpConfig({ url: "http://a.example/" });
    expect(minimal.ok && minimal.config).toMatchObject({
      method: "GET",
      timeoutMs: 5000,
      followRedirects: true,
      expect: { status: [200] },
    });
  });

  it("refuses a config without a URL", () => {
    expect(readHttpConfig({})).toEqual({ ok: false, error: "no url configured" });
  });

  it("gives an unset timeout from the interval, and keeps a set one", () => {
    const fast = readHttpConfig({ url: "http://a.example/", timeout_ms: null }, 1);
    expect(fast.ok && fast.config.timeoutMs).toBe(800);
    const set = readHttpConfig({ url: "http://a.example/", timeout_ms: 300 }, 1);
    expect(set.ok && set.config.timeoutMs).toBe(300);
    const scrape = readScrapeConfig({ url: "http://a.example/metrics" }, 2);
    expect(scrape.ok && scrape.config.timeoutMs).toBe(1600);
  });
});

describe("defaultTimeoutMs", () => {
  it("is 5 s, or 80 % of a shorter interval, never under 500 ms", () => {
    expect(defaultTimeoutMs(60)).toBe(5000);
    expect(defaultTimeoutMs(7)).toBe(5000);
    expect(defaultTimeoutMs(5)).toBe(4000);
    expect(defaultTimeoutMs(2)).toBe(1600);
    expect(defaultTimeoutMs(1)).toBe(800);
    expect(defaultTimeoutMs(0.5)).toBe(500);
  });
});

describe("readScrapeConfig", () => {
  it("always GETs and keeps the allowlist", () => {
    const read = readScrapeConfig({ url: "http://a.example/metrics", metrics_allowlist: ["up"], method: "POST" });
    expect(read.ok && read.config).toMatchObject({ method: "GET", body: null, allowlist: ["up"] });
    const all = readScrapeConfig({ url: "http://a.example/metrics", metrics_allowlist: null });
    expect(all.ok && all.config.allowlist).toBeNull();
  });
});

describe("scrapes", () => {
  it("names the malformed lines in one message, the first five one by one", () => {
    expect(describeParseErrors([])).toBeNull();
    expect(describeParseErrors([{ line: 3, reason: "expected a value" }])).toBe(
      "1 malformed line: line 3: expected a value",
    );
    expect(
      describeParseErrors([
        { line: 3, reason: "expected a value" },
        { line: 9, reason: "bad label" },
        { line: 400, reason: "10 more malformed lines not listed" },
      ]),
    ).toBe("12 malformed lines: line 3: expected a value; line 9: bad label; 10 more");
    const seven = Array.from({ length: 7 }, (_, i) => ({ line: i + 1, reason: "x" }));
    expect(describeParseErrors(seven)).toBe(
      "7 malformed lines: line 1: x; line 2: x; line 3: x; line 4: x; line 5: x; 2 more",
    );
    expect(countParseErrors(seven)).toBe(7);
    expect(
      countParseErrors([
        { line: 1, reason: "x" },
        { line: 9, reason: "99 more malformed lines not listed" },
      ]),
    ).toBe(100);
  });

  it("stays up with malformed lines among good samples, down with none good", () => {
    const errors = [{ line: 4, reason: "missing value" }];
    const up = { up: true, message: null };
    expect(scrapeVerdict(up, { samples: 10, errors: [], filtered: false })).toEqual(up);
    expect(scrapeVerdict(up, { samples: 10, errors, filtered: false })).toEqual({
      up: true,
      message: "1 malformed line: line 4: missing value",
    });
    expect(scrapeVerdict(up, { samples: 0, errors, filtered: false })).toEqual({
      up: false,
      message: "no sample parsed: 1 malformed line: line 4: missing value",
    });
    // An allowlist may have left the good lines out.
    expect(scrapeVerdict(up, { samples: 0, errors, filtered: true }).up).toBe(true);
    // An empty exposition is not an error; a failed response keeps its own reason.
    expect(scrapeVerdict(up, { samples: 0, errors: [], filtered: false })).toEqual(up);
    const truncated = { up: false, message: "exposition over 5 bytes" };
    expect(scrapeVerdict(truncated, { samples: 3, errors, filtered: false })).toEqual(truncated);
  });

  it("wants a complete 2xx answer", () => {
    expect(evaluateScrapeResponse(response(200, "up 1"))).toEqual({ up: true, message: null });
    expect(evaluateScrapeResponse(response(404)).message).toBe("status 404 (expected 2xx)");
    expect(evaluateScrapeResponse(response(200, "", { truncated: true })).message).toBe(
      `exposition over ${MAX_SCRAPE_BYTES} bytes`,
    );
  });
});

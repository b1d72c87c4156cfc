import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, it } from "vitest";
import type { ProbeMonitor } from "../../worker/core/probe";
import type { Sample } from "../../worker/core/series";
import { probeMonitor, runMonitor, runScheduledProbes } from "../../worker/handlers/probes";
import { readSeries, seriesStub } from "../../worker/lib/series";

const base = `http://127.0.0.1:${inject("targetsPort")}`;
let nextId = 1000;

function http(path: string, config: Record<string, unknown> = {}, url = `${base}${path}`): ProbeMonitor {
  return { id: nextId++, service: "shop", kind: "http", intervalSeconds: 60, config: { url, ...config } };
}

const metric = (samples: Sample[], name: string) => samples.find((s) => s.metric === name);

/** Runs an HTTP probe against the target server and returns probe_up, its message and the status code. */
async function probe(path: string, config: Record<string, unknown> = {}, url?: string) {
  const samples = await probeMonitor(env, http(path, config, url));
  const up = metric(samples, "probe_up");
  return {
    up: up?.value,
    message: up?.message,
    status: metric(samples, "probe_status_code")?.value,
    latency: metric(samples, "probe_latency_ms")?.value,
  };
}

async function hits(key: string): Promise<number> {
  return Number(await (await fetch(`${base}/hits?key=${key}`)).text());
}

describe("HTTP probe", () => {
  it("is up on the expected status, with latency and status code", async () => {
    const r = await probe("/up");
    expect(r).toMatchObject({ up: 1, message: undefined, status: 200 });
    expect(r.latency).toBeGreaterThanOrEqual(0);
  });

  it("is down on an unexpected status", async () => {
    expect(await probe("/down")).toMatchObject({ up: 0, message: "status 503 (expected 200)", status: 503 });
    expect(await probe("/down", { expect: { status: [200, 503] } })).toMatchObject({ up: 1, status: 503 });
  });

  it("times out a slow target after timeout_ms", async () => {
    const r = await probe("/slow?ms=3000", { timeout_ms: 300 });
    expect(r).toMatchObject({ up: 0, message: "timeout after 300 ms", status: undefined });
    expect(r.latency).toBeGreaterThanOrEqual(300);
    expect(r.latency).toBeLessThan(3000);
    expect(await probe("/slow?ms=50", { timeout_ms: 2000 })).toMatchObject({ up: 1, status: 200 });
  });

  it("checks a keyword is present and a forbidden one absent", async () => {
    const words = { expect: { status: [200], body_contains: "status=ok", body_not_contains: "error" } };
    expect(await probe("/keyword", words)).toMatchObject({ up: 1 });
    expect(
      await probe("/keyword?variant=error", { expect: { status: [200], body_contains: "status=ok" } }),
    ).toMatchObject({ up: 0, message: 'keyword "status=ok" missing', status: 200 });
    expect(
      await probe("/keyword?variant=error", { expect: { status: [200], body_not_contains: "error" } }),
    ).toMatchObject({ up: 0, message: 'forbidden keyword "error" present' });
  });

  it("compares a JSON path", async () => {
    const path = (p: string, equals: unknown) => ({ expect: { status: [200], json_path: { path: p, equals } } });
    expect(await probe("/json", path("$.status", "ok"))).toMatchObject({ up: 1 });
    expect(await probe("/json", path("$.checks.db.ok", true))).toMatchObject({ up: 1 });
    expect(await probe("/json", path("$.items[1].tags[0]", "x"))).toMatchObject({ up: 1 });
    expect(await probe("/json", path("$['weird key']['dotted.name']", 7))).toMatchObject({ up: 1 });
    expect(await probe("/json?status=degraded", path("$.status", "ok"))).toMatchObject({
      up: 0,
      message: '$.status is "degraded", expected "ok"',
    });
    expect(await probe("/json?status=degraded", path("$.checks.redis.ok", true))).toMatchObject({
      up: 0,
      message: "$.checks.redis.ok is false, expected true",
    });
    expect(await probe("/json", path("$.items[5].name", "a"))).toMatchObject({
      up: 0,
      message: '$.items[5].name is missing, expected "a"',
    });
  });

  it("calls a body that is not JSON invalid", async () => {
    expect(
      await probe("/badjson", { expect: { status: [200], json_path: { path: "$.status", equals: "ok" } } }),
    ).toMatchObject({ up: 0, message: "invalid JSON", status: 200 });
  });

  it("follows redirects, or reports the 3xx as the status", async () => {
    expect(await probe("/redirect")).toMatchObject({ up: 1, status: 200 });
    expect(await probe("/redirect", { follow_redirects: false })).toMatchObject({
      up: 0,
      message: "status 302 (expected 200)",
      status: 302,
    });
    expect(await probe("/redirect", { follow_redirects: false, expect: { status: [301, 302] } })).toMatchObject({
      up: 1,
      status: 302,
    });
  });

  it("sends the configured method, headers and body", async () => {
    const config = {
      method: "POST",
      headers: { "x-probe": "yes", "content-type": "text/plain" },
      body: "ping",
      expect: { status: [200], json_path: { path: "$.body", equals: "ping" } },
    };
    expect(await probe("/echo", config)).toMatchObject({ up: 1 });
    const method = { ...config, expect: { status: [200], json_path: { path: "$.method", equals: "POST" } } };
    expect(await probe("/echo", method)).toMatchObject({ up: 1 });
    const header = { ...config, expect: { status: [200], json_path: { path: "$.headers['x-probe']", equals: "yes" } } };
    expect(await probe("/echo", header)).toMatchObject({ up: 1 });
    const agent = { expect: { status: [200], body_contains: "EdgeMonitor/" } };
    expect(await probe("/echo", agent)).toMatchObject({ up: 1 });
  });

  it("names a failed DNS lookup", async () => {
    expect(await probe("", {}, "http://nonexistent.invalid/health")).toMatchObject({
      up: 0,
      message: "DNS lookup failed",
      status: undefined,
      latency: undefined,
    });
  });

  it("names a refused connection, and one closed without an answer", async () => {
    expect(await probe("", {}, `http://127.0.0.1:${inject("closedPort")}/health`)).toMatchObject({
      up: 0,
      message: "connection refused",
    });
    expect(await probe("/hangup")).toMatchObject({ up: 0, message: "connection closed without a response" });
  });

  it("stores probe_up with the reason, latency and status code in the monitor's series", async () => {
    const since = Date.now() - 1000;
    const monitor = http("/down");
    await runMonitor(env, monitor);
    const labels = { monitor: String(monitor.id) };
    expect(await readSeries(env, "probe_up", "shop", labels, since)).toMatchObject([{ value: 0 }]);
    expect(await seriesStub(env, "probe_up", "shop", labels).latest()).toMatchObject({
      value: 0,
      message: "status 503 (expected 200)",
    });
    expect(await readSeries(env, "probe_status_code", "shop", labels, since)).toMatchObject([{ value: 503 }]);
    expect(await readSeries(env, "probe_latency_ms", "shop", labels, since)).toHaveLength(1);
  });
});

describe("Prometheus scrape", () => {
  const scrapeMonitor = (path: string, config: Record<string, unknown> = {}): ProbeMonitor => ({
    id: nextId++,
    service: "celery",
    kind: "prometheus",
    intervalSeconds: 60,
    config: { url: `${base}${path}`, ...config },
  });

  it("stores the exporter's samples under their own names and labels, and the scrape's probe_up", async () => {
    const since = Date.now() - 1000;
    const monitor = scrapeMonitor("/metrics");
    await runMonitor(env, monitor);
    const requests = await readSeries(env, "http_requests_total", "celery", { method: "GET", code: "200" }, since);
    expect(requests).toMatchObject([{ value: 1027 }]);
    expect(await readSeries(env, "queue_depth", "celery", { queue: "celery" }, since)).toMatchObject([{ value: 42 }]);
    expect(await readSeries(env, "process_open_fds", "celery", {}, since)).toMatchObject([{ value: 17 }]);
    const labels = { monitor: String(monitor.id) };
    expect(await readSeries(env, "probe_up", "celery", labels, since)).toMatchObject([{ value: 1 }]);
    expect(await readSeries(env, "probe_latency_ms", "celery", labels, since)).toHaveLength(1);
  });

  it("keeps only the allowlisted metrics", async () => {
    const samples = await probeMonitor(env, scrapeMonitor("/metrics", { metrics_allowlist: ["queue_depth"] }));
    expect(samples.map((s) => s.metric).sort()).toEqual([
      "probe_latency_ms",
      "probe_status_code",
      "probe_up",
      "queue_depth",
      "scrape_parse_errors",
    ]);
  });

  it("stays up with a bad line: the good samples stored, scrape_parse_errors 1, the line named", async () => {
    // From now: the scrapes of the tests before store the same series.
    const since = Date.now();
    const monitor = scrapeMonitor("/metrics?malformed=one");
    await runMonitor(env, monitor);
    const labels = { monitor: String(monitor.id) };
    expect(await readSeries(env, "probe_up", "celery", labels, since)).toMatchObject([{ value: 1 }]);
    expect(await readSeries(env, "scrape_parse_errors", "celery", labels, since)).toMatchObject([{ value: 1 }]);
    expect((await seriesStub(env, "probe_up", "celery", labels).latest())?.message).toBe(
      "1 malformed line: line 8: expected , or } after label queue",
    );
    expect(await readSeries(env, "queue_depth", "celery", { queue: "celery" }, since)).toMatchObject([{ value: 42 }]);
    expect(await readSeries(env, "process_open_fds", "celery", {}, since)).toMatchObject([{ value: 17 }]);
    const requests = await readSeries(env, "http_requests_total", "celery", { method: "GET", code: "200" }, since);
    expect(requests).toMatchObject([{ value: 1027 }]);
  });

  it("names every malformed line, and counts 0 on a clean scrape", async () => {
    const samples = await probeMonitor(env, scrapeMonitor("/metrics?malformed=1"));
    const up = metric(samples, "probe_up");
    expect(up?.value).toBe(1);
    expect(up?.message).toBe(
      '2 malformed lines: line 11: invalid value "line"; line 12: expected , or } after label queue',
    );
    expect(metric(samples, "scrape_parse_errors")?.value).toBe(2);
    expect(metric(samples, "queue_depth")?.value).toBe(42);
    const clean = await probeMonitor(env, scrapeMonitor("/metrics"));
    expect([metric(clean, "probe_up")?.message, metric(clean, "scrape_parse_errors")?.value]).toEqual([undefined, 0]);
  });

  it("is down when the body has not one valid sample", async () => {
    const samples = await probeMonitor(env, scrapeMonitor("/keyword"));
    const up = metric(samples, "probe_up");
    expect(up?.value).toBe(0);
    expect(up?.message).toMatch(/^no sample parsed: 1 malformed line: line 1: /);
  });

  it("is down when the exporter fails", async () => {
    const samples = await probeMonitor(env, scrapeMonitor("/down"));
    expect(samples.map((s) => [s.metric, s.value, s.message])).toEqual([
      ["probe_up", 0, "status 503 (expected 2xx)"],
      ["probe_latency_ms", expect.any(Number), undefined],
      ["probe_status_code", 503, undefined],
    ]);
    const refused = await probeMonitor(env, {
      ...scrapeMonitor(""),
      config: { url: `http://127.0.0.1:${inject("closedPort")}/metrics` },
    });
    expect(refused).toMatchObject([{ metric: "probe_up", value: 0, message: "connection refused" }]);
  });
});

describe("the cron path", () => {
  interface Row {
    next_due_at: number | null;
    last_run_at: number | null;
    lease_until: number | null;
  }
  const minute = 60_000;
  const now = Math.floor(Date.now() / minute) * minute;

  beforeEach(async () => {
    await env.DB.prepare("DELETE FROM monitors").run();
  });

  async function addMonitor(key: string, intervalSeconds: number, nextDueAt: number | null, extra = "") {
    const config = JSON.stringify({ url: `${base}/count?key=${key}${extra}`, timeout_ms: 5000 });
    const row = await env.DB.prepare(
      "INSERT INTO monitors (name, service, kind, config, interval_seconds, next_due_at) VALUES (?, 'shop', 'http', ?, ?, ?) RETURNING id",
    )
      .bind(key, config, intervalSeconds, nextDueAt)
      .first<{ id: number }>();
    if (!row) throw new Error("insert failed");
    return row.id;
  }

  const schedule = (id: number) =>
    env.DB.prepare("SELECT next_due_at, last_run_at, lease_until FROM monitors WHERE id = ?").bind(id).first<Row>();

  it("runs a due monitor once and moves it to the slot after its previous due time", async () => {
    const due = now - 5_000;
    const id = await addMonitor("cron-once", 60, due);
    const notDue = await addMonitor("cron-later", 60, now + 30_000);
    const before = Date.now();
    await runScheduledProbes(env, now);
    expect(await hits("cron-once")).toBe(1);
    expect(await hits("cron-later")).toBe(0);
    const row = await schedule(id);
    expect(row).toMatchObject({ next_due_at: due + minute, lease_until: null });
    expect(row?.last_run_at).toBeGreaterThanOrEqual(before);
    expect(await schedule(notDue)).toMatchObject({ next_due_at: now + 30_000, last_run_at: null });

    // The same tick again: nothing is due any more.
    await runScheduledProbes(env, now);
    expect(await hits("cron-once")).toBe(1);
    // The next tick runs it again.
    await runScheduledProbes(env, now + minute);
    expect(await hits("cron-once")).toBe(2);
    expect(await schedule(id)).toMatchObject({ next_due_at: due + 2 * minute });
  });

  it("runs a never-run monitor at once, and skips the slots a late cron missed", async () => {
    const fresh = await addMonitor("cron-fresh", 300, null);
    const late = await addMonitor("cron-late", 60, now - 200_000);
    await runScheduledProbes(env, now);
    expect(await hits("cron-fresh")).toBe(1);
    expect(await hits("cron-late")).toBe(1);
    expect(await schedule(fresh)).toMatchObject({ next_due_at: now + 300_000 });
    expect(await schedule(late)).toMatchObject({ next_due_at: now - 200_000 + 4 * minute });
  });

  it("never runs a monitor twice when cron runs overlap", async () => {
    const id = await addMonitor("cron-overlap", 60, now - 1_000, "&ms=300");
    await Promise.all([runScheduledProbes(env, now), runScheduledProbes(env, now), runScheduledProbes(env, now)]);
    expect(await hits("cron-overlap")).toBe(1);
    expect(await schedule(id)).toMatchObject({ next_due_at: now - 1_000 + minute, lease_until: null });
  });

  it("leaves a monitor alone while another run holds its lease", async () => {
    const id = await addMonitor("cron-leased", 60, now - 1_000);
    await env.DB.prepare("UPDATE monitors SET lease_until = ? WHERE id = ?")
      .bind(Date.now() + 60_000, id)
      .run();
    await runScheduledProbes(env, now);
    expect(await hits("cron-leased")).toBe(0);
    // An expired lease (a run that died) does not block the next tick.
    await env.DB.prepare("UPDATE monitors SET lease_until = ? WHERE id = ?")
      .bind(Date.now() - 1, id)
      .run();
    await runScheduledProbes(env, now);
    expect(await hits("cron-leased")).toBe(1);
  });

  it("leaves fast, paused and heartbeat monitors to others", async () => {
    await addMonitor("cron-fast", 10, null);
    const paused = await addMonitor("cron-paused", 60, null);
    await env.DB.prepare("UPDATE monitors SET is_active = 0 WHERE id = ?").bind(paused).run();
    await runScheduledProbes(env, now);
    expect(await hits("cron-fast")).toBe(0);
    expect(await hits("cron-paused")).toBe(0);
  });

  it("records how far behind schedule the most overdue monitor is", async () => {
    // Ticks of their own, so the lag series holds nothing else at these instants.
    const tick = now + 10 * minute;
    await addMonitor("cron-lag-a", 60, tick - 5 * minute);
    await addMonitor("cron-lag-b", 60, tick - minute);
    const lagAt = async (ts: number) =>
      (await readSeries(env, "collector_lag_seconds", "edge-monitor", { collector: "cron" }, ts)).find(
        (s) => s.ts === ts,
      )?.value;
    await runScheduledProbes(env, tick);
    expect(await lagAt(tick)).toBe(300);
    await runScheduledProbes(env, tick + minute);
    expect(await lagAt(tick + minute)).toBe(0);
  });
});

import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { bucketStart, MINUTE_MS } from "../../worker/core/rollup";
import { seriesKey } from "../../worker/core/series";
import { familyStub, readSeries } from "../../worker/lib/series";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

let admin: TestAdmin;
let ingestKey: string;

const HOUR = 3_600_000;
let metricCounter = 0;
/** A metric name no other test writes to, so reading its series sees only this test's samples. */
const freshMetric = (base: string) => `${base}_${++metricCounter}`;

async function createKey(scope: "ingest" | "heartbeat", rateLimitPerMinute: number | null = null) {
  const res = await callJson<{ id: number; key: string }>("POST", "/api/admin/monitoring/keys", {
    token: admin.token,
    body: { name: `test ${scope} ${++metricCounter}`, scope, rate_limit_per_minute: rateLimitPerMinute },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const push = (body: unknown, key = ingestKey, headers: Record<string, string> = {}) =>
  callJson<ErrorBody & { accepted?: number }>("POST", "/api/ingest", { token: key, body, headers });

const stored = (metric: string, service: string, labels: Record<string, string> = {}) =>
  readSeries(env, metric, service, labels, 0);

beforeAll(async () => {
  admin = await createAdmin("admin");
  ingestKey = (await createKey("ingest")).key;
});

describe("POST /api/ingest", () => {
  it("stores a batch across series and answers 202 with the count", async () => {
    const metric = freshMetric("api_response_ms");
    const now = Date.now();
    const iso = new Date(now - 60_000).toISOString();
    const res = await push({
      samples: [
        { metric, service: "api", value: 240, ts: now - 120_000, labels: { region: "tw" } },
        { metric, service: "api", value: 250.5, ts: iso, labels: { region: "tw" } },
        { metric, service: "ecpay", value: 98.7 },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 3, duplicates: 0, conflicts: 0 });

    const tw = await stored(metric, "api", { region: "tw" });
    expect(tw.map((s) => [s.value, s.ts])).toEqual([
      [240, now - 120_000],
      [250.5, Date.parse(iso)],
    ]);
    expect(tw[0]).toMatchObject({ metric, service: "api", labels: { region: "tw" } });
    const ecpay = await stored(metric, "ecpay");
    expect(ecpay).toHaveLength(1);
    // No ts: stamped with the server's time on arrival.
    expect(ecpay[0]?.ts).toBeGreaterThanOrEqual(now);
    expect(ecpay[0]?.ts).toBeLessThanOrEqual(Date.now());
  });

  it("refuses the whole batch when one sample is bad, naming every failing index, and stores nothing", async () => {
    const metric = freshMetric("payment_success_rate");
    const res = await push({
      samples: [
        { metric, service: "ecpay", value: 1 },
        { metric, service: "ecpay", value: "98.7" },
        { metric, service: "ecpay", value: 3 },
        { metric: "9bad", service: "ECPay", value: 4, labels: { __name__: "x" } },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_request");
    expect(res.body.message).toMatch(/2 of 4 samples are invalid; nothing was stored/);
    expect(res.body.details.map((d) => [d.index, d.field])).toEqual([
      [1, "value"],
      [3, "metric"],
      [3, "service"],
      [3, "labels.__name__"],
    ]);
    expect(res.body.details[0]?.reason).toMatch(/must be a number, not a string/);
    expect(res.body.details[3]?.reason).toMatch(/reserved/);
    expect(await stored(metric, "ecpay")).toEqual([]);
  });

  it("lists at most 100 problems and says so", async () => {
    const samples = Array.from({ length: 150 }, () => ({ metric: "m", service: "s", value: null }));
    const res = await push({ samples });
    expect(res.status).toBe(400);
    expect(res.body.details).toHaveLength(100);
    expect(res.body.details.at(-1)?.index).toBe(99);
    expect(res.body.message).toMatch(/^150 of 150 samples are invalid.*first 100 problems/);
  });

  it("refuses timestamps too far in the future or older than the raw window, naming the limit", async () => {
    const metric = freshMetric("clock_skew");
    const now = Date.now();
    const res = await push({
      samples: [
        { metric, service: "api", value: 1, ts: now + 10 * 60_000 },
        { metric, service: "api", value: 1, ts: now - 25 * HOUR },
        { metric, service: "api", value: 1, ts: Math.floor(now / 1000) },
        { metric, service: "api", value: 1, ts: "2026-11-26T10:00:00" },
        { metric, service: "api", value: 1, ts: now + 60_000 },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => [d.index, d.field])).toEqual([
      [0, "ts"],
      [1, "ts"],
      [2, "ts"],
      [3, "ts"],
    ]);
    const [future, ancient, seconds, zoneless] = res.body.details.map((d) => d.reason);
    expect(future).toMatch(/ahead of the server clock; the limit is 5 minutes/);
    expect(ancient).toMatch(/older than the raw window of 24 hours/);
    expect(seconds).toMatch(/looks like epoch seconds/);
    expect(zoneless).toMatch(/with a zone/);
    expect(await stored(metric, "api")).toEqual([]);
  });

  it("accepts ISO 8601 timestamps with an offset", async () => {
    const metric = freshMetric("queue_depth");
    const ts = Date.now() - 30 * 60_000;
    const taipei = new Date(ts + 8 * HOUR).toISOString().replace("Z", "+08:00");
    const res = await push({ samples: [{ metric, service: "celery", value: 7, ts: taipei }] });
    expect(res.status).toBe(202);
    expect((await stored(metric, "celery")).map((s) => s.ts)).toEqual([ts]);
  });

  it("answers 400 for malformed JSON and a wrong envelope", async () => {
    const malformed = await call("POST", "/api/ingest", { token: ingestKey, body: '{"samples": [' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorBody).message).toMatch(/not valid JSON/);

    const envelope = await push([{ metric: "m", service: "s", value: 1 }]);
    expect(envelope.status).toBe(400);
    expect(envelope.body.details[0]?.reason).toMatch(/must be a JSON object/);

    const unknown = await push({ sample: [] });
    expect(unknown.body.details).toEqual([{ field: "sample", reason: "is not a known field" }]);
  });

  it("answers 415 for other content types and compressed bodies", async () => {
    const body = JSON.stringify({ samples: [] });
    const variants: Record<string, string>[] = [
      { "content-type": "text/plain" },
      { "content-type": "application/x-www-form-urlencoded" },
      { "content-type": "application/json", "content-encoding": "gzip" },
    ];
    for (const headers of variants) {
      const res = await callJson<ErrorBody>("POST", "/api/ingest", { token: ingestKey, body, headers });
      expect(res.status, JSON.stringify(headers)).toBe(415);
      expect(res.body.error).toBe("unsupported_media_type");
    }
    const charset = await push({ samples: [] }, ingestKey, { "content-type": "application/json; charset=utf-8" });
    expect(charset.status).toBe(202);
  });

  it("answers 413 beyond 1,000 samples or 1 MiB, storing nothing", async () => {
    const metric = freshMetric("batch_size");
    const ts = Date.now();
    const samples = Array.from({ length: 1001 }, (_, i) => ({ metric, service: "api", value: i, ts: ts - i }));
    const many = await push({ samples });
    expect(many.status).toBe(413);
    expect(many.body.error).toBe("payload_too_large");
    expect(many.body.message).toMatch(/1001 samples; the limit is 1000/);

    const padded = JSON.stringify({ samples: [{ metric, service: "api", value: 1, labels: { pad: "x" } }] }).replace(
      '"x"',
      `"${"x".repeat(1024 * 1024)}"`,
    );
    const big = await call("POST", "/api/ingest", { token: ingestKey, body: padded });
    expect(big.status).toBe(413);

    // Without Content-Length the bytes are counted while reading.
    const bytes = new TextEncoder().encode(padded);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const request = new Request("http://localhost/api/ingest", {
      method: "POST",
      headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
      body: stream,
    });
    expect(request.headers.has("content-length")).toBe(false);
    const streamed = await exports.default.fetch(request);
    expect(streamed.status).toBe(413);
    expect(await stored(metric, "api")).toEqual([]);
  });

  it("accepts exactly 1,000 samples", async () => {
    const metric = freshMetric("batch_max");
    const ts = Date.now();
    const samples = Array.from({ length: 1000 }, (_, i) => ({ metric, service: "api", value: i, ts: ts - i }));
    const res = await push({ samples });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 1000, duplicates: 0, conflicts: 0 });
    expect(await stored(metric, "api")).toHaveLength(1000);
  });
});

describe("retries (ingest is idempotent per series and timestamp)", () => {
  type Row = { count: number; sum: number; min: number; max: number };
  const minuteRow = async (metric: string, service: string, labels: Record<string, string>, start: number) =>
    env.DB.prepare(
      `SELECT count, sum, min, max FROM system_metrics
       WHERE series_key = ? AND resolution_seconds = 60 AND bucket_start = ?`,
    )
      .bind(seriesKey(metric, service, labels), start)
      .first<Row>();
  const rawCount = async (metric: string, service: string, labels: Record<string, string>) =>
    (await familyStub(env, metric, service).stats([seriesKey(metric, service, labels)]))[0]?.count;
  const historyCounts = async (metric: string, service: string) => {
    const res = await callJson<{ points: { ts: string; count: number }[] }>(
      "GET",
      `/api/admin/monitoring/metrics/history?${new URLSearchParams({ metric, service, period: "1h" })}`,
      { token: admin.token },
    );
    expect(res.status).toBe(200);
    return res.body.points.map((p) => [Date.parse(p.ts), p.count]);
  };

  it("stores a retried batch once: raw samples, the minute rollup, history and a late retry", async () => {
    const metric = freshMetric("checkout_ms");
    const labels = { region: "tw" };
    const minute = bucketStart(Date.now(), 60) - 2 * MINUTE_MS;
    const batch = {
      samples: [10, 20, 30].map((value, i) => ({
        metric,
        service: "shop",
        labels,
        value,
        ts: minute + (i + 1) * 1000,
      })),
    };
    const first = await push(batch);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ accepted: 3, duplicates: 0, conflicts: 0 });
    const retry = await push(batch);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual({ accepted: 3, duplicates: 3, conflicts: 0 });

    expect(await rawCount(metric, "shop", labels)).toBe(3);
    expect((await stored(metric, "shop", labels)).map((s) => s.value)).toEqual([10, 20, 30]);
    await runDurableObjectAlarm(familyStub(env, metric, "shop"));
    expect(await minuteRow(metric, "shop", labels, minute)).toEqual({ count: 3, sum: 60, min: 10, max: 30 });
    expect(await historyCounts(metric, "shop")).toEqual([[minute, 3]]);

    // A retry arriving after the minute was rolled up and written (the late-sample path) changes nothing.
    expect((await push(batch)).body).toEqual({ accepted: 3, duplicates: 3, conflicts: 0 });
    await runDurableObjectAlarm(familyStub(env, metric, "shop"));
    expect(await rawCount(metric, "shop", labels)).toBe(3);
    expect(await minuteRow(metric, "shop", labels, minute)).toEqual({ count: 3, sum: 60, min: 10, max: 30 });
    expect(await historyCounts(metric, "shop")).toEqual([[minute, 3]]);
  });

  it("keeps the first value when a sample repeats a stored instant with another value, and reports it", async () => {
    const metric = freshMetric("queue_depth");
    const ts = Date.now() - 30_000;
    const sample = { metric, service: "celery", value: 4, ts };
    expect((await push({ samples: [sample] })).body).toEqual({ accepted: 1, duplicates: 0, conflicts: 0 });
    const other = await push({
      samples: [
        { ...sample, value: 5 },
        { ...sample, ts: ts + 1, value: 6 },
      ],
    });
    expect(other.status).toBe(202);
    expect(other.body).toEqual({ accepted: 2, duplicates: 1, conflicts: 1 });
    expect((await stored(metric, "celery")).map((s) => [s.ts, s.value])).toEqual([
      [ts, 4],
      [ts + 1, 6],
    ]);
  });

  it("stores a sample repeated within one batch once, the first of them", async () => {
    const metric = freshMetric("pool_in_use");
    const ts = Date.now() - 10_000;
    const sample = { metric, service: "db", labels: { pool: "main" }, value: 7, ts };
    const res = await push({
      samples: [sample, sample, { ...sample, value: 8 }, { ...sample, labels: { pool: "replica" } }],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 4, duplicates: 2, conflicts: 1 });
    expect((await stored(metric, "db", { pool: "main" })).map((s) => s.value)).toEqual([7]);
    expect((await stored(metric, "db", { pool: "replica" })).map((s) => s.value)).toEqual([7]);
    expect((await familyStub(env, metric, "db").latest(seriesKey(metric, "db", { pool: "main" })))?.value).toBe(7);
  });
});

describe("storage failure", () => {
  it("answers 503 with Retry-After, never 2xx, when the series store fails", async () => {
    const metric = freshMetric("store_down");
    const spy = vi.spyOn(env.METRIC_SERIES, "getByName").mockImplementation(() => {
      throw new Error("series store unavailable");
    });
    try {
      const res = await push({ samples: [{ metric, service: "api", value: 1 }] });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(res.body.message).toMatch(/the batch was not accepted/);
    } finally {
      spy.mockRestore();
    }
    expect(await stored(metric, "api")).toEqual([]);
  });
});

describe("ingest keys", () => {
  it("answers 401 with WWW-Authenticate without a key, with an unknown key or a revoked key", async () => {
    const body = { samples: [{ metric: "m", service: "s", value: 1 }] };
    const revoked = await createKey("ingest");
    await env.DB.prepare("UPDATE ingest_keys SET revoked_at = ? WHERE id = ?").bind(Date.now(), revoked.id).run();

    const none = await callJson<ErrorBody>("POST", "/api/ingest", { body });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    for (const key of ["emk_not-a-real-key", revoked.key, admin.token]) {
      const res = await push(body, key);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe("unauthorized");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    expect((await push(body, revoked.key)).body.message).toMatch(/revoked/);
    expect(await stored("m", "s")).toEqual([]);
  });

  it("answers 403 for a heartbeat key", async () => {
    const heartbeat = await createKey("heartbeat");
    const res = await push({ samples: [{ metric: "m", service: "s", value: 1 }] }, heartbeat.key);
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/heartbeat key/);
  });

  it("records when a key was last used", async () => {
    const created = await createKey("ingest");
    const before = Date.now();
    expect((await push({ samples: [] }, created.key)).status).toBe(202);
    await vi.waitFor(async () => {
      const row = await env.DB.prepare("SELECT last_used_at FROM ingest_keys WHERE id = ?")
        .bind(created.id)
        .first<{ last_used_at: number | null }>();
      expect(row?.last_used_at).toBeGreaterThanOrEqual(before);
    });
  });

  it("answers 429 with Retry-After once the key's samples per minute are used, storing nothing more", async () => {
    const limited = await createKey("ingest", 10);
    const metric = freshMetric("rate_limited");
    const start = Date.now() - 60_000;
    // Distinct instants: samples of one series at one instant would be duplicates.
    const batch = (n: number, offset: number) => ({
      samples: Array.from({ length: n }, (_, i) => ({
        metric,
        service: "api",
        value: offset + i,
        ts: start + offset + i,
      })),
    });
    expect((await push(batch(6, 0), limited.key)).status).toBe(202);
    expect((await push(batch(4, 6), limited.key)).status).toBe(202);
    const over = await push(batch(1, 10), limited.key);
    expect(over.status).toBe(429);
    expect(over.body.error).toBe("rate_limited");
    const retryAfter = over.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    // One sample at 10/min needs about 6 s of refill.
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(5);
    expect(Number(retryAfter)).toBeLessThanOrEqual(6);
    const tooBig = await push(batch(11, 20), limited.key);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.message).toMatch(/10 samples per minute/);
    expect((await stored(metric, "api")).map((s) => s.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Other keys have their own allowance.
    expect((await push(batch(1, 30), ingestKey)).status).toBe(202);
  });
});

/** An excerpt of a Celery exporter's /metrics (test/fixtures/prometheus/celery-exporter.prom). */
const CELERY_EXPORTER = `# HELP celery_workers Number of alive workers
# TYPE celery_workers gauge
celery_workers{namespace="celery"} 3.0
# HELP celery_tasks_total Number of tasks per state
# TYPE celery_tasks_total counter
celery_tasks_total{name="shop.tasks.charge_card",namespace="celery",state="SUCCESS"} 1271.0
celery_tasks_total{name="shop.tasks.charge_card",namespace="celery",state="FAILURE"} 17.0
# HELP celery_task_runtime Task runtime (seconds)
# TYPE celery_task_runtime histogram
celery_task_runtime_bucket{le="0.1",name="shop.tasks.charge_card",namespace="celery"} 402.0
celery_task_runtime_bucket{le="+Inf",name="shop.tasks.charge_card",namespace="celery"} 1271.0
celery_task_runtime_count{name="shop.tasks.charge_card",namespace="celery"} 1271.0
celery_task_runtime_sum{name="shop.tasks.charge_card",namespace="celery"} 187.53412908315659
# HELP celery_queue_length Number of tasks waiting in the queue
# TYPE celery_queue_length gauge
celery_queue_length{queue_name="payments"} 12.0
celery_worker_up{hostname="celery@worker-1"} 1.0
`;

describe("POST /api/ingest/prometheus", () => {
  const pushText = (service: string | null, text: string, contentType = "text/plain; version=0.0.4") =>
    callJson<ErrorBody & { accepted?: number; dropped?: number; refused_count?: number; refused?: unknown[] }>(
      "POST",
      `/api/ingest/prometheus${service === null ? "" : `?service=${encodeURIComponent(service)}`}`,
      { token: ingestKey, body: text, headers: { "content-type": contentType } },
    );

  it("stores every sample of a real exporter's output under the given service", async () => {
    const res = await pushText("celery-exporter", CELERY_EXPORTER);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 9, dropped: 0 });
    const workers = await stored("celery_workers", "celery-exporter", { namespace: "celery" });
    expect(workers.map((s) => s.value)).toEqual([3]);
    const failures = await stored("celery_tasks_total", "celery-exporter", {
      name: "shop.tasks.charge_card",
      namespace: "celery",
      state: "FAILURE",
    });
    expect(failures.map((s) => s.value)).toEqual([17]);
    const inf = await stored("celery_task_runtime_bucket", "celery-exporter", {
      le: "+Inf",
      name: "shop.tasks.charge_card",
      namespace: "celery",
    });
    expect(inf.map((s) => s.value)).toEqual([1271]);
  });

  it("keeps explicit timestamps, drops non-finite values and reports them", async () => {
    const metric = freshMetric("redis_connected_clients");
    const ts = Date.now() - 90_000;
    const text = [
      `# TYPE ${metric} gauge`,
      `${metric}{role="master"} 12 ${ts}`,
      `${metric}{role="replica"} NaN`,
      `${metric}{role="sentinel"} +Inf`,
      "",
    ].join("\n");
    const res = await pushText("redis", text);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, dropped: 2 });
    expect((await stored(metric, "redis", { role: "master" })).map((s) => [s.value, s.ts])).toEqual([[12, ts]]);
    expect(await stored(metric, "redis", { role: "replica" })).toEqual([]);
  });

  it("stores a retried exposition with timestamps once, reporting its duplicates", async () => {
    const metric = freshMetric("redis_used_memory");
    const ts = Date.now() - 45_000;
    const text = `# TYPE ${metric} gauge\n${metric}{role="master"} 100 ${ts}\n${metric}{role="replica"} 90 ${ts}\n`;
    expect((await pushText("redis", text)).body).toEqual({
      accepted: 2,
      duplicates: 0,
      conflicts: 0,
      dropped: 0,
      dropped_details: [],
      refused_count: 0,
      refused: [],
    });
    const retry = await pushText("redis", text);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ accepted: 2, duplicates: 2, conflicts: 0 });
    expect((await stored(metric, "redis", { role: "master" })).map((s) => [s.value, s.ts])).toEqual([[100, ts]]);
  });

  it("accepts OpenMetrics (timestamps in seconds)", async () => {
    const metric = freshMetric("celery_queue_length");
    const seconds = Math.floor(Date.now() / 1000) - 30;
    const text = `# TYPE ${metric} gauge\n${metric}{queue="default"} 4 ${seconds}\n# EOF\n`;
    const res = await pushText("celery", text, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    expect(res.status).toBe(202);
    expect((await stored(metric, "celery", { queue: "default" })).map((s) => [s.value, s.ts])).toEqual([
      [4, seconds * 1000],
    ]);
  });

  it("stores the good lines and names the refused ones with their line numbers and reasons", async () => {
    const metric = freshMetric("pg_up");
    const res = await pushText(
      "postgres",
      `${metric} 1\n# TYPE x gauge\n${metric}{broken 1\n${metric} one\n${metric}{db="b"} 2\n`,
    );
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      accepted: 2,
      refused_count: 2,
      refused: [
        { line: 3, reason: "expected = after label broken" },
        { line: 4, reason: 'invalid value "one"' },
      ],
    });
    expect((await stored(metric, "postgres")).map((s) => s.value)).toEqual([1]);
    expect((await stored(metric, "postgres", { db: "b" })).map((s) => s.value)).toEqual([2]);
  });

  it("takes what Prometheus takes: unknown escapes, a bare # HELP, gauge_histogram, labels without commas", async () => {
    const metric = freshMetric("leniency");
    const text = [
      "# HELP",
      `# HELP ${metric}`,
      `# TYPE ${metric} gauge_histogram`,
      String.raw`${metric}_bucket{path="C:\z\f",le="+Inf"} 3`,
      `${metric}_gsum{a="1" b="2"} 4`,
      `${metric}_gcount{,} 3`,
    ].join("\n");
    const res = await pushText("api", text);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 3, refused_count: 0 });
    const bucket = await stored(`${metric}_bucket`, "api", { path: String.raw`C:\z\f`, le: "+Inf" });
    expect(bucket.map((s) => s.value)).toEqual([3]);
  });

  it("checks an OpenMetrics body against OpenMetrics: a line breaking its rules is refused, the rest stored", async () => {
    const metric = freshMetric("jobs");
    const text = `# TYPE ${metric} counter\n${metric}_total -1\n${metric}_created 1700000000\n# EOF\n`;
    const res = await pushText("api", text, "application/openmetrics-text; version=1.0.0");
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      accepted: 1,
      refused: [{ line: 2, reason: `${metric}_total: a counter is never negative or NaN` }],
    });
    // 0.0.4 text (no # EOF, the counter named with its _total) has no such rule.
    const old = `${metric}_old_total`;
    const res004 = await pushText("api", `# TYPE ${old} counter\n${old} -1\n`);
    expect(res004.body).toMatchObject({ accepted: 1, refused_count: 0 });
  });

  it("refuses a body whose every sample line is malformed (400, with line numbers), storing nothing", async () => {
    const metric = freshMetric("pg_down");
    const res = await pushText("postgres", `# TYPE x gauge\n${metric}{broken 1\n${metric} one\n`);
    expect(res.status).toBe(400);
    const details = res.body.details as unknown as { line: number; reason: string }[];
    expect(details.map((d) => d.line)).toEqual([2, 3]);
    expect(details.every((d) => d.reason.length > 0)).toBe(true);
    expect(await stored(metric, "postgres")).toEqual([]);
  });

  it("refuses timestamps outside the accepted range, naming the limit", async () => {
    const metric = freshMetric("node_load1");
    const res = await pushText("node", `${metric} 1\n${metric}{cpu="1"} 2 ${Date.now() - 30 * HOUR}\n`);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: `${metric}{cpu="1"}`, reason: "timestamp is older than the raw window of 24 hours" },
    ]);
    expect(await stored(metric, "node")).toEqual([]);
  });

  it("requires a valid service, a text content type and at most 1,000 samples", async () => {
    const missing = await pushText(null, "m 1\n");
    expect(missing.status).toBe(400);
    expect(missing.body.details[0]?.field).toBe("service");
    expect((await pushText("Bad Service", "m 1\n")).status).toBe(400);
    expect((await pushText("api", "m 1\n", "application/json")).status).toBe(415);
    const many = Array.from({ length: 1001 }, (_, i) => `many_samples{i="${i}"} ${i}`).join("\n");
    const tooMany = await pushText("api", many);
    expect(tooMany.status).toBe(413);
    expect(await stored("many_samples", "api", { i: "0" })).toEqual([]);
  });

  it("takes the same ingest keys", async () => {
    const none = await call("POST", "/api/ingest/prometheus?service=api", {
      body: "m 1\n",
      headers: { "content-type": "text/plain" },
    });
    expect(none.status).toBe(401);
    const heartbeat = await createKey("heartbeat");
    const wrongScope = await call("POST", "/api/ingest/prometheus?service=api", {
      token: heartbeat.key,
      body: "m 1\n",
      headers: { "content-type": "text/plain" },
    });
    expect(wrongScope.status).toBe(403);
  });
});

describe("OpenAPI", () => {
  it("documents both ingest endpoints with their key scheme", async () => {
    const doc = await callJson<{
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown> };
    }>("GET", "/api/openapi.json");
    const post = doc.body.paths["/api/ingest"]?.post;
    expect(post?.security).toEqual([{ ingestKey: [] }]);
    expect(doc.body.paths["/api/ingest/prometheus"]?.post?.security).toEqual([{ ingestKey: [] }]);
    expect(Object.keys(post?.responses ?? {})).toEqual(
      expect.arrayContaining(["202", "400", "401", "403", "413", "415", "429", "503"]),
    );
    expect(doc.body.components.securitySchemes.ingestKey).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("documents the idempotency and the duplicates and conflicts of both answers", async () => {
    type Schema = { required?: string[]; properties: Record<string, { description?: string }> };
    const doc = await callJson<{
      paths: Record<string, Record<string, { description?: string }>>;
      components: { schemas: Record<string, Schema> };
    }>("GET", "/api/openapi.json");
    expect(doc.body.paths["/api/ingest"]?.post?.description).toMatch(/Idempotent per \(series, ts\)/);
    for (const name of ["IngestAccepted", "PrometheusAccepted"]) {
      const schema = doc.body.components.schemas[name];
      expect(schema?.required).toEqual(expect.arrayContaining(["accepted", "duplicates", "conflicts"]));
      expect(schema?.properties.duplicates?.description).toMatch(/retried batch changes nothing/);
      expect(schema?.properties.conflicts?.description).toMatch(/different value/);
    }
  });
});

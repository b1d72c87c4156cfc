// npm run bench:history: read-side latency of the product as `npm start` runs it.
// Loads 7 days of minute rollups of one series (plus the hour rows the series store
// builds from them) into local D1 and 1,000 series into the SeriesIndex through
// POST /api/ingest, then times sequential GET metrics/history?period=7d and
// metrics/realtime and prints p50/p99 next to the target (7-day history p50 ≤ 50 ms).
// BENCH_N sets the number of timed requests per endpoint (default 200).
import "./check-node.mjs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { mulberry32 } from "../worker/core/random.ts";
import { addValue, emptySketch, mergeInto, quantile, serializeSketch } from "../worker/core/sketch.ts";
import { applyMigrations } from "./lib/admin.mjs";
import { api } from "./lib/bench.mjs";
import { freePort, startProduct, stopProduct } from "./lib/product.mjs";
import { d1Target, sqlString, wrangler } from "./lib/wrangler.mjs";

const N = Number(process.env.BENCH_N ?? 200);
const WARMUP = 10;
const DAYS = 7;
const SAMPLES_PER_MINUTE = 30;
const INDEX_SERIES = 1_000;
const ROWS_PER_INSERT = 100;
const TARGET_HISTORY_P50_MS = 50;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const METRIC = "bench_history_ms";
const SERVICE = "bench";
const SERIES_KEY = `${METRIC}|${SERVICE}|`; // seriesKey(METRIC, SERVICE, {})
const RT_METRIC = "bench_realtime";

const emptyRollup = () => ({ count: 0, sum: 0, min: Infinity, max: -Infinity, sketch: emptySketch() });

/** One `system_metrics` row as SQL (Node cannot load core/rollup.ts's extensionless imports, so not its rowValues). */
function rowSql(resolution, start, r) {
  const q = (p) => quantile(r.sketch, p);
  return `(${[
    sqlString(METRIC),
    sqlString(SERVICE),
    sqlString("{}"),
    sqlString(SERIES_KEY),
    resolution,
    start,
    r.count,
    r.sum,
    r.min,
    r.max,
    q(0.5),
    q(0.95),
    q(0.99),
    sqlString(serializeSketch(r.sketch)),
  ].join(", ")})`;
}

/**
 * An SQL file with a latency-like series: minute rows for the last DAYS days and an
 * hour row for every closed hour, each hour merged from its minutes as the store does.
 */
function rollupSql(now) {
  const random = mulberry32(2026);
  const end = Math.floor(now / MINUTE) * MINUTE;
  const start = end - DAYS * 24 * HOUR;
  const rows = [];
  const hours = new Map();
  for (let m = start; m < end; m += MINUTE) {
    const r = emptyRollup();
    // A daily cycle with a long tail: 40–400 ms, rarely seconds.
    const level = 120 + 80 * Math.sin((2 * Math.PI * (m % (24 * HOUR))) / (24 * HOUR));
    for (let i = 0; i < SAMPLES_PER_MINUTE; i++) {
      const v = level * (0.5 + random()) * (random() < 0.01 ? 20 : 1);
      r.count++;
      r.sum += v;
      r.min = Math.min(r.min, v);
      r.max = Math.max(r.max, v);
      addValue(r.sketch, v);
    }
    rows.push(rowSql(60, m, r));
    const h = Math.floor(m / HOUR) * HOUR;
    const hour = hours.get(h) ?? emptyRollup();
    hour.count += r.count;
    hour.sum += r.sum;
    hour.min = Math.min(hour.min, r.min);
    hour.max = Math.max(hour.max, r.max);
    mergeInto(hour.sketch, r.sketch);
    hours.set(h, hour);
  }
  let hourRows = 0;
  for (const [h, r] of hours) {
    if (h + HOUR > now) continue; // the current hour is still open
    rows.push(rowSql(3600, h, r));
    hourRows++;
  }
  const columns =
    "metric_name, service, labels, series_key, resolution_seconds, bucket_start, count, sum, min, max, p50, p95, p99, sketch";
  const statements = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    statements.push(
      `INSERT INTO system_metrics (${columns}) VALUES\n${rows.slice(i, i + ROWS_PER_INSERT).join(",\n")};`,
    );
  }
  return {
    sql: statements.join("\n"),
    minuteRows: rows.length - hourRows,
    hourRows,
    samples: (rows.length - hourRows) * SAMPLES_PER_MINUTE,
  };
}

/** 1,000 series through the real ingest path: one sample each, in batches. */
async function loadIndex(base, token) {
  const { key } = await api(base, token, "POST", "/api/admin/monitoring/keys", {
    name: `bench history ${Date.now()}`,
    scope: "ingest",
  });
  const now = Date.now();
  const samples = Array.from({ length: INDEX_SERIES }, (_, i) => ({
    metric: RT_METRIC,
    service: `svc-${i % 10}`,
    labels: { instance: String(i) },
    value: i,
    ts: now - 1_000,
  }));
  for (let i = 0; i < samples.length; i += 250) {
    await api(base, key, "POST", "/api/ingest", { samples: samples.slice(i, i + 250) });
  }
}

async function time(url, token, n) {
  const latencies = [];
  let bytes = 0;
  for (let i = 0; i < WARMUP + n; i++) {
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    const elapsed = performance.now() - started;
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 300)}`);
    if (i >= WARMUP) {
      latencies.push(elapsed);
      bytes = text.length;
    }
  }
  latencies.sort((a, b) => a - b);
  const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((latencies.length * p) / 100) - 1)];
  return { p50: at(50), p99: at(99), mean: latencies.reduce((a, b) => a + b, 0) / latencies.length, bytes };
}

const ms = (n) => `${n.toFixed(1)} ms`;

async function main() {
  const port = await freePort();
  const persistTo = mkdtempSync(path.join(tmpdir(), "edge-monitor-bench-history-"));
  const base = `http://127.0.0.1:${port}`;
  let product = null;
  try {
    // D1 is loaded before the Worker starts, so no two processes write its SQLite file at once.
    console.log(`preparing local D1 in ${persistTo} …`);
    applyMigrations({ persistTo });
    const loaded = rollupSql(Date.now());
    const file = path.join(persistTo, "bench-rollups.sql");
    writeFileSync(file, loaded.sql);
    wrangler(["d1", "execute", "DB", ...d1Target({ persistTo }), "--file", file]);
    console.log(
      `loaded ${loaded.minuteRows.toLocaleString("en-US")} minute rows and ${loaded.hourRows} hour rows of ${SERIES_KEY} ` +
        `(${loaded.samples.toLocaleString("en-US")} samples over ${DAYS} days)`,
    );

    console.log(`starting the product on ${base} …`);
    product = startProduct(port, persistTo);
    const token = await product.token.catch((err) => {
      throw new Error(`${err.message}\n--- last output ---\n${product.tail.join("\n")}`);
    });

    await loadIndex(base, token);
    // Each metric family sends its latest values to the index a moment after storing them.
    let listed;
    const waitUntil = Date.now() + 10_000;
    do {
      listed = await api(base, token, "GET", `/api/admin/monitoring/metrics/realtime?metric=${RT_METRIC}`);
      if (listed.metrics.length < INDEX_SERIES) await new Promise((r) => setTimeout(r, 100));
    } while (listed.metrics.length < INDEX_SERIES && Date.now() < waitUntil);
    const everything = await api(base, token, "GET", "/api/admin/monitoring/metrics/realtime");
    console.log(
      `loaded ${listed.metrics.length} series through POST /api/ingest (the index holds ${everything.metrics.length} in all)`,
    );
    if (listed.metrics.length !== INDEX_SERIES) throw new Error(`expected ${INDEX_SERIES} series in the index`);

    const historyPath = `/api/admin/monitoring/metrics/history?metric=${METRIC}&service=${SERVICE}&period=7d`;
    const check = await api(base, token, "GET", historyPath);
    const counted = check.points.reduce((n, p) => n + p.count, 0);
    console.log(
      `7-day history: ${check.points.length} hourly points holding ${counted.toLocaleString("en-US")} samples`,
    );

    const history = await time(`${base}${historyPath}`, token, N);
    const realtime = await time(`${base}/api/admin/monitoring/metrics/realtime`, token, N);
    // The floor every admin request pays (routing, token check in D1), for comparison.
    const floor = await time(`${base}/api/admin/me`, token, N);
    console.log("");
    console.log(`${N} sequential requests each (after ${WARMUP} warm-up requests):`);
    console.log(
      `  GET metrics/history?period=7d  p50 ${ms(history.p50)}  p99 ${ms(history.p99)}  mean ${ms(history.mean)}  ` +
        `(${(history.bytes / 1024).toFixed(1)} KiB)  target p50 ≤ ${TARGET_HISTORY_P50_MS} ms: ` +
        `${history.p50 <= TARGET_HISTORY_P50_MS ? "met" : "MISSED"}`,
    );
    console.log(
      `  GET metrics/realtime           p50 ${ms(realtime.p50)}  p99 ${ms(realtime.p99)}  mean ${ms(realtime.mean)}  ` +
        `(${everything.metrics.length} series, ${(realtime.bytes / 1024).toFixed(1)} KiB)`,
    );
    console.log(
      `  GET /api/admin/me (baseline)    p50 ${ms(floor.p50)}  p99 ${ms(floor.p99)}  mean ${ms(floor.mean)}  ` +
        "(authentication and routing only)",
    );
    process.exitCode = history.p50 <= TARGET_HISTORY_P50_MS ? 0 : 1;
  } finally {
    if (product) await stopProduct(product.child);
    rmSync(persistTo, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench:history: ${err.message}`);
  process.exitCode = 1;
});

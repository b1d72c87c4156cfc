// npm run bench:ingest: push-ingest throughput of the product as `npm start` runs it.
// Measures a no-op endpoint, single-sample and 500-sample batched ingest, and the same requests
// refused by validation (the ingest path without storage), with concurrent keep-alive clients;
// prints the rates next to the targets, then checks that no accepted sample is missing.
// BENCH_CONCURRENCY and BENCH_SECONDS tune the load; BENCH_BASE_URL with BENCH_TOKEN (an
// admin token) measures an already running product instead of starting one.
import "./check-node.mjs";
import { availableParallelism, loadavg } from "node:os";
import { createIngestKey, fmt, ingestRequest, launchProduct, load, printTable, statusText } from "./lib/bench.mjs";

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = 2;
const BATCH_SIZE = 500;
const SERIES = 20;
const TARGET_BATCHED_SAMPLES_PER_S = 20_000;
const TARGET_SINGLE_SHARE_OF_NOOP = 0.5;

const RUN = Date.now().toString(36);
const METRIC_SINGLE = `bench_single_${RUN}`;
const METRIC_BATCH = `bench_batch_${RUN}`;

const rate = (s) => s.requests / s.elapsed;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

let single = 0;
const singleSample = () => {
  const i = single++;
  return [{ metric: METRIC_SINGLE, service: "bench", labels: { series: String(i % SERIES) }, value: i }];
};

/**
 * 500 samples over 20 series. Every batch takes the next 25 ms of each series' past from the
 * script's start, so no two samples of a series share a timestamp (ingest is idempotent per
 * series and timestamp: a repeat would be accepted but not stored, and the rate would count it).
 */
let batches = 0;
const BATCH_EPOCH = Date.now();
function batch() {
  const block = batches++ * (BATCH_SIZE / SERIES);
  return Array.from({ length: BATCH_SIZE }, (_, i) => ({
    metric: METRIC_BATCH,
    service: "bench",
    labels: { series: String(i % SERIES) },
    value: i,
    ts: BATCH_EPOCH - block - Math.floor(i / SERIES),
  }));
}

async function storedCount(base, token, metric) {
  const res = await fetch(`${base}/api/admin/monitoring/metrics/series?metric=${metric}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`GET /metrics/series: ${res.status} ${await res.text()}`);
  const body = await res.json();
  const series = Array.isArray(body) ? body : body.series;
  return { series: series.length, samples: series.reduce((sum, s) => sum + s.raw_count, 0) };
}

async function main() {
  let base = process.env.BENCH_BASE_URL;
  let token = process.env.BENCH_TOKEN;
  // A product this script started is stopped and its state removed; one it found running is left alone.
  let started = null;
  if (!base || !token) {
    started = await launchProduct();
    ({ base, token } = started);
  }

  try {
    const singleKey = await createIngestKey(base, token, `bench single ${RUN}`);
    const batchKey = await createIngestKey(base, token, `bench batch ${RUN}`);
    console.log(
      `${CONCURRENCY} concurrent keep-alive clients, ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up; ` +
        `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} before (client, wrangler and workerd share them)\n`,
    );

    // Warm-up requests are not timed, but the samples they got accepted count for the stored check.
    const phase = async (label, url, makeRequest) => {
      process.stdout.write(`  ${label} …`);
      const warm = await load(url, makeRequest, WARMUP_SECONDS, CONCURRENCY);
      const stats = await load(url, makeRequest, SECONDS, CONCURRENCY);
      process.stdout.write(` warm-up ${statusText(warm)}; measured ${statusText(stats)}\n`);
      // Samples at an instant their series already held (two batches of the same timestamps) are not stored again.
      const newWithWarmup = warm.accepted - warm.duplicates + stats.accepted - stats.duplicates;
      return { ...stats, acceptedWithWarmup: warm.accepted + stats.accepted, newWithWarmup };
    };
    const ingestUrl = `${base}/api/ingest`;
    const noop = await phase("no-op GET /healthz", `${base}/healthz`, () => ({}));
    const one = await phase("single-sample POST /api/ingest", ingestUrl, () =>
      ingestRequest(singleKey, singleSample()),
    );
    const many = await phase(`${BATCH_SIZE}-sample POST /api/ingest`, ingestUrl, () =>
      ingestRequest(batchKey, batch()),
    );
    // The same requests with one bad sample at the end: auth, body, JSON and validation, no storage.
    const badSample = { metric: METRIC_BATCH, service: "bench", value: "bad" };
    const singleRefused = await phase("single-sample, refused (no storage)", ingestUrl, () =>
      ingestRequest(singleKey, [badSample]),
    );
    const refused = await phase(`${BATCH_SIZE}-sample, refused (no storage)`, ingestUrl, () =>
      ingestRequest(batchKey, [...batch().slice(1), badSample]),
    );
    const accepted = { single: one.acceptedWithWarmup, batch: many.acceptedWithWarmup };
    const fresh = { single: one.newWithWarmup, batch: many.newWithWarmup };

    const noopRate = rate(noop);
    const singleTarget = noopRate * TARGET_SINGLE_SHARE_OF_NOOP;
    const batchSamples = many.accepted / many.elapsed;
    const rows = [
      ["phase", "requests/s", "samples/s", "p50 ms", "p99 ms", "target", ""],
      ["no-op GET /healthz", fmt(noopRate), "–", ...lat(noop), "(reference)", ""],
      [
        "single-sample ingest",
        fmt(rate(one)),
        fmt(one.accepted / one.elapsed),
        ...lat(one),
        `≥ ${fmt(singleTarget)} req/s (50 % of no-op)`,
        rate(one) >= singleTarget ? "MET" : "MISSED",
      ],
      [
        "  same requests refused by validation",
        fmt(rate(singleRefused)),
        "–",
        ...lat(singleRefused),
        "(ingest path without storage)",
        "",
      ],
      [
        `batched ingest (${BATCH_SIZE}/req, ${SERIES} series)`,
        fmt(rate(many)),
        fmt(batchSamples),
        ...lat(many),
        `≥ ${fmt(TARGET_BATCHED_SAMPLES_PER_S)} samples/s`,
        batchSamples >= TARGET_BATCHED_SAMPLES_PER_S ? "MET" : "MISSED",
      ],
      [
        "  same batches refused by validation",
        fmt(rate(refused)),
        `(${fmt(rate(refused) * BATCH_SIZE)})`,
        ...lat(refused),
        "(ingest path without storage)",
        "",
      ],
    ];
    console.log();
    printTable(rows, (i) => i === 0 || i >= 5);
    console.log(`(load average ${loadavg()[0].toFixed(1)} after)`);

    console.log("\nstored vs accepted (GET /api/admin/monitoring/metrics/series → raw_count):");
    let missing = false;
    for (const [which, metric] of [
      ["single", METRIC_SINGLE],
      ["batch", METRIC_BATCH],
    ]) {
      const stored = await storedCount(base, token, metric);
      const extra = stored.samples - fresh[which];
      missing ||= extra < 0;
      const verdict =
        extra < 0
          ? `✗ ${fmt(-extra)} accepted samples missing`
          : extra > 0
            ? `✓ none missing (${fmt(extra)} more stored by requests not answered 202, e.g. 503 after a partial write)`
            : "✓ none missing";
      console.log(
        `  ${metric}: accepted ${fmt(accepted[which])} (${fmt(accepted[which] - fresh[which])} duplicates), ` +
          `stored ${fmt(stored.samples)} in ${stored.series} series ${verdict}`,
      );
    }
    if (missing) {
      console.error("\nSome accepted samples are missing from the store.");
      process.exitCode = 1;
    }
  } finally {
    await started?.stop();
  }
}

function lat(stats) {
  return [percentile(stats.latencies, 50).toFixed(1), percentile(stats.latencies, 99).toFixed(1)];
}

main().catch((err) => {
  console.error(`bench:ingest: ${err.message}`);
  process.exit(1);
});

// npm run bench:alert: how fast a breach becomes a firing alert, and what ingest sustains with
// the alert engine attached, on the product as `npm start` runs it (fresh state).
// Creates BENCH_RULES threshold rules, each on its own series, warms them with one harmless
// sample each, then pushes one breaching sample to BENCH_LATENCY_SAMPLES of them, one request
// each, and reads every rule's alert back: latency = the alert's triggered_at − observed_at
// (the breaching sample's ts), both as the engine recorded them. Then measures ingest over the
// rules' series, below the threshold so nothing fires, for BENCH_SECONDS per phase.
// Exits non-zero on errors (API errors, missing or unexpected alerts), not on a missed target.
import "./check-node.mjs";
import { availableParallelism, loadavg } from "node:os";
import {
  api,
  createIngestKey,
  fmt,
  ingestRequest,
  launchProduct,
  load,
  printTable,
  runBench,
  sleep,
  statusText,
} from "./lib/bench.mjs";
import { mapLimit, percentile, summarize } from "./lib/stats.mjs";

const RULES = Number(process.env.BENCH_RULES ?? 1_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LATENCY_SAMPLES = Math.min(RULES, Number(process.env.BENCH_LATENCY_SAMPLES ?? 300));
const SERVICES = 20;
const CREATE_CONCURRENCY = 8;
const CONCURRENCY = 16;
const WARMUP_SECONDS = 2;
const BATCH_SIZE = 500;
const THRESHOLD = 100;
const BREACH_VALUE = 500;
const GAP_MS = 20;
const ALERT_TIMEOUT_MS = 10_000;
const TARGET_P99_MS = 100;
// bench:ingest's targets (without rules), for comparison.
const TARGET_BATCHED_SAMPLES_PER_S = 20_000;
const TARGET_SINGLE_SHARE_OF_NOOP = 0.5;

const RUN = Date.now().toString(36);
const METRIC = `bench_alert_${RUN}`;
const RULES_PATH = "/api/admin/monitoring/rules";
const HISTORY_PATH = "/api/admin/monitoring/alerts/history";

/** Series `i`, the one rule `i` reads. */
const series = (i) => ({ metric: METRIC, service: `svc-${i % SERVICES}`, labels: { n: String(i) } });

const ruleBody = (i) => ({
  rule_name: `bench alert ${RUN} #${i}`,
  metric_name: METRIC,
  service: series(i).service,
  labels: series(i).labels,
  kind: "threshold",
  comparison_operator: ">",
  threshold_value: THRESHOLD,
  for_seconds: 0,
  severity: "warning",
  notification_channels: ["email"],
});

const ms = (n) => `${n.toFixed(1)} ms`;
const rate = (s) => s.requests / s.elapsed;
const met = (ok) => (ok ? "MET" : "MISSED");
const lat = (s) => [ms(percentile(s.latencies, 50)), ms(percentile(s.latencies, 99))];

/** Every alert of `ruleId`, once at least one exists; [] after the timeout. */
async function alertsOf(base, token, ruleId) {
  const deadline = Date.now() + ALERT_TIMEOUT_MS;
  for (;;) {
    const page = await api(base, token, "GET", `${HISTORY_PATH}?rule_id=${ruleId}&limit=10`);
    if (page.alerts.length || Date.now() >= deadline) return page.alerts;
    await sleep(50);
  }
}

/** Alerts of the given rules triggered at or after `from` (ms), over every history page. */
async function alertsSince(base, token, ruleIds, from) {
  const found = [];
  let cursor = null;
  do {
    const query = `from=${from}&limit=500${cursor ? `&cursor=${cursor}` : ""}`;
    const page = await api(base, token, "GET", `${HISTORY_PATH}?${query}`);
    found.push(...page.alerts.filter((a) => ruleIds.has(a.alert_rule_id)));
    cursor = page.next_cursor;
  } while (cursor);
  return found;
}

async function main() {
  const product = await launchProduct("edge-monitor-bench-alert-");
  const { base, token } = product;
  const failures = [];
  try {
    const setupKey = await createIngestKey(base, token, `bench alert setup ${RUN}`);
    const singleKey = await createIngestKey(base, token, `bench alert single ${RUN}`);
    const batchKey = await createIngestKey(base, token, `bench alert batch ${RUN}`);
    console.log(
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} before ` +
        "(client, wrangler and workerd share them)",
    );

    // 1. One rule per series.
    process.stdout.write(`creating ${fmt(RULES)} rules on ${METRIC} (${CREATE_CONCURRENCY} at a time) …`);
    const createStarted = performance.now();
    const ruleIds = await mapLimit(
      Array.from({ length: RULES }, (_, i) => i),
      CREATE_CONCURRENCY,
      async (i) => (await api(base, token, "POST", RULES_PATH, ruleBody(i))).id,
    );
    const createSeconds = (performance.now() - createStarted) / 1000;
    console.log(` ${createSeconds.toFixed(1)} s (${fmt(RULES / createSeconds)} rules/s)`);

    // 2. Every rule sees one harmless sample first: its object and its family's rule list are warm.
    const now = Date.now();
    const warm = Array.from({ length: RULES }, (_, i) => ({ ...series(i), value: 1, ts: now }));
    for (let i = 0; i < warm.length; i += BATCH_SIZE) {
      await api(base, setupKey, "POST", "/api/ingest", { samples: warm.slice(i, i + BATCH_SIZE) });
    }
    await sleep(1_000);
    console.log(`warmed every rule with one sample of value 1 (${Math.ceil(RULES / BATCH_SIZE)} batches)`);

    // 3. One breaching sample each for LATENCY_SAMPLES rules spread over the services, one request at a time.
    const picks = Array.from({ length: LATENCY_SAMPLES }, (_, j) => Math.floor((j * RULES) / LATENCY_SAMPLES));
    process.stdout.write(`pushing ${LATENCY_SAMPLES} breaching samples (value ${BREACH_VALUE}), ${GAP_MS} ms apart …`);
    const sent = [];
    for (const i of picks) {
      const ts = Date.now();
      const started = performance.now();
      await api(base, setupKey, "POST", "/api/ingest", { samples: [{ ...series(i), value: BREACH_VALUE, ts }] });
      sent.push({ i, ts, requestMs: performance.now() - started });
      await sleep(GAP_MS);
    }
    console.log(" done; reading the alerts back");
    const latencies = [];
    const missing = [];
    const odd = [];
    for (const { i, ts } of sent) {
      const alerts = await alertsOf(base, token, ruleIds[i]);
      const alert = alerts[0];
      if (!alert) {
        missing.push(i);
        continue;
      }
      if (alerts.length > 1 || Date.parse(alert.observed_at) !== ts) {
        odd.push(`rule ${ruleIds[i]}: ${alerts.length} alerts, observed_at ${alert.observed_at}, sent ts ${ts}`);
      }
      latencies.push(Date.parse(alert.triggered_at) - Date.parse(alert.observed_at));
    }
    const latency = summarize(latencies);
    const request = summarize(sent.map((s) => s.requestMs));
    if (missing.length) {
      failures.push(
        `${missing.length} of ${LATENCY_SAMPLES} breaches raised no alert within ${ALERT_TIMEOUT_MS / 1000} s ` +
          `(rules ${missing
            .slice(0, 10)
            .map((i) => ruleIds[i])
            .join(", ")}${missing.length > 10 ? ", …" : ""})`,
      );
    }
    if (odd.length) {
      failures.push(`${odd.length} alerts are not the one breach sent: ${odd.slice(0, 3).join("; ")}`);
    }

    // 4. Ingest with every rule attached, below the threshold.
    console.log(
      `\ningest over the ${fmt(RULES)} rules' series (values < ${THRESHOLD}): ${CONCURRENCY} concurrent keep-alive ` +
        `clients, ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up`,
    );
    const loadFrom = Date.now();
    const phase = async (label, url, makeRequest, expected) => {
      process.stdout.write(`  ${label} …`);
      const warmup = await load(url, makeRequest, WARMUP_SECONDS, CONCURRENCY);
      const stats = await load(url, makeRequest, SECONDS, CONCURRENCY);
      process.stdout.write(` warm-up ${statusText(warmup)}; measured ${statusText(stats)}\n`);
      for (const s of [warmup, stats]) {
        const unexpected = s.requests - (s.statuses.get(expected) ?? 0);
        if (unexpected || s.errors) failures.push(`${label}: ${statusText(s)} (expected ${expected} only)`);
      }
      return stats;
    };
    const ingestUrl = `${base}/api/ingest`;
    let singles = 0;
    const singleSample = () => {
      const k = singles++;
      return [{ ...series(k % RULES), value: k % THRESHOLD }];
    };
    // Batch k holds samples k·500 … k·500+499 over the series in turn; timestamps differ within a series.
    let batches = 0;
    const batch = () => {
      const first = batches++ * BATCH_SIZE;
      const stamp = Date.now();
      return Array.from({ length: BATCH_SIZE }, (_, j) => {
        const g = first + j;
        return { ...series(g % RULES), value: g % THRESHOLD, ts: stamp - (Math.floor(g / RULES) % 100) };
      });
    };
    const noop = await phase("no-op GET /healthz", `${base}/healthz`, () => ({}), 200);
    const one = await phase(
      "single-sample POST /api/ingest",
      ingestUrl,
      () => ingestRequest(singleKey, singleSample()),
      202,
    );
    const many = await phase(
      `${BATCH_SIZE}-sample POST /api/ingest`,
      ingestUrl,
      () => ingestRequest(batchKey, batch()),
      202,
    );
    // Values below the threshold fire nothing; the breached rules above resolve instead.
    await sleep(1_000);
    const fired = await alertsSince(base, token, new Set(ruleIds), loadFrom);
    if (fired.length) {
      failures.push(`${fired.length} alerts fired during the ingest phases, whose values are all below the threshold`);
    }

    const noopRate = rate(noop);
    const singleTarget = noopRate * TARGET_SINGLE_SHARE_OF_NOOP;
    const batchSamples = many.accepted / many.elapsed;
    console.log();
    printTable(
      [
        ["measurement", "result", "p50", "p99", "max", "target", ""],
        [
          `create ${fmt(RULES)} rules (${CREATE_CONCURRENCY} concurrent)`,
          `${createSeconds.toFixed(1)} s, ${fmt(RULES / createSeconds)}/s`,
          "–",
          "–",
          "–",
          "",
          "",
        ],
        [
          "breach → firing alert (triggered_at − observed_at)",
          `${latencies.length}/${LATENCY_SAMPLES} fired`,
          ms(latency.p50),
          ms(latency.p99),
          ms(latency.max),
          `p99 ≤ ${TARGET_P99_MS} ms, all fired`,
          latencies.length ? met(latency.p99 <= TARGET_P99_MS && !missing.length) : "–",
        ],
        [
          "  the breaching ingest request (client side)",
          `${sent.length} requests`,
          ms(request.p50),
          ms(request.p99),
          ms(request.max),
          "(context)",
          "",
        ],
        ["no-op GET /healthz", `${fmt(noopRate)} req/s`, ...lat(noop), "–", "(reference)", ""],
        [
          "single-sample ingest, rules attached",
          `${fmt(rate(one))} req/s`,
          ...lat(one),
          "–",
          `≥ ${fmt(singleTarget)} req/s (bench:ingest's 50 % of no-op)`,
          met(rate(one) >= singleTarget),
        ],
        [
          `batched ingest (${BATCH_SIZE}/req over ${fmt(RULES)} series), rules attached`,
          `${fmt(batchSamples)} samples/s`,
          ...lat(many),
          "–",
          `≥ ${fmt(TARGET_BATCHED_SAMPLES_PER_S)} samples/s (bench:ingest's)`,
          met(batchSamples >= TARGET_BATCHED_SAMPLES_PER_S),
        ],
      ],
      (i) => i === 0 || i >= 5,
    );
    console.log(
      `(load average ${loadavg()[0].toFixed(1)} after; ${fired.length} alerts fired during the ingest phases)`,
    );
  } finally {
    await product.stop();
  }
  return failures;
}

runBench("bench:alert", main);

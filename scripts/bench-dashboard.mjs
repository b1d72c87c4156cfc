// npm run bench:dashboard [-- --clients N]: how fast a change reaches every live dashboard, on the
// product as `npm start` runs it (fresh state). Connects N clients (default 1,000) to `/ws` with the
// owner's token, as the dashboard does with its session, then measures per client:
//   alert changes: a threshold rule (for_seconds 0) on a fresh metric; ALERTS times a breaching
//     sample of a new label set goes to POST /api/ingest, and the time from the moment that POST is
//     sent until each client has the `alerts` delta listing the new alert; each alert is then
//     cleared by a sample, resolved through the API, and the next change waits until every
//     client saw it go;
//   metric changes: METRICS times a sample of a fresh metric, from the moment its POST is sent
//     until each client has the `metrics` delta carrying it.
// The changes are isolated (each starts a moment after every client saw the previous one, a
// random 0.5–1 s later for alerts, 1–1.5 s for metrics), so each measures one change, not a
// queue. Background deltas of the demo keep arriving meanwhile, as they would. Clients follow
// the protocol: a seq gap is counted and answered with a resync, as the dashboard does.
// Exits non-zero on errors (API errors, updates missing at some client, seq gaps), not on a
// missed target. BENCH_ALERTS and BENCH_METRICS (20 each) set the number of changes;
// BENCH_VERBOSE=1 prints each change (when it was sent, first and last client) and each gap.
import "./check-node.mjs";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { api, createIngestKey, fmt, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";
import { mapLimit, summarize } from "./lib/stats.mjs";

const { values: args } = parseArgs({
  options: { clients: { type: "string", default: "1000" } },
  strict: true,
});
const CLIENTS = Number(args.clients);
if (!Number.isInteger(CLIENTS) || CLIENTS < 1) {
  console.error(`bench:dashboard: --clients must be a positive integer, got "${args.clients}"`);
  process.exit(1);
}
const ALERTS = Number(process.env.BENCH_ALERTS ?? 20);
const METRICS = Number(process.env.BENCH_METRICS ?? 20);
const CONNECT_CONCURRENCY = 50;
const UPDATE_TIMEOUT_MS = 10_000;
const TARGET_ALERTS_P99_MS = 250;
const TARGET_METRICS_P99_MS = 1_000;
const THRESHOLD = 100;

const RUN = Date.now().toString(36);
const ALERT_METRIC = `bench_dash_alert_${RUN}`;
const METRIC = `bench_dash_metric_${RUN}`;
const SERVICE = "bench";

const ms = (n) => (Number.isFinite(n) ? `${Math.round(n)} ms` : "–");
const met = (ok) => (ok ? "MET" : "MISSED");
const jitter = (from, to) => from + Math.random() * (to - from);

/** Whether `text` holds every marker, and none of those starting with "!". */
const matches = (text, markers) => markers.every((m) => (m[0] === "!" ? !text.includes(m.slice(1)) : text.includes(m)));

/**
 * One dashboard client. `watch` is the change being measured: the first message matching its
 * `markers` records its arrival time for this client.
 */
class Client {
  constructor(url, token, shared) {
    this.shared = shared;
    this.lastSeq = null;
    this.resyncing = false;
    this.gaps = 0;
    this.got = new Map(); // change id → performance.now() of arrival
    this.ready = new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      this.ws = ws;
      ws.addEventListener("error", () => reject(new Error("a dashboard socket failed to connect")));
      ws.addEventListener("close", (e) => {
        this.closed = true;
        reject(new Error(`a dashboard socket closed before its snapshot (${e.code})`));
      });
      ws.addEventListener("message", (e) => {
        const text = typeof e.data === "string" ? e.data : "";
        if (this.lastSeq === null || this.resyncing) {
          if (!text.startsWith('{"type":"snapshot"')) return;
          this.lastSeq = JSON.parse(text).seq;
          this.resyncing = false;
          resolve();
          return;
        }
        const watch = this.shared.watch;
        if (watch && !this.got.has(watch.id) && matches(text, watch.markers)) {
          this.got.set(watch.id, performance.now());
        }
        const seq = Number(/"seq":(\d+)/.exec(text)?.[1]);
        if (!text.startsWith('{"type":"delta"') || !Number.isInteger(seq)) return;
        if (seq !== this.lastSeq + 1) {
          this.gaps++;
          if (process.env.BENCH_VERBOSE)
            console.log(`  gap: expected seq ${this.lastSeq + 1}, got ${text.slice(0, 60)}`);
          this.resyncing = true;
          ws.send(JSON.stringify({ type: "resync" }));
          return;
        }
        this.lastSeq = seq;
      });
    });
  }

  close() {
    if (!this.closed) this.ws.close(1000, "done");
  }
}

/**
 * Sets the change being watched, runs `act` (which sends the change and returns the instant it
 * was sent), and waits until every client has it or UPDATE_TIMEOUT_MS passed.
 * Returns the per-client latencies and how many clients got it.
 */
async function measure(clients, shared, id, markers, act) {
  shared.watch = { id, markers };
  const sentAt = await act();
  const deadline = performance.now() + UPDATE_TIMEOUT_MS;
  while (clients.some((c) => !c.got.has(id)) && performance.now() < deadline) await sleep(5);
  shared.watch = null;
  const latencies = clients.filter((c) => c.got.has(id)).map((c) => c.got.get(id) - sentAt);
  if (process.env.BENCH_VERBOSE) {
    const s = summarize(latencies);
    const clock = new Date(Date.now() - (performance.now() - sentAt)).toISOString().slice(14, 23);
    console.log(
      `  ${id} (sent at mm:ss ${clock}): ${s.n} clients, first ${ms(Math.min(...latencies))}, p50 ${ms(s.p50)}, max ${ms(s.max)}`,
    );
  }
  return { latencies, reached: latencies.length };
}

async function main() {
  const product = await launchProduct("edge-monitor-bench-dashboard-");
  const { base, token } = product;
  const failures = [];
  const clients = [];
  try {
    const key = await createIngestKey(base, token, `bench dashboard ${RUN}`);
    const posts = [];
    const ingest = async (samples) => {
      const sent = performance.now();
      await api(base, key, "POST", "/api/ingest", { samples });
      posts.push(performance.now() - sent);
      return sent;
    };
    const rule = await api(base, token, "POST", "/api/admin/monitoring/rules", {
      rule_name: `bench dashboard ${RUN}`,
      metric_name: ALERT_METRIC,
      service: SERVICE,
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: THRESHOLD,
      for_seconds: 0,
      // Resolved through the API only: a clear sample alone leaves the alert open.
      resolve_for_seconds: 3_600,
      cooldown_minutes: 0,
      severity: "warning",
      notification_channels: ["email"],
    });
    console.log(
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} before ` +
        "(clients, wrangler and workerd share them)",
    );

    process.stdout.write(`connecting ${fmt(CLIENTS)} dashboard clients to /ws (${CONNECT_CONCURRENCY} at a time) …`);
    const shared = { watch: null };
    const url = `${base.replace(/^http/, "ws")}/ws`;
    const connectStarted = performance.now();
    await mapLimit(
      Array.from({ length: CLIENTS }, (_, i) => i),
      CONNECT_CONCURRENCY,
      async () => {
        const client = new Client(url, token, shared);
        clients.push(client);
        await client.ready;
      },
    );
    console.log(` ${((performance.now() - connectStarted) / 1000).toFixed(1)} s`);
    // Let the demo's start-up traffic settle a little.
    await sleep(2_000);
    const gapsBefore = clients.reduce((n, c) => n + c.gaps, 0);

    // 1. Alert changes: a new alert fires; then it is resolved and every client sees it go.
    process.stdout.write(`${ALERTS} alert changes …`);
    const alertRuns = [];
    for (let k = 0; k < ALERTS; k++) {
      const labels = { bench_case: `a${k}` };
      const run = await measure(clients, shared, `alert ${k}`, ['"topic":"alerts"', `"bench_case":"a${k}"`], () =>
        ingest([{ metric: ALERT_METRIC, service: SERVICE, labels, value: THRESHOLD * 5, ts: Date.now() }]),
      );
      alertRuns.push(run);
      const active = await api(base, token, "GET", "/api/admin/monitoring/alerts/active");
      const alert = active.alerts.find((a) => a.alert_rule_id === rule.id && a.labels.bench_case === `a${k}`);
      if (!alert) {
        failures.push(`alert change ${k}: no active alert for the breach`);
        continue;
      }
      // Cleared, resolved through the API, and every client learns it went (an alerts delta
      // without it) before the next change.
      await ingest([{ metric: ALERT_METRIC, service: SERVICE, labels, value: 0, ts: Date.now() }]);
      const gone = await measure(
        clients,
        shared,
        `resolved ${k}`,
        ['"topic":"alerts"', `!"bench_case":"a${k}"`],
        async () => {
          const sent = performance.now();
          await api(base, token, "POST", `/api/admin/monitoring/alerts/${alert.id}/resolve`, { note: "bench" });
          return sent;
        },
      );
      if (gone.reached < CLIENTS)
        failures.push(`alert change ${k}: ${CLIENTS - gone.reached} clients never saw it resolve`);
      await sleep(jitter(500, 1_000));
    }
    console.log(" done");

    // 2. Metric changes: a new sample of a fresh metric.
    process.stdout.write(`${METRICS} metric changes …`);
    const metricRuns = [];
    for (let k = 0; k < METRICS; k++) {
      const ts = Date.now();
      const run = await measure(
        clients,
        shared,
        `metric ${k}`,
        ['"topic":"metrics"', `"metric":"${METRIC}"`, `"ts":"${new Date(ts).toISOString()}"`],
        () => ingest([{ metric: METRIC, service: SERVICE, labels: {}, value: k, ts }]),
      );
      metricRuns.push(run);
      await sleep(jitter(1_000, 1_500));
    }
    console.log(" done");

    const gaps = clients.reduce((n, c) => n + c.gaps, 0) - gapsBefore;
    if (gaps) failures.push(`${gaps} seq gaps during the measurements (each answered with a resync)`);
    const row = (label, runs, target) => {
      const all = summarize(runs.flatMap((r) => r.latencies));
      const complete = runs.filter((r) => r.reached === CLIENTS).length;
      const fewest = Math.min(...runs.map((r) => r.reached));
      if (complete < runs.length) {
        failures.push(
          `${label}: ${runs.length - complete} of ${runs.length} updates missed some clients (fewest ${fmt(fewest)})`,
        );
      }
      return [
        label,
        `${complete}/${runs.length} reached all ${fmt(CLIENTS)} (fewest ${fmt(fewest)})`,
        ms(all.p50),
        ms(all.p99),
        ms(all.max),
        `p99 ≤ ${fmt(target)} ms`,
        met(all.p99 <= target && complete === runs.length),
      ];
    };
    console.log();
    printTable(
      [
        ["change (from the ingest POST sent, per client)", "updates", "p50", "p99", "max", "target", ""],
        row(`alert fires → alerts delta (${ALERTS} alerts)`, alertRuns, TARGET_ALERTS_P99_MS),
        row(`sample → metrics delta (${METRICS} samples)`, metricRuns, TARGET_METRICS_P99_MS),
        (() => {
          const post = summarize(posts);
          return [
            "  the ingest POST itself (answered)",
            `${post.n} requests`,
            ms(post.p50),
            ms(post.p99),
            ms(post.max),
            "(context)",
            "",
          ];
        })(),
      ],
      (i) => i === 0 || i === 1 || i >= 5,
    );
    console.log(`(load average ${loadavg()[0].toFixed(1)} after; ${gaps} seq gaps during the measurements)`);
  } finally {
    for (const c of clients) c.close();
    await product.stop();
  }
  return failures;
}

runBench("bench:dashboard", main);

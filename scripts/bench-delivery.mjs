// npm run bench:delivery: how long a breach takes to reach Slack, and how many deliveries a
// second the notification queue sustains, on the product as `npm start` runs it (fresh state)
// with SLACK_WEBHOOK_URL pointing at a local sink that records when each message arrives.
// The owner (the only admin) gets Slack enabled in its preferences; every rule here notifies
// Slack only, so each firing alert is one Slack message.
// 1. Pushed metrics: BENCH_PUSHED_ALERTS threshold rules, each on its own series, breached one
//    at a time (the next once the previous arrived): latency = sink arrival − the sample's ts.
// 2. Probes: BENCH_PROBE_EPISODES HTTP monitors (every 5 s) on a local target, each with a rule
//    on its probe_up; one at a time the target starts answering 500: latency = sink arrival −
//    that moment; then it recovers and the alert resolves before the next episode.
// 3. Burst: BENCH_BURST_ALERTS rules on as many series, all breached by one ingest request:
//    deliveries/s = delivered / (last arrival − first arrival), and each one's latency.
// Exits non-zero on errors (API errors, alerts never delivered, duplicate firing messages),
// not on a missed target.
import "./check-node.mjs";
import { createServer } from "node:http";
import { availableParallelism, loadavg } from "node:os";
import { api, createIngestKey, fmt, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";
import { mapLimit, summarize } from "./lib/stats.mjs";

const PUSHED_ALERTS = Number(process.env.BENCH_PUSHED_ALERTS ?? 50);
const PROBE_EPISODES = Number(process.env.BENCH_PROBE_EPISODES ?? 5);
const BURST_ALERTS = Math.min(1_000, Number(process.env.BENCH_BURST_ALERTS ?? 1_000));
// The shortest interval a monitor may have (worker/routes/monitors.ts).
const PROBE_INTERVAL_S = 5;
const PROBE_TIMEOUT_MS = 2_000;
const SERVICES = 20;
const CREATE_CONCURRENCY = 8;
const THRESHOLD = 100;
const BREACH_VALUE = 500;
const GAP_MS = 250;
// The specification's limit: a delivery later than this has failed, so waiting longer is pointless.
const SPEC_LIMIT_MS = 60_000;
const RESOLVE_TIMEOUT_MS = 30_000;
// The burst gives up once no message arrived for this long (or after BURST_TIMEOUT_MS in all).
const BURST_STALL_MS = 60_000;
const BURST_TIMEOUT_MS = Number(process.env.BENCH_BURST_TIMEOUT_S ?? 600) * 1000;
// After the last expected message: time for a duplicate to show up.
const SETTLE_MS = 3_000;
const TARGET_PUSHED_P99_MS = 1_000;
const TARGET_PROBE_P99_MS = PROBE_INTERVAL_S * 1000 + 2_000;

const RUN = Date.now().toString(36);
const METRIC = `bench_delivery_${RUN}`;
const BURST_METRIC = `bench_delivery_burst_${RUN}`;
const PUSHED_SERVICE = "bench-push";
const PROBE_SERVICE = "bench-probe";
const RULES_PATH = "/api/admin/monitoring/rules";
const ALERTS_PATH = "/api/admin/monitoring/alerts";
const WEBHOOK_PATH = "/services/T0/B0/x";
// Any member id passes: the incoming webhook posts to its own channel.
const SLACK_MEMBER_ID = "U0BENCH01";

// Rule names carry the run, so the sink tells the bench's messages from the demo's.
const pushedName = (i) => `bd ${RUN} p${i}`;
const probeName = (k) => `bd ${RUN} probe${k}`;
const burstName = (i) => `bd ${RUN} b${i}`;
/** Series `i` of a phase, the one its rule `i` reads. */
const pushedSeries = (i) => ({ metric: METRIC, service: PUSHED_SERVICE, labels: { n: `${i}` } });
const burstSeries = (i) => ({ metric: BURST_METRIC, service: `svc-${i % SERVICES}`, labels: { n: `${i}` } });

const rule = (name, metric, service, labels) => ({
  rule_name: name,
  metric_name: metric,
  service,
  labels,
  kind: "threshold",
  comparison_operator: ">",
  threshold_value: THRESHOLD,
  for_seconds: 0,
  severity: "warning",
  notification_channels: ["slack"],
});

/** What the Slack channel's header says: "[WARNING] FIRING: <rule> on <service> (#<alert id>)". */
function readMessage(body) {
  let blocks = [];
  try {
    blocks = JSON.parse(body).blocks ?? [];
  } catch {
    // not JSON: counted as a message nobody expects
  }
  const header = blocks.find((b) => b.type === "header")?.text?.text ?? "";
  const match = /^\[\w+\] ([A-Z ]+): (.*) \(#(\d+)\)$/.exec(header);
  if (!match) return { state: null, title: header, alertId: null, buttonsFor: null };
  const actions = blocks.find((b) => b.type === "actions")?.block_id ?? null;
  return { state: match[1], title: match[2], alertId: Number(match[3]), buttonsFor: actions };
}

/**
 * One local server for both outside parties: Slack's incoming webhook (every POST under
 * /services/ recorded with its arrival time, answered 200 "ok") and the probes' target
 * (/target/<k> answers 500 while k is in `failing`, else 200; each hit recorded).
 */
async function startLocalServer() {
  const arrivals = [];
  const failing = new Set();
  const hits = new Map();
  const server = createServer((req, res) => {
    const at = Date.now();
    const target = /^\/target\/(\d+)$/.exec(req.url ?? "");
    if (target) {
      const k = Number(target[1]);
      const status = failing.has(k) ? 500 : 200;
      if (!hits.has(k)) hits.set(k, []);
      hits.get(k).push({ at, status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "up" : "down");
      return;
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      if (req.method === "POST" && req.url?.startsWith("/services/")) arrivals.push({ at, ...readMessage(body) });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    arrivals,
    failing,
    hits,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

/** The first FIRING message titled `title` from `from` on; null after `timeoutMs`. */
async function firingMessage(arrivals, title, from, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (let seen = from; ;) {
    for (; seen < arrivals.length; seen++) {
      const a = arrivals[seen];
      if (a.state === "FIRING" && a.title === title) return a;
    }
    if (Date.now() >= deadline) return null;
    await sleep(20);
  }
}

/** Why a firing alert's message did not arrive, from its notification rows. */
async function undeliveredReason(base, token, ruleId) {
  const { alerts } = await api(base, token, "GET", `${ALERTS_PATH}/history?rule_id=${ruleId}&limit=1`);
  if (!alerts.length) return `rule ${ruleId} raised no alert`;
  const alert = await api(base, token, "GET", `${ALERTS_PATH}/${alerts[0].id}`);
  const jobs = alert.notifications.map((n) => `${n.event} via ${n.channel}: ${n.status}`).join(", ");
  return `alert ${alert.id} of rule ${ruleId}: ${jobs || "no notification job recorded"}`;
}

const duration = (n) =>
  Number.isNaN(n) ? "–" : Math.abs(n) < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
const met = (ok) => (ok ? "MET" : "MISSED");
const row = (label, result, s, target = "(context)", verdict = "") => [
  label,
  result,
  duration(s.p50),
  duration(s.p99),
  duration(s.max),
  target,
  verdict,
];

/**
 * The engine's own timestamps of each delivered alert split its time: evaluation, enqueueing,
 * then the queue, the consumer and the send. An alert that is not the breach sent goes to `odd`.
 */
async function breakdown(base, token, delivered, odd) {
  const parts = { engine: [], enqueue: [], queue: [] };
  await mapLimit(delivered, CREATE_CONCURRENCY, async (d) => {
    const alert = await api(base, token, "GET", `${ALERTS_PATH}/${d.alertId}`);
    if (Date.parse(alert.observed_at) !== d.ts || alert.alert_rule_id !== d.ruleId) {
      odd.push(`alert ${alert.id}: rule ${alert.alert_rule_id}, observed_at ${alert.observed_at}, sent ts ${d.ts}`);
    }
    const triggered = Date.parse(alert.triggered_at);
    parts.engine.push(triggered - Date.parse(alert.observed_at));
    const job = alert.notifications.find((n) => n.event === "firing" && n.channel === "slack");
    if (job) {
      parts.enqueue.push(Date.parse(job.enqueued_at) - triggered);
      parts.queue.push(d.at - Date.parse(job.enqueued_at));
    }
  });
  return [
    row("  observed_at → triggered_at (engine)", "", summarize(parts.engine)),
    row("  triggered_at → job enqueued_at", "", summarize(parts.enqueue)),
    row("  enqueued_at → arrived (queue, consumer, send)", "", summarize(parts.queue)),
  ];
}

/** 1. Pushed metrics, one breach at a time. */
async function pushedPhase({ base, token, key, arrivals }, failures) {
  const ruleIds = await mapLimit(
    Array.from({ length: PUSHED_ALERTS }, (_, i) => i),
    CREATE_CONCURRENCY,
    async (i) =>
      (await api(base, token, "POST", RULES_PATH, rule(pushedName(i), METRIC, PUSHED_SERVICE, pushedSeries(i).labels)))
        .id,
  );
  // Every rule sees one harmless sample first: its object and its family's rule list are warm.
  const now = Date.now();
  const warm = Array.from({ length: PUSHED_ALERTS }, (_, i) => ({ ...pushedSeries(i), value: 1, ts: now }));
  await api(base, key, "POST", "/api/ingest", { samples: warm });
  await sleep(1_000);

  process.stdout.write(
    `pushed metrics: ${PUSHED_ALERTS} rules on ${METRIC}; one breach (value ${BREACH_VALUE}) at a time, ` +
      `the next ${GAP_MS} ms after the previous message arrived …`,
  );
  const delivered = [];
  for (let i = 0; i < PUSHED_ALERTS; i++) {
    const from = arrivals.length;
    const ts = Date.now();
    await api(base, key, "POST", "/api/ingest", { samples: [{ ...pushedSeries(i), value: BREACH_VALUE, ts }] });
    const message = await firingMessage(arrivals, `${pushedName(i)} on ${PUSHED_SERVICE}`, from, SPEC_LIMIT_MS);
    if (!message) {
      process.stdout.write(" ✗\n");
      failures.push(
        `pushed metrics: breach ${i + 1} not delivered within ${SPEC_LIMIT_MS / 1000} s ` +
          `(${await undeliveredReason(base, token, ruleIds[i])}); the phase stopped there`,
      );
      break;
    }
    delivered.push({ ruleId: ruleIds[i], ts, at: message.at, alertId: message.alertId });
    if ((i + 1) % 10 === 0) process.stdout.write(` ${i + 1}`);
    await sleep(GAP_MS);
  }
  if (delivered.length === PUSHED_ALERTS) process.stdout.write(" done\n");

  const odd = [];
  const parts = await breakdown(base, token, delivered, odd);
  if (odd.length) {
    failures.push(`pushed metrics: ${odd.length} alerts are not the breach sent: ${odd.slice(0, 3).join("; ")}`);
  }
  const latency = summarize(delivered.map((d) => d.at - d.ts));
  return [
    row(
      "pushed metric: sample ts → Slack message arrived",
      `${delivered.length}/${PUSHED_ALERTS} delivered`,
      latency,
      `p99 ≤ ${TARGET_PUSHED_P99_MS / 1000} s`,
      delivered.length ? met(latency.p99 <= TARGET_PUSHED_P99_MS) : "–",
    ),
    ...parts,
  ];
}

/** 2. Probes: a target that starts failing, one monitor at a time. */
async function probePhase({ base, token, local, arrivals }, failures) {
  const episodes = [];
  for (let k = 0; k < PROBE_EPISODES; k++) {
    const monitor = await api(base, token, "POST", "/api/admin/monitoring/monitors", {
      name: probeName(k),
      service: PROBE_SERVICE,
      kind: "http",
      url: `${local.base}/target/${k}`,
      interval_seconds: PROBE_INTERVAL_S,
      timeout_ms: PROBE_TIMEOUT_MS,
    });
    // probe_up is 1 or 0: below 1 is down.
    const body = rule(probeName(k), "probe_up", PROBE_SERVICE, { monitor: `${monitor.id}` });
    const created = await api(base, token, "POST", RULES_PATH, {
      ...body,
      comparison_operator: "<",
      threshold_value: 1,
    });
    episodes.push({ k, monitorId: monitor.id, ruleId: created.id });
  }
  // Each rule has seen the monitor up after it was created: two probes answered 200.
  const warmDeadline = Date.now() + 4 * PROBE_INTERVAL_S * 1000;
  const since = Date.now();
  while (episodes.some(({ k }) => (local.hits.get(k) ?? []).filter((h) => h.at >= since).length < 2)) {
    if (Date.now() >= warmDeadline) {
      failures.push(`probes: the monitors did not probe ${local.base}/target/* every ${PROBE_INTERVAL_S} s`);
      return [];
    }
    await sleep(200);
  }

  process.stdout.write(
    `probes: ${PROBE_EPISODES} HTTP monitors every ${PROBE_INTERVAL_S} s, each with a rule on probe_up < 1; ` +
      "one at a time the target answers 500 until the message arrives, then 200 until the alert resolves …",
  );
  const delivered = [];
  for (const e of episodes) {
    // A random point in the probe cycle, as an outage would start.
    await sleep(Math.random() * PROBE_INTERVAL_S * 1000);
    const from = arrivals.length;
    const flippedAt = Date.now();
    local.failing.add(e.k);
    const message = await firingMessage(
      arrivals,
      `${probeName(e.k)} on ${PROBE_SERVICE}`,
      from,
      PROBE_INTERVAL_S * 1000 + SPEC_LIMIT_MS,
    );
    local.failing.delete(e.k);
    if (!message) {
      process.stdout.write(" ✗\n");
      failures.push(
        `probes: episode ${e.k + 1} not delivered within ${PROBE_INTERVAL_S} s + ${SPEC_LIMIT_MS / 1000} s ` +
          `(${await undeliveredReason(base, token, e.ruleId)}); the phase stopped there`,
      );
      break;
    }
    const probedAt = (local.hits.get(e.k) ?? []).find((h) => h.at >= flippedAt && h.status === 500)?.at;
    delivered.push({ flippedAt, probedAt, at: message.at });
    process.stdout.write(` ${e.k + 1}`);
    const deadline = Date.now() + RESOLVE_TIMEOUT_MS;
    for (;;) {
      const alert = await api(base, token, "GET", `${ALERTS_PATH}/${message.alertId}`);
      if (alert.status === "resolved") break;
      if (Date.now() >= deadline) {
        failures.push(`probes: alert ${alert.id} still ${alert.status} ${RESOLVE_TIMEOUT_MS / 1000} s after recovery`);
        break;
      }
      await sleep(250);
    }
  }
  if (delivered.length === PROBE_EPISODES) process.stdout.write(" done\n");
  const latency = summarize(delivered.map((d) => d.at - d.flippedAt));
  const probed = delivered.filter((d) => d.probedAt !== undefined);
  return [
    row(
      `probe: target fails → Slack message arrived`,
      `${delivered.length}/${PROBE_EPISODES} delivered`,
      latency,
      `p99 ≤ ${TARGET_PROBE_P99_MS / 1000} s (interval + 2 s)`,
      delivered.length ? met(latency.p99 <= TARGET_PROBE_P99_MS) : "–",
    ),
    row("  target fails → first failing probe", "", summarize(probed.map((d) => d.probedAt - d.flippedAt))),
    row("  first failing probe → arrived", "", summarize(probed.map((d) => d.at - d.probedAt))),
  ];
}

/** 3. Every burst rule breached by one ingest request. */
async function burstPhase({ base, token, key, arrivals }, failures) {
  process.stdout.write(
    `burst: creating ${fmt(BURST_ALERTS)} rules on ${BURST_METRIC} (${CREATE_CONCURRENCY} at a time) …`,
  );
  const createStarted = performance.now();
  const ruleIds = await mapLimit(
    Array.from({ length: BURST_ALERTS }, (_, i) => i),
    CREATE_CONCURRENCY,
    async (i) =>
      (
        await api(
          base,
          token,
          "POST",
          RULES_PATH,
          rule(burstName(i), BURST_METRIC, burstSeries(i).service, burstSeries(i).labels),
        )
      ).id,
  );
  console.log(` ${((performance.now() - createStarted) / 1000).toFixed(1)} s`);
  const warmTs = Date.now();
  await api(base, key, "POST", "/api/ingest", {
    samples: Array.from({ length: BURST_ALERTS }, (_, i) => ({ ...burstSeries(i), value: 1, ts: warmTs })),
  });
  await sleep(1_000);

  const expected = new Map(
    Array.from({ length: BURST_ALERTS }, (_, i) => [`${burstName(i)} on ${burstSeries(i).service}`, ruleIds[i]]),
  );
  const from = arrivals.length;
  const ts = Date.now();
  process.stdout.write(`burst: one request breaching all ${fmt(BURST_ALERTS)} series …`);
  await api(base, key, "POST", "/api/ingest", {
    samples: Array.from({ length: BURST_ALERTS }, (_, i) => ({ ...burstSeries(i), value: BREACH_VALUE, ts })),
  });
  const ours = () => arrivals.slice(from).filter((a) => a.state === "FIRING" && expected.has(a.title));
  let reported = 0;
  for (;;) {
    const got = ours();
    const titles = new Set(got.map((a) => a.title));
    const lastAt = got.at(-1)?.at ?? ts;
    if (titles.size >= BURST_ALERTS) break;
    if (Date.now() - lastAt >= BURST_STALL_MS || Date.now() - ts >= BURST_TIMEOUT_MS) {
      process.stdout.write(" ✗\n");
      failures.push(
        `burst: ${titles.size} of ${BURST_ALERTS} messages arrived in ${((Date.now() - ts) / 1000).toFixed(0)} s ` +
          `(none for the last ${((Date.now() - lastAt) / 1000).toFixed(0)} s)`,
      );
      break;
    }
    if (Date.now() - ts >= (reported + 1) * 10_000) {
      reported++;
      process.stdout.write(` ${titles.size}`);
    }
    await sleep(100);
  }
  await sleep(SETTLE_MS);
  const got = ours();
  const first = new Map();
  for (const a of got) if (!first.has(a.title)) first.set(a.title, a);
  if (first.size >= BURST_ALERTS) process.stdout.write(" done\n");
  const firsts = [...first.values()];
  // Arrivals are recorded when a request ends, so they need not be in order of arrival time.
  const times = firsts.map((a) => a.at);
  const span = firsts.length ? Math.max(...times) - Math.min(...times) : 0;
  const perSecond = span > 0 ? firsts.length / (span / 1000) : NaN;
  const latency = summarize(times.map((at) => at - ts));
  const odd = [];
  const parts = await breakdown(
    base,
    token,
    firsts.map((a) => ({ ruleId: expected.get(a.title), ts, at: a.at, alertId: a.alertId })),
    odd,
  );
  if (odd.length) failures.push(`burst: ${odd.length} alerts are not the breach sent: ${odd.slice(0, 3).join("; ")}`);
  return [
    row(
      `burst: ${fmt(BURST_ALERTS)} alerts at once, sample ts → arrived`,
      `${fmt(firsts.length)}/${fmt(BURST_ALERTS)} delivered`,
      latency,
      `every one ≤ ${SPEC_LIMIT_MS / 1000} s (spec)`,
      firsts.length ? met(latency.max <= SPEC_LIMIT_MS && firsts.length === BURST_ALERTS) : "–",
    ),
    [
      "burst: deliveries/s (delivered / (last − first arrival))",
      Number.isNaN(perSecond) ? "–" : `${fmt(perSecond)}/s`,
      "–",
      "–",
      "–",
      span > 0 ? `over ${duration(span)}` : "",
      "",
    ],
    ...parts,
  ];
}

async function main() {
  const local = await startLocalServer();
  const webhookUrl = `${local.base}${WEBHOOK_PATH}`;
  console.log(`Slack sink and probe target on ${local.base} (SLACK_WEBHOOK_URL=${webhookUrl})`);
  const product = await launchProduct("edge-monitor-bench-delivery-", { SLACK_WEBHOOK_URL: webhookUrl }).catch(
    async (err) => {
      await local.close();
      throw err;
    },
  );
  const { base, token } = product;
  const failures = [];
  const rows = [["measurement", "result", "p50", "p99", "max", "target", ""]];
  try {
    const key = await createIngestKey(base, token, `bench delivery ${RUN}`);
    await api(base, token, "PUT", "/api/admin/monitoring/preferences", {
      slack_enabled: true,
      slack_member_id: SLACK_MEMBER_ID,
      severities: ["critical", "warning", "info"],
      quiet_hours_start: null,
      quiet_hours_end: null,
    });
    console.log(
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} before ` +
        "(client, sink, wrangler and workerd share them); the owner's preferences: Slack on, no quiet hours",
    );
    const ctx = { base, token, key, local, arrivals: local.arrivals };
    if (PUSHED_ALERTS > 0) rows.push(...(await pushedPhase(ctx, failures)));
    if (PROBE_EPISODES > 0) rows.push(...(await probePhase(ctx, failures)));
    if (BURST_ALERTS > 0) rows.push(...(await burstPhase(ctx, failures)));

    // A firing alert is one message: more than one for an alert is a duplicate.
    const firing = new Map();
    for (const a of local.arrivals.filter((m) => m.state === "FIRING" && m.title.startsWith(`bd ${RUN} `))) {
      firing.set(a.alertId, (firing.get(a.alertId) ?? 0) + 1);
    }
    const duplicated = [...firing].filter(([, n]) => n > 1);
    const extra = duplicated.reduce((sum, [, n]) => sum + n - 1, 0);
    if (duplicated.length) {
      failures.push(
        `${duplicated.length} alerts got more than one firing message (${extra} extra): ` +
          duplicated
            .slice(0, 5)
            .map(([id, n]) => `#${id}×${n}`)
            .join(", "),
      );
    }
    const unmatched = local.arrivals.filter(
      (m) => m.alertId !== null && m.buttonsFor !== null && m.buttonsFor !== `alert:${m.alertId}`,
    );
    if (unmatched.length) failures.push(`${unmatched.length} messages' buttons name another alert than the header`);
    rows.push([
      "duplicate firing messages (all phases)",
      `${extra} extra for ${duplicated.length} alerts`,
      "–",
      "–",
      "–",
      "0",
      met(!duplicated.length),
    ]);

    console.log();
    printTable(rows, (i) => i === 0 || i >= 5);
    const others = local.arrivals.filter((m) => !m.title.startsWith(`bd ${RUN} `)).length;
    const states = new Map();
    for (const m of local.arrivals) states.set(m.state ?? "other", (states.get(m.state ?? "other") ?? 0) + 1);
    console.log(
      `(load average ${loadavg()[0].toFixed(1)} after; ${fmt(local.arrivals.length)} Slack messages in all: ` +
        `${[...states].map(([state, n]) => `${state} ×${fmt(n)}`).join(", ")}; ` +
        `${others} not of the bench's rules, e.g. the demo's)\n` +
        "Arrival is when the sink got the request; the sample's ts and the failing target's start are on the\n" +
        `same clock. The specification's limit for any delivery is ${SPEC_LIMIT_MS / 1000} s.`,
    );
  } finally {
    await product.stop();
    await local.close();
  }
  return failures;
}

runBench("bench:delivery", main);

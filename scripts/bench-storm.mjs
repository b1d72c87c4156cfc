// npm run bench:storm: a notification storm. One rule breached on BENCH_STORM_SERIES series
// (default 1,000) by a single ingest request, on the product as `npm start` runs it (fresh
// state), with every channel that can point at a local sink pointed at one:
//   slack   SLACK_WEBHOOK_URL: the incoming webhook, one shared channel;
//   webhook WEBHOOK_URL: shared;
//   email   Resend's API at the sink (RESEND_API_BASE_URL): one message per admin, by its `to`.
// Three admins get the notifications: the owner and two admins created through the users API,
// each with email and Slack enabled in its own preferences (critical included, no quiet hours).
// Setup: one threshold rule (value > 100, critical, on slack, webhook and email) on one metric
// and service, and a heartbeat monitor to ping.
// Storm: one POST /api/ingest of BENCH_STORM_SERIES samples, each its own series (labels {n: i}),
// all at 500. Measured:
// - the ingest request's time;
// - the time from sending it until the rule's firing alerts number BENCH_STORM_SERIES (the
//   alerts history API, filtered by rule and status, paged);
// - the messages the sink got about the rule within BENCH_STORM_WINDOW_S (60) of the request,
//   per admin on email and on each shared channel;
// - /healthz and a heartbeat ping, each pinged every ~100 ms from before the storm until all
//   alerts exist: their latency during the storm (and before it, for comparison).
// As `npm start` runs it, the Worker, its Durable Objects and local D1 share one workerd
// process: while the engine chains D1 calls back to back, other requests (the ingest response,
// the pings) wait for it to finish, which is what the request time and the pings show.
// BENCH_PRODUCT_LOG=<file> keeps everything the product prints, with arrival times.
// Exits non-zero on errors (API errors, a failed ping, alerts that never all exist), not on a
// missed target.
import "./check-node.mjs";
import { createServer } from "node:http";
import { availableParallelism, loadavg } from "node:os";
import { api, createIngestKey, fmt, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";
import { summarize } from "./lib/stats.mjs";

const SERIES = Math.min(1_000, Number(process.env.BENCH_STORM_SERIES ?? 1_000));
// Messages are counted this long after the ingest request was sent.
const WINDOW_MS = Number(process.env.BENCH_STORM_WINDOW_S ?? 60) * 1000;
// Waiting for every alert gives up after this long.
const ALERTS_TIMEOUT_MS = Number(process.env.BENCH_STORM_TIMEOUT_S ?? 600) * 1000;
const PING_EVERY_MS = 100;
// Pings before the storm: what the latencies are without it.
const BASELINE_MS = 3_000;
const POLL_MS = 250;
// The history API's largest page (worker/routes/alerts.ts).
const PAGE = 500;
const THRESHOLD = 100;
const BREACH_VALUE = 500;
const CHANNELS = ["slack", "webhook", "email"];
const TARGET_REQUEST_MS = 2_000;
const TARGET_ALERTS_MS = 5_000;
const TARGET_MESSAGES_PER_ADMIN = 5;
const TARGET_PING_P99_MS = 500;

const RUN = Date.now().toString(36);
const METRIC = `bench_storm_${RUN}`;
const SERVICE = "bench-storm";
// Every message about the rule names it: the sink tells them from the demo's by this.
const RULE_NAME = `storm ${RUN}`;
const SLACK_PATH = "/services/T0/B0/storm";
const WEBHOOK_PATH = "/hook";
const RESEND_PATH = "/resend";
const ADMIN_API = "/api/admin";
const MONITORING = `${ADMIN_API}/monitoring`;

/**
 * The outside parties on one local server: Slack's incoming webhook, the webhook receiver and
 * Resend's /emails. Every POST is recorded with its arrival time, its channel, whether it is
 * about the bench's rule, and (email) its recipient.
 */
async function startSink() {
  const messages = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const at = Date.now();
      const url = req.url ?? "";
      const channel = url.startsWith("/services/")
        ? "slack"
        : url === WEBHOOK_PATH
          ? "webhook"
          : url === `${RESEND_PATH}/emails`
            ? "email"
            : "other";
      let to = null;
      if (channel === "email") {
        try {
          to = JSON.parse(body).to?.[0] ?? null;
        } catch {
          // recorded without a recipient
        }
      }
      if (req.method === "POST") messages.push({ at, channel, to, ours: body.includes(RULE_NAME) });
      if (channel === "email") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: `email-${at}` }));
      } else {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    messages,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

/** The preferences an admin saves: email to `email`, Slack on, every severity, no quiet hours. */
const preferencesFor = (email, i) => ({
  email,
  email_enabled: true,
  slack_enabled: true,
  slack_member_id: `U0STORM0${i}`,
  severities: ["critical", "warning", "info"],
  quiet_hours_start: null,
  quiet_hours_end: null,
});

/** The owner and two new admins, each with its preferences saved by itself; their emails. */
async function setUpAdmins(base, token) {
  const ownerEmail = `owner-${RUN}@storm.test`;
  await api(base, token, "PUT", `${MONITORING}/preferences`, preferencesFor(ownerEmail, 0));
  const emails = [ownerEmail];
  for (const i of [1, 2]) {
    const email = `admin${i}-${RUN}@storm.test`;
    const user = await api(base, token, "POST", `${ADMIN_API}/users`, {
      email,
      name: `Storm admin ${i}`,
      role: "admin",
    });
    const { token: theirs } = await api(base, token, "POST", `${ADMIN_API}/users/${user.id}/tokens`, {
      name: `bench storm ${RUN}`,
    });
    // Only an owner types a Slack member id in (an admin links theirs from Slack).
    await api(base, token, "PUT", `${ADMIN_API}/users/${user.id}/slack`, {
      slack_member_id: preferencesFor(email, i).slack_member_id,
    });
    await api(base, theirs, "PUT", `${MONITORING}/preferences`, preferencesFor(email, i));
    emails.push(email);
  }
  return { emails };
}

/**
 * Pings `url` every PING_EVERY_MS (or as soon as the previous answered, when it took longer)
 * until `stop()` is called; each ping's start and latency. A non-2xx answer or a network error
 * is recorded as a failure.
 */
function pingLoop(url) {
  const pings = [];
  const failures = [];
  const stopped = new AbortController();
  const done = (async () => {
    while (!stopped.signal.aborted) {
      const started = Date.now();
      const t0 = performance.now();
      try {
        const res = await fetch(url);
        await res.text();
        if (!res.ok) failures.push(`${url}: ${res.status}`);
        pings.push({ at: started, ms: performance.now() - t0 });
      } catch (err) {
        failures.push(`${url}: ${err.cause?.message ?? err.message}`);
      }
      await sleep(Math.max(0, PING_EVERY_MS - (Date.now() - started)));
    }
  })();
  return {
    pings,
    failures,
    stop: async () => {
      stopped.abort();
      await done;
    },
  };
}

/** How many of the rule's alerts are firing, counted page by page through the history API. */
async function firingCount(base, token, ruleId) {
  let n = 0;
  let cursor = null;
  for (;;) {
    const page = await api(
      base,
      token,
      "GET",
      `${MONITORING}/alerts/history?rule_id=${ruleId}&status=firing&limit=${PAGE}` +
        (cursor ? `&cursor=${cursor}` : ""),
    );
    n += page.alerts.length;
    if (!page.next_cursor) return n;
    cursor = page.next_cursor;
  }
}

/** The messages of `list` on `channel` (and to `to`, when given). */
const count = (list, channel, to) => list.filter((m) => m.channel === channel && (to === undefined || m.to === to));

const duration = (n) =>
  Number.isNaN(n) ? "–" : Math.abs(n) < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
const met = (ok) => (ok ? "MET" : "MISSED");

async function main() {
  const sink = await startSink();
  const vars = {
    SLACK_WEBHOOK_URL: `${sink.base}${SLACK_PATH}`,
    WEBHOOK_URL: `${sink.base}${WEBHOOK_PATH}`,
    WEBHOOK_SECRET: `bench-storm-${RUN}`,
    RESEND_API_KEY: "re_bench_storm",
    RESEND_API_BASE_URL: `${sink.base}${RESEND_PATH}`,
    EMAIL_FROM: "Edge Monitor <alerts@storm.test>",
  };
  console.log(`sink for Slack, the webhook and Resend on ${sink.base}`);
  const product = await launchProduct("edge-monitor-bench-storm-", vars).catch(async (err) => {
    await sink.close();
    throw err;
  });
  const { base, token } = product;
  const failures = [];
  try {
    const key = await createIngestKey(base, token, `bench storm ${RUN}`);
    const { emails } = await setUpAdmins(base, token);
    const rule = await api(base, token, "POST", `${MONITORING}/rules`, {
      rule_name: RULE_NAME,
      metric_name: METRIC,
      service: SERVICE,
      labels: {},
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: THRESHOLD,
      for_seconds: 0,
      severity: "critical",
      notification_channels: CHANNELS,
    });
    const monitor = await api(base, token, "POST", `${MONITORING}/monitors`, {
      name: `storm heartbeat ${RUN}`,
      service: SERVICE,
      kind: "heartbeat",
      period_seconds: 300,
    });
    const heartbeatPath = new URL(monitor.heartbeat_url).pathname;
    console.log(
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)} before; ` +
        `rule ${rule.id} "${RULE_NAME}": ${METRIC} > ${THRESHOLD} on ${SERVICE}, critical, ` +
        `${CHANNELS.join(" + ")} (max_alerts_per_hour ${rule.max_alerts_per_hour}, cooldown ${rule.cooldown_minutes} min); ` +
        `admins: ${emails.join(", ")}`,
    );

    const health = pingLoop(`${base}/healthz`);
    const heartbeat = pingLoop(`${base}${heartbeatPath}`);
    await sleep(BASELINE_MS);

    const samples = Array.from({ length: SERIES }, (_, i) => ({
      metric: METRIC,
      service: SERVICE,
      labels: { n: `${i}` },
      value: BREACH_VALUE,
    }));
    process.stdout.write(`storm: one ingest request of ${fmt(SERIES)} breaching series …`);
    const stormAt = Date.now();
    const ts = stormAt;
    const t0 = performance.now();
    const accepted = await api(base, key, "POST", "/api/ingest", { samples: samples.map((s) => ({ ...s, ts })) });
    const requestMs = performance.now() - t0;
    process.stdout.write(` ${duration(requestMs)} (accepted ${accepted.accepted}); alerts firing:`);
    if (accepted.accepted !== SERIES) failures.push(`ingest accepted ${accepted.accepted} of ${SERIES} samples`);

    let firing = 0;
    let allAt = null;
    let lastShown = -1;
    let lastPrint = 0;
    while (Date.now() - stormAt < ALERTS_TIMEOUT_MS) {
      firing = await firingCount(base, token, rule.id);
      if (firing >= SERIES) {
        allAt = Date.now();
        break;
      }
      if (firing !== lastShown && Date.now() - lastPrint >= 2_000) {
        process.stdout.write(` ${firing}@${duration(Date.now() - stormAt)}`);
        lastShown = firing;
        lastPrint = Date.now();
      }
      await sleep(POLL_MS);
    }
    const stormEnd = allAt ?? Date.now();
    await Promise.all([health.stop(), heartbeat.stop()]);
    process.stdout.write(allAt ? ` ${fmt(SERIES)} after ${duration(allAt - stormAt)}\n` : ` ✗ ${firing}\n`);
    if (!allAt) {
      failures.push(`only ${firing} of ${SERIES} alerts firing ${ALERTS_TIMEOUT_MS / 1000} s after the ingest request`);
    }
    failures.push(...health.failures.slice(0, 5), ...heartbeat.failures.slice(0, 5));

    const windowEnd = stormAt + WINDOW_MS;
    if (Date.now() < windowEnd) {
      console.log(`counting messages until ${WINDOW_MS / 1000} s after the request …`);
      await sleep(windowEnd - Date.now());
    }
    const ours = sink.messages.filter((m) => m.ours && m.at >= stormAt);
    const inWindow = ours.filter((m) => m.at <= windowEnd);

    const during = (loop) => summarize(loop.pings.filter((p) => p.at >= stormAt && p.at <= stormEnd).map((p) => p.ms));
    const before = (loop) => summarize(loop.pings.filter((p) => p.at < stormAt).map((p) => p.ms));
    const rows = [["measurement", "result", "target", ""]];
    rows.push([
      `ingest request (${fmt(SERIES)} samples, one per series)`,
      duration(requestMs),
      `< ${TARGET_REQUEST_MS / 1000} s`,
      met(requestMs < TARGET_REQUEST_MS),
    ]);
    rows.push([
      `request sent → all ${fmt(SERIES)} alerts firing`,
      allAt ? duration(allAt - stormAt) : `only ${fmt(firing)} after ${duration(stormEnd - stormAt)}`,
      `< ${TARGET_ALERTS_MS / 1000} s`,
      met(allAt !== null && allAt - stormAt < TARGET_ALERTS_MS),
    ]);
    for (const [i, email] of emails.entries()) {
      const n = count(inWindow, "email", email).length;
      rows.push([
        `messages to ${i === 0 ? "the owner" : `admin ${i}`} (email) within ${WINDOW_MS / 1000} s`,
        fmt(n),
        `≤ ${TARGET_MESSAGES_PER_ADMIN}`,
        met(n <= TARGET_MESSAGES_PER_ADMIN),
      ]);
    }
    for (const channel of ["slack", "webhook"]) {
      const n = count(inWindow, channel).length;
      rows.push([
        `messages on the shared ${channel === "slack" ? "Slack channel" : "webhook"} within ${WINDOW_MS / 1000} s`,
        fmt(n),
        `≤ ${TARGET_MESSAGES_PER_ADMIN}`,
        met(n <= TARGET_MESSAGES_PER_ADMIN),
      ]);
    }
    for (const [name, loop] of [
      ["/healthz", health],
      ["heartbeat ping", heartbeat],
    ]) {
      const s = during(loop);
      const b = before(loop);
      rows.push([
        `${name} during the storm: p50 / p99 / max (n)`,
        `${duration(s.p50)} / ${duration(s.p99)} / ${duration(s.max)} (${s.n})`,
        `p99 < ${TARGET_PING_P99_MS} ms`,
        s.n ? met(s.p99 < TARGET_PING_P99_MS) : "–",
      ]);
      rows.push([
        `  before it: p50 / p99 / max (n)`,
        `${duration(b.p50)} / ${duration(b.p99)} / ${duration(b.max)} (${b.n})`,
        "",
        "",
      ]);
    }
    console.log();
    printTable(rows, (i) => i !== 1);
    const byChannel = CHANNELS.map((c) => `${c} ×${fmt(count(ours, c).length)}`).join(", ");
    console.log(
      `(load average ${loadavg()[0].toFixed(1)} after; messages about the rule by the end ` +
        `(${duration(Date.now() - stormAt)} after the request): ${byChannel}; ` +
        `${fmt(sink.messages.length - ours.length)} other messages, e.g. the demo's)\n` +
        "The storm window runs from sending the request until all alerts are firing; the pings run\n" +
        `every ${PING_EVERY_MS} ms each (sooner after a slow one), the alert count is polled every ${POLL_MS} ms.`,
    );
  } finally {
    await product.stop();
    await sink.close();
  }
  return failures;
}

runBench("bench:storm", main);

// npm run bench:selfwatch: whether the monitor notices its own failure, on the product as
// `npm start` runs it (fresh state), with Slack's incoming webhook, Resend's API and
// DEADMAN_URL pointed at a local sink that records every request with its arrival time.
// The owner's preferences: email on, every severity, no quiet hours.
// 1. Warm-up: waits for the cron's first ticks and for a dead-man ping from each path (the
//    cron's and the sentinel's alarm loop's), as an outside checker would see them.
// 2. Cron stopped: right after a tick (the worst case: a full minute until the next one was
//    due), the cron ticker (scripts/start.mjs, the group leader) is stopped with SIGSTOP, as
//    if Cron Triggers stopped firing; the Worker, its Durable Objects and queues run on.
//    Measured: the time from the last tick and from the stop until the built-in alert
//    "Edge Monitor: cron stopped" reached the sink (first message naming it), and whether the
//    alarm loop's dead-man pings went on meanwhile, and what they said.
// 3. Frozen: the whole product (its process group) is stopped with SIGSTOP. Measured over
//    BENCH_SELFWATCH_FROZEN_S (150): the pings received after the freeze (0 expected), how
//    long before the freeze the last one came, and when an outside check expecting a ping
//    every minute first missed one (last ping + 60 s), relative to the freeze.
// Targets: (a) the built-in alert delivered ≤ 3 minutes after the cron stopped; (b) pings
// stop, so the outside check misses one ≤ 2 minutes after the freeze.
// Exits non-zero on errors (API errors, the product not starting, no alert within
// BENCH_SELFWATCH_TIMEOUT_S (360)), not on a missed target.
import "./check-node.mjs";
import { createServer } from "node:http";
import { api, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";

const FROZEN_MS = Number(process.env.BENCH_SELFWATCH_FROZEN_S ?? 150) * 1000;
const ALERT_TIMEOUT_MS = Number(process.env.BENCH_SELFWATCH_TIMEOUT_S ?? 360) * 1000;
const WARMUP_TIMEOUT_MS = 150_000;
const DEADMAN_PERIOD_MS = 60_000;
const ALERT_RULE = "Edge Monitor: cron stopped";
const SLACK_PATH = "/services/T0/B0/selfwatch";
const RESEND_PATH = "/resend";
const DEADMAN_PATH = "/deadman";
const MONITORING = "/api/admin/monitoring";

/** Slack's incoming webhook, Resend's /emails and the dead-man URL on one local server. */
async function startSink() {
  const requests = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const at = Date.now();
      const url = req.url ?? "";
      const kind = url === DEADMAN_PATH ? "deadman" : url.startsWith("/services/") ? "slack" : "email";
      requests.push({ at, kind, body });
      if (kind === "email") {
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
    requests,
    pings: () =>
      requests
        .filter((r) => r.kind === "deadman")
        .map((r) => {
          try {
            // The body's own `at` is when it was sent; arrival time wins.
            return { ...JSON.parse(r.body), at: r.at };
          } catch {
            return { at: r.at, source: "?", ok: null, problems: [] };
          }
        }),
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const met = (ok) => (ok ? "MET" : "MISSED");

async function lastTick(base, token) {
  const self = await api(base, token, "GET", `${MONITORING}/health/self`);
  return self.cron.last_tick_at ? Date.parse(self.cron.last_tick_at) : null;
}

async function waitUntil(what, timeoutMs, check, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

function signalGroup(child, signal, wholeGroup) {
  try {
    process.kill(wholeGroup ? -child.pid : child.pid, signal);
  } catch {
    // already gone
  }
}

async function main() {
  const sink = await startSink();
  const vars = {
    SLACK_WEBHOOK_URL: `${sink.base}${SLACK_PATH}`,
    RESEND_API_KEY: "re_bench_selfwatch",
    RESEND_API_BASE_URL: `${sink.base}${RESEND_PATH}`,
    EMAIL_FROM: "Edge Monitor <alerts@selfwatch.test>",
    DEADMAN_URL: `${sink.base}${DEADMAN_PATH}`,
  };
  console.log(`sink for Slack, Resend and the dead-man URL on ${sink.base}`);
  const product = await launchProduct("edge-monitor-bench-selfwatch-", vars).catch(async (err) => {
    await sink.close();
    throw err;
  });
  const { base, token, child } = product;
  let frozen = false;
  let tickerStopped = false;
  try {
    await api(base, token, "PUT", `${MONITORING}/preferences`, {
      email: "owner@selfwatch.test",
      email_enabled: true,
      severities: ["critical", "warning", "info"],
      quiet_hours_start: null,
      quiet_hours_end: null,
    });

    // 1. Warm-up: both ping paths heard.
    console.log("waiting for the cron's ticks and a dead-man ping from each path …");
    await waitUntil("dead-man pings from the cron and the alarm loop", WARMUP_TIMEOUT_MS, async () => {
      const sources = new Set(sink.pings().map((p) => p.source));
      return sources.has("cron") && sources.has("alarm");
    });

    // 2. Stop the ticker right after a tick.
    const seen = await lastTick(base, token);
    console.log("waiting for the next tick, then stopping the cron ticker …");
    const tickAt = await waitUntil("a cron tick", 70_000, async () => {
      const t = await lastTick(base, token);
      return t !== null && t !== seen && t;
    });
    signalGroup(child, "SIGSTOP", false);
    tickerStopped = true;
    const stoppedAt = Date.now();
    console.log(
      `cron ticker stopped ${seconds(stoppedAt - tickAt)} after its last tick; waiting for the built-in alert …`,
    );
    const page = await waitUntil(
      `a message about "${ALERT_RULE}"`,
      ALERT_TIMEOUT_MS,
      async () => sink.requests.find((r) => r.kind !== "deadman" && r.at >= stoppedAt && r.body.includes(ALERT_RULE)),
      100,
    );
    const pagedAfterStop = page.at - stoppedAt;
    const pagedAfterTick = page.at - tickAt;
    const alarmPingsWhileStopped = sink.pings().filter((p) => p.at > stoppedAt && p.source === "alarm");
    const cronPingsWhileStopped = sink.pings().filter((p) => p.at > stoppedAt + 5_000 && p.source === "cron");

    // 3. Freeze everything.
    signalGroup(child, "SIGSTOP", true);
    frozen = true;
    const frozenAt = Date.now();
    console.log(`product frozen; listening for pings for ${FROZEN_MS / 1000} s …`);
    await sleep(FROZEN_MS);
    const pings = sink.pings();
    const before = pings.filter((p) => p.at <= frozenAt);
    const after = pings.filter((p) => p.at > frozenAt);
    const lastPing = before.at(-1)?.at ?? null;
    const missedAfterFreeze = lastPing === null ? NaN : lastPing + DEADMAN_PERIOD_MS - frozenAt;

    console.log("\ncron stopped (ticker SIGSTOP right after a tick), the Worker running on:");
    printTable([
      ["measure", "value", "target"],
      [
        "built-in alert delivered, after the stop",
        seconds(pagedAfterStop),
        `≤ 180 s ${met(pagedAfterStop <= 180_000)}`,
      ],
      ["built-in alert delivered, after the last tick", seconds(pagedAfterTick), "–"],
      ["delivered on", page.kind, "–"],
      ["dead-man pings from the alarm loop meanwhile", String(alarmPingsWhileStopped.length), "≥ 1"],
      ["dead-man pings from the cron meanwhile", String(cronPingsWhileStopped.length), "0"],
    ]);
    const lastAlarm = alarmPingsWhileStopped.at(-1);
    if (lastAlarm) {
      console.log(
        `the alarm loop's last ping before the freeze said ok=${lastAlarm.ok}` +
          (lastAlarm.problems?.length ? `: ${lastAlarm.problems.join("; ")}` : ""),
      );
    }
    console.log("\nwhole product frozen (SIGSTOP of its process group):");
    printTable([
      ["measure", "value", "target"],
      [`pings received in the ${FROZEN_MS / 1000} s after the freeze`, String(after.length), "0"],
      ["last ping before the freeze", lastPing === null ? "none" : `${seconds(frozenAt - lastPing)} before`, "–"],
      [
        "an outside check (1 ping a minute) first misses one",
        Number.isNaN(missedAfterFreeze) ? "–" : `${seconds(missedAfterFreeze)} after the freeze`,
        `≤ 120 s ${met(after.length === 0 && missedAfterFreeze <= 120_000)}`,
      ],
    ]);
    const firstPage = page.body.length > 400 ? `${page.body.slice(0, 400)} …` : page.body;
    console.log(`\nthe page as the sink got it (${page.kind}):\n${firstPage}`);
    return [];
  } finally {
    if (frozen) signalGroup(child, "SIGCONT", true);
    if (tickerStopped) signalGroup(child, "SIGCONT", false);
    await product.stop();
    await sink.close();
  }
}

runBench("bench:selfwatch", main);

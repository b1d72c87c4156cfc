// npm run bench:faults: whether every page reaches a failing webhook receiver exactly once, on
// the product as `npm start` runs it (fresh state) with WEBHOOK_URL pointing at a local stand-in
// for the receiver. Every webhook request carries X-EdgeMonitor-Delivery, the job's idempotency
// key: the stand-in counts a page delivered when it first answers 2xx for its key. A page
// answered 2xx under two keys is duplicated (no receiver can tell); its key arriving again after
// a 2xx is counted apart ("same key again"), as a receiver honouring the key drops it.
// Each page is a breach of its own series (value 500 on a rule `> 100`, one rule per series,
// notifying the webhook only), so each is a distinct alert; a page is expected when its ingest
// request was accepted (2xx). Phases, each on fresh series:
// 1. error:    the stand-in answers 500 for BENCH_FAULTS_OUTAGE_S (60) while a breach comes every
//              3 s, then answers 200 again;
// 2. hang:     the stand-in never answers for BENCH_FAULTS_OUTAGE_S, then answers 200 again;
// 3. throttle: 429 with Retry-After: 10 for half of BENCH_FAULTS_OUTAGE_S, then 200;
// 4. kills:    BENCH_FAULTS_KILLS (20) times: 3 breaches, a random 0–3 s (BENCH_FAULTS_KILL_WAIT_MS
//              sets the 3 s) skewed to its start, as a page takes about 0.1 s when all is well and
//              a kill after it tests nothing: half come within 0.3 s; then kill -9 of the
//              whole product (start.mjs, wrangler, workerd) and a restart on the same state and
//              port (without rebuilding the dashboard); the stand-in answers 200 throughout.
// After each of phases 1–3 the bench waits up to BENCH_FAULTS_RECOVER_S (180) for its pages;
// at the end up to BENCH_FAULTS_SETTLE_S (480) for every page (the per-minute cron gets the
// chance to re-drive what is stuck), then 5 s more for duplicates.
// Prints per phase: expected, delivered once, duplicated, lost, the longest time from breach to
// delivery and (phases 1–3) from the receiver's recovery (or a later breach) to delivery;
// targets: lost 0, duplicated 0 (with the receiver honouring the key). Lost pages are explained from their alerts' notification rows. BENCH_FAULTS_KEEP_STATE=1 keeps the product's state directory.
// Exits non-zero on errors (API errors, the product not coming back), not on a missed target.
import "./check-node.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, createIngestKey, fmt, ingestRequest, printTable, runBench, sleep } from "./lib/bench.mjs";
import { freePort, startProduct, stopProduct } from "./lib/product.mjs";
import { mapLimit } from "./lib/stats.mjs";
import { d1Target, wrangler } from "./lib/wrangler.mjs";

const OUTAGE_S = Number(process.env.BENCH_FAULTS_OUTAGE_S ?? 60);
const KILLS = Number(process.env.BENCH_FAULTS_KILLS ?? 20);
const RECOVER_S = Number(process.env.BENCH_FAULTS_RECOVER_S ?? 180);
const SETTLE_S = Number(process.env.BENCH_FAULTS_SETTLE_S ?? 480);
const KEEP_STATE = process.env.BENCH_FAULTS_KEEP_STATE === "1";
const BREACH_EVERY_MS = 3_000;
const BREACHES_PER_KILL = 3;
const MAX_KILL_WAIT_MS = Number(process.env.BENCH_FAULTS_KILL_WAIT_MS ?? 3_000);
const RETRY_AFTER_S = 10;
// After the last expected page: time for a duplicate to show up.
const DUPLICATE_WAIT_MS = 5_000;
const RESTART_TRIES = 3;
const CREATE_CONCURRENCY = 8;
const THRESHOLD = 100;
const BREACH_VALUE = 500;

const RUN = Date.now().toString(36);
const METRIC = `bench_faults_${RUN}`;
const SERVICE = "bench";
const RULES_PATH = "/api/admin/monitoring/rules";
const ALERTS_PATH = "/api/admin/monitoring/alerts";
const DELIVERY_HEADER = "x-edgemonitor-delivery";
// Rule names carry the run, so the stand-in tells the bench's pages from the demo's.
const pageName = (n) => `bf ${RUN} ${n}`;
const series = (n, value, ts) => ({ metric: METRIC, service: SERVICE, labels: { n: `${n}` }, value, ts });

const PHASES = [
  { name: "error", fault: "answers 500 for", mode: "error", seconds: OUTAGE_S },
  { name: "hang", fault: "does not answer for", mode: "hang", seconds: OUTAGE_S },
  {
    name: "throttle",
    fault: `answers 429 (Retry-After ${RETRY_AFTER_S} s) for`,
    mode: "throttle",
    seconds: OUTAGE_S / 2,
  },
];
const breachesOf = (seconds) => Math.ceil((seconds * 1000) / BREACH_EVERY_MS);

/**
 * The receiver's stand-in: every POST recorded under its delivery key with the page it is
 * (alert id, rule name, event), answered as `mode` says: "ok" 200, "error" 500, "throttle"
 * 429 with Retry-After, "hang" never (the connection is dropped when the mode changes).
 */
async function startReceiver() {
  const keys = new Map();
  const hanging = new Set();
  const receiver = { mode: "ok", keys, requests: 0, withoutKey: 0 };
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const at = Date.now();
      receiver.requests++;
      const key = req.headers[DELIVERY_HEADER];
      if (typeof key !== "string") receiver.withoutKey++;
      else record(key, body, at);
      const mode = receiver.mode;
      if (mode === "hang") {
        hanging.add(res);
        res.once("close", () => hanging.delete(res));
        return;
      }
      if (mode === "error") res.writeHead(500, { "content-type": "text/plain" }).end("down");
      else if (mode === "throttle") {
        res.writeHead(429, { "content-type": "text/plain", "retry-after": String(RETRY_AFTER_S) }).end("slow down");
      } else {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        // Acknowledged once the answer is on its way; a later arrival of the key is a duplicate.
        if (typeof key === "string") keys.get(key).ackedAt ??= Date.now();
      }
    });
  });
  function record(key, body, at) {
    let entry = keys.get(key);
    if (!entry) {
      let payload = {};
      try {
        payload = JSON.parse(body);
      } catch {
        // not JSON: kept as a key without a page
      }
      entry = {
        event: payload.event ?? null,
        alertId: payload.alert?.id ?? null,
        ruleName: payload.alert?.ruleName ?? null,
        arrivals: 0,
        ackedAt: null,
        afterAck: 0,
      };
      keys.set(key, entry);
    }
    entry.arrivals++;
    if (entry.ackedAt !== null) entry.afterAck++;
    entry.lastAt = at;
  }
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${server.address().port}/hooks/edge-monitor`,
    setMode(mode) {
      receiver.mode = mode;
      if (mode !== "hang") for (const res of hanging) res.destroy();
    },
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  });
}

/** Resolves once nothing listens on `port` (a killed workerd lets go of it at once, normally). */
async function portFree(port, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = await new Promise((resolve) => {
      const probe = createNetServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free || Date.now() >= deadline) return free;
    await sleep(250);
  }
}

/**
 * The product on one port and one state directory, killed and restarted at will; `base`
 * and `token` (a new owner token each start) follow it.
 */
function productOn(port, persistTo, vars) {
  const p = { base: `http://127.0.0.1:${port}`, token: null, child: null, starts: 0, restartMs: [] };
  p.start = async () => {
    for (let attempt = 1; ; attempt++) {
      if (!(await portFree(port))) throw new Error(`port ${port} still taken after the product was stopped`);
      const started = Date.now();
      const run = startProduct(port, persistTo, vars, { skipBuild: p.starts > 0 });
      p.child = run.child;
      try {
        p.token = await run.token;
        if (p.starts > 0) p.restartMs.push(Date.now() - started);
        p.starts++;
        return;
      } catch (err) {
        await stopProduct(run.child);
        if (attempt >= RESTART_TRIES) {
          throw new Error(
            `the product did not start (try ${attempt}): ${err.message}\n--- last output ---\n${run.tail.join("\n")}`,
            { cause: err },
          );
        }
        console.log(`\n  start ${attempt} failed (${err.message}); again …`);
      }
    }
  };
  /** kill -9 of the whole process group: start.mjs, wrangler and workerd, no chance to clean up. */
  p.kill = async () => {
    const child = p.child;
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await exited;
  };
  p.stop = () => (p.child ? stopProduct(p.child) : Promise.resolve());
  return p;
}

/** One ingest request of `samples` (series of pages `ns` at BREACH_VALUE); the pages expected when it was accepted. */
async function breach(ctx, phase, ns, failures) {
  const ts = Date.now();
  const samples = ns.map((n) => series(n, BREACH_VALUE, ts));
  let status;
  let text = "";
  try {
    const res = await fetch(`${ctx.product.base}/api/ingest`, ingestRequest(ctx.key, samples));
    status = res.status;
    text = await res.text();
  } catch (err) {
    status = `network error (${err.cause?.message ?? err.message})`;
  }
  if (status === 200 || status === 202) {
    for (const n of ns) ctx.pages.push({ n, phase, ts });
  } else {
    failures.push(`${phase}: ingest of pages ${ns.join(", ")} answered ${status} ${text.slice(0, 200)}`);
  }
}

/** The first acknowledged firing page of each rule name: its key and when it was acknowledged. */
function deliveries(receiver) {
  const firsts = new Map();
  for (const [key, e] of receiver.keys) {
    if (e.event !== "firing" || e.ackedAt === null || e.ruleName === null) continue;
    const had = firsts.get(e.ruleName);
    if (!had || e.ackedAt < had.ackedAt) firsts.set(e.ruleName, { key, ...e });
  }
  return firsts;
}

/** Waits until each of `pages` was delivered, or `seconds` passed; the pages still missing. */
async function awaitPages(receiver, pages, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const delivered = deliveries(receiver);
    const missing = pages.filter((p) => !delivered.has(pageName(p.n)));
    if (!missing.length || Date.now() >= deadline) return missing;
    await sleep(500);
  }
}

/** Phases 1–3: breaches every few seconds while the receiver fails, then its recovery. */
async function faultPhase(ctx, phase, failures) {
  const count = breachesOf(phase.seconds);
  process.stdout.write(
    `${phase.name}: the receiver ${phase.fault} ${phase.seconds} s, ` +
      `a breach every ${BREACH_EVERY_MS / 1000} s (${count}) …`,
  );
  ctx.receiver.setMode(phase.mode);
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    await sleep(Math.max(0, started + i * BREACH_EVERY_MS - Date.now()));
    await breach(ctx, phase.name, [ctx.next++], failures);
  }
  await sleep(Math.max(0, started + phase.seconds * 1000 - Date.now()));
  ctx.receiver.setMode("ok");
  const recovered = Date.now();
  ctx.recoveredAt.set(phase.name, recovered);
  const missing = await awaitPages(
    ctx.receiver,
    ctx.pages.filter((p) => p.phase === phase.name),
    RECOVER_S,
  );
  process.stdout.write(
    missing.length
      ? ` recovered; ${missing.length} pages still missing after ${RECOVER_S} s\n`
      : ` recovered; all delivered ${((Date.now() - recovered) / 1000).toFixed(1)} s after\n`,
  );
}

/** Phase 4: breaches, then kill -9 of the product at a random moment and a restart on its state. */
async function killPhase(ctx, failures) {
  process.stdout.write(
    `kills: ${KILLS}× (${BREACHES_PER_KILL} breaches, 0–${MAX_KILL_WAIT_MS / 1000} s mostly early, kill -9, restart) …`,
  );
  for (let k = 0; k < KILLS; k++) {
    const ns = Array.from({ length: BREACHES_PER_KILL }, () => ctx.next++);
    await breach(ctx, "kills", ns, failures);
    // Cubed: P(wait < 10 % of the window) = 0.1^(1/3) ≈ 46 %, the rest spread to its end.
    await sleep(Math.random() ** 3 * MAX_KILL_WAIT_MS);
    const delivered = deliveries(ctx.receiver);
    if (ns.some((n) => !delivered.has(pageName(n)))) ctx.killsInFlight++;
    await ctx.product.kill();
    await ctx.product.start();
    process.stdout.write(` ${k + 1}`);
  }
  process.stdout.write(" done\n");
}

/** Why a page did not arrive, from its rule's alert and that alert's notification rows. */
async function lostReason(ctx, page) {
  const ruleId = ctx.ruleIds[page.n];
  const { alerts } = await api(ctx.product.base, ctx.product.token, "GET", `${ALERTS_PATH}/history?rule_id=${ruleId}`);
  if (!alerts.length) return "no alert raised";
  const lines = [];
  for (const { id } of alerts) {
    const alert = await api(ctx.product.base, ctx.product.token, "GET", `${ALERTS_PATH}/${id}`);
    const rows = alert.notifications.map(
      (d) =>
        `${d.event} via ${d.channel}: ${d.status}, ${d.attempts} tries${d.reason ? ` (${d.reason.slice(0, 80)})` : ""}`,
    );
    lines.push(`alert ${id} ${alert.status}: ${rows.join("; ") || "no delivery row"}`);
  }
  return lines.join(" | ");
}

const seconds = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "–");

/** The table's rows: one per phase and a total. */
function results(ctx) {
  const delivered = deliveries(ctx.receiver);
  const keysByRule = new Map();
  for (const [key, e] of ctx.receiver.keys) {
    if (e.event === "firing" && e.ruleName) keysByRule.set(e.ruleName, [...(keysByRule.get(e.ruleName) ?? []), key]);
  }
  const rowFor = (label, pages) => {
    let once = 0;
    let duplicated = 0;
    let repeated = 0;
    let maxDelay = NaN;
    let maxLag = NaN;
    const lost = [];
    for (const p of pages) {
      const name = pageName(p.n);
      const d = delivered.get(name);
      if (!d) {
        lost.push(p);
        continue;
      }
      const entries = (keysByRule.get(name) ?? []).map((k) => ctx.receiver.keys.get(k));
      // A key arriving again after a 2xx (a retry of a request that had arrived, or a job
      // re-driven after a crash between the provider's answer and its record): a receiver
      // honouring X-EdgeMonitor-Delivery drops it. Two keys paged for one alert's firing are
      // a duplicate no receiver can tell.
      repeated += entries.reduce((sum, e) => sum + e.afterAck, 0);
      const pagedKeys = entries.filter((e) => e.ackedAt !== null).length;
      if (pagedKeys === 1) once++;
      else duplicated++;
      const delay = d.ackedAt - p.ts;
      if (!(delay <= maxDelay)) maxDelay = delay;
      // What the retry schedule adds once the receiver answers again.
      const recovered = ctx.recoveredAt.get(p.phase);
      const lag = d.ackedAt - Math.max(p.ts, recovered ?? NaN);
      if (Number.isFinite(lag) && !(lag <= maxLag)) maxLag = lag;
    }
    const ok = !lost.length && !duplicated;
    return {
      lost,
      row: [
        label,
        fmt(pages.length),
        fmt(once),
        fmt(duplicated),
        fmt(repeated),
        fmt(lost.length),
        seconds(maxDelay),
        seconds(maxLag),
        "lost 0, duplicated 0",
        pages.length ? (ok ? "MET" : "MISSED") : "–",
      ],
    };
  };
  const phases = [...PHASES.map((p) => p.name), "kills"];
  const perPhase = phases.map((name) =>
    rowFor(
      name,
      ctx.pages.filter((p) => p.phase === name),
    ),
  );
  const total = rowFor("total", ctx.pages);
  return {
    rows: [
      [
        "phase",
        "expected",
        "delivered once",
        "duplicated",
        "same key again",
        "lost",
        "max breach → delivery",
        "max recovery → delivery",
        "target",
        "",
      ],
      ...perPhase.map((r) => r.row),
      total.row,
    ],
    lost: total.lost,
  };
}

/** The bench's webhook rows in D1 by status and tries (read with the product stopped). */
function deliveryRows(persistTo) {
  const sql =
    "SELECT event, status, attempts, COUNT(*) AS n FROM notification_deliveries " +
    `WHERE channel = 'webhook' AND json_extract(payload, '$.alert.ruleName') LIKE 'bf ${RUN} %' ` +
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
  const out = wrangler(["d1", "execute", "DB", ...d1Target({ persistTo }), "--json", "--command", sql]);
  return JSON.parse(out)[0]?.results ?? [];
}

async function main() {
  const receiver = await startReceiver();
  const port = await freePort();
  const persistTo = mkdtempSync(path.join(tmpdir(), "edge-monitor-bench-faults-"));
  console.log(`receiver stand-in at ${receiver.url} (WEBHOOK_URL)`);
  console.log(`starting the product on http://127.0.0.1:${port} (state in ${persistTo}) …`);
  const product = productOn(port, persistTo, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: `bench-faults-${RUN}` });
  let cleaned = null;
  const cleanup = () =>
    (cleaned ??= product
      .stop()
      .then(() => receiver.close())
      .then(() => {
        if (!KEEP_STATE) rmSync(persistTo, { recursive: true, force: true });
      }));
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => cleanup().then(() => process.exit(130)));
  const failures = [];
  try {
    await product.start();
    const ctx = {
      product,
      receiver,
      key: null,
      pages: [],
      next: 0,
      ruleIds: [],
      killsInFlight: 0,
      recoveredAt: new Map(),
    };
    ctx.key = await createIngestKey(product.base, product.token, `bench faults ${RUN}`);

    // One rule per page, so each breach is its own alert and no rule's hourly limit applies.
    const total = PHASES.reduce((sum, p) => sum + breachesOf(p.seconds), 0) + KILLS * BREACHES_PER_KILL;
    process.stdout.write(`creating ${total} rules on ${METRIC} (one per page, webhook only) …`);
    ctx.ruleIds = await mapLimit(
      Array.from({ length: total }, (_, n) => n),
      CREATE_CONCURRENCY,
      async (n) =>
        (
          await api(product.base, product.token, "POST", RULES_PATH, {
            rule_name: pageName(n),
            metric_name: METRIC,
            service: SERVICE,
            labels: { n: `${n}` },
            kind: "threshold",
            comparison_operator: ">",
            threshold_value: THRESHOLD,
            for_seconds: 0,
            severity: "critical",
            notification_channels: ["webhook"],
          })
        ).id,
    );
    // Every series seen once below the threshold: the rules' objects are warm before the faults.
    const now = Date.now();
    await api(product.base, ctx.key, "POST", "/api/ingest", {
      samples: Array.from({ length: total }, (_, n) => series(n, 1, now)),
    });
    await sleep(1_000);
    process.stdout.write(" done\n");

    for (const phase of PHASES) if (phase.seconds > 0) await faultPhase(ctx, phase, failures);
    if (KILLS > 0) await killPhase(ctx, failures);

    process.stdout.write(`settling: up to ${SETTLE_S} s for every expected page …`);
    const settleStarted = Date.now();
    const missing = await awaitPages(receiver, ctx.pages, SETTLE_S);
    process.stdout.write(
      missing.length
        ? ` ${missing.length} still missing\n`
        : ` all delivered after ${((Date.now() - settleStarted) / 1000).toFixed(1)} s\n`,
    );
    await sleep(DUPLICATE_WAIT_MS);

    const { rows, lost } = results(ctx);
    console.log();
    printTable(rows, (i) => i === 0 || i >= 7);
    const ours = [...receiver.keys.values()].filter((e) => e.ruleName?.startsWith(`bf ${RUN} `));
    const events = new Map();
    for (const e of ours) events.set(e.event, (events.get(e.event) ?? 0) + 1);
    console.log(
      `\n${fmt(receiver.keys.size)} distinct delivery keys received (${fmt(ours.length)} of the bench's rules: ` +
        `${[...events].map(([event, n]) => `${event} ×${n}`).join(", ")}), ` +
        `${fmt([...receiver.keys.values()].filter((e) => e.ackedAt === null).length)} of them never answered 2xx; ` +
        `${fmt(receiver.requests)} requests in all${receiver.withoutKey ? `, ${receiver.withoutKey} without a key` : ""}.`,
    );
    if (product.restartMs.length) {
      const ms = product.restartMs;
      console.log(
        `${ms.length} restarts took ${seconds(Math.min(...ms))} to ${seconds(Math.max(...ms))} each ` +
          `(kill -9 → the new owner token printed); ${ctx.killsInFlight} kills came while a page of ` +
          "their breaches was not yet delivered.",
      );
    }
    if (lost.length) {
      console.log(`\nLost pages (page: phase, its alerts' webhook rows):`);
      for (const page of lost.slice(0, 25)) {
        console.log(`  ${page.n}: ${page.phase}, ${await lostReason(ctx, page)}`);
      }
      if (lost.length > 25) console.log(`  … and ${lost.length - 25} more`);
    }
    await product.stop();
    console.log("\nThe bench's webhook rows in D1 (event, status, tries: count):");
    for (const r of deliveryRows(persistTo)) console.log(`  ${r.event} ${r.status} ${r.attempts}: ${r.n}`);
    if (KEEP_STATE) console.log(`(state kept in ${persistTo})`);
  } finally {
    await cleanup();
  }
  return failures;
}

runBench("bench:faults", main);

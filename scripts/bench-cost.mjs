// npm run bench:cost: what a sample costs the product as `npm start` runs it.
//
// For 1, 100, 1,000 and 10,000 series at one sample per second each (batches of at most
// 1,000 samples, one metric family per 100 series, every batch of a second sent at that
// second), it measures the CPU the workerd processes spent (from /proc, as % of one core),
// their resident memory, the request time, and the CPU per sample above the floor: the same
// run's CPU while the same number of no-op requests (GET /healthz) are sent instead. The
// demo's own probes and cron run throughout, in the floor too.
//
// Then two checks: memory at 1,000 series over a longer run (it must stop growing), and
// batched ingest of 10,000 samples/s over 1,000 series sustained for 60 s, every accepted
// sample stored.
//
// Each window is a whole minute by default: the work done once a minute (the families' roll-ups
// and their D1 writes, the demo's cron) then falls about once into every window, floor and
// level alike, rather than into one 30 s window and not the next.
//
// BENCH_COST_SECONDS (measured seconds per level, default 60), BENCH_COST_LEVELS (e.g.
// "1,100,1000"), BENCH_COST_MEMORY_SECONDS (default 180), BENCH_COST_SUSTAIN_SECONDS
// (default 60; 0 skips) tune it.
import "./check-node.mjs";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { createIngestKey, fmt, ingestRequest, launchProduct, printTable, runBench, sleep } from "./lib/bench.mjs";

const SECONDS = Number(process.env.BENCH_COST_SECONDS ?? 60);
const WARMUP_SECONDS = 10;
const LEVELS = (process.env.BENCH_COST_LEVELS ?? "1,100,1000,10000").split(",").map(Number);
const MEMORY_SECONDS = Number(process.env.BENCH_COST_MEMORY_SECONDS ?? 180);
const SUSTAIN_SECONDS = Number(process.env.BENCH_COST_SUSTAIN_SECONDS ?? 60);
const SUSTAIN_RATE = 10_000;
const SUSTAIN_SERIES = 1_000;
const MAX_BATCH = 1_000;
const SERIES_PER_FAMILY = 100;
/** Prometheus 2.42 + Alertmanager 0.25 scraping 1,000 series every second on this machine (issue figures). */
const PROMETHEUS = { cpuPct: 1.2, rssMb: 90 };
const TARGET_US_PER_SAMPLE = 35;
const MIN_LEVEL_FOR_PER_SAMPLE = 100;
const TICKS_PER_S = 100; // USER_HZ on Linux

const RUN = Date.now().toString(36);

/** The workerd processes of the product's process group: CPU seconds so far and resident MB. */
function workerdUsage(pgid) {
  let cpu = 0;
  let rss = 0;
  let processes = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (comm !== "workerd" || Number(fields[2]) !== pgid) continue;
    processes++;
    cpu += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  if (!processes) throw new Error(`no workerd process in process group ${pgid}`);
  return { cpu, rss };
}

const avg = (list) => list.reduce((a, b) => a + b, 0) / list.length;
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/**
 * Sends `requestsFor(second)` every second for `seconds` (all of a second's requests at once,
 * the next second's on time even if some are still out) and measures workerd meanwhile.
 */
async function paced(pgid, seconds, requestsFor) {
  const latencies = [];
  const statuses = new Map();
  let accepted = 0;
  const inflight = new Set();
  const before = workerdUsage(pgid);
  const rssSeen = [];
  const started = performance.now();
  for (let s = 0; s < seconds; s++) {
    const due = started + s * 1000;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    for (const { url, init } of requestsFor(s)) {
      const t0 = performance.now();
      const p = fetch(url, init)
        .then(async (res) => {
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 202) accepted += JSON.parse(text).accepted;
          latencies.push(performance.now() - t0);
        })
        .catch((err) => statuses.set(`error ${err.cause?.code ?? err.message}`, (statuses.get("error") ?? 0) + 1))
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    if (s % 10 === 9) rssSeen.push(workerdUsage(pgid).rss);
  }
  const end = started + seconds * 1000;
  if (end > performance.now()) await sleep(end - performance.now());
  const after = workerdUsage(pgid);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(inflight);
  // Until the last answer: requests that queue up behind a product that cannot keep up end late.
  const drained = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    cpuSeconds: after.cpu - before.cpu,
    elapsed,
    drained,
    rss: after.rss,
    rssSeen,
    latencies,
    statuses,
    accepted,
  };
}

/** The batches (at most MAX_BATCH samples each) of `series` series at second `s` of the run. */
function secondOfSamples(level, series, epoch, s) {
  const ts = epoch + s * 1000;
  const batches = [];
  for (let from = 0; from < series; from += MAX_BATCH) {
    const samples = [];
    for (let i = from; i < Math.min(series, from + MAX_BATCH); i++) {
      samples.push({
        metric: `bench_cost_${RUN}_${level}_m${Math.floor(i / SERIES_PER_FAMILY)}`,
        service: "bench",
        labels: { series: String(i % SERIES_PER_FAMILY) },
        // A steady signal with some noise: what a gauge of a healthy system looks like.
        value: 100 + (i % 7) + Math.sin((ts / 60_000) * Math.PI) * 5 + Math.random(),
        ts,
      });
    }
    batches.push(samples);
  }
  return batches;
}

const statusLine = (r) => [...r.statuses].map(([code, n]) => `${code}×${n}`).join(" ");
const ms = (r, p) => percentile(r.latencies, p).toFixed(1);

/** Raw samples the store holds for the families `bench_cost_<run>_<level>_m<i>`, i < families. */
async function storedSamples(base, token, level, families) {
  let total = 0;
  for (let i = 0; i < families; i++) {
    const metric = `bench_cost_${RUN}_${level}_m${i}`;
    const res = await fetch(`${base}/api/admin/monitoring/metrics/series?metric=${metric}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) throw new Error(`GET /metrics/series: ${res.status} ${await res.text()}`);
    total += (await res.json()).series.reduce((sum, s) => sum + s.raw_count, 0);
  }
  return total;
}

async function main() {
  const failures = [];
  const product = await launchProduct("edge-monitor-bench-cost-");
  const { base, token } = product;
  const pgid = product.child.pid;
  try {
    const key = await createIngestKey(base, token, `bench cost ${RUN}`);
    const ingest = (samples) => ({ url: `${base}/api/ingest`, init: ingestRequest(key, samples) });
    const noop = { url: `${base}/healthz`, init: {} };
    console.log(
      `${availableParallelism()} CPUs, load average ${loadavg()[0].toFixed(1)}; ${SECONDS} s measured per level after ` +
        `${WARMUP_SECONDS} s warm-up; CPU and RSS of the workerd processes (/proc), the client and wrangler's node not counted\n`,
    );
    // Let the start-up (seed, backfill, first probes) settle.
    await sleep(15_000);

    const rows = [
      ["series", "requests/s", "CPU % (floor)", "CPU %", "RSS MB", "p50 ms", "p99 ms", "CPU µs/sample", ""],
    ];
    const results = new Map();
    for (const level of LEVELS) {
      const perSecond = Math.ceil(level / MAX_BATCH);
      // The floor: as many no-op requests per second as this level's batches.
      const floor = await paced(pgid, SECONDS, () => Array.from({ length: perSecond }, () => noop));
      const epoch = Date.now();
      const run = (s) => secondOfSamples(level, level, epoch, s).map(ingest);
      process.stdout.write(`  ${fmt(level)} series: warm-up …`);
      const warm = await paced(pgid, WARMUP_SECONDS, run);
      const measured = await paced(pgid, SECONDS, (s) => run(s + WARMUP_SECONDS));
      process.stdout.write(` ${statusLine(warm)}; measured ${statusLine(measured)}\n`);
      const samples = measured.accepted;
      const floorPct = (100 * floor.cpuSeconds) / floor.elapsed;
      const pct = (100 * measured.cpuSeconds) / measured.elapsed;
      // One sample a second costs less than the floor's own noise (the demo's probes and cron).
      const usPerSample =
        samples && level >= MIN_LEVEL_FOR_PER_SAMPLE ? ((measured.cpuSeconds - floor.cpuSeconds) * 1e6) / samples : NaN;
      results.set(level, { pct, floorPct, usPerSample, rss: measured.rss });
      const target = level === 1000 ? `≤ ${TARGET_US_PER_SAMPLE}` : "";
      const verdict = level === 1000 ? (usPerSample <= TARGET_US_PER_SAMPLE ? "MET" : "MISSED") : "";
      rows.push([
        fmt(level),
        String(perSecond),
        floorPct.toFixed(1),
        pct.toFixed(1),
        fmt(measured.rss),
        ms(measured, 50),
        ms(measured, 99),
        Number.isNaN(usPerSample) ? "– (noise)" : usPerSample.toFixed(1),
        target ? `${target} ${verdict}` : "",
      ]);
      if (samples < level * SECONDS * 0.99) failures.push(`${level} series: only ${samples} samples accepted`);
    }
    console.log();
    printTable(rows, (i) => i === 0 || i === 8);
    const at1000 = results.get(1000);
    if (at1000) {
      console.log(
        `\nat 1,000 series: ${at1000.pct.toFixed(1)} % of a core and ${fmt(at1000.rss)} MB, ` +
          `${(at1000.pct / PROMETHEUS.cpuPct).toFixed(1)}× the CPU and ${(at1000.rss / PROMETHEUS.rssMb).toFixed(1)}× the ` +
          `memory of Prometheus + Alertmanager (${PROMETHEUS.cpuPct} %, ${PROMETHEUS.rssMb} MB); ` +
          `above the floor, ${(at1000.pct - at1000.floorPct).toFixed(1)} % (${((at1000.pct - at1000.floorPct) / PROMETHEUS.cpuPct).toFixed(1)}×)`,
      );
    }

    if (MEMORY_SECONDS > 0) {
      console.log(`\nmemory at 1,000 series over ${MEMORY_SECONDS} s (RSS every 10 s):`);
      const epoch = Date.now();
      const long = await paced(pgid, MEMORY_SECONDS, (s) => secondOfSamples("mem", 1000, epoch, s).map(ingest));
      console.log(`  ${long.rssSeen.map((r) => fmt(r)).join(" ")} MB (${statusLine(long)})`);
      const third = Math.max(1, Math.floor(long.rssSeen.length / 3));
      const middle = avg(long.rssSeen.slice(third, 2 * third));
      const last = avg(long.rssSeen.slice(-third));
      const growth = last - middle;
      console.log(
        `  middle third ${fmt(middle)} MB, last third ${fmt(last)} MB: ${growth > 0 ? "+" : ""}${growth.toFixed(0)} MB ` +
          `(${((growth / middle) * 100 || 0).toFixed(1)} %)`,
      );
      if (growth > middle * 0.05) failures.push(`memory still growing at 1,000 series: +${growth.toFixed(0)} MB`);
    }

    if (SUSTAIN_SECONDS > 0) {
      console.log(
        `\nsustained: ${fmt(SUSTAIN_RATE)} samples/s over ${fmt(SUSTAIN_SERIES)} series for ${SUSTAIN_SECONDS} s ` +
          `(${SUSTAIN_RATE / MAX_BATCH} batches of ${fmt(MAX_BATCH)} per second, one sample per series each, sent on time whatever is still out):`,
      );
      const epoch = Date.now() - 60_000;
      let batchNo = 0;
      const nextBatch = () => {
        const n = batchNo++;
        // Each batch is one instant, 100 ms after the previous: no two samples of a series share one.
        return secondOfSamples("sustain", SUSTAIN_SERIES, epoch, n / 10)[0];
      };
      const perSecond = SUSTAIN_RATE / MAX_BATCH;
      const r = await paced(pgid, SUSTAIN_SECONDS, () => Array.from({ length: perSecond }, () => ingest(nextBatch())));
      // Samples over the time until the last answer: a backlog that grows shows as a lower rate.
      const rate = r.accepted / r.drained;
      const stored = await storedSamples(base, token, "sustain", SUSTAIN_SERIES / SERIES_PER_FAMILY);
      console.log(
        `  accepted ${fmt(r.accepted)} in ${r.drained.toFixed(1)} s (${fmt(rate)} samples/s), CPU ${((100 * r.cpuSeconds) / r.elapsed).toFixed(0)} % of a core, ` +
          `p50 ${ms(r, 50)} ms, p99 ${ms(r, 99)} ms (${statusLine(r)}); stored ${fmt(stored)}`,
      );
      if (rate < SUSTAIN_RATE * 0.99) failures.push(`sustained ${fmt(rate)} samples/s, short of ${fmt(SUSTAIN_RATE)}`);
      if (stored < r.accepted) failures.push(`${fmt(r.accepted - stored)} accepted samples missing from the store`);
    }
  } finally {
    await product.stop();
  }
  return failures;
}

runBench("bench:cost", main);

// npm run bench:anomaly: the streaming anomaly detector (worker/core/anomaly) measured two ways.
// 1. NAB: the Numenta Anomaly Benchmark kit (NAB's labelled data and its own, unmodified scorer)
//    streams every file through a fresh detector and prints the normalized scores of the three
//    profiles next to published detectors. The kit is not part of the repository: it is looked
//    up in NAB_KIT, else ../shared/nab (its README says how to get it); arguments after `--` go
//    to its run.sh (e.g. `npm run bench:anomaly -- --jobs 1`).
// 2. Noise: how often each sensitivity's threshold is crossed on stationary series with no
//    anomaly in them (uniform, Gaussian, log-normal, Poisson counts, a daily shape with noise, a
//    random walk, a counter), 20,000 samples each at 1-minute and 5-minute intervals, after a
//    500-sample warm-up; and the detector's cost per sample and state size, in this Node.
// Exits non-zero when the kit is missing or fails, not on a missed target.
import "./check-node.mjs";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { printTable } from "./lib/bench.mjs";

const ROOT = resolve(import.meta.dirname, "..");
const kit = resolve(process.env.NAB_KIT ?? join(ROOT, "..", "shared", "nab"));
const runSh = join(kit, "run.sh");
if (!existsSync(runSh)) {
  console.error(`bench:anomaly: no NAB kit at ${kit} (set NAB_KIT to the folder holding run.sh)`);
  process.exit(2);
}
const forwarded = process.argv.slice(2);
const nab = spawnSync("bash", [runSh, "--detector-module", "worker/core/anomaly/index.ts", ...forwarded], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, NAB_PROJECT: ROOT },
});
if (nab.status !== 0) {
  console.error(`bench:anomaly: the NAB kit failed (exit ${nab.status})`);
  process.exit(nab.status || 1);
}

// The detector, bundled for plain Node (the worker's TypeScript uses extensionless imports).
const dir = mkdtempSync(join(tmpdir(), "edge-monitor-anomaly-"));
const bundle = join(dir, "anomaly.mjs");
await build({
  entryPoints: [join(ROOT, "worker/core/anomaly/index.ts")],
  bundle: true,
  format: "esm",
  platform: "node",
  outfile: bundle,
  logLevel: "error",
});
const { createDetector, SENSITIVITY_THRESHOLDS } = await import(pathToFileURL(bundle).href);
rmSync(dir, { recursive: true, force: true });

/** A deterministic xorshift stream in [0, 1). */
function stream(seed) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}
const DAY = 86_400_000;
const SAMPLES = 20_000;
const WARMUP = 500;
const series = {
  uniform: (r) => () => 10 + r(),
  gaussian: (r, g) => () => 100 + 10 * g(),
  "log-normal": (r, g) => () => Math.exp(3 + 0.5 * g()),
  "poisson (mean 5)": (r) => () => {
    let k = 0;
    let p = Math.exp(-5);
    let s = p;
    const u = r();
    while (u > s) {
      k += 1;
      p *= 5 / k;
      s += p;
    }
    return k;
  },
  "daily shape": (r, g) => (t) => 100 + 80 * Math.sin(((t % DAY) / DAY) * 2 * Math.PI) + 8 * g(),
  "random walk": (r, g) => {
    let v = 100;
    return () => (v += g());
  },
  counter: (r) => {
    let total = 0;
    return () => (total += 600 + 60 * r());
  },
};
const sensitivities = Object.entries(SENSITIVITY_THRESHOLDS).sort((a, b) => a[1] - b[1]);
const rows = [["series", "interval", ...sensitivities.map(([name, t]) => `${name} (≥ ${t})`)]];
let calls = 0;
let spent = 0;
let largest = 0;
for (const [name, make] of Object.entries(series)) {
  for (const step of [60_000, 300_000]) {
    const r = stream(0x9e3779b9 ^ (name.length * 7919 + step));
    const g = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    const value = make(r, g);
    const detector = createDetector();
    const crossed = sensitivities.map(() => 0);
    const t0 = Date.UTC(2026, 0, 5);
    for (let i = 0; i < SAMPLES; i++) {
      const t = t0 + i * step;
      const v = value(t);
      const start = performance.now();
      const score = detector.score(t, v);
      spent += performance.now() - start;
      calls += 1;
      if (i >= WARMUP) sensitivities.forEach(([, threshold], k) => score >= threshold && (crossed[k] += 1));
    }
    largest = Math.max(largest, JSON.stringify(detector).length);
    const share = (n) => `${((100 * n) / (SAMPLES - WARMUP)).toFixed(3)} %`;
    rows.push([name, `${step / 1000} s`, ...crossed.map(share)]);
  }
}
console.log("\nSamples crossing each sensitivity's threshold on series with no anomaly (after a warm-up):");
printTable(rows);
console.log(
  `\ndetector cost: ${((spent * 1000) / calls).toFixed(2)} µs per sample (Node ${process.versions.node}, ${calls.toLocaleString("en-US")} samples); largest state ${largest.toLocaleString("en-US")} bytes of JSON`,
);

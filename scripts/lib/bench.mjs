// Shared by the benchmarks (npm run bench:*): the product on fresh state, admin API calls,
// ingest keys, a concurrent keep-alive load loop and the result table.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, startProduct, stopProduct } from "./product.mjs";

/** The highest per-minute limit an ingest key may have: a full minute's worth of burst. */
export const MAX_KEY_RATE_PER_MINUTE = 1_000_000;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the product on a free port with its own fresh state. `stop()` stops it and removes
 * the state (also on Ctrl-C); a failed start stops it and reports the last lines it printed.
 * `vars` are extra Worker variables (see startProduct). `child`: the process group leader
 * (scripts/start.mjs, which also ticks the cron), for a bench that stops or freezes it.
 */
export async function launchProduct(prefix = "edge-monitor-bench-", vars = {}) {
  const port = await freePort();
  const persistTo = mkdtempSync(path.join(tmpdir(), prefix));
  const base = `http://127.0.0.1:${port}`;
  console.log(`starting the product on ${base} (state in ${persistTo}) …`);
  let product;
  try {
    product = startProduct(port, persistTo, vars);
  } catch (err) {
    rmSync(persistTo, { recursive: true, force: true });
    throw err;
  }
  let stopping = null;
  const stop = () =>
    (stopping ??= stopProduct(product.child).then(() => rmSync(persistTo, { recursive: true, force: true })));
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => stop().then(() => process.exit(130)));
  const token = await product.token.catch(async (err) => {
    await stop();
    throw new Error(`${err.message}\n--- last output ---\n${product.tail.join("\n")}`);
  });
  return { base, token, stop, child: product.child };
}

/** One JSON API call; throws with the status and body on anything but 2xx. */
export async function api(base, token, method, pathname, body) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    // wrangler dev reloads the Worker when sources change and answers 503 to requests cut short.
    if (res.status === 503 && attempt < 5) {
      await sleep(1_000);
      continue;
    }
    if (!res.ok) throw new Error(`${method} ${pathname}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
}

/** A new ingest key; the secret. */
export async function createIngestKey(base, token, name, ratePerMinute = MAX_KEY_RATE_PER_MINUTE) {
  const res = await fetch(`${base}/api/admin/monitoring/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ name, scope: "ingest", rate_limit_per_minute: ratePerMinute }),
  });
  if (res.status !== 201) throw new Error(`creating an ingest key: ${res.status} ${await res.text()}`);
  return (await res.json()).key;
}

/** The options of a `POST /api/ingest` of `samples` with `key`. */
export function ingestRequest(key, samples) {
  return {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ samples }),
  };
}

/**
 * Runs `concurrency` clients for `seconds`, each sending `makeRequest()` back to back.
 * Returns requests, accepted samples (and of those, duplicates: already held, not stored again),
 * statuses and latencies of the requests that finished in time.
 */
export async function load(url, makeRequest, seconds, concurrency) {
  const stats = { requests: 0, accepted: 0, duplicates: 0, statuses: new Map(), latencies: [], errors: 0 };
  const deadline = performance.now() + seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      try {
        const res = await fetch(url, makeRequest());
        const text = await res.text();
        stats.statuses.set(res.status, (stats.statuses.get(res.status) ?? 0) + 1);
        if (res.status === 202) {
          const body = JSON.parse(text);
          stats.accepted += body.accepted;
          stats.duplicates += body.duplicates ?? 0;
        }
        stats.requests++;
        stats.latencies.push(performance.now() - started);
      } catch (err) {
        stats.errors++;
        stats.firstError ??= err.cause?.message ?? err.message;
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  stats.elapsed = (performance.now() - started) / 1000;
  stats.latencies.sort((a, b) => a - b);
  return stats;
}

/** A load run's statuses and network errors, e.g. "202×1200 429×3". */
export const statusText = (s) =>
  [...s.statuses]
    .map(([code, n]) => `${code}×${n}`)
    .concat(s.errors ? [`network errors×${s.errors} (${s.firstError})`] : [])
    .join(" ");

export const fmt = (n) => Math.round(n).toLocaleString("en-US");

/** Rows as columns under the first (header) row; `leftAligned(i)` columns are text, the rest numbers. */
export function printTable(rows, leftAligned = (i) => i === 0) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const [n, row] of rows.entries()) {
    console.log(
      row
        .map((cell, i) => (leftAligned(i) ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i])))
        .join("  "),
    );
    if (n === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
  }
}

/**
 * Runs a benchmark's `main`, which resolves to the failures it found (not missed targets):
 * they are listed and the exit code is 1. An error ends the run with one line.
 */
export function runBench(name, main) {
  main().then(
    (failures = []) => {
      if (!failures.length) return;
      console.error("\nFAILED:");
      for (const f of failures) console.error(`  ✗ ${f}`);
      process.exitCode = 1;
    },
    (err) => {
      console.error(`${name}: ${err.message}`);
      process.exit(1);
    },
  );
}

// Runs wrangler with the same Node as the calling script (never a system Node 20).
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const WRANGLER = path.join(path.dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");

// No telemetry or update checks, and no download of request.cf sample data (the app does not
// use it), so starting needs no network. No local trace collector either (X_LOCAL_OBSERVABILITY):
// wrangler dev would otherwise stream a trace of every request, RPC and alarm to a collector
// inside workerd for its local explorer, which cost a sixth of workerd's CPU under ingest
// (bench:cost); the product's logs still print. X_LOCAL_OBSERVABILITY=true brings it back.
const env = () => ({
  ...process.env,
  X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
  WRANGLER_SEND_METRICS: "false",
  NO_UPDATE_NOTIFIER: "1",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  CI: process.env.CI ?? "",
});

/** Runs wrangler to completion; throws with its output when it fails. Returns stdout. */
export function wrangler(args, { quiet = true } = {}) {
  const res = spawnSync(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: env(), encoding: "utf8" });
  if (res.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed:\n${res.stdout}\n${res.stderr}`);
  }
  if (!quiet) process.stdout.write(res.stdout);
  return res.stdout;
}

/** Starts a long-running wrangler (e.g. `dev`), inheriting stdio unless told otherwise. */
export function spawnWrangler(args, options = {}) {
  return spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: env(), stdio: "inherit", ...options });
}

/** The `--local`/`--remote` and persistence flags for D1 commands. */
export function d1Target({ remote = false, persistTo } = {}) {
  if (remote) return ["--remote"];
  return ["--local", ...(persistTo ? ["--persist-to", persistTo] : [])];
}

/** Quotes a value as an SQL string literal. */
export const sqlString = (value) => `'${String(value).replace(/'/g, "''")}'`;

// Starting and stopping the product exactly as `npm start` runs it, for benchmarks:
// `node scripts/start.mjs` on a free port with its own state, in its own process group.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { ROOT } from "./wrangler.mjs";

const STARTUP_TIMEOUT_MS = 180_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// What wrangler and workerd need from the environment when it also carries Worker variables.
const KEEP_ENV = /^(PATH|HOME|USER|LANG|LC_\w+|TZ|TMPDIR|TEMP|TMP|XDG_\w+|SYSTEMROOT|CI|WRANGLER_\w+)$/i;

/**
 * The environment of `npm start` with `vars`: under CLOUDFLARE_INCLUDE_PROCESS_ENV wrangler dev
 * hands its whole environment to the Worker as secrets (only while there is no .dev.vars, which
 * it would read instead), so everything else is left out: a provider key in the caller's shell
 * must not send real notifications.
 */
function environment(vars) {
  if (!Object.keys(vars).length) return process.env;
  if (existsSync(path.join(ROOT, ".dev.vars"))) {
    throw new Error(
      `wrangler dev reads .dev.vars instead of the environment, so ${Object.keys(vars).join(", ")} ` +
        "would not reach the Worker: move .dev.vars aside for this run",
    );
  }
  const kept = Object.entries(process.env).filter(([name]) => KEEP_ENV.test(name));
  return { ...Object.fromEntries(kept), ...vars, CLOUDFLARE_INCLUDE_PROCESS_ENV: "true" };
}

/**
 * Starts `node scripts/start.mjs` in its own process group; resolves with the owner token.
 * `vars` (e.g. a channel's URL) reach the Worker as secrets. `skipBuild`: keep the dashboard
 * already built (START_SKIP_BUILD), for a restart on the same state.
 */
export function startProduct(port, persistTo, vars = {}, { skipBuild = false } = {}) {
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: ROOT,
    env: {
      ...environment(vars),
      PORT: String(port),
      PERSIST_TO: persistTo,
      FORCE_COLOR: "0",
      NO_COLOR: "1",
      ...(skipBuild ? { START_SKIP_BUILD: "1" } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const tail = [];
  // BENCH_PRODUCT_LOG: every line the product prints, with when it arrived, for a look inside a run.
  const log = process.env.BENCH_PRODUCT_LOG ? createWriteStream(process.env.BENCH_PRODUCT_LOG, { flags: "a" }) : null;
  const token = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no LOGIN_TOKEN in time")), STARTUP_TIMEOUT_MS);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk) => {
        const lines = (partial + chunk).split(/\r?\n/);
        partial = lines.pop() ?? "";
        for (const line of lines) {
          log?.write(`${new Date().toISOString()} ${line}\n`);
          const match = /^LOGIN_TOKEN=(\S+)\s*$/.exec(line);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]);
          } else {
            tail.push(line);
            if (tail.length > 60) tail.shift();
          }
        }
      });
    }
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`scripts/start.mjs exited (${signal ?? code}) before printing LOGIN_TOKEN`));
    });
  });
  return { child, token, tail };
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export async function stopProduct(child) {
  killGroup(child, "SIGTERM");
  const exited = await Promise.race([
    new Promise((resolve) => (child.exitCode !== null ? resolve(true) : child.once("exit", () => resolve(true)))),
    new Promise((resolve) => setTimeout(() => resolve(false), 5_000)),
  ]);
  if (!exited) killGroup(child, "SIGKILL");
  // workerd can outlive the group leader for a moment.
  killGroup(child, "SIGKILL");
}

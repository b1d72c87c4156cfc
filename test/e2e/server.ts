/**
 * globalSetup of the `e2e` project: runs the real product exactly as `npm start`
 * does (`node scripts/start.mjs`: dashboard build, D1 migrations, demo seed,
 * `wrangler dev`) on a free port with fresh state in a temporary directory, and
 * hands `{ baseUrl, token, controlUrl, devRegistry }` to the tests once it prints `LOGIN_TOKEN=…`.
 * The Worker registers in a dev registry of its own, so a service binding to
 * `edge-monitor` (the Pages test) reaches this Worker, never one another run started.
 * `POST <controlUrl>/restart` stops the product and starts it again on the same
 * port and state, as an operator restarting the server would; it answers once the
 * product serves again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** Cold start: dashboard build, migrations, workerd boot, seed. */
const STARTUP_TIMEOUT_MS = 150_000;
const LOG_LINES_KEPT = 80;

declare module "vitest" {
  export interface ProvidedContext {
    /** Origin of the running product, e.g. http://127.0.0.1:40123 */
    baseUrl: string;
    /** An API token of the seeded demo's owner (it survives restarts, unlike the one `npm start` prints). */
    token: string;
    /** Origin of the test-only control server: `POST /restart`. */
    controlUrl: string;
    /** The wrangler dev registry (WRANGLER_REGISTRY_PATH) this Worker registered in. */
    devRegistry: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Signals the child's whole process group (wrangler, workerd, esbuild…); ignores "already gone". */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group has already exited
  }
}

export const exited = (child: ChildProcess, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => (clearTimeout(timer), resolve(true)));
  });

interface Running {
  child: ChildProcess;
  token: string;
  /** The tail of its output, for errors. */
  log: string[];
}

/** Starts `scripts/start.mjs` on `port` with state in `persistTo`; resolves once it prints LOGIN_TOKEN. */
async function startProduct(port: number, persistTo: string, verbose: boolean): Promise<Running> {
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      PERSIST_TO: persistTo,
      WRANGLER_REGISTRY_PATH: path.join(persistTo, "dev-registry"),
      FORCE_COLOR: "0",
      NO_COLOR: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so teardown reaches wrangler's children too
  });

  // Keep draining both pipes for the whole run (a full pipe would stall the server); keep a tail for errors.
  const log: string[] = [];
  let onStdoutLine: ((line: string) => void) | null = null;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split(/\r?\n/);
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (verbose) console.log(`[server] ${line}`);
        log.push(line);
        if (log.length > LOG_LINES_KEPT) log.shift();
        if (stream === child.stdout) onStdoutLine?.(line);
      }
    });
  }

  try {
    const token = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no LOGIN_TOKEN within ${STARTUP_TIMEOUT_MS / 1000}s`)),
        STARTUP_TIMEOUT_MS,
      );
      onStdoutLine = (line) => {
        // Secrets are never logged: only the tail of the output is kept, and the token line is redacted there.
        const match = /^LOGIN_TOKEN=(\S+)\s*$/.exec(line);
        if (match?.[1]) {
          log[log.length - 1] = "LOGIN_TOKEN=<redacted>";
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.once("error", (err) => (clearTimeout(timer), reject(err)));
      child.once(
        "exit",
        (code, signal) => (
          clearTimeout(timer),
          reject(new Error(`scripts/start.mjs exited (${signal ?? code}) before printing LOGIN_TOKEN`))
        ),
      );
    });
    onStdoutLine = null;
    return { child, token, log };
  } catch (err) {
    await stop(child);
    throw new Error(
      `e2e: starting the product failed: ${(err as Error).message}\n--- last output of scripts/start.mjs ---\n${log.join("\n")}`,
      { cause: err },
    );
  }
}

async function stop(child: ChildProcess) {
  killGroup(child, "SIGTERM");
  if (!(await exited(child, 5_000))) {
    killGroup(child, "SIGKILL");
    await exited(child, 2_000);
  }
  // workerd may outlive the group leader for a moment; make sure nothing of the group is left.
  killGroup(child, "SIGKILL");
}

/** A token for the tests that outlives restarts (each start replaces the token it prints). */
async function testToken(baseUrl: string, startToken: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/admin/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${startToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "e2e" }),
  });
  if (res.status !== 201) throw new Error(`e2e: creating the test token answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export default async function setup(project: TestProject) {
  const port = await freePort();
  const persistTo = mkdtempSync(path.join(tmpdir(), "edge-monitor-e2e-"));
  const verbose = Boolean(process.env.E2E_VERBOSE);
  const started = Date.now();
  const baseUrl = `http://127.0.0.1:${port}`;

  let running: Running;
  try {
    running = await startProduct(port, persistTo, verbose);
  } catch (err) {
    rmSync(persistTo, { recursive: true, force: true });
    throw err;
  }
  console.log(`e2e: the product is serving at ${baseUrl} (started in ${((Date.now() - started) / 1000).toFixed(1)}s)`);

  // The control server: restarts the product on the same port and state.
  let restarting: Promise<void> | null = null;
  const control = createHttpServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/restart") {
      res.writeHead(404).end();
      return;
    }
    restarting ??= (async () => {
      await stop(running.child);
      running = await startProduct(port, persistTo, verbose);
    })().finally(() => (restarting = null));
    restarting.then(
      () => res.writeHead(204).end(),
      (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(err.message),
    );
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const address = control.address();
  const controlPort = typeof address === "object" && address ? address.port : 0;

  const teardown = async () => {
    await new Promise<void>((resolve) => control.close(() => resolve()));
    await restarting?.catch(() => {});
    await stop(running.child);
    rmSync(persistTo, { recursive: true, force: true });
  };

  try {
    project.provide("baseUrl", baseUrl);
    project.provide("token", await testToken(baseUrl, running.token));
    project.provide("controlUrl", `http://127.0.0.1:${controlPort}`);
    project.provide("devRegistry", path.join(persistTo, "dev-registry"));
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

/**
 * globalSetup of the `e2e` project: runs the real product exactly as `npm start`
 * does (`node scripts/start.mjs`: dashboard build, D1 migrations, demo seed,
 * `wrangler dev`) on a free port with fresh state in a temporary directory, and
 * hands `{ baseUrl, token, devRegistry }` to the tests once it prints `LOGIN_TOKEN=…`.
 * The Worker registers in a dev registry of its own, so a service binding to
 * `edge-monitor` (the Pages test) reaches this Worker, never one another run started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
    /** An admin (owner) API token of the seeded demo. */
    token: string;
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

export default async function setup(project: TestProject) {
  const port = await freePort();
  const persistTo = mkdtempSync(path.join(tmpdir(), "edge-monitor-e2e-"));
  const devRegistry = path.join(persistTo, "dev-registry");
  const verbose = Boolean(process.env.E2E_VERBOSE);
  const started = Date.now();

  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      PERSIST_TO: persistTo,
      WRANGLER_REGISTRY_PATH: devRegistry,
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

  const teardown = async () => {
    killGroup(child, "SIGTERM");
    if (!(await exited(child, 5_000))) {
      killGroup(child, "SIGKILL");
      await exited(child, 2_000);
    }
    // workerd may outlive the group leader for a moment; make sure nothing of the group is left.
    killGroup(child, "SIGKILL");
    rmSync(persistTo, { recursive: true, force: true });
  };

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
    const baseUrl = `http://127.0.0.1:${port}`;
    project.provide("baseUrl", baseUrl);
    project.provide("token", token);
    project.provide("devRegistry", devRegistry);
    console.log(
      `e2e: the product is serving at ${baseUrl} (started in ${((Date.now() - started) / 1000).toFixed(1)}s)`,
    );
  } catch (err) {
    await teardown();
    throw new Error(
      `e2e: starting the product failed: ${(err as Error).message}\n--- last output of scripts/start.mjs ---\n${log.join("\n")}`,
      { cause: err },
    );
  }

  return teardown;
}

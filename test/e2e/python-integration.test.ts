/**
 * The Python integration (integrations/python) against the product as `npm start` runs it,
 * with real Redis, a real Celery worker and beat, and a real Flask application:
 * - Celery: five receipts sent, two refunds failing, a slow report and an opted-out chore
 *   arrive as task metrics with the right counts; each beat entry becomes a heartbeat monitor
 *   with its schedule; the failing entry's reason reaches the monitor; once the worker and
 *   its beat stop, the product says the beat is late.
 * - Flask: requests through Flask's test client arrive as request counts, errors and
 *   durations by route template, and payments as the payment counters.
 * Debian's /usr/bin/python3 with Celery, redis-py and Flask, and redis-server, are installed
 * by `scripts/ensure-python.mjs` (run by `npm test`); when they are missing this test fails
 * and says so. Everything here uses services of its own (`e2e-…`), apart from the demo's.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEBIAN_PACKAGES, PYTHON, pythonStackProblem, REDIS_SERVER } from "../../scripts/lib/python.mjs";
import { apiClient } from "./client";
import { exited, freePort, killGroup } from "./server";

const ROOT = path.resolve(import.meta.dirname, "../..");
const FIXTURES = path.join(import.meta.dirname, "python");
const CELERY_SERVICE = "e2e-celery";
const WEB_SERVICE = "e2e-web";
const PAYMENT_SERVICE = "e2e-payments";

const baseUrl = inject("baseUrl");
const { must } = apiClient(inject("token"));
const API = `${baseUrl}/api/admin/monitoring`;

let workDir = "";
let key = "";
let redis: ChildProcess | undefined;
let worker: ChildProcess | undefined;
const workerLog: string[] = [];

const pythonEnv = (extra: Record<string, string>) => ({
  ...process.env,
  PYTHONPATH: [path.join(ROOT, "integrations/python"), FIXTURES].join(path.delimiter),
  PYTHONDONTWRITEBYTECODE: "1",
  EDGE_MONITOR_URL: baseUrl,
  EDGE_MONITOR_KEY: key,
  ...extra,
});

/** Runs a Python script to its end; its stdout's last line as JSON. */
function runPython(script: string, env: Record<string, string>): unknown {
  const res = spawnSync(PYTHON, [path.join(FIXTURES, script)], {
    cwd: workDir,
    env: pythonEnv(env),
    encoding: "utf8",
    timeout: 90_000,
  });
  if (res.status !== 0) throw new Error(`${script} exited ${res.status}: ${res.stderr.slice(-3000)}`);
  return JSON.parse(res.stdout.trim().split("\n").at(-1) ?? "null");
}

interface SeriesInfo {
  labels: Record<string, string>;
  latest: { value: number };
  raw_count: number;
}
interface Latest {
  labels: Record<string, string>;
  value: number;
  message?: string;
}
interface Monitor {
  id: number;
  name: string;
  service: string;
  kind: string;
  period_seconds: number | null;
  cron: string | null;
  grace_seconds: number | null;
  heartbeat_url: string | null;
}

const series = async (metric: string, service: string) =>
  (await must<{ series: SeriesInfo[] }>("GET", `${API}/metrics/series?metric=${metric}&service=${service}`)).series;
const latest = async (metric: string, service: string) =>
  (await must<{ metrics: Latest[] }>("GET", `${API}/metrics/realtime?metric=${metric}&service=${service}`)).metrics;
const monitors = async () =>
  (await must<{ monitors: Monitor[] }>("GET", `${API}/monitors?limit=1000`)).monitors.filter(
    (m) => m.service === CELERY_SERVICE,
  );
/** The sum over processes of each series' latest value, where `labels` match. */
const total = (list: SeriesInfo[], labels: Record<string, string>) =>
  list
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.latest.value, 0);

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${ms / 1000} s; last ${JSON.stringify(last)}\n${workerLog.join("").slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    last = await read();
  }
  return last;
}

beforeAll(async () => {
  const missing = pythonStackProblem();
  if (missing) {
    throw new Error(
      `The Python integration's end-to-end test needs Debian's Python stack: ${missing}. ` +
        `Run \`node scripts/ensure-python.mjs\` as root (npm test does) or apt-get install ${DEBIAN_PACKAGES.join(" ")}.`,
    );
  }
  workDir = mkdtempSync(path.join(tmpdir(), "edge-monitor-python-"));
  key = (await must<{ key: string }>("POST", `${API}/keys`, { name: "e2e shop (python)", scope: "integration" })).key;
  const port = await freePort();
  redis = spawn(REDIS_SERVER, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    cwd: workDir,
    detached: true,
    stdio: "ignore",
  });
  const redisUrl = `redis://127.0.0.1:${port}/0`;
  await until(
    "redis-server to answer",
    async () => spawnSync(PYTHON, ["-c", `import redis; redis.Redis.from_url("${redisUrl}").ping()`]).status,
    (status) => status === 0,
    15_000,
  );
  // The worker with its beat embedded (-B), two prefork processes: tasks run in forked children.
  worker = spawn(
    PYTHON,
    [
      "-m",
      "celery",
      "-A",
      "shop_tasks",
      "worker",
      "-B",
      "--concurrency",
      "2",
      "--loglevel",
      "INFO",
      "-s",
      path.join(workDir, "beat-schedule"),
    ],
    { cwd: workDir, detached: true, env: pythonEnv({ REDIS_URL: redisUrl, SERVICE: CELERY_SERVICE }) },
  );
  for (const stream of [worker.stdout, worker.stderr]) stream?.on("data", (d: Buffer) => workerLog.push(d.toString()));
  process.env.E2E_REDIS_URL = redisUrl;
}, 60_000);

afterAll(async () => {
  for (const child of [worker, redis]) {
    if (!child) continue;
    killGroup(child, "SIGTERM");
    if (!(await exited(child, 10_000))) killGroup(child, "SIGKILL");
  }
  // Nothing of this file stays to be judged late by the product's cron.
  for (const m of await monitors().catch(() => [])) await must("DELETE", `${API}/monitors/${m.id}`).catch(() => {});
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("the Python integration", () => {
  it("reports Celery tasks: runs, failures and durations per task, the opted-out task not at all", async () => {
    const states = runPython("enqueue.py", { REDIS_URL: process.env.E2E_REDIS_URL ?? "", SERVICE: CELERY_SERVICE });
    expect(states).toEqual([...Array(5).fill("SUCCESS"), "FAILURE", "FAILURE", "SUCCESS", "SUCCESS"]);

    const runs = await until(
      "task runs",
      () => series("celery_task_runs_total", CELERY_SERVICE),
      (list) =>
        total(list, { task: "shop_tasks.send_receipt" }) === 5 &&
        total(list, { task: "shop_tasks.refund" }) === 2 &&
        total(list, { task: "shop_tasks.rebuild_report" }) === 1,
      30_000,
    );
    expect(runs.filter((s) => s.labels.task === "shop_tasks.private_chore")).toEqual([]);
    const failures = await until(
      "task failures",
      () => series("celery_task_failures_total", CELERY_SERVICE),
      (list) => total(list, { task: "shop_tasks.refund" }) === 2,
      30_000,
    );
    expect(total(failures, { task: "shop_tasks.send_receipt" })).toBe(0);
    const durations = await latest("celery_task_duration_ms", CELERY_SERVICE);
    const slow = durations.filter((d) => d.labels.task === "shop_tasks.rebuild_report");
    expect(slow).toHaveLength(1);
    expect(slow[0]?.value).toBeGreaterThanOrEqual(1500);
    expect(slow[0]?.value).toBeLessThan(10_000);
    // The worker says it is alive, and the broker's queue length is read.
    expect((await latest("celery_worker_up", CELERY_SERVICE)).map((s) => s.value)).toContain(1);
    const queue = await until(
      "queue length",
      () => latest("celery_queue_length", CELERY_SERVICE),
      (l) => l.length > 0,
      30_000,
    );
    expect(queue[0]?.labels.queue).toBe("celery");
  });

  it("makes each beat entry a heartbeat monitor with its schedule, and reports a failing entry's reason", async () => {
    const beats = await until("beat monitors", monitors, (list) => list.length === 2, 30_000);
    expect(beats.map((m) => [m.name, m.kind, m.period_seconds, m.cron]).sort()).toEqual([
      ["beat: charge-subscriptions", "heartbeat", 10, null],
      ["beat: settle-payments", "heartbeat", 10, null],
    ]);
    for (const m of beats) expect(m.grace_seconds).toBeGreaterThanOrEqual(10);
    const idOf = (name: string) => String(beats.find((m) => m.name === name)?.id);
    const heartbeats = await until(
      "both entries to run",
      () => latest("heartbeat_ok", CELERY_SERVICE),
      (list) =>
        list.some((s) => s.labels.monitor === idOf("beat: settle-payments") && s.value === 1) &&
        list.some((s) => s.labels.monitor === idOf("beat: charge-subscriptions") && s.value === 0),
      45_000,
    );
    const failing = heartbeats.find((s) => s.labels.monitor === idOf("beat: charge-subscriptions"));
    expect(failing?.message).toContain("RuntimeError: card declined");
  });

  it("says the beat is late once the worker and its beat stop", async () => {
    const settle = (await monitors()).find((m) => m.name === "beat: settle-payments");
    if (!worker) throw new Error("no worker");
    killGroup(worker, "SIGTERM");
    expect(await exited(worker, 20_000)).toBe(true);
    // Due 10 s after the last run, late past its grace; the product's cron judges every minute.
    const late = await until(
      "lateness",
      async () => (await latest("heartbeat_ok", CELERY_SERVICE)).find((s) => s.labels.monitor === String(settle?.id)),
      (s) => s?.value === 0,
      120_000,
    );
    expect(late?.message).toMatch(/late|no ping/i);
  }, 150_000);

  it("reports a Flask application's requests by route, its errors and durations, and payments", async () => {
    const out = runPython("web_app.py", { SERVICE: WEB_SERVICE, PAYMENT_SERVICE }) as Record<string, unknown>;
    expect(out).toMatchObject({
      statuses: [200, 200, 200, 200, 200, 200, 200, 500, 500, 404],
      flushed: true,
      dropped: 0,
    });

    const requests = await until(
      "request counts",
      () => series("http_requests_total", WEB_SERVICE),
      (list) => total(list, { route: "/items/<int:item_id>" }) === 6,
      30_000,
    );
    expect(total(requests, { route: "/items/<int:item_id>", status_class: "2xx", method: "GET" })).toBe(6);
    expect(total(requests, { route: "/boom", status_class: "5xx" })).toBe(2);
    // A path no route matched is one series however many such paths are asked for.
    expect(total(requests, { route: "(unmatched)", status_class: "4xx" })).toBe(1);
    // One route per template, not one per item.
    expect(
      requests.filter((s) => s.labels.route?.startsWith("/items/") && s.labels.route !== "/items/<int:item_id>"),
    ).toEqual([]);
    expect(total(await series("http_errors_total", WEB_SERVICE), { route: "/boom" })).toBe(2);
    const checkout = (await latest("api_response_ms", WEB_SERVICE)).filter((s) => s.labels.route === "/checkout");
    expect(checkout[0]?.value).toBeGreaterThanOrEqual(50);

    expect(total(await series("payments_total", PAYMENT_SERVICE), {})).toBe(4);
    expect(total(await series("payments_failed_total", PAYMENT_SERVICE), {})).toBe(1);
  });
});

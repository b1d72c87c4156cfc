// npm start: the whole product locally on one port (default 8787, or $PORT):
// builds the dashboard, applies D1 migrations, seeds the demo configuration and
// backfills the demo's last 30 days (once), runs the Worker with its Durable Objects, D1, Queues and a per-minute cron.
// START_SKIP_BUILD=1 keeps the dashboard already built in dist/client rather than building it
// again (it builds when there is none): for restarts that must be quick, e.g. bench:faults.
import "./check-node.mjs";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { applyMigrations, issueAdminToken } from "./lib/admin.mjs";
import { backfillDemo, DEMO_OWNER, seedDemo } from "./lib/seed.mjs";
import { ROOT, spawnWrangler } from "./lib/wrangler.mjs";

const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.PERSIST_TO; // default: .wrangler/state
const base = `http://localhost:${port}`;
const step = (text) => console.log(`\u25b8 ${text}`);

function buildDashboard() {
  const require = createRequire(import.meta.url);
  const vite = path.join(path.dirname(require.resolve("vite/package.json")), "bin", "vite.js");
  const res = spawnSync(
    process.execPath,
    [vite, "build", "--config", "dashboard/vite.config.ts", "--logLevel", "warn"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
  if (res.status !== 0) throw new Error("the dashboard build failed (see above)");
}

async function waitForHealthz(child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      // 503 is the Worker answering too: on state left by an earlier run the cron's last tick
      // is old until the first tick below.
      const res = await fetch(`${base}/healthz`);
      if (res.ok || res.status === 503) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`nothing answered on ${base}/healthz within ${timeoutMs / 1000}s`);
}

const tick = () => fetch(`${base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`).catch(() => {});

/** Fires the Worker's cron handler at every minute boundary, as Cron Triggers do in production. */
function startCronTicker() {
  const schedule = () => setTimeout(() => (tick(), schedule()), 60_000 - (Date.now() % 60_000) + 50).unref();
  schedule();
}

async function main() {
  if (process.env.START_SKIP_BUILD === "1" && existsSync(path.join(ROOT, "dist", "client", "index.html"))) {
    step("keeping the dashboard built in dist/client (START_SKIP_BUILD=1)");
  } else {
    step("building the dashboard");
    buildDashboard();
  }
  step("applying D1 migrations (local)");
  applyMigrations({ persistTo });
  const { token } = issueAdminToken({
    ...DEMO_OWNER,
    tokenName: "npm start",
    replaceTokenNamed: "npm start",
    persistTo,
  });

  step(`starting the Worker on ${base}`);
  const child = spawnWrangler(
    [
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--var",
      "DEMO_MODE:1",
      "--var",
      `DEMO_BASE_URL:http://127.0.0.1:${port}`,
      "--show-interactive-dev-session=false",
      ...(persistTo ? ["--persist-to", persistTo] : []),
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => process.exit(code ?? 0));

  await waitForHealthz(child);
  const created = await seedDemo(base, token);
  step(created.length ? `seeded the demo configuration: ${created.join(", ")}` : "demo configuration already present");
  // The demo's past, once; the live demo runs without it should it fail.
  try {
    const history = await backfillDemo(base, token);
    step(
      history.status === "completed"
        ? `stored the demo's last 30 days (${history.rollup_rows} rollups, ${history.alerts} alerts) in ${(history.duration_ms / 1000).toFixed(1)} s`
        : "demo history already present",
    );
  } catch (err) {
    console.warn(`demo history not stored (${err.message}); retry with POST ${base}/demo/backfill`);
  }
  // One tick now, so pushed and probed data shows at once rather than at the next minute.
  await tick();
  startCronTicker();

  console.log(
    [
      "",
      `Edge Monitor is running at ${base}`,
      `  Dashboard: ${base}/  (log in as ${DEMO_OWNER.email} with the token below)`,
      `  API docs:  ${base}/api/openapi.json`,
      "  More tokens: npm run admin:token -- --email you@example.com --role admin",
      `LOGIN_TOKEN=${token}`,
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  console.error(`npm start: ${err.message}`);
  process.exit(1);
});

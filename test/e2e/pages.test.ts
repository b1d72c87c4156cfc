/**
 * The dashboard as a Pages project (`npm run deploy:pages`), run locally with
 * `wrangler pages dev` exactly as configured in dashboard/pages (its wrangler.toml
 * and Functions) against the local Worker that ./server.ts started: static assets
 * with the SPA fallback come from Pages; /api/*, /ws, /slack/* and /healthz reach
 * the Worker through the `API` service binding, login and session cookie included.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DASHBOARD_CSP } from "../../worker/core/security-headers";
import { exited, freePort, killGroup } from "./server";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WRANGLER = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
const workerUrl = inject("baseUrl");
const token = inject("token");
const STARTUP_TIMEOUT_MS = 60_000;

let pagesUrl = "";
let pages: ChildProcess | undefined;
let persistTo = "";
const output: string[] = [];

/** Node's WebSocket (undici) takes request headers as an option; the DOM type has no such argument. */
const NodeWebSocket = WebSocket as unknown as new (url: string, init: { headers: Record<string, string> }) => WebSocket;

/** The first message on `/ws` sent with `headers`, or the reason there was none. */
function firstSocketMessage(headers: Record<string, string>): Promise<{ type: string } | { failed: string }> {
  return new Promise((resolve) => {
    const ws = new NodeWebSocket(`${pagesUrl.replace(/^http/, "ws")}/ws`, { headers });
    let settled = false;
    const done = (result: { type: string } | { failed: string }) => {
      if (settled) return; // closing a socket that never opened fires "error" again
      settled = true;
      clearTimeout(timer);
      resolve(result);
      ws.close();
    };
    const timer = setTimeout(() => done({ failed: "no message within 10 s" }), 10_000);
    ws.addEventListener("message", (event) => done(JSON.parse(String(event.data)) as { type: string }));
    ws.addEventListener("error", () => done({ failed: "the upgrade was refused" }));
  });
}

beforeAll(async () => {
  const port = await freePort();
  pagesUrl = `http://127.0.0.1:${port}`;
  persistTo = mkdtempSync(path.join(tmpdir(), "edge-monitor-pages-"));
  // One `wrangler pages dev` for the whole file, its service binding resolved through the
  // dev registry in which the e2e Worker registered itself.
  pages = spawn(
    process.execPath,
    [
      WRANGLER,
      "pages",
      "dev",
      "--cwd",
      "dashboard/pages",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      persistTo,
      "--show-interactive-dev-session=false",
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        WRANGLER_REGISTRY_PATH: inject("devRegistry"),
        WRANGLER_SEND_METRICS: "false",
        NO_UPDATE_NOTIFIER: "1",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        FORCE_COLOR: "0",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so afterAll reaches workerd too
    },
  );
  for (const stream of [pages.stdout, pages.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => output.push(chunk));
  }
  // Ready once /healthz answers through the binding: Pages is up and the Worker is connected.
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (pages.exitCode !== null) break;
    const res = await fetch(`${pagesUrl}/healthz`).catch(() => null);
    if (res?.ok && res.headers.get("content-type")?.includes("json")) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler pages dev did not proxy /healthz within 60 s:\n${output.join("").slice(-4_000)}`);
}, STARTUP_TIMEOUT_MS + 10_000);

afterAll(async () => {
  if (pages) {
    killGroup(pages, "SIGTERM");
    if (!(await exited(pages, 5_000))) killGroup(pages, "SIGKILL");
    killGroup(pages, "SIGKILL"); // workerd may outlive the group leader for a moment
  }
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe("the dashboard on Pages (wrangler pages dev) in front of the local Worker", () => {
  it("serves the dashboard at / and at a deep link (SPA fallback), with its script", async () => {
    for (const page of ["/", "/alerts"]) {
      const res = await fetch(`${pagesUrl}${page}`);
      const html = await res.text();
      const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1] ?? "";
      expect({ page, status: res.status, type: res.headers.get("content-type"), script }).toMatchObject({
        page,
        status: 200,
        type: expect.stringMatching(/^text\/html/),
        script: expect.stringMatching(/^\/assets\/.+\.js$/),
      });
      expect(html).toContain('<div id="app"></div>');
      // Pages applies the build's _headers file as the Worker's assets do (core/security-headers.ts).
      expect(res.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      const asset = await fetch(`${pagesUrl}${script}`);
      expect({ script, status: asset.status, type: asset.headers.get("content-type") }).toMatchObject({
        script,
        status: 200,
        type: expect.stringMatching(/javascript/),
      });
    }
  });

  it("proxies /healthz, /api/* and /slack/* to the Worker, answering exactly as the Worker does", async () => {
    const health = await fetch(`${pagesUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });

    const me = await fetch(`${pagesUrl}/api/admin/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ role: "owner", email: expect.stringContaining("@") });

    const anonymous = await fetch(`${pagesUrl}/api/admin/me`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);

    // An unsigned Slack command: the Worker's own refusal, byte for byte (Pages alone has no such route).
    const slack = (base: string) =>
      fetch(`${base}/slack/commands`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "command=%2Fmonitor&text=status",
      });
    const answer = async (res: Response) => ({
      status: res.status,
      type: res.headers.get("content-type"),
      body: await res.text(),
    });
    const [viaPages, direct] = await Promise.all([slack(pagesUrl).then(answer), slack(workerUrl).then(answer)]);
    expect(direct).toMatchObject({ status: expect.toSatisfy((s: number) => s >= 400), type: "application/json" });
    expect(viaPages).toEqual(direct);
  });

  it("logs in through the proxy: the session cookie then authenticates the API and the socket", async () => {
    const login = await fetch(`${pagesUrl}/api/auth/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^em_session=[^;]+;/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(";")[0] ?? "";

    const me = await fetch(`${pagesUrl}/api/admin/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ role: "owner" });

    // A browser sends the page's Origin with the upgrade; the Worker sees the Pages origin as its own.
    expect(await firstSocketMessage({ cookie, origin: pagesUrl })).toMatchObject({ type: "snapshot" });
    expect(await firstSocketMessage({ cookie, origin: "https://evil.example" })).toEqual({
      failed: "the upgrade was refused",
    });
    expect(await firstSocketMessage({})).toEqual({ failed: "the upgrade was refused" });
  });
});

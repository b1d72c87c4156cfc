/**
 * The dashboard shell in real headless Chromium against the real product
 * (`scripts/start.mjs`, started by ./server.ts): static serving with SPA
 * fallback, login with an admin token, the session cookie's attributes, live
 * status over HTTP and the WebSocket, reload, logout. The steps build on each
 * other and run in order in one browser context.
 */
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type WebSocketRoute,
} from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, connectionStates, recordConnectionStates } from "./browser";
import { agreesWithDemo } from "./client";

const baseUrl = inject("baseUrl");
const token = inject("token");

let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Uncaught exceptions in the page: there must be none. */
const pageErrors: string[] = [];
/** Text frames the dashboard socket received. */
const socketFrames: string[] = [];
let sessionCookie = "";

const visible = (locator: Locator) => locator.waitFor({ state: "visible" });
/** The JSON messages among socket text frames. */
const messages = (frames: string[]) =>
  frames.filter((f) => f.startsWith("{")).map((f) => JSON.parse(f) as { type: string; seq?: number });
/** The snapshot messages among socket text frames. */
const snapshots = (frames: string[]) =>
  messages(frames).filter((m): m is { type: "snapshot"; seq: number } => m.type === "snapshot");
/** A `services` topic payload with one made-up service. */
const fakeServices = (status: string) => [
  {
    service: "checkout",
    status,
    last_checked_at: new Date().toISOString(),
    latency_ms: 87,
    message: "injected by the test",
  },
];
const loginHeading = () => page.getByRole("heading", { name: "Log in", level: 1 });
const statusHeading = () => page.getByRole("heading", { name: "Live status", level: 1 });
const connected = () => page.locator('[data-connection="connected"]');

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  context = await browser.newContext({ baseURL: baseUrl });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("websocket", (ws) => {
    if (new URL(ws.url()).pathname !== "/ws") return;
    ws.on("framereceived", ({ payload }) => {
      if (typeof payload === "string") socketFrames.push(payload);
    });
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("dashboard shell", () => {
  it("answers /healthz with JSON ok", async () => {
    const res = await fetch(`${baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it("serves the dashboard at / and at deep links (SPA fallback), with its assets", async () => {
    for (const path of ["/", "/status", "/rules", "/no/such/page"]) {
      const res = await fetch(`${baseUrl}${path}`);
      const html = await res.text();
      const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1] ?? "";
      expect({
        path,
        status: res.status,
        type: res.headers.get("content-type"),
        hasRoot: html.includes('<div id="app"></div>'),
        script,
      }).toMatchObject({
        path,
        status: 200,
        type: expect.stringMatching(/^text\/html/),
        hasRoot: true,
        script: expect.stringMatching(/^\/assets\/.+\.js$/),
      });
      const asset = await fetch(`${baseUrl}${script}`);
      expect({ script, status: asset.status, type: asset.headers.get("content-type") }).toMatchObject({
        script,
        status: 200,
        type: expect.stringMatching(/javascript/),
      });
    }
  });

  it("shows the login when not authenticated, keeping the deep link", async () => {
    await page.goto("/status");
    await visible(loginHeading());
    expect(new URL(page.url()).pathname).toBe("/status");
    await visible(page.getByLabel("Admin API token"));
    expect(await context.cookies()).toEqual([]);
  });

  it("shows the server's message for a wrong token", async () => {
    const refused = await fetch(`${baseUrl}/api/auth/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "not-a-real-token" }),
    });
    expect(refused.status).toBe(401);
    const { message } = (await refused.json()) as { message: string };

    await page.getByLabel("Admin API token").fill("not-a-real-token");
    await page.getByRole("button", { name: "Log in" }).click();
    const alert = page.getByRole("alert");
    await visible(alert);
    expect((await alert.textContent())?.trim()).toBe(message);
    expect(await page.getByLabel("Admin API token").getAttribute("aria-invalid")).toBe("true");
    await visible(loginHeading());
    expect(await context.cookies()).toEqual([]);
  });

  it("logs in with the real token; the session cookie is HttpOnly and SameSite=Strict", async () => {
    await page.getByLabel("Admin API token").fill(token);
    await page.getByRole("button", { name: "Log in" }).click();
    await visible(statusHeading());
    expect(new URL(page.url()).pathname).toBe("/status");

    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    const [cookie] = cookies;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000); // persistent: survives a browser restart
    expect(cookie!.value).not.toBe(token); // a session secret, not the admin token
    sessionCookie = `${cookie!.name}=${cookie!.value}`;
    // HttpOnly: invisible to scripts; and the token is not kept in the page's storage either.
    expect(await page.evaluate(() => document.cookie)).toBe("");
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    );
    expect(stored).not.toContain(token);
  });

  it("renders the live status of the demo's services over a connected socket", async () => {
    const ecpay = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "ecpay" }) });
    await visible(ecpay);
    // The demo's probes report within the first minute.
    const shown = () => ecpay.locator("[data-status]").getAttribute("data-status");
    await expect.poll(async () => agreesWithDemo(baseUrl, "ecpay", await shown()), { timeout: 50_000 }).toBe(true);
    await visible(connected());
    expect((await connected().textContent())?.trim()).toContain("Live");
    expect(await page.getByRole("link", { name: "Live status" }).getAttribute("aria-current")).toBe("page");

    // The socket spoke the protocol: a snapshot came first.
    await expect.poll(() => socketFrames.length).toBeGreaterThan(0);
    const first = JSON.parse(socketFrames[0]!) as { type: string; seq: number };
    expect(first.type).toBe("snapshot");
    expect(Number.isInteger(first.seq)).toBe(true);
  });

  it("navigates between pages; Rules lists the seeded rules", async () => {
    await page.getByRole("link", { name: "Rules" }).click();
    await visible(page.getByRole("heading", { name: "Rules", level: 1 }));
    await visible(page.getByRole("rowheader", { name: "Payment Failure Rate > 5%" }));
    await visible(page.getByRole("rowheader", { name: "API Response Time > 1000ms" }));
    expect(new URL(page.url()).pathname).toBe("/rules");

    for (const name of ["Monitors", "Preferences"]) {
      await page.getByRole("link", { name }).click();
      await visible(page.getByRole("heading", { name, level: 1 }));
      expect(await page.getByRole("link", { name }).getAttribute("aria-current")).toBe("page");
    }
    await page.getByRole("link", { name: "Live status" }).click();
    await visible(statusHeading());
  });

  it("stays logged in across a reload", async () => {
    await page.reload();
    await visible(statusHeading());
    await visible(page.getByRole("rowheader", { name: "ecpay" }));
    await visible(connected());
    expect(await loginHeading().count()).toBe(0);
  });

  it("recovers the live connection: resyncs after a sequence gap, reconnects after a drop", async () => {
    // A second tab of the same session whose socket runs through a relay the test controls.
    const tab = await context.newPage();
    tab.setDefaultTimeout(15_000);
    tab.on("pageerror", (err) => pageErrors.push(err.message));
    // While `holdDeltas` is set, the server's own deltas are kept back: the product keeps publishing
    // (other tests write data), and a real delta slipped in between would take the sequence number
    // the test injects. Snapshots still pass.
    type Relay = { page: WebSocketRoute; toPage: string[]; toServer: string[]; holdDeltas: boolean };
    const relays: Relay[] = [];
    await tab.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      const relay: Relay = { page: ws, toPage: [], toServer: [], holdDeltas: false };
      ws.onMessage((m) => (relay.toServer.push(String(m)), server.send(m)));
      server.onMessage((m) => {
        if (relay.holdDeltas && String(m).includes('"type":"delta"')) return;
        relay.toPage.push(String(m));
        ws.send(m);
      });
      relays.push(relay);
    });
    /** The seq of the last message the page was given. */
    const lastSeq = (relay: Relay) =>
      messages(relay.toPage)
        .map((m) => m.seq)
        .filter((n) => n !== undefined)
        .at(-1)!;
    const connectedIn = tab.locator('[data-connection="connected"]');

    await tab.goto("/status");
    await visible(connectedIn);
    await visible(tab.getByRole("rowheader", { name: "ecpay" }));
    expect(relays).toHaveLength(1);
    const relay = relays[0]!;
    await expect.poll(() => snapshots(relay.toPage).length).toBe(1);
    relay.holdDeltas = true;
    const seq = lastSeq(relay);

    // A delta that skips a sequence number is not applied; the page asks for a resync and gets a new snapshot.
    relay.page.send(
      JSON.stringify({
        type: "delta",
        seq: seq + 2,
        at: new Date().toISOString(),
        topic: "services",
        data: fakeServices("down"),
      }),
    );
    await expect.poll(() => relay.toServer).toContain(JSON.stringify({ type: "resync" }));
    await expect.poll(() => snapshots(relay.toPage).length).toBe(2);
    expect(await tab.getByRole("rowheader", { name: "checkout" }).count()).toBe(0);

    // The next delta in sequence is applied: the service shows up with its status badge.
    const seq2 = snapshots(relay.toPage)[1]!.seq;
    relay.page.send(
      JSON.stringify({
        type: "delta",
        seq: seq2 + 1,
        at: new Date().toISOString(),
        topic: "services",
        data: fakeServices("down"),
      }),
    );
    const row = tab.getByRole("row").filter({ has: tab.getByRole("rowheader", { name: "checkout" }) });
    await visible(row);
    expect(await row.locator("[data-status]").getAttribute("data-status")).toBe("down");
    expect(await row.textContent()).toContain("Down");
    expect(await tab.getByRole("status").filter({ hasText: "1 down" }).count()).toBe(1);

    // The connection drops: the indicator says so, the page reconnects by itself and re-reads the real state.
    await recordConnectionStates(tab);
    await relay.page.close({ code: 4000, reason: "dropped by the test" });
    await expect.poll(() => relays.length).toBe(2);
    await visible(connectedIn);
    expect(await connectionStates(tab)).toEqual(["reconnecting", "connected"]);
    await visible(tab.getByRole("rowheader", { name: "ecpay" }));
    expect(await tab.getByRole("rowheader", { name: "checkout" }).count()).toBe(0);
    await tab.close();
  });

  it("logs out: back to the login, the cookie is gone and the session is revoked", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await visible(loginHeading());
    await visible(page.getByText("You have logged out."));
    expect(await context.cookies()).toEqual([]);

    // The browser has no credential any more…
    const fromBrowser = await page.request.get("/api/admin/me");
    expect(fromBrowser.status()).toBe(401);
    // …and the old session cookie, replayed, is refused by the server (revoked, not merely forgotten).
    expect(sessionCookie).not.toBe("");
    const replayed = await fetch(`${baseUrl}/api/admin/me`, { headers: { cookie: sessionCookie } });
    expect(replayed.status).toBe(401);

    // A reload still shows the login.
    await page.reload();
    await visible(loginHeading());
  });

  it("had no uncaught errors in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});

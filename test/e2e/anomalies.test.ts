/**
 * Detected anomalies end to end in real headless Chromium against the product as `npm start`
 * runs it: a steady series of a demo metric (its own labels) pushed through the ingest API for
 * most of a day, the Trends page open, then a spike: the anomaly appears in the Anomalies
 * section without a reload (the socket's `anomaly` message), the Database chart and the metric's
 * history chart shade it, an
 * administrator marks it expected with a note (the row and the Expected patterns list show the
 * note, the API lists the feedback), then undoes it; a viewer sees the row without the buttons.
 * Needs the anomaly list, socket push and feedback routes of the series store. Steps build on
 * each other and run in order.
 */
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;

/** A demo metric (detection is on for the demo's metrics), as a series of its own. */
const METRIC = "db_pool_in_use";
const SERVICE = "database";
const LABELS = { pool: "e2e-anomaly" };
const NOTE = "E2E nightly batch job";
const MINUTE = 60_000;

interface Anomaly {
  id: number;
  started_at: string;
  metric: string;
  service: string;
  labels: Record<string, string>;
  direction: string;
  ended_at: string | null;
  feedback: { id: number; note: string } | null;
}

let browser: Browser;
let adminContext: BrowserContext;
let admin: Page;
let adminUser: { id: number; token: string };
let viewerUser: { id: number; token: string };
let ingestKey = "";
let anomalyId = 0;
/** When the spike began: our anomaly starts at or after it (whatever the steady part may have raised). */
let spikeFrom = 0;
const pageErrors: string[] = [];
const { must, createUser: createUserAt } = apiClient(ownerToken);
const createUser = (role: "admin" | "viewer") => createUserAt(baseUrl, role, "anomalies");
const logIn = (context: BrowserContext, token: string) => logInWith(context, token, pageErrors);
const visible = (l: Locator) => l.waitFor({ state: "visible" });

async function push(samples: { value: number; ts: number }[]) {
  const res = await fetch(`${baseUrl}/api/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
    body: JSON.stringify({ samples: samples.map((s) => ({ metric: METRIC, service: SERVICE, labels: LABELS, ...s })) }),
  });
  expect(res.status, await res.text()).toBe(202);
}

/** Our series' anomalies in the API's list of the last 24 hours. */
async function ours(): Promise<Anomaly[]> {
  const { anomalies } = await must<{ anomalies: Anomaly[] }>(
    "GET",
    `${API}/performance/anomalies?period=24h&metric=${METRIC}&service=${SERVICE}`,
  );
  return anomalies.filter((a) => a.labels.pool === LABELS.pool && Date.parse(a.started_at) >= spikeFrom - MINUTE);
}

const row = (page: Page) => page.locator(`tr[data-anomaly="${anomalyId}"]`);

async function openTrends(page: Page) {
  await page.goto("/trends");
  await visible(page.getByRole("heading", { name: "System performance trends", level: 1 }));
  await page.getByRole("radio", { name: "24 h" }).check();
  await expect.poll(() => page.getByRole("status").filter({ hasText: "The last 24 h" }).count()).toBe(1);
}

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  [adminUser, viewerUser] = await Promise.all([createUser("admin"), createUser("viewer")]);
  ingestKey = (await must<{ key: string }>("POST", `${API}/keys`, { name: "e2e anomalies", scope: "ingest" })).key;
  adminContext = await browser.newContext({ baseURL: baseUrl });
  admin = await logIn(adminContext, adminUser.token);
});

afterAll(async () => {
  await browser?.close();
});

describe("anomalies", () => {
  it("lists a spike after a steady day as it happens, and shades it on the chart", { timeout: 150_000 }, async () => {
    // 23 hours of a steady pool (20 ± 1, once a minute) ending 10 minutes ago: within the raw window.
    const now = Date.now();
    const steady = Array.from({ length: 23 * 60 }, (_, i) => ({
      ts: now - 10 * MINUTE - (23 * 60 - 1 - i) * MINUTE,
      value: 20 + ((i * 7) % 3) - 1,
    }));
    for (let i = 0; i < steady.length; i += 690) await push(steady.slice(i, i + 690));

    await openTrends(admin);
    const section = admin.getByRole("region", { name: "Anomalies" });
    await visible(section);

    // Then the pool fills up: four times its usual level for the last minutes.
    spikeFrom = Date.now() - 6 * MINUTE;
    await push(Array.from({ length: 6 }, (_, i) => ({ ts: spikeFrom + i * MINUTE, value: 80 + i })));
    await expect.poll(async () => (await ours()).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
    const [found] = await ours();
    anomalyId = found?.id ?? 0;
    expect(found).toMatchObject({ metric: METRIC, service: SERVICE, direction: "up", feedback: null });

    // The open page got it over the socket: no reload.
    await visible(row(admin));
    expect(await row(admin).textContent()).toMatch(/above normal/);
    expect(await row(admin).textContent()).toContain(METRIC);
    const chart = admin.locator('[data-chart="database"] .time-chart');
    await expect.poll(async () => Number(await chart.getAttribute("data-markers"))).toBeGreaterThanOrEqual(1);

    // The service filter keeps it under its service.
    const filter = section.getByLabel("Service");
    await filter.selectOption(SERVICE);
    await visible(row(admin));
    await filter.selectOption("");
    await admin.screenshot({ path: "/tmp/trends-anomaly.png", fullPage: true });

    // The metric's history page shades it too.
    await admin.goto(`/metrics/${SERVICE}/${METRIC}`);
    const history = admin.locator(".time-chart");
    await expect.poll(async () => Number(await history.getAttribute("data-markers"))).toBeGreaterThanOrEqual(1);
    await openTrends(admin);
    await visible(row(admin));
  });

  it("is marked expected with a note by an administrator, and undone", async () => {
    await row(admin).getByRole("button", { name: "Mark expected" }).click();
    await row(admin).getByLabel(`Why anomaly ${anomalyId} is expected`).fill(NOTE);
    await row(admin).getByRole("button", { name: "Save" }).click();
    await visible(row(admin).getByText(`expected: ${NOTE}`));
    await expect.poll(async () => (await ours()).find((a) => a.id === anomalyId)?.feedback?.note).toBe(NOTE);
    const { feedback } = await must<{ feedback: { id: number; note: string; anomaly_id: number | null }[] }>(
      "GET",
      `${API}/anomaly-feedback`,
    );
    expect(feedback.filter((f) => f.anomaly_id === anomalyId).map((f) => f.note)).toEqual([NOTE]);
    const patterns = admin.getByRole("region", { name: "Expected patterns" });
    await visible(patterns.getByRole("listitem").filter({ hasText: NOTE }));

    await row(admin).getByRole("button", { name: "Undo" }).click();
    await visible(row(admin).getByRole("button", { name: "Mark expected" }));
    await expect.poll(async () => (await ours()).find((a) => a.id === anomalyId)?.feedback ?? null).toBeNull();
    const after = await must<{ feedback: { anomaly_id: number | null }[] }>("GET", `${API}/anomaly-feedback`);
    expect(after.feedback.filter((f) => f.anomaly_id === anomalyId)).toEqual([]);
    await expect.poll(() => patterns.getByRole("listitem").filter({ hasText: NOTE }).count()).toBe(0);
  });

  it("shows a viewer the anomaly without Mark expected", async () => {
    const viewerContext = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(viewerContext, viewerUser.token);
    await openTrends(viewer);
    await visible(row(viewer));
    expect(await viewer.getByRole("button", { name: "Mark expected" }).count()).toBe(0);
    await viewerContext.close();
  });

  it("raised no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

/**
 * The Trends page's normal range and anomaly sections in real headless Chromium against the
 * product as `npm start` runs it: every chart drawn from the demo's backfilled month with its
 * normal range behind it (the API answers `expected`, `low`, `high` per point with band=1),
 * the "Normal range" toggle taking it away and back, the metric history chart's band, the
 * Anomalies section and the Expected patterns list in whatever state the API is in (their lists,
 * their empty states, or a named load error where the routes do not exist), and a viewer
 * seeing no write buttons. Steps build on each other and run in order.
 */
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;
const CHARTS = ["payment_success_rate", "api_response_time", "database", "user_activity"] as const;

let browser: Browser;
let adminContext: BrowserContext;
let admin: Page;
let adminUser: { id: number; token: string };
let viewerUser: { id: number; token: string };
const pageErrors: string[] = [];
const { call, must, createUser: createUserAt } = apiClient(ownerToken);
const createUser = (role: "admin" | "viewer") => createUserAt(baseUrl, role, "trends");
const logIn = (context: BrowserContext, token: string) => logInWith(context, token, pageErrors);
const visible = (l: Locator) => l.waitFor({ state: "visible" });

/** What a list section shows: its rows, its empty state, its load error, or nothing yet. */
async function sectionState(section: Locator, rows: string, errorText: string) {
  if (await section.locator(rows).count()) return "list";
  if (await section.locator("[data-empty]").count()) return "empty";
  if (await section.getByRole("alert").filter({ hasText: errorText }).count()) return "error";
  return "loading";
}

type BandPoint = { ts: string; expected?: number | null; low?: number | null; high?: number | null };

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  [adminUser, viewerUser] = await Promise.all([createUser("admin"), createUser("viewer")]);
  adminContext = await browser.newContext({ baseURL: baseUrl });
  admin = await logIn(adminContext, adminUser.token);
});

afterAll(async () => {
  await browser?.close();
});

/** Opens the Trends page on a period and waits for its charts. */
async function openTrends(page: Page, period: "24 h" | "7 d" | "30 d") {
  await page.goto("/trends");
  await visible(page.getByRole("heading", { name: "System performance trends", level: 1 }));
  await page.getByRole("radio", { name: period }).check();
  await expect
    .poll(() =>
      page
        .getByRole("status")
        .filter({ hasText: `The last ${period}` })
        .count(),
    )
    .toBe(1);
}

describe("normal range", () => {
  it("is answered per point with band=1 from the demo's backfilled history", async () => {
    const trends = await must<{ charts: Record<string, { band_field: string; points: BandPoint[] }> }>(
      "GET",
      `${API}/performance/trends?period=7d&band=1`,
    );
    for (const id of CHARTS) {
      const points = trends.charts[id]?.points ?? [];
      expect(points.length, id).toBeGreaterThan(0);
      // The week before the period is backfilled too: the band is known nearly everywhere.
      const known = points.filter((p) => p.expected != null);
      expect(known.length / points.length, id).toBeGreaterThan(0.8);
      for (const p of known) expect(Number(p.low), `${id} ${p.ts}`).toBeLessThanOrEqual(Number(p.high));
    }
    const history = await must<{ points: BandPoint[] }>(
      "GET",
      `${API}/metrics/history?metric=payment_success_rate&service=ecpay&period=24h&band=1`,
    );
    expect(history.points.some((p) => p.expected != null)).toBe(true);
  });

  it("is drawn behind every trend chart, and the toggle takes it away and back", async () => {
    await openTrends(admin, "7 d");
    const toggle = admin.getByRole("checkbox", { name: "Normal range" });
    expect(await toggle.isChecked()).toBe(true);
    for (const id of CHARTS) {
      const chart = admin.locator(`[data-chart="${id}"]`);
      await visible(chart.locator("canvas").first());
      await expect.poll(() => chart.locator('.time-chart[data-band="shown"]').count(), { message: id }).toBe(1);
      // The expected value is a series of its own: it shows in the legend, the band's edges do not.
      await visible(chart.locator(".u-legend").getByText("Expected", { exact: true }));
    }
    await admin.screenshot({ path: "/tmp/trends-band.png", fullPage: true });

    // Toggling remounts every chart. Each must have its plot by the time the page can see it,
    // never an empty box for a frame: the observer runs before the browser paints again.
    await admin.evaluate(() => {
      const bare: string[] = [];
      (window as unknown as { bareCharts: string[] }).bareCharts = bare;
      new MutationObserver((records) => {
        const added = records.flatMap((r) => Array.from(r.addedNodes)).filter((n) => n instanceof Element);
        const charts = added.flatMap((n) =>
          n.matches(".time-chart") ? [n] : Array.from(n.querySelectorAll(".time-chart")),
        );
        for (const c of charts)
          if (!c.querySelector("canvas")) bare.push(c.closest("[data-chart]")?.getAttribute("data-chart") ?? "?");
      }).observe(document.body, { childList: true, subtree: true });
    });
    await toggle.uncheck();
    for (const id of CHARTS) {
      const chart = admin.locator(`[data-chart="${id}"]`);
      await expect.poll(() => chart.locator(".time-chart[data-band]").count(), { message: id }).toBe(0);
      expect(await chart.locator("canvas").count(), id).toBeGreaterThan(0);
    }
    await toggle.check();
    await expect.poll(() => admin.locator('.time-chart[data-band="shown"]').count()).toBe(CHARTS.length);
    expect(await admin.evaluate(() => (window as unknown as { bareCharts: string[] }).bareCharts)).toEqual([]);
  });

  it("is drawn on a metric's history chart", async () => {
    await admin.goto("/metrics/ecpay/payment_success_rate");
    await expect.poll(() => admin.locator('.time-chart[data-band="shown"]').count(), { timeout: 20_000 }).toBe(1);
  });
});

describe("anomalies and expected patterns", () => {
  it("shows the period's anomalies, or says there are none, or why they could not be loaded", async () => {
    await openTrends(admin, "24 h");
    const section = admin.getByRole("region", { name: "Anomalies" });
    await visible(section);
    const res = await call<{ anomalies: unknown[] }>("GET", `${API}/performance/anomalies?period=24h`, ownerToken);
    // Before the anomaly routes exist (404), the section names what failed and offers Retry.
    const anomaliesState = res.status === 404 ? "error" : res.body.anomalies.length ? "list" : "empty";
    await expect
      .poll(() => sectionState(section, "tr[data-anomaly]", "Could not load the anomalies"))
      .toBe(anomaliesState);
    expect(await section.textContent()).toMatch(
      { error: /Retry/, list: /Peak score/, empty: /No anomalies detected in this period/ }[anomaliesState],
    );

    const patterns = admin.getByRole("region", { name: "Expected patterns" });
    await visible(patterns);
    const fb = await call<{ feedback: unknown[] }>("GET", `${API}/anomaly-feedback`, ownerToken);
    const patternsState = fb.status === 404 ? "error" : fb.body.feedback.length ? "list" : "empty";
    await expect
      .poll(() => sectionState(patterns, "li[data-pattern]", "Could not load the expected patterns"))
      .toBe(patternsState);
  });

  it("shows a viewer the same page without Mark expected or Undo", async () => {
    const viewerContext = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(viewerContext, viewerUser.token);
    await openTrends(viewer, "24 h");
    await visible(viewer.getByRole("region", { name: "Anomalies" }));
    await visible(viewer.getByRole("region", { name: "Expected patterns" }));
    await expect.poll(() => viewer.locator('.time-chart[data-band="shown"]').count()).toBe(CHARTS.length);
    expect(await viewer.getByRole("button", { name: "Mark expected" }).count()).toBe(0);
    expect(await viewer.getByRole("button", { name: "Undo" }).count()).toBe(0);
    await viewerContext.close();
  });

  it("raised no page errors", () => {
    expect(pageErrors).toEqual([]);
  });
});

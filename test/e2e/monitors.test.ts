/**
 * The Monitors page in real headless Chromium against the product as `npm start` runs it:
 * an HTTP monitor created through the form (a refused value shown beside its field with
 * the input kept and nothing saved, then fixed) whose first result arrives in the list; a
 * heartbeat monitor's URL with its three snippets, pinged and seen up; pause and resume;
 * an edit; and a viewer who sees everything without a button to change it. Steps build on
 * each other and run in order.
 */
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;

let browser: Browser;
let admin: Page;
let viewerToken = "";
const pageErrors: string[] = [];
const { must } = apiClient(ownerToken);
const logIn = (context: BrowserContext, token: string) => logInWith(context, token, pageErrors);

interface MonitorOut {
  id: number;
  name: string;
  is_active: boolean;
  heartbeat_url: string | null;
  expect: { body_contains?: string } | null;
}

const monitorsNamed = async (name: string) =>
  (await must<{ monitors: MonitorOut[] }>("GET", `${API}/monitors?limit=1000`)).monitors.filter((m) => m.name === name);

const visible = (l: Locator) => l.waitFor({ state: "visible" });
const field = (page: Page, name: string) => page.locator(`form [name="${name}"]`);
const row = (page: Page, name: string) =>
  page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(`^${name}`) }) });
const stateOf = (page: Page, name: string) => row(page, name).locator("[data-state]");

async function openMonitors(page: Page) {
  await page.getByRole("link", { name: "Monitors" }).click();
  await visible(page.getByRole("heading", { name: "Monitors", level: 1 }));
}

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  const viewer = await must<{ id: number }>("POST", `${baseUrl}/api/admin/users`, {
    email: "e2e-monitors-viewer@example.com",
    name: "E2E monitors viewer",
    role: "viewer",
  });
  viewerToken = (
    await must<{ token: string }>("POST", `${baseUrl}/api/admin/users/${viewer.id}/tokens`, { name: "e2e" })
  ).token;
  admin = await logIn(await browser.newContext({ baseURL: baseUrl }), ownerToken);
});

afterAll(async () => {
  // Nothing of this file keeps probing once it is done.
  for (const name of ["E2E self check", "E2E nightly export"]) {
    for (const m of await monitorsNamed(name).catch(() => [])) {
      await must("DELETE", `${API}/monitors/${m.id}`).catch(() => undefined);
    }
  }
  await browser?.close();
});

describe("monitors", () => {
  it("creates an HTTP monitor through the form, a refused value kept beside its field, and sees its first result", async () => {
    await openMonitors(admin);
    await admin.getByRole("button", { name: "New monitor" }).click();
    await visible(admin.getByRole("heading", { name: "New monitor", level: 1 }));
    await field(admin, "name").fill("E2E self check");
    await field(admin, "service").fill("e2e-monitors");
    // The demo's email service: always healthy, and a target the product may probe in demo mode
    // (its own origin is refused otherwise).
    await field(admin, "url").fill(`${baseUrl}/demo/email/health`);
    await field(admin, "interval_seconds").fill("5");
    await field(admin, "timeout_ms").fill("5000");
    await field(admin, "json_path").fill("$.status");
    await field(admin, "json_equals").fill("ok");
    await admin.getByRole("button", { name: "Create monitor" }).click();

    // The server's reason beside the timeout, everything typed still there, nothing saved.
    const timeout = field(admin, "timeout_ms");
    await visible(admin.locator("#timeout_ms-error"));
    expect(await admin.locator("#timeout_ms-error").textContent()).toContain("must be less than");
    expect(await timeout.getAttribute("aria-invalid")).toBe("true");
    expect(await timeout.getAttribute("aria-describedby")).toBe("timeout_ms-error");
    expect(await timeout.inputValue()).toBe("5000");
    expect(await field(admin, "name").inputValue()).toBe("E2E self check");
    expect(await field(admin, "json_path").inputValue()).toBe("$.status");
    expect(await admin.getByRole("alert").textContent()).toContain("Not saved");
    expect(await monitorsNamed("E2E self check")).toEqual([]);

    await timeout.fill("2000");
    await admin.getByRole("button", { name: "Create monitor" }).click();
    await visible(admin.getByRole("heading", { name: "Monitors", level: 1 }));
    await visible(row(admin, "E2E self check"));
    // The first result arrives without a reload.
    await expect
      .poll(() => stateOf(admin, "E2E self check").getAttribute("data-state"), { timeout: 30_000 })
      .toBe("up");
    const lastResult = row(admin, "E2E self check").locator('td[data-label="Last result"]');
    expect(await lastResult.textContent()).not.toContain("none yet");
    expect(await lastResult.textContent()).toMatch(/\d+ ms|\d\.\d+ s/);
    expect(await row(admin, "E2E self check").locator('td[data-label="Next run"]').textContent()).not.toBe("");
    const [saved] = await monitorsNamed("E2E self check");
    expect(saved).toMatchObject({
      interval_seconds: 5,
      timeout_ms: 2000,
      expect: { json_path: { path: "$.status", equals: "ok" } },
    });
  });

  it("edits the monitor: a keyword the answer lacks turns it down with the reason", async () => {
    await admin.getByRole("button", { name: "Edit E2E self check" }).click();
    await visible(admin.getByRole("heading", { name: "Edit E2E self check", level: 1 }));
    expect(await field(admin, "url").inputValue()).toBe(`${baseUrl}/demo/email/health`);
    await field(admin, "keyword_present").fill("e2e-word-never-in-healthz");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(row(admin, "E2E self check"));
    await expect
      .poll(() => stateOf(admin, "E2E self check").getAttribute("data-state"), { timeout: 30_000 })
      .toBe("down");
    expect(await row(admin, "E2E self check").locator(".monitor-reason").textContent()).toBeTruthy();
    const [saved] = await monitorsNamed("E2E self check");
    expect(saved?.expect?.body_contains).toBe("e2e-word-never-in-healthz");
  });

  it("pauses and resumes a monitor", async () => {
    await admin.getByRole("button", { name: "Pause E2E self check" }).click();
    await expect.poll(() => stateOf(admin, "E2E self check").getAttribute("data-state")).toBe("paused");
    expect((await monitorsNamed("E2E self check"))[0]?.is_active).toBe(false);
    await admin.getByRole("button", { name: "Resume E2E self check" }).click();
    await expect.poll(() => stateOf(admin, "E2E self check").getAttribute("data-state")).not.toBe("paused");
    expect((await monitorsNamed("E2E self check"))[0]?.is_active).toBe(true);
  });

  it("creates a heartbeat monitor and shows its URL with the Celery, cron and requests snippets", async () => {
    await admin.getByRole("button", { name: "New monitor" }).click();
    await field(admin, "kind").selectOption("heartbeat");
    await field(admin, "name").fill("E2E nightly export");
    await field(admin, "service").fill("e2e-monitors");
    await field(admin, "period_seconds").fill("300");
    expect(await field(admin, "url").count()).toBe(0); // no probe fields for a heartbeat
    await admin.getByRole("button", { name: "Create monitor" }).click();

    const panel = admin.getByRole("region", { name: "Heartbeat URL" });
    await visible(panel);
    const [saved] = await monitorsNamed("E2E nightly export");
    const url = saved?.heartbeat_url ?? "";
    expect(url).toMatch(/\/api\/heartbeat\/[\w-]{20,}$/);
    expect(await panel.locator(".heartbeat-url").textContent()).toBe(url);
    for (const title of ["Celery beat task", "Cron line (curl)", "Python requests"]) {
      expect(await panel.getByRole("heading", { name: title }).count()).toBe(1);
      expect(await panel.getByLabel(title, { exact: true }).textContent()).toContain(url);
      expect(await panel.getByRole("button", { name: `Copy ${title}` }).count()).toBe(1);
    }
    await panel.getByRole("button", { name: "Done" }).click();
    expect(await panel.count()).toBe(0);

    // The job's ping reaches the list.
    const ping = await fetch(url);
    expect(ping.status).toBe(200);
    await expect
      .poll(() => stateOf(admin, "E2E nightly export").getAttribute("data-state"), { timeout: 30_000 })
      .toBe("up");
  });

  it("fits the list, the form and a heartbeat's snippets in a 390 px phone without horizontal scrolling", async () => {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 390, height: 844 } });
    const phone = await logIn(context, ownerToken);
    const fits = async (what: string) => {
      const [scrollWidth, clientWidth] = await phone.evaluate(() => [
        document.documentElement.scrollWidth,
        document.documentElement.clientWidth,
      ]);
      expect({ what, scrollWidth }).toEqual({ what, scrollWidth: clientWidth });
    };
    await phone.goto("/monitors");
    await visible(row(phone, "E2E self check"));
    await phone.waitForTimeout(500); // sparklines settle
    await fits("list");
    await phone.getByRole("button", { name: "New monitor" }).click();
    await visible(phone.getByRole("heading", { name: "New monitor", level: 1 }));
    await fits("new monitor form");
    await phone.getByRole("button", { name: "Cancel" }).click();
    await phone.getByRole("button", { name: "Edit E2E nightly export" }).click();
    await visible(phone.getByRole("region", { name: "Heartbeat URL" }));
    await fits("heartbeat form with snippets");
    await context.close();
  });

  it("shows a viewer every monitor without a button to change one", async () => {
    const viewer = await logIn(await browser.newContext({ baseURL: baseUrl }), viewerToken);
    await openMonitors(viewer);
    await visible(row(viewer, "E2E self check"));
    await visible(row(viewer, "E2E nightly export"));
    expect(await viewer.getByRole("button", { name: "New monitor" }).count()).toBe(0);
    expect(await viewer.getByRole("button", { name: /^(Edit|Pause|Resume) / }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});

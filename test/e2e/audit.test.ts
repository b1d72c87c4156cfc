/**
 * The Audit page in real headless Chromium against the product as `npm start` runs it: an
 * admin creates a silence from the dashboard (the page's own fetch, with the session
 * cookie), finds it in the audit trail as "via dashboard", filtered through the address,
 * beside a rule edit made through the API (before → after); a viewer is offered no Audit
 * page and is refused it.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;

let browser: Browser;
let adminToken = "";
let viewerToken = "";
let ruleId = 0;
const pageErrors: string[] = [];
const { must, createUser } = apiClient(ownerToken);
async function logIn(token: string): Promise<Page> {
  return logInWith(await browser.newContext({ baseURL: baseUrl }), token, pageErrors);
}

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  adminToken = (await createUser(baseUrl, "admin", "audit")).token;
  viewerToken = (await createUser(baseUrl, "viewer", "audit")).token;
  ruleId = (
    await must<{ id: number }>(
      "POST",
      `${API}/rules`,
      {
        rule_name: "E2E audit: slow checkout",
        metric_name: "e2e_checkout_ms",
        service: "e2e",
        threshold_value: 800,
        comparison_operator: ">",
        severity: "warning",
        notification_channels: ["email"],
      },
      adminToken,
    )
  ).id;
  await must("PUT", `${API}/rules/${ruleId}`, { threshold_value: 900 }, adminToken);
});

afterAll(async () => {
  await browser?.close();
});

describe("audit", () => {
  it("shows an admin a dashboard change and an API edit, before → after, filtered through the address", async () => {
    const page = await logIn(adminToken);
    // What the Silences page sends: a same-origin fetch with the session cookie.
    const status = await page.evaluate(async () => {
      const res = await fetch("/api/admin/monitoring/silences", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          matchers: [{ name: "service", value: "e2e-audit" }],
          ends_at: new Date(Date.now() + 3_600_000).toISOString(),
          comment: "E2E audit maintenance",
        }),
      });
      return res.status;
    });
    expect(status).toBe(201);

    await page.getByRole("link", { name: "Audit", exact: true }).click();
    await page.getByRole("heading", { name: "Audit", level: 1 }).waitFor();
    const table = page.getByRole("table", { name: "Audit trail, newest first" });
    const update = table.locator('tbody tr[data-action="rule.update"]').first();
    await update.waitFor();
    expect(await update.getAttribute("data-via")).toBe("api");
    expect(await update.locator("td.message").first().textContent()).toContain("threshold_value: 800 → 900");

    const filters = page.getByRole("form", { name: "Filters" });
    await filters.getByLabel("From where").selectOption("dashboard");
    await filters.getByLabel("Target type").selectOption("silence");
    await filters.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => new URL(page.url()).search).toBe("?target_type=silence&via=dashboard");
    const created = table.locator('tbody tr[data-action="silence.create"]').first();
    await created.waitFor();
    expect(await created.getAttribute("data-via")).toBe("dashboard");
    expect(await created.locator("th").textContent()).toContain("e2e-audit-admin@example.com");
    await expect
      .poll(async () => new Set(await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.via))))
      .toEqual(new Set(["dashboard"]));
    expect(pageErrors).toEqual([]);
  });

  it("offers a viewer no Audit page and refuses it", async () => {
    const page = await logIn(viewerToken);
    expect(await page.getByRole("link", { name: "Audit", exact: true }).count()).toBe(0);
    await page.goto("/audit");
    await page.getByRole("heading", { name: "Audit", level: 1 }).waitFor();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain("admin role");
  });
});

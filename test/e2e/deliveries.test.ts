/**
 * The Deliveries page in real headless Chromium against the product as `npm start` runs
 * it: an alert fired by a pushed sample is planned on email and SMS for every admin and
 * owner; locally no email provider is set up and nobody has saved SMS preferences, so a
 * viewer finds its deliveries kept in the outbox and skipped, each saying why, filters
 * them through the address, follows the link to the alert, and reads it on a phone.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;
const RULE = "E2E deliveries: refunds failing";

let browser: Browser;
let viewerToken = "";
let ruleId = 0;
let alertId = 0;
const pageErrors: string[] = [];
const { must } = apiClient(ownerToken);
async function logIn(token: string, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ baseURL: baseUrl, ...(viewport ? { viewport } : {}) });
  return logInWith(context, token, pageErrors);
}

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  const viewer = await must<{ id: number }>("POST", `${baseUrl}/api/admin/users`, {
    email: "e2e-deliveries-viewer@example.com",
    name: "E2E deliveries viewer",
    role: "viewer",
  });
  viewerToken = (
    await must<{ token: string }>("POST", `${baseUrl}/api/admin/users/${viewer.id}/tokens`, { name: "e2e" })
  ).token;
  const key = await must<{ key: string }>("POST", `${API}/keys`, { name: "e2e deliveries", scope: "ingest" });
  ruleId = (
    await must<{ id: number }>("POST", `${API}/rules`, {
      rule_name: RULE,
      metric_name: "e2e_refund_failures",
      service: "e2e",
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: 5,
      for_seconds: 0,
      severity: "critical",
      notification_channels: ["email", "sms"],
    })
  ).id;
  const pushed = await fetch(`${baseUrl}/api/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${key.key}`, "content-type": "application/json" },
    body: JSON.stringify({ samples: [{ metric: "e2e_refund_failures", service: "e2e", value: 12 }] }),
  });
  if (pushed.status !== 202) throw new Error(`the sample was refused: ${pushed.status}`);
});

afterAll(async () => {
  await browser?.close();
});

describe("deliveries", () => {
  it("shows a viewer the alert's deliveries with their status and reason, filtered through the address", async () => {
    // The alert fires and its jobs run through the queue: wait for a skipped SMS in the log.
    await expect
      .poll(
        async () => {
          const page = await must<{ deliveries: { alert_id: number; status: string }[] }>(
            "GET",
            `${API}/deliveries?rule_id=${ruleId}&status=skipped`,
          );
          alertId = page.deliveries[0]?.alert_id ?? 0;
          return alertId;
        },
        { timeout: 30_000 },
      )
      .toBeGreaterThan(0);
    const page = await logIn(viewerToken);
    await page.getByRole("link", { name: "Deliveries", exact: true }).click();
    await page.getByRole("heading", { name: "Deliveries", level: 1 }).waitFor();

    const filters = page.getByRole("form", { name: "Filters" });
    // The rule list arrives on its own request.
    await expect.poll(() => filters.getByLabel("Rule").locator("option").allTextContents()).toContain(RULE);
    await filters.getByLabel("Rule").selectOption({ label: RULE });
    await filters.getByLabel("Status").selectOption("skipped");
    await filters.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => new URL(page.url()).search).toBe(`?rule_id=${ruleId}&status=skipped`);

    const table = page.getByRole("table", { name: "Deliveries, newest first" });
    const sms = table.locator(`tbody tr[data-alert="${alertId}"][data-channel="sms"]`).first();
    await sms.waitFor();
    expect(await sms.locator("[data-delivery-status]").getAttribute("data-delivery-status")).toBe("skipped");
    expect(await sms.getByText("Skipped").count()).toBe(1);
    expect(await sms.locator("td.message").textContent()).toBe("sms not set up (no preferences saved)");
    // Only what the filters let through (once the filtered page has replaced the first one).
    const statuses = () =>
      table
        .locator("tbody [data-delivery-status]")
        .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute("data-delivery-status")))]);
    await expect.poll(statuses).toEqual(["skipped"]);

    // The address carries the filters: a reload shows the same view.
    await page.reload();
    await expect
      .poll(() => page.getByRole("form", { name: "Filters" }).getByLabel("Status").inputValue())
      .toBe("skipped");
    await table.locator(`tbody tr[data-alert="${alertId}"][data-channel="sms"]`).first().waitFor();

    // The email jobs wait in the outbox, saying why.
    await page.goto(`/deliveries?alert_id=${alertId}&channel=email`);
    const email = table.locator(`tbody tr[data-alert="${alertId}"][data-channel="email"]`).first();
    await email.waitFor();
    expect(await email.locator("[data-delivery-status]").getAttribute("data-delivery-status")).toBe("outbox");
    expect(await email.locator("td.message").textContent()).toBe("email is not configured; nothing was sent");

    // Each row links to its alert.
    await email.getByRole("link", { name: `#${alertId} ${RULE}` }).click();
    await page.getByRole("heading", { name: `Alert #${alertId}: ${RULE}`, level: 1 }).waitFor();
    // And the alert's page links back to its deliveries.
    await page.getByRole("link", { name: "In the delivery log" }).click();
    await page.getByRole("heading", { name: "Deliveries", level: 1 }).waitFor();
    expect(new URL(page.url()).search).toBe(`?alert_id=${alertId}`);
    await expect
      .poll(() => page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-alert"))))
      .toEqual(expect.arrayContaining([String(alertId)]));
    expect(
      new Set(await page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-alert")))),
    ).toEqual(new Set([String(alertId)]));
    await page.context().close();
  });

  it("fits a 390 px wide phone without horizontal scrolling", async () => {
    const phone = await logIn(viewerToken, { width: 390, height: 844 });
    await phone.goto(`/deliveries?rule_id=${ruleId}`);
    await phone.locator(`tbody tr[data-alert="${alertId}"]`).first().waitFor();
    const [scrollWidth, clientWidth] = await phone.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    expect(scrollWidth).toBe(clientWidth);
    const reason = phone.locator(`tbody tr[data-alert="${alertId}"][data-channel="sms"] td.message`).first();
    const box = await reason.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    await phone.context().close();
  });

  it("had no uncaught errors in any page", () => {
    expect(pageErrors).toEqual([]);
  });
});

/**
 * Silences and escalation policies in real headless Chromium against the product as
 * `npm start` runs it: an alert fired by a pushed sample silenced from its page ("Silence…"
 * prefills the matchers, the preview lists the alert) and then marked silenced, the silence
 * expired early, a weekly maintenance window in Asia/Taipei, an escalation policy of two
 * steps made through the form (a refused value keeps the input and names the field) and
 * attached to a rule, a viewer seeing all of it without edit controls, and a 390 px phone.
 * Steps build on each other and run in order.
 */
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;

const RULE = "E2E silenced latency";
const POLICY = "E2E payments on-call";

let browser: Browser;
let adminContext: BrowserContext;
let admin: Page;
let adminUser: { id: number; token: string };
let viewerUser: { id: number; token: string };
let ingestKey = "";
let ruleId = 0;
let alertId = 0;
let silenceId = 0;
let policyId = 0;
const pageErrors: string[] = [];
const { must, createUser: createUserAt } = apiClient(ownerToken);
const createUser = (role: "admin" | "viewer") => createUserAt(baseUrl, role, "silences");
const logIn = (context: BrowserContext, token: string) => logInWith(context, token, pageErrors);

async function push(metric: string, service: string, value: number) {
  const res = await fetch(`${baseUrl}/api/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
    body: JSON.stringify({ samples: [{ metric, service, value }] }),
  });
  expect(res.status).toBe(202);
}

const visible = (l: Locator) => l.waitFor({ state: "visible" });
const silenceRow = (page: Page, id: number) => page.locator(`tr[data-silence="${id}"]`);

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  [adminUser, viewerUser] = await Promise.all([createUser("admin"), createUser("viewer")]);
  ingestKey = (await must<{ key: string }>("POST", `${API}/keys`, { name: "e2e silences", scope: "ingest" })).key;
  adminContext = await browser.newContext({ baseURL: baseUrl });
  admin = await logIn(adminContext, adminUser.token);
});

afterAll(async () => {
  await browser?.close();
});

describe("silences", () => {
  it("silences a firing alert from its page: matchers prefilled, the preview lists it, then it shows silenced", async () => {
    ruleId = (
      await must<{ id: number }>("POST", `${API}/rules`, {
        rule_name: RULE,
        metric_name: "e2e_silenced_latency",
        service: "e2e-silence",
        kind: "threshold",
        comparison_operator: ">",
        threshold_value: 100,
        for_seconds: 0,
        resolve_for_seconds: 3600,
        severity: "critical",
        notification_channels: ["email"],
      })
    ).id;
    await push("e2e_silenced_latency", "e2e-silence", 250);
    await expect
      .poll(async () => {
        const { alerts } = await must<{ alerts: { id: number; alert_rule_id: number }[] }>(
          "GET",
          `${API}/alerts/active`,
        );
        alertId = alerts.find((a) => a.alert_rule_id === ruleId)?.id ?? 0;
        return alertId;
      })
      .toBeGreaterThan(0);

    await admin.goto(`/alerts/${alertId}`);
    await visible(admin.getByRole("heading", { name: new RegExp(RULE), level: 1 }));
    expect(await admin.locator(".alert-summary [data-silenced]").count()).toBe(0);
    await admin.getByRole("link", { name: "Silence\u2026" }).click();
    await visible(admin.getByRole("heading", { name: "New silence", level: 1 }));
    expect(new URL(admin.url()).pathname).toBe("/silences/new");
    // The alert's rule name and service, as equality matchers.
    expect(await admin.getByLabel("Matcher 1 label").inputValue()).toBe("alertname");
    expect(await admin.getByLabel("Matcher 1 value").inputValue()).toBe(RULE);
    expect(await admin.getByLabel("Matcher 2 label").inputValue()).toBe("service");
    expect(await admin.getByLabel("Matcher 2 value").inputValue()).toBe("e2e-silence");
    expect(await admin.getByLabel("Matcher 1 operator").inputValue()).toBe("=");
    // The preview lists the alert before anything is saved.
    const matching = admin.getByRole("list", { name: "Matching alerts" });
    await visible(matching.locator(`[data-alert="${alertId}"]`));
    expect(await admin.locator("[data-preview-summary]").textContent()).toContain("It would silence them now.");
    // A matcher that excludes it: the preview follows.
    await admin.getByLabel("Matcher 2 value").fill("elsewhere");
    await visible(admin.getByText("No open alert matches these matchers."));
    await admin.getByLabel("Matcher 2 value").fill("e2e-silence");
    await visible(matching.locator(`[data-alert="${alertId}"]`));

    // Saving without saying why: refused, the reason beside the comment, the matchers kept.
    await admin.getByRole("button", { name: "Save silence" }).click();
    await visible(admin.getByRole("alert").filter({ hasText: "Not saved:" }));
    await visible(admin.locator(".field-error").filter({ hasText: "say why" }));
    const comment = admin.getByRole("textbox", { name: "Comment" });
    expect(await comment.getAttribute("aria-invalid")).toBe("true");
    expect(await admin.getByLabel("Matcher 1 value").inputValue()).toBe(RULE);

    await comment.fill("Investigating the latency spike");
    await admin.getByRole("button", { name: "Save silence" }).click();
    await visible(admin.getByRole("heading", { name: "Silences", level: 1 }));
    await visible(admin.getByRole("status").filter({ hasText: /Silence #\d+ saved\./ }));
    const { silences } = await must<{ silences: { id: number; comment: string; status: string }[] }>(
      "GET",
      `${API}/silences?limit=1000`,
    );
    const saved = silences.find((s) => s.comment === "Investigating the latency spike");
    expect(saved?.status).toBe("active");
    silenceId = saved?.id ?? 0;
    const row = silenceRow(admin, silenceId);
    await visible(row);
    expect(await row.getAttribute("data-status")).toBe("active");
    expect(await row.textContent()).toContain(`alertname="${RULE}"`);

    // The alert is marked silenced on its page and in the live list.
    await admin.goto(`/alerts/${alertId}`);
    await visible(admin.locator(".alert-summary").getByRole("link", { name: "Silenced", exact: true }));
    expect(await admin.locator(".alert-summary [data-silenced]").getAttribute("data-silenced")).toBe(String(silenceId));
    await admin.goto("/alerts");
    const item = admin.locator(`.alert-item[data-alert="${alertId}"]`);
    await visible(item.getByRole("link", { name: "Silenced", exact: true }));
  });

  it("expires the silence early: the alert is no longer silenced", async () => {
    await admin.goto("/silences");
    const row = silenceRow(admin, silenceId);
    await visible(row);
    await row.getByRole("button", { name: `Expire silence #${silenceId} now` }).click();
    await visible(admin.getByRole("status").filter({ hasText: `Silence #${silenceId} expired.` }));
    await expect.poll(() => row.getAttribute("data-status")).toBe("expired");
    expect(await row.getByRole("button").count()).toBe(0);
    await admin.goto(`/alerts/${alertId}`);
    await visible(admin.getByRole("heading", { name: new RegExp(RULE), level: 1 }));
    expect(await admin.locator(".alert-summary [data-silenced]").count()).toBe(0);
  });

  it("creates a recurring weekly maintenance window in Asia/Taipei", async () => {
    await admin.goto("/silences");
    await admin.getByRole("link", { name: "New silence" }).click();
    await visible(admin.getByRole("heading", { name: "New silence", level: 1 }));
    await admin.getByLabel("Matcher 1 label").fill("service");
    await admin.getByLabel("Matcher 1 value").fill("e2e-batch");
    const ends = new Date(Date.now() + 30 * 86_400_000);
    const pad = (n: number) => String(n).padStart(2, "0");
    await admin
      .getByLabel("Ends")
      .fill(`${ends.getFullYear()}-${pad(ends.getMonth() + 1)}-${pad(ends.getDate())}T12:00`);
    await admin.getByRole("checkbox", { name: "Only during a weekly maintenance window" }).check();
    const days = admin.getByRole("group", { name: "Weekdays" });
    await days.getByRole("checkbox", { name: "Sat" }).check();
    await days.getByRole("checkbox", { name: "Sun" }).check();
    await admin.getByLabel("Window starts at").fill("02:00");
    await admin.getByLabel("Lasting (minutes)").fill("180");
    await admin.getByLabel("Window time zone").selectOption("Asia/Taipei");
    await admin.getByRole("textbox", { name: "Comment" }).fill("Weekend batch maintenance");
    await admin.getByRole("button", { name: "Save silence" }).click();
    await visible(admin.getByRole("heading", { name: "Silences", level: 1 }));

    const { silences } = await must<{
      silences: { id: number; comment: string; recurrence: unknown }[];
    }>("GET", `${API}/silences?limit=1000`);
    const weekly = silences.find((s) => s.comment === "Weekend batch maintenance");
    expect(weekly?.recurrence).toEqual({
      weekdays: [0, 6],
      start: "02:00",
      duration_minutes: 180,
      timezone: "Asia/Taipei",
    });
    const row = silenceRow(admin, weekly?.id ?? 0);
    await visible(row);
    expect(await row.textContent()).toContain("Weekly: Sun, Sat 02:00 for 3 h (Asia/Taipei)");
  });
});

describe("escalation policies", () => {
  it("creates a policy of two steps through the form, a refused value kept beside its reason", async () => {
    await admin.goto("/escalation");
    await admin.getByRole("link", { name: "New policy" }).click();
    await visible(admin.getByRole("heading", { name: "New escalation policy", level: 1 }));
    await admin.getByRole("textbox", { name: "Name" }).fill(POLICY);
    await admin.getByLabel("Step 1 after (minutes)").fill("30");
    await admin.getByRole("group", { name: "Step 1 channels" }).getByRole("checkbox", { name: "email" }).check();
    await admin.getByRole("group", { name: "Step 1 roles" }).getByRole("checkbox", { name: "every admin" }).check();
    await admin.getByRole("button", { name: "Add step" }).click();
    const step2 = admin.getByLabel("Step 2 after (minutes)");
    await step2.fill("10");
    await admin.getByRole("group", { name: "Step 2 channels" }).getByRole("checkbox", { name: "sms" }).check();
    await admin.getByRole("group", { name: "Step 2 roles" }).getByRole("checkbox", { name: "every owner" }).check();
    await admin.getByLabel("Remind every (minutes)").fill("20");
    await admin.getByLabel("Acknowledgement timeout (minutes)").fill("60");

    // Step 2 before step 1: refused, nothing stored, the reason beside the field and the input kept.
    await admin.getByRole("button", { name: "Save policy" }).click();
    await visible(admin.getByRole("alert").filter({ hasText: "Not saved: Invalid escalation policy." }));
    await visible(admin.getByText("must not be less than the previous step's (30)"));
    expect(await step2.getAttribute("aria-invalid")).toBe("true");
    expect(await step2.inputValue()).toBe("10");
    expect(await admin.getByRole("textbox", { name: "Name" }).inputValue()).toBe(POLICY);
    const before = await must<{ "escalation-policies": { name: string }[] }>("GET", `${API}/escalation-policies`);
    expect(before["escalation-policies"].map((p) => p.name)).not.toContain(POLICY);

    await step2.fill("45");
    await admin.getByRole("button", { name: "Save policy" }).click();
    await visible(admin.getByRole("heading", { name: POLICY, level: 1 }));
    policyId = Number(new URL(admin.url()).pathname.split("/").at(-1));
    expect(policyId).toBeGreaterThan(0);
    const policy = await must<Record<string, unknown>>("GET", `${API}/escalation-policies/${policyId}`);
    expect(policy).toMatchObject({
      name: POLICY,
      steps: [
        { after_minutes: 30, channels: ["email"], targets: { roles: ["admin"] } },
        { after_minutes: 45, channels: ["sms"], targets: { roles: ["owner"] } },
      ],
      repeat_count: 0,
      repeat_interval_minutes: 20,
      ack_timeout_minutes: 60,
    });
    await visible(admin.locator("[data-used-by]").filter({ hasText: "Used by rules: none yet" }));
  });

  it("lists the rule a policy is attached to", async () => {
    await must("PUT", `${API}/rules/${ruleId}`, { escalation_policy_id: policyId });
    await admin.goto("/escalation");
    const row = admin.locator(`tr[data-policy="${policyId}"]`);
    await visible(row);
    expect(await row.locator("[data-used-by]").textContent()).toBe(RULE);
    expect(await row.textContent()).toContain("after 45 min: sms to every owner");
    await row.getByRole("link", { name: POLICY }).click();
    await visible(admin.locator("[data-used-by]").filter({ hasText: `Used by rules: ${RULE}` }));
  });
});

describe("a viewer", () => {
  it("sees silences and policies without any edit control", async () => {
    const context = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(context, viewerUser.token);
    await viewer.goto("/silences");
    await visible(silenceRow(viewer, silenceId));
    expect(await viewer.getByRole("link", { name: "New silence" }).count()).toBe(0);
    expect(await viewer.locator("table.silences").getByRole("button").count()).toBe(0);
    await viewer.goto("/silences/new");
    await visible(viewer.getByText("Only admins and owners create silences"));
    expect(await viewer.getByRole("button", { name: "Save silence" }).count()).toBe(0);

    await viewer.goto("/escalation");
    await visible(viewer.locator(`tr[data-policy="${policyId}"]`));
    expect(await viewer.getByRole("link", { name: "New policy" }).count()).toBe(0);
    await viewer.goto(`/escalation/${policyId}`);
    const name = viewer.getByRole("textbox", { name: "Name" });
    await visible(name);
    expect(await name.inputValue()).toBe(POLICY);
    expect(await name.isDisabled()).toBe(true);
    expect(await viewer.getByRole("button", { name: "Save policy" }).count()).toBe(0);
    expect(await viewer.getByRole("button", { name: "Add step" }).isDisabled()).toBe(true);

    await viewer.goto(`/alerts/${alertId}`);
    await visible(viewer.getByRole("heading", { name: new RegExp(RULE), level: 1 }));
    expect(await viewer.getByRole("link", { name: "Silence\u2026" }).count()).toBe(0);
    await context.close();
  });
});

describe("on a phone", () => {
  it("fits the new pages in 390 px without horizontal scrolling", async () => {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 390, height: 844 } });
    const phone = await logIn(context, adminUser.token);
    for (const path of ["/silences", "/silences/new?alertname=x&service=y", "/escalation", `/escalation/${policyId}`]) {
      await phone.goto(path);
      await visible(phone.getByRole("heading", { level: 1 }));
      await phone.waitForTimeout(700);
      const [scrollWidth, clientWidth] = await phone.evaluate(() => [
        document.documentElement.scrollWidth,
        document.documentElement.clientWidth,
      ]);
      expect({ path, scrollWidth }).toEqual({ path, scrollWidth: clientWidth });
    }
    await context.close();
    expect(pageErrors).toEqual([]);
  });
});

/**
 * The Rules page's ready-made rules in real headless Chromium against the product as
 * `npm start` runs it: one click adds a rule (the API then has it exactly as the template
 * says) and its button turns to "Added"; a viewer sees none of them.
 */
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { RULE_TEMPLATES } from "../../worker/core/rules/templates";
import { CHROMIUM, logIn } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;
const NAME = "Celery task failing";

let browser: Browser;
let admin: Page;
const pageErrors: string[] = [];
const { must } = apiClient(ownerToken);

interface WireRule {
  id: number;
  rule_name: string;
  metric_name: string;
  params: Record<string, unknown>;
}
const rulesNamed = async (name: string) =>
  (await must<{ rules: WireRule[] }>("GET", `${API}/rules?limit=1000`)).rules.filter((r) => r.rule_name === name);

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  for (const r of await rulesNamed(NAME)) await must("DELETE", `${API}/rules/${r.id}`);
  admin = await logIn(await browser.newContext({ baseURL: baseUrl }), ownerToken, pageErrors);
});

afterAll(async () => {
  for (const r of await rulesNamed(NAME).catch(() => [])) await must("DELETE", `${API}/rules/${r.id}`).catch(() => {});
  await browser?.close();
});

describe("ready-made rules", () => {
  it("adds one with a click, as the template says, and marks it added", async () => {
    await admin.getByRole("link", { name: "Rules" }).click();
    const section = admin.getByRole("region", { name: "Ready-made rules" });
    await section.waitFor();
    for (const t of RULE_TEMPLATES) {
      expect(await section.getByText(t.summary).count(), t.body.rule_name).toBe(1);
    }
    await section.getByRole("button", { name: `Add ${NAME}` }).click();
    await admin.getByText(`${NAME} added. Edit it to change its threshold or channels.`).waitFor();
    await admin.getByRole("rowheader", { name: NAME }).waitFor();
    const added = section.getByRole("button", { name: `${NAME} added` });
    expect(await added.isDisabled()).toBe(true);
    expect(await added.textContent()).toBe("Added");

    const [rule, ...more] = await rulesNamed(NAME);
    expect(more).toEqual([]);
    const template = RULE_TEMPLATES.find((t) => t.body.rule_name === NAME);
    expect(rule).toMatchObject({ metric_name: template?.body.metric_name, params: template?.body.params });
    expect(pageErrors).toEqual([]);
  });

  it("is not offered to a viewer", async () => {
    const viewer = await must<{ id: number }>("POST", `${baseUrl}/api/admin/users`, {
      email: "e2e-templates-viewer@example.com",
      name: "E2E templates viewer",
      role: "viewer",
    });
    const token = (
      await must<{ token: string }>("POST", `${baseUrl}/api/admin/users/${viewer.id}/tokens`, { name: "e2e" })
    ).token;
    const page = await logIn(await browser.newContext({ baseURL: baseUrl }), token, pageErrors);
    await page.getByRole("link", { name: "Rules" }).click();
    await page.getByRole("heading", { name: "Rules", level: 1 }).waitFor();
    await page.getByRole("rowheader").first().waitFor();
    expect(await page.getByRole("region", { name: "Ready-made rules" }).count()).toBe(0);
  });
});

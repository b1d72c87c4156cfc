/**
 * Configuration as code in real headless Chromium against the product as `npm start`
 * runs it: an admin downloads the configuration from /config, a rule is deleted through
 * the API, the downloaded file is imported from the page (a dry run shows the rule to
 * create, Apply brings it back) and /rules lists it again. A bad document lists its
 * field errors by path; a viewer may export but is offered no import. `npm run config`
 * (scripts/config.mjs) does the same from a shell.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, logIn as logInWith } from "./browser";
import { apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const API = `${baseUrl}/api/admin/monitoring`;
const RULE = "E2E config: checkout errors";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let dir = "";
let exported = "";
const pageErrors: string[] = [];
const { must, createUser: createUserAt } = apiClient(ownerToken);
const createUser = async (role: "admin" | "viewer") => (await createUserAt(baseUrl, role, "config")).token;
const logIn = (ctx: BrowserContext, token: string) => logInWith(ctx, token, pageErrors);

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Runs `npm run config -- …args` (the script itself, on this Node) against the product. */
/** `token` null: no EDGE_MONITOR_TOKEN at all. */
function cli(args: string[], token: string | null = ownerToken) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, EDGE_MONITOR_URL: baseUrl };
    if (token === null) delete env.EDGE_MONITOR_TOKEN;
    else env.EDGE_MONITOR_TOKEN = token;
    execFile(process.execPath, ["scripts/config.mjs", ...args], { cwd: ROOT, env }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const ruleNames = async () =>
  (await must<{ rules: { id: number; rule_name: string }[] }>("GET", `${API}/rules?limit=1000`)).rules;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "em-config-e2e-"));
  browser = await chromium.launch(CHROMIUM);
  const adminToken = await createUser("admin");
  await must("POST", `${API}/rules`, {
    rule_name: RULE,
    metric_name: "checkout_errors",
    service: "checkout",
    threshold_value: 5,
    severity: "warning",
    notification_channels: ["email"],
  });
  context = await browser.newContext({ baseURL: baseUrl, acceptDownloads: true });
  page = await logIn(context, adminToken);
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("configuration page", () => {
  it("downloads the configuration as one JSON document", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Configuration" }).click();
    await page.getByRole("heading", { name: "Configuration", level: 1 }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download configuration" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^edge-monitor-config-\d{4}-\d\d-\d\d\.json$/);
    exported = path.join(dir, "config.json");
    await download.saveAs(exported);
    const doc = JSON.parse(readFileSync(exported, "utf8"));
    expect(doc.version).toBe(1);
    expect(doc.rules.map((r: { rule_name: string }) => r.rule_name)).toContain(RULE);
  });

  it("imports the file back after the rule was deleted: dry run, then apply, and the rule is listed again", async () => {
    const rule = (await ruleNames()).find((r) => r.rule_name === RULE);
    expect(rule).toBeDefined();
    await must("DELETE", `${API}/rules/${rule?.id}`);
    expect((await ruleNames()).map((r) => r.rule_name)).not.toContain(RULE);

    await page.goto("/config");
    await page.getByLabel("Configuration file").setInputFiles(exported);
    const apply = page.getByRole("button", { name: "Apply" });
    // Apply waits for a dry run of this document.
    await expect.poll(() => apply.isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Dry run" }).click();
    const diff = page.getByTestId("config-diff");
    await diff.waitFor();
    expect(await diff.textContent()).toMatch(/Dry run: 1 to create, 0 to update, 0 to delete/);
    expect(await diff.locator(".diff-create").allTextContents()).toEqual([`+ create ${RULE}`]);
    // A dry run changes nothing.
    expect((await ruleNames()).map((r) => r.rule_name)).not.toContain(RULE);

    await apply.click();
    await expect.poll(() => diff.textContent()).toMatch(/Applied: 1 to create/);
    expect((await ruleNames()).map((r) => r.rule_name)).toContain(RULE);

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Rules" }).click();
    await page.getByRole("rowheader", { name: RULE }).waitFor();
  });

  it("lists a bad document's field errors by path and changes nothing", async () => {
    const doc = JSON.parse(readFileSync(exported, "utf8"));
    const index = doc.rules.findIndex((r: { rule_name: string }) => r.rule_name === RULE);
    doc.rules[index].threshold_value = "five";
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify(doc));
    await page.goto("/config");
    await page.getByLabel("Configuration file").setInputFiles(bad);
    await page.getByRole("button", { name: "Dry run" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain(`rules.${index}.threshold_value`);
    expect(await page.getByTestId("config-diff").count()).toBe(0);
  });

  it("lets a viewer export but offers no import", async () => {
    const viewerContext = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(viewerContext, await createUser("viewer"));
    await viewer.goto("/config");
    await viewer.getByRole("button", { name: "Download configuration" }).waitFor();
    expect(await viewer.getByRole("button", { name: "Dry run" }).count()).toBe(0);
    expect(await viewer.getByText("Importing a configuration needs an admin or owner.").count()).toBe(1);
    await viewerContext.close();
    expect(pageErrors).toEqual([]);
  });
});

describe("npm run config", () => {
  it("exports, dry-runs and applies a change, printing the diff", async () => {
    const file = path.join(dir, "cli.json");
    const exportRun = await cli(["export", file]);
    expect(exportRun, exportRun.stderr).toMatchObject({ code: 0 });
    expect(exportRun.stdout).toMatch(
      /^Wrote .*cli\.json: \d+ service_names, \d+ escalation_policies, \d+ monitors, \d+ rules/,
    );
    const doc = JSON.parse(readFileSync(file, "utf8"));
    const rule = doc.rules.find((r: { rule_name: string }) => r.rule_name === RULE);
    rule.threshold_value = 7;
    writeFileSync(file, JSON.stringify(doc));

    const dry = await cli(["import", file, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`~ rules: ${RULE}\n    threshold_value: 5 → 7\n`);
    expect(dry.stdout).toMatch(/0 to create, 1 to update, 0 to delete, \d+ unchanged\nDry run: nothing was changed\./);
    const threshold = async () =>
      (
        await must<{ rules: { rule_name: string; threshold_value: number }[] }>("GET", `${API}/rules?limit=1000`)
      ).rules.find((r) => r.rule_name === RULE)?.threshold_value;
    expect(await threshold()).toBe(5);

    const applied = await cli(["import", file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/Applied\.\n$/);
    expect(await threshold()).toBe(7);
    expect((await cli(["import", file])).stdout).toContain("Nothing to change");
  });

  it("exits non-zero with each bad field, and on bad arguments", async () => {
    const file = path.join(dir, "cli-bad.json");
    writeFileSync(file, JSON.stringify({ version: 1, rules: [{ rule_name: "x", threshold_value: "high" }] }));
    const bad = await cli(["import", file, "--dry-run"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("answered 400");
    expect(bad.stderr).toMatch(/rules\.0\.threshold_value: /);
    expect((await cli(["import", file], null)).code).toBe(2);
    expect((await cli(["remove", file])).code).toBe(2);
    expect((await cli(["export", path.join(dir, "x.json")], "not-a-token")).code).toBe(1);
  });
});

/**
 * The operator console in real headless Chromium against the product as `npm start`
 * runs it: live status (banner, metric cards, services by display name, recent alerts),
 * an alert fired by a pushed sample appearing on /alerts without a reload, acknowledged
 * and resolved by an admin from the page, hidden actions for a viewer, the alert detail,
 * trends from the demo's backfilled history, a 390 px wide phone, and the socket coming
 * back after a server restart. Steps build on each other and run in order.
 */
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CHROMIUM, connectionStates, logIn as logInWith, recordConnectionStates } from "./browser";
import { agreesWithDemo, apiClient } from "./client";

const baseUrl = inject("baseUrl");
const ownerToken = inject("token");
const controlUrl = inject("controlUrl");
const API = `${baseUrl}/api/admin/monitoring`;

let browser: Browser;
let adminContext: BrowserContext;
let admin: Page;
let adminUser: { id: number; token: string };
let viewerUser: { id: number; token: string };
let ingestKey = "";
let alertId = 0;
/** The monitor that keeps the storefront service down until the phone-width checks are done. */
let failingMonitorId = 0;
const pageErrors: string[] = [];
const { call, must, createUser: createUserAt } = apiClient(ownerToken);
const createUser = (role: "admin" | "viewer") => createUserAt(baseUrl, role);
const logIn = (context: BrowserContext, token: string) => logInWith(context, token, pageErrors);

async function push(metric: string, service: string, value: number) {
  const res = await fetch(`${baseUrl}/api/ingest`, {
    method: "POST",
    headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
    body: JSON.stringify({ samples: [{ metric, service, value }] }),
  });
  expect(res.status).toBe(202);
}

async function createRule(rule_name: string, metric_name: string, threshold_value: number) {
  return must<{ id: number }>("POST", `${API}/rules`, {
    rule_name,
    metric_name,
    service: "e2e",
    kind: "threshold",
    comparison_operator: ">",
    threshold_value,
    for_seconds: 0,
    // Resolved by hand in these tests, not by the engine.
    resolve_for_seconds: 3600,
    severity: "critical",
    notification_channels: ["email"],
  });
}

const visible = (l: Locator) => l.waitFor({ state: "visible" });
const card = (page: Page, id: string) => page.locator(`[data-card="${id}"]`);
const serviceRow = (page: Page, name: string) =>
  page.getByRole("row").filter({ has: page.getByRole("rowheader", { name }) });
const activeItem = (page: Page, ruleName: string) =>
  page
    .getByRole("list", { name: "Active alerts" })
    .getByRole("listitem")
    .filter({ has: page.getByRole("link", { name: ruleName }) });

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  [adminUser, viewerUser] = await Promise.all([createUser("admin"), createUser("viewer")]);
  ingestKey = (await must<{ key: string }>("POST", `${API}/keys`, { name: "e2e console", scope: "ingest" })).key;
  adminContext = await browser.newContext({ baseURL: baseUrl });
  admin = await logIn(adminContext, adminUser.token);
});

afterAll(async () => {
  await browser?.close();
});

describe("live status", () => {
  it("shows the banner, the metric cards and the services by display name, and changes when a service goes down", async () => {
    // A card of the test's own metric next to the default three.
    const settings = await must<{ cards: unknown[] }>("GET", `${API}/dashboard`);
    await must("PUT", `${API}/dashboard`, {
      cards: [
        ...settings.cards,
        { id: "e2e-queue", title: "E2E queue depth", metric: "e2e_queue_depth", service: "e2e", unit: "" },
      ],
    });
    await createRule("E2E queue depth > 10", "e2e_queue_depth", 10);

    await admin.goto("/status");
    const banner = admin.getByRole("region", { name: "Overall status" });
    await visible(banner);
    for (const title of ["Payment success rate", "API response time (p95)", "DB connection pool", "E2E queue depth"])
      await visible(admin.getByRole("region", { name: title }));
    // Nothing reported yet: the card says so rather than "OK".
    const queue = card(admin, "e2e-queue");
    await expect.poll(() => queue.getAttribute("data-level")).toBe("nodata");
    expect(await queue.textContent()).toContain("No data");
    // The first sample arrives live.
    await push("e2e_queue_depth", "e2e", 3);
    await expect.poll(() => queue.locator("[data-value]").textContent()).toBe("3");
    expect(await queue.getAttribute("data-level")).toBe("ok");
    expect(await queue.textContent()).toMatch(/as of (just now|\d+ s ago)/);
    expect(await queue.getByRole("link", { name: "History of E2E queue depth" }).getAttribute("href")).toBe(
      "/metrics/e2e/e2e_queue_depth",
    );
    // The demo's pushed metrics fill the default cards; the DB pool reads "in use / size".
    await expect
      .poll(() => card(admin, "db-connection-pool").locator("[data-value]").textContent(), { timeout: 70_000 })
      .toMatch(/^\d+ \/ 20$/);

    // "Last updated" ticks every second.
    const updated = banner.getByTestId("last-updated");
    await expect.poll(() => updated.textContent()).toMatch(/^Last updated: \d+s ago/);
    const before = await updated.textContent();
    await expect.poll(() => updated.textContent(), { timeout: 5_000 }).not.toBe(before);

    // Services by their display names; the demo's probes report within the first minute.
    for (const name of ["ECPay Integration", "Database Connection", "Redis Cache", "Celery Workers", "Email Service"])
      await visible(serviceRow(admin, name));
    const redis = serviceRow(admin, "Redis Cache").locator("[data-status]");
    await expect
      .poll(async () => agreesWithDemo(baseUrl, "redis", await redis.getAttribute("data-status")), { timeout: 70_000 })
      .toBe(true);

    // Before: the banner says what the API says (a demo incident may be under way).
    const health = await must<{ services: { status: string }[] }>("GET", `${API}/health/services`);
    const open = await must<{ alerts: { alert_severity: string }[] }>("GET", `${API}/alerts/active`);
    const expected =
      health.services.some((x) => x.status === "down") || open.alerts.some((a) => a.alert_severity === "critical")
        ? "outage"
        : health.services.some((x) => x.status === "warning") || open.alerts.some((a) => a.alert_severity === "warning")
          ? "degraded"
          : health.services.some((x) => x.status === "healthy")
            ? "operational"
            : "unknown";
    await expect.poll(() => banner.getAttribute("data-overall")).toBe(expected);

    // A new service, named for people in the settings, goes down: its row, its reason and the banner change.
    const current = await must<{ service_names: Record<string, string> }>("GET", `${API}/dashboard`);
    await must("PUT", `${API}/dashboard`, {
      service_names: { ...current.service_names, storefront: "Storefront" },
    });
    const monitor = await must<{ id: number }>("POST", `${API}/monitors`, {
      name: "E2E storefront, failing",
      service: "storefront",
      kind: "http",
      url: `${baseUrl}/demo/redis/health?incident=redis`,
      interval_seconds: 5,
      timeout_ms: 3000,
    });
    await admin.reload();
    const storefront = serviceRow(admin, "Storefront");
    await expect
      .poll(() => storefront.locator("[data-status]").getAttribute("data-status"), { timeout: 30_000 })
      .toBe("down");
    await expect.poll(() => storefront.locator("td.message").textContent()).toMatch(/503/);
    await expect.poll(() => banner.getAttribute("data-overall")).toBe("outage");
    expect(await banner.getByRole("status").textContent()).toBe("Outage");

    // The card's metric crosses its critical rule: value and level change live.
    await push("e2e_queue_depth", "e2e", 50);
    await expect.poll(() => queue.locator("[data-value]").textContent()).toBe("50");
    await expect.poll(() => queue.getAttribute("data-level")).toBe("critical");
    expect(await queue.textContent()).toContain("Critical");
    // Its alert is listed among the recent ones, linking to it.
    const recent = admin.getByRole("list", { name: "Recent alerts" });
    await visible(recent.getByRole("link", { name: "E2E queue depth > 10" }));

    failingMonitorId = monitor.id;
  });
});

describe("alerts", () => {
  it("shows an alert fired by a pushed sample on /alerts without a reload", async () => {
    const rule = await createRule("E2E checkout errors", "e2e_checkout_errors", 5);
    await admin.getByRole("link", { name: "Alerts" }).click();
    await visible(admin.getByRole("heading", { name: "Alerts", level: 1 }));
    await admin.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const active = admin.locator('[data-count="active"] strong');
    await visible(active);
    const activeBefore = Number(await active.textContent());

    await push("e2e_checkout_errors", "e2e", 9);
    const item = activeItem(admin, "E2E checkout errors");
    await visible(item);
    alertId = Number(await item.getAttribute("data-alert"));
    expect(alertId).toBeGreaterThan(0);
    expect(await item.textContent()).toContain("Critical");
    expect(await item.locator("[data-value]").textContent()).toBe("9");
    await expect.poll(async () => Number(await active.textContent())).toBe(activeBefore + 1);
    expect(await admin.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    const api = await must<{ alert_rule_id: number; status: string }>("GET", `${API}/alerts/${alertId}`);
    expect(api).toMatchObject({ alert_rule_id: rule.id, status: "firing" });
  });

  it("shows a viewer the alert without any action", async () => {
    const context = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(context, viewerUser.token);
    await viewer.getByRole("link", { name: "Alerts" }).click();
    const item = activeItem(viewer, "E2E checkout errors");
    await visible(item);
    for (const name of ["Acknowledge", "Resolve", "Silence 1 h"])
      expect(await viewer.getByRole("button", { name }).count()).toBe(0);
    await viewer.goto(`/alerts/${alertId}`);
    await visible(viewer.getByRole("heading", { name: /E2E checkout errors/, level: 1 }));
    for (const name of ["Acknowledge", "Resolve", "Silence 1 h"])
      expect(await viewer.getByRole("button", { name }).count()).toBe(0);
    await context.close();
  });

  it("lets an admin acknowledge and then resolve it from the page", async () => {
    const item = activeItem(admin, "E2E checkout errors");
    await item.getByRole("textbox").fill("looking into it");
    await item.getByRole("button", { name: "Acknowledge" }).click();
    await expect.poll(() => item.getAttribute("data-status")).toBe("acknowledged");
    expect(await item.locator(".alert-state").textContent()).toBe("Acknowledged");
    const acked = await must<{ status: string; acknowledged_by: number }>("GET", `${API}/alerts/${alertId}`);
    expect(acked).toMatchObject({ status: "acknowledged", acknowledged_by: adminUser.id });
    await expect
      .poll(async () => Number(await admin.locator('[data-count="acknowledged"] strong').textContent()))
      .toBeGreaterThan(0);

    // The condition clears, then the admin resolves it with a note: it leaves the active list.
    await push("e2e_checkout_errors", "e2e", 1);
    await item.getByRole("textbox").fill("fixed the checkout");
    await item.getByRole("button", { name: "Resolve" }).click();
    await item.waitFor({ state: "detached" });
    const resolved = await must<{ status: string; auto_resolved: boolean; resolution_notes: string }>(
      "GET",
      `${API}/alerts/${alertId}`,
    );
    expect(resolved).toMatchObject({ status: "resolved", auto_resolved: false });
    expect(resolved.resolution_notes).toContain("fixed the checkout");
  });

  it("silences an alert for an hour from the page", async () => {
    const rule = await createRule("E2E slow refunds", "e2e_refund_ms", 100);
    await push("e2e_refund_ms", "e2e", 500);
    const item = activeItem(admin, "E2E slow refunds");
    await visible(item);
    await item.getByRole("button", { name: "Silence 1 h" }).click();
    await visible(item.getByRole("status").filter({ hasText: "Silenced for 1 hour." }));
    const { silences } = await must<{ silences: { matchers: { name: string; value: string }[]; ends_at: string }[] }>(
      "GET",
      `${API}/silences`,
    );
    const mine = silences.find((s) => s.matchers.some((m) => m.name === "rule_id" && m.value === String(rule.id)));
    expect(mine).toBeDefined();
    const hours = (Date.parse(mine!.ends_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(0.9);
    expect(hours).toBeLessThanOrEqual(1);
  });

  it("refuses to resolve a still-breaching alert with the server's message, then resolves it anyway", async () => {
    const rule = await createRule("E2E queue depth", "e2e_queue_depth", 300);
    await push("e2e_queue_depth", "e2e", 500);
    await visible(activeItem(admin, "E2E queue depth").first());
    const { alerts } = await must<{ alerts: { id: number; alert_rule_id: number }[] }>("GET", `${API}/alerts/active`);
    const first = alerts.find((a) => a.alert_rule_id === rule.id);
    expect(first).toBeDefined();
    const item = admin.getByRole("list", { name: "Active alerts" }).locator(`li[data-alert="${first!.id}"]`);
    await item.getByRole("button", { name: "Resolve", exact: true }).click();
    await visible(item.getByRole("alert").filter({ hasText: "is still breaching (current value 500)" }));
    expect((await must<{ status: string }>("GET", `${API}/alerts/${first!.id}`)).status).toBe("firing");
    await item.getByRole("button", { name: "Resolve anyway" }).click();
    const status = async () => (await must<{ status: string }>("GET", `${API}/alerts/${first!.id}`)).status;
    await expect.poll(status, { timeout: 5000 }).toBe("resolved");
    // Still breaching: the engine opens a new alert for it.
    const others = async () =>
      (await must<{ alerts: { id: number; alert_rule_id: number }[] }>("GET", `${API}/alerts/active`)).alerts.filter(
        (a) => a.alert_rule_id === rule.id && a.id !== first!.id,
      ).length;
    await expect.poll(others, { timeout: 5000 }).toBe(1);
  });

  it("finds the alert in the filtered history and shows its timeline, notifications and metric", async () => {
    const history = admin.getByRole("region", { name: "History" });
    await history.getByLabel("Status").selectOption("resolved");
    await history.getByLabel("Rule").selectOption({ label: "E2E checkout errors" });
    await history.getByRole("button", { name: "Apply filters" }).click();
    const link = history.getByRole("link", { name: `#${alertId} E2E checkout errors` });
    await visible(link);
    expect(await history.getByRole("row").count()).toBe(2); // header + this alert
    await link.click();

    await visible(admin.getByRole("heading", { name: `Alert #${alertId}: E2E checkout errors`, level: 1 }));
    const timeline = admin.getByRole("list", { name: "Timeline" });
    for (const event of ["fired", "acknowledged", "resolved"])
      await visible(timeline.locator(`[data-event="${event}"]`).first());
    expect(await timeline.locator('[data-event="acknowledged"]').first().textContent()).toContain(`you (E2E admin)`);
    const notifications = admin.getByRole("table", { name: "Notifications of this alert" });
    await visible(notifications);
    // No email provider is configured locally: the email jobs wait in the outbox.
    expect(
      await notifications.locator('tbody tr[data-channel="email"][data-delivery-status="outbox"]').count(),
    ).toBeGreaterThan(0);
    const chart = admin.getByRole("img", { name: /e2e_checkout_errors/ });
    await visible(chart);
  });

  it("opens the history filtered by the address a grouped notification links to", async () => {
    const { alert_rule_id: ruleId } = await must<{ alert_rule_id: number }>("GET", `${API}/alerts/${alertId}`);
    await admin.goto(`/alerts?rule_id=${ruleId}&status=resolved`);
    const history = admin.getByRole("region", { name: "History" });
    await visible(history.getByRole("link", { name: `#${alertId} E2E checkout errors` }));
    // The rule list arrives on its own request: the selects show the address's filters once it has.
    await expect.poll(() => history.getByLabel("Status").inputValue()).toBe("resolved");
    await expect.poll(() => history.getByLabel("Rule").inputValue()).toBe(String(ruleId));
    await expect.poll(() => history.getByRole("row").count()).toBe(2); // header + this alert
  });

  it("keeps an alert the socket brought when a slower list answer, asked for before it fired, arrives", async () => {
    await createRule("E2E late list", "e2e_late_list", 5);
    // The page's first request for the active alerts is answered from before the breach, and late.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let asked = false;
    await admin.route("**/api/admin/monitoring/alerts/active", async (route) => {
      if (asked) return route.continue();
      asked = true;
      const before = await route.fetch();
      await held;
      await route.fulfill({ response: before });
    });
    await admin.goto("/alerts");
    await expect.poll(() => asked).toBe(true);
    await push("e2e_late_list", "e2e", 9);
    const item = activeItem(admin, "E2E late list");
    await visible(item);
    release();
    await admin.waitForTimeout(1_500);
    expect(await item.count()).toBe(1);
    await admin.unroute("**/api/admin/monitoring/alerts/active");
  });
});

describe("trends", () => {
  it("draws every chart from the demo's backfilled history", async () => {
    // The product started minutes ago: 30 days of history can only be the backfill.
    const trends = await must<{ charts: Record<string, { points: { ts: string }[] }> }>(
      "GET",
      `${API}/performance/trends?period=30d`,
    );
    const oldest = Math.min(...trends.charts.payment_success_rate!.points.map((p) => Date.parse(p.ts)));
    expect(Date.now() - oldest).toBeGreaterThan(28 * 86_400_000);

    await admin.getByRole("link", { name: "Trends" }).click();
    await visible(admin.getByRole("heading", { name: "System performance trends", level: 1 }));
    await admin.getByRole("radio", { name: "30 d" }).check();
    await expect.poll(() => admin.getByRole("status").filter({ hasText: "The last 30 d" }).count()).toBe(1);
    for (const id of ["payment_success_rate", "api_response_time", "database", "user_activity"]) {
      const chart = admin.locator(`[data-chart="${id}"]`);
      await visible(chart);
      expect(await chart.locator(".time-chart-empty").count(), id).toBe(0);
      expect(await chart.locator("canvas").count(), id).toBeGreaterThan(0);
      // The latest value of every series is a number (the accessible table under the chart).
      const latest = await chart.locator("table tbody td:first-of-type").allTextContents();
      expect(latest.length, id).toBeGreaterThan(0);
      for (const text of latest) expect(text, id).toMatch(/\d/);
    }
    // The anomaly list itself is tested in trends-band.test.ts and anomalies.test.ts.
    await visible(admin.getByRole("region", { name: "Anomalies" }));
  });
});

describe("rules", () => {
  it("creates a ratio rule through the form: a field error kept with the input, Test, Backtest over the demo's week, save, disable, enable", async () => {
    const policy = await must<{ id: number }>("POST", `${API}/escalation-policies`, {
      name: "E2E API on-call",
      steps: [{ after_minutes: 0, channels: ["email"], targets: { roles: ["admin"] } }],
    });
    await admin.goto("/rules");
    await visible(admin.getByRole("heading", { name: "Rules", level: 1 }));
    await admin.getByRole("link", { name: "New rule" }).click();
    await visible(admin.getByRole("heading", { name: "New rule", level: 1 }));

    await admin.getByLabel("Name", { exact: true }).fill("E2E API error ratio");
    await admin.getByLabel("Kind", { exact: true }).selectOption("ratio");
    await admin.getByLabel("Metric (numerator)", { exact: true }).fill("http_errors_total");
    await admin.getByLabel("Service", { exact: true }).fill("api");
    await admin.getByLabel("Denominator metric", { exact: true }).fill("http_requests_total");
    await admin.getByLabel("Window (s)", { exact: true }).fill("300");
    const least = admin.getByLabel("Least denominator", { exact: true });
    await least.fill("-1");
    await admin.getByLabel("Threshold (%)", { exact: true }).fill("5");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("alert").filter({ hasText: "Not saved: Invalid rule." }));
    expect(await least.getAttribute("aria-invalid")).toBe("true");
    expect(await admin.locator(".field-error").allTextContents()).toEqual([expect.stringMatching(/0/)]);
    expect(await least.inputValue()).toBe("-1");
    expect(await admin.getByLabel("Name", { exact: true }).inputValue()).toBe("E2E API error ratio");

    await least.fill("10");
    await admin.getByLabel("Escalation policy", { exact: true }).selectOption({ label: "E2E API on-call" });
    await admin.getByRole("button", { name: "Test", exact: true }).click();
    const test = admin.getByRole("region", { name: "Test result" });
    await visible(test);
    await expect.poll(() => test.textContent()).toMatch(/Would (not )?fire now|No data to judge/);
    expect(await test.textContent()).toContain("Subject: [WARNING] FIRING: E2E API error ratio on api");
    await visible(test.getByText("As email sends it"));

    await admin.getByRole("button", { name: "Backtest" }).click();
    const backtest = admin.getByRole("region", { name: "Backtest result" });
    await visible(backtest);
    await expect
      .poll(() => backtest.textContent(), { timeout: 30_000 })
      .toMatch(/Over the last 7d: \d+ alerts?, \d+ notifications?/);

    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("status").filter({ hasText: "E2E API error ratio saved." }));
    const row = admin.getByRole("row").filter({ has: admin.getByRole("rowheader", { name: "E2E API error ratio" }) });
    await visible(row);
    expect(await row.textContent()).toContain("http_errors_total / http_requests_total on api > 5 % over 5 min");
    const saved = await must<{
      rules: {
        rule_name: string;
        kind: string;
        escalation_policy_id: number | null;
        params: Record<string, unknown>;
      }[];
    }>("GET", `${API}/rules?limit=500`);
    expect(saved.rules.find((r) => r.rule_name === "E2E API error ratio")).toMatchObject({
      kind: "ratio",
      escalation_policy_id: policy.id,
      params: { denominator_metric: "http_requests_total", window_seconds: 300, min_denominator: 10 },
    });

    await admin.getByRole("button", { name: "Disable E2E API error ratio" }).click();
    await visible(admin.getByRole("status").filter({ hasText: "E2E API error ratio disabled." }));
    await expect.poll(() => row.textContent()).toContain("Disabled");
    await admin.getByRole("button", { name: "Enable E2E API error ratio" }).click();
    await visible(admin.getByRole("status").filter({ hasText: "E2E API error ratio enabled." }));
    await expect.poll(() => row.textContent()).not.toContain("Disabled");
  });

  it("creates an anomaly rule through the form: detector sensitivity and direction, no threshold; the z-score's window and threshold", async () => {
    await admin.goto("/rules/new");
    await visible(admin.getByRole("heading", { name: "New rule", level: 1 }));
    await admin.getByLabel("Name", { exact: true }).fill("E2E unusual DB connections");
    await admin.getByLabel("Kind", { exact: true }).selectOption("anomaly");
    await admin.getByLabel("Metric", { exact: true }).fill("db_pool_in_use");
    await admin.getByLabel("Service", { exact: true }).fill("database");
    // The detector: a sensitivity and a direction, no operator or threshold.
    expect(await admin.getByLabel("Method", { exact: true }).inputValue()).toBe("detector");
    const sensitivity = admin.getByLabel("Sensitivity", { exact: true });
    await sensitivity.selectOption("low");
    await visible(admin.getByText("Low: only strong anomalies"));
    await admin.getByLabel("Direction", { exact: true }).selectOption("up");
    expect(await admin.getByLabel("z-score", { exact: true }).count()).toBe(0);
    expect(await admin.getByLabel("Operator", { exact: true }).count()).toBe(0);
    await admin.getByLabel("Minimum duration (s)", { exact: true }).fill("120");
    // The z-score shows its window and threshold instead, and hides the sensitivity.
    await admin.getByLabel("Method", { exact: true }).selectOption("zscore");
    await visible(admin.getByLabel("z-score", { exact: true }));
    await visible(admin.getByLabel("Window (s)", { exact: true }));
    expect(await sensitivity.count()).toBe(0);
    await admin.getByLabel("Method", { exact: true }).selectOption("detector");

    await admin.getByRole("button", { name: "Test", exact: true }).click();
    const test = admin.getByRole("region", { name: "Test result" });
    await visible(test);
    await expect.poll(() => test.textContent()).toMatch(/Would (not )?fire now|No data to judge/);

    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("status").filter({ hasText: "E2E unusual DB connections saved." }));
    const row = admin
      .getByRole("row")
      .filter({ has: admin.getByRole("rowheader", { name: "E2E unusual DB connections" }) });
    await visible(row);
    expect(await row.textContent()).toContain("db_pool_in_use on database anomaly (low, up) for 2 min");
    const saved = await must<{ rules: { rule_name: string; params: Record<string, unknown>; for_seconds: number }[] }>(
      "GET",
      `${API}/rules?limit=500`,
    );
    expect(saved.rules.find((r) => r.rule_name === "E2E unusual DB connections")).toMatchObject({
      for_seconds: 120,
      params: { method: "detector", sensitivity: "low", direction: "up" },
    });
  });

  it("shows a rule whose breach waits out for_seconds as pending", async () => {
    await must("POST", `${API}/rules`, {
      rule_name: "E2E slow burn",
      metric_name: "e2e_slow_burn",
      service: "e2e",
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: 5,
      for_seconds: 600,
      severity: "warning",
      notification_channels: ["email"],
    });
    await push("e2e_slow_burn", "e2e", 9);
    await admin.goto("/rules");
    const row = admin.getByRole("row").filter({ has: admin.getByRole("rowheader", { name: "E2E slow burn" }) });
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toMatch(/Pending since/);
  });

  it("shows a viewer the rules and a rule's form without any way to change them", async () => {
    const context = await browser.newContext({ baseURL: baseUrl });
    const page = await logIn(context, viewerUser.token);
    await page.goto("/rules");
    await visible(page.getByRole("rowheader", { name: "E2E API error ratio" }));
    expect(await page.getByRole("link", { name: "New rule" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /^(Disable|Delete|Test) / }).count()).toBe(0);
    await context.close();
  });
});

describe("people and keys", () => {
  it("lets an owner issue a token shown once and revoke it, and a key that works until revoked; refuses a viewer", async () => {
    const context = await browser.newContext({ baseURL: baseUrl });
    const owner = await logIn(context, ownerToken);
    await owner.getByRole("link", { name: "People" }).click();
    await visible(owner.getByRole("heading", { name: "People and keys", level: 1 }));
    const row = owner.getByRole("row").filter({ hasText: "e2e-viewer@example.com" });
    await visible(row);
    await row.getByRole("textbox", { name: "New token name for e2e-viewer@example.com" }).fill("e2e-ci");
    await row.getByRole("button", { name: "New token" }).click();
    const shown = row.locator(".shown-once code");
    await visible(shown);
    const secret = (await shown.textContent()) ?? "";
    expect(secret).toMatch(/^emt_/);
    expect((await call("GET", `${baseUrl}/api/admin/me`, secret)).status).toBe(200);
    await row.getByRole("button", { name: "Revoke token e2e-ci of e2e-viewer@example.com" }).click();
    await visible(row.getByRole("status").filter({ hasText: "Token e2e-ci revoked." }));
    expect((await call("GET", `${baseUrl}/api/admin/me`, secret)).status).toBe(401);

    await owner.getByLabel("Key name", { exact: true }).fill("e2e-push");
    await owner.getByRole("button", { name: "Create key" }).click();
    const keyShown = owner.locator(".shown-once").filter({ hasText: "New key:" }).locator("code");
    await visible(keyShown);
    const key = (await keyShown.textContent()) ?? "";
    expect(key.length).toBeGreaterThan(20);
    const pushWith = (k: string) =>
      fetch(`${baseUrl}/api/ingest`, {
        method: "POST",
        headers: { authorization: `Bearer ${k}`, "content-type": "application/json" },
        body: JSON.stringify({ samples: [{ metric: "e2e_key_check", service: "e2e", value: 1 }] }),
      });
    expect((await pushWith(key)).status).toBe(202);
    await owner.getByRole("button", { name: "Revoke key e2e-push" }).click();
    await visible(owner.getByRole("status").filter({ hasText: "Key e2e-push revoked." }));
    await expect.poll(async () => (await pushWith(key)).status, { timeout: 90_000, interval: 2_000 }).toBe(401);
    await context.close();

    const viewerContext = await browser.newContext({ baseURL: baseUrl });
    const viewer = await logIn(viewerContext, viewerUser.token);
    expect(await viewer.getByRole("link", { name: "People" }).count()).toBe(0);
    await viewer.goto("/people");
    await visible(viewer.getByText("Only an owner manages people and keys."));
    expect((await call("GET", `${baseUrl}/api/admin/users`, viewerUser.token)).status).toBe(403);
    await viewerContext.close();
  });

  it("names a person who has no name by their email in the top bar", async () => {
    const { token } = await createUserAt(baseUrl, "viewer", "nameless", "");
    const context = await browser.newContext({ baseURL: baseUrl });
    const page = await logIn(context, token);
    expect((await page.locator(".who").textContent())?.trim()).toBe("e2e-nameless-viewer@example.com (viewer)");
    await context.close();
  });
});

describe("API reference", () => {
  it("renders the OpenAPI document by tag and finds an endpoint by text", async () => {
    await admin.getByRole("link", { name: "API", exact: true }).click();
    await visible(admin.getByRole("heading", { name: "API reference", level: 1 }));
    await visible(admin.getByRole("heading", { name: "rules", level: 2 }));
    await admin.getByRole("searchbox", { name: "Filter" }).fill("backtest");
    const op = admin.locator("details.api-op").filter({ hasText: "/api/admin/monitoring/rules/backtest" });
    await visible(op);
    await op.locator("summary").click();
    await visible(op.getByText("period", { exact: true }));
    expect(await admin.getByRole("heading", { name: "ingest", level: 2 }).count()).toBe(0);
  });
});

describe("services", () => {
  it("names a service once from the page, kept across a reload, and clears the name again", async () => {
    await admin.getByRole("link", { name: "Services", exact: true }).click();
    await visible(admin.getByRole("heading", { name: "Services", level: 1 }));
    const e2e = admin.getByLabel("e2e", { exact: true });
    await e2e.fill("E2E Checkout");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("status").filter({ hasText: "Service names saved." }));
    const saved = await must<{ service_names: Record<string, string> }>("GET", `${API}/dashboard`);
    expect(saved.service_names.e2e).toBe("E2E Checkout");
    await admin.reload();
    expect(await admin.getByLabel("e2e", { exact: true }).inputValue()).toBe("E2E Checkout");
    await admin.getByLabel("e2e", { exact: true }).fill("");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("status").filter({ hasText: "Service names saved." }));
    expect((await must<{ service_names: Record<string, string> }>("GET", `${API}/dashboard`)).service_names.e2e).toBe(
      undefined,
    );
  });
});

describe("preferences", () => {
  it("shows the server's reason beside a bad field and keeps the input, saves quiet hours in Asia/Taipei, and sends a test", async () => {
    await admin.goto("/preferences");
    await visible(admin.getByRole("heading", { name: "Preferences", level: 1 }));
    // Never saved: the browser's zone is preselected.
    const zone = admin.getByRole("combobox", { name: "Time zone" });
    expect(await zone.inputValue()).toBe(await admin.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone));

    await admin.getByRole("checkbox", { name: "SMS", exact: true }).check();
    const phone = admin.getByRole("textbox", { name: "Phone (E.164)" });
    await phone.fill("0912 345 678");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("alert").filter({ hasText: "Not saved: Invalid preferences." }));
    await visible(admin.getByText("must be an E.164 number such as +886912345678"));
    expect(await phone.getAttribute("aria-invalid")).toBe("true");
    expect(await phone.inputValue()).toBe("0912 345 678");
    // Only the phone is wrong: nothing else the form sends is refused.
    expect(await admin.locator(".field-error").allTextContents()).toEqual([
      "must be an E.164 number such as +886912345678",
    ]);

    await phone.fill("+886912345678");
    await admin.getByLabel("From").fill("22:00");
    await admin.getByLabel("Until").fill("07:00");
    await zone.selectOption("Asia/Taipei");
    await admin.getByRole("button", { name: "Save", exact: true }).click();
    await visible(admin.getByRole("status").filter({ hasText: "Preferences saved." }));
    const saved = await must<Record<string, unknown>>("GET", `${API}/preferences`, undefined, adminUser.token);
    expect(saved).toMatchObject({
      phone: "+886912345678",
      sms_enabled: true,
      quiet_hours_start: "22:00",
      quiet_hours_end: "07:00",
      timezone: "Asia/Taipei",
    });
    // Kept across a reload, from the server.
    await admin.reload();
    expect(await admin.getByRole("combobox", { name: "Time zone" }).inputValue()).toBe("Asia/Taipei");
    expect(await admin.getByLabel("From").inputValue()).toBe("22:00");

    await admin.getByRole("button", { name: "Send test" }).click();
    const results = admin.getByRole("list", { name: "Test results" });
    await visible(results);
    // `npm start` has no SMS provider configured: the page says so rather than claiming a send.
    await expect
      .poll(() => results.getByRole("listitem").allTextContents())
      .toEqual(expect.arrayContaining([expect.stringMatching(/^sms: (not configured on the server|failed|sent)/)]));
    expect(await results.getByRole("listitem").count()).toBe(3);
  });
});

describe("on a phone", () => {
  it("fits every page in 390 px without horizontal scrolling, the failure reason readable, in dark mode", async () => {
    const context = await browser.newContext({
      baseURL: baseUrl,
      viewport: { width: 390, height: 844 },
      colorScheme: "dark",
    });
    const phone = await logIn(context, adminUser.token);
    const pages = [
      "/status",
      "/alerts",
      `/alerts/${alertId}`,
      "/deliveries",
      "/trends",
      "/metrics/ecpay/payment_success_rate",
      "/rules",
      "/rules/new",
      "/monitors",
      "/silences",
      "/silences/new",
      "/escalation",
      "/escalation/new",
      "/preferences",
      "/people",
      "/services",
      "/api-reference",
    ];
    for (const path of pages) {
      await phone.goto(path);
      await visible(phone.getByRole("heading", { level: 1 }));
      await phone.waitForTimeout(1_000); // charts and lists settle
      const [scrollWidth, clientWidth] = await phone.evaluate(() => [
        document.documentElement.scrollWidth,
        document.documentElement.clientWidth,
      ]);
      expect({ path, scrollWidth }).toEqual({ path, scrollWidth: clientWidth });
    }
    // The system's dark mode is followed.
    expect(await phone.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(17, 20, 24)");

    await phone.goto("/status");
    const reason = serviceRow(phone, "Storefront").locator("td.message");
    await expect.poll(() => reason.textContent()).toMatch(/503/);
    const box = await reason.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(390);
    expect(await reason.isVisible()).toBe(true);
    await context.close();
    await must("PUT", `${API}/monitors/${failingMonitorId}`, { is_active: false });
  });
});

describe("after a server restart", () => {
  it("reconnects the socket by itself and shows live changes again", { timeout: 240_000 }, async () => {
    await admin.goto("/status");
    const connection = admin.locator("[data-connection]");
    await expect.poll(() => connection.getAttribute("data-connection")).toBe("connected");
    await recordConnectionStates(admin);

    const restart = await fetch(`${controlUrl}/restart`, { method: "POST" });
    expect(restart.status, await restart.text()).toBe(204);

    await expect.poll(() => connectionStates(admin), { timeout: 90_000 }).toContain("connected");
    const seen = await connectionStates(admin);
    expect(seen[0]).toBe("reconnecting");
    expect(seen.at(-1)).toBe("connected");
    // Still logged in, and live: a sample pushed now shows without a reload.
    await push("e2e_queue_depth", "e2e", 77);
    await expect
      .poll(() => card(admin, "e2e-queue").locator("[data-value]").textContent(), { timeout: 15_000 })
      .toBe("77");
  });

  it("had no uncaught errors in any page", () => {
    expect(pageErrors).toEqual([]);
  });
});

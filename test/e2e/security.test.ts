/**
 * The dashboard's security headers (core/security-headers.ts, served from the build's
 * _headers file) on the real product, and the dashboard working under them in real headless
 * Chromium: every page loads, charts and the live socket included, without one
 * Content-Security-Policy violation; an injected inline script is refused; the dashboard's
 * own writes carry its Origin, which the Origin check (core/origin.ts) requires.
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DASHBOARD_HEADERS } from "../../worker/core/security-headers";
import { CHROMIUM, logIn } from "./browser";

const baseUrl = inject("baseUrl");
const token = inject("token");

/** Pages to visit, with the h1 each shows once loaded; charts are awaited where the page draws them. */
const PAGES: [path: string, heading: string | RegExp, chart?: boolean][] = [
  ["/status", "Live status"],
  ["/alerts", /alerts/i],
  ["/trends", "System performance trends", true],
  ["/rules", /rules/i],
  ["/monitors", /monitors/i],
  ["/silences", /silences/i],
  ["/deliveries", /deliver/i],
  ["/people", /people|admins/i],
  ["/preferences", /preferences/i],
  ["/config", /config/i],
  ["/api-reference", /api/i],
];

let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
/** Console errors about a policy (CSP, Permissions-Policy): there must be none. */
const policyErrors: string[] = [];

/** A response's headers as a plain object (lower-case names). */
const headersOf = (res: Response) => {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => (out[name] = value));
  return out;
};

type Recorded = { cspViolations: string[] };
const violations = () => page.evaluate(() => (window as unknown as Recorded).cspViolations);

beforeAll(async () => {
  browser = await chromium.launch(CHROMIUM);
  context = await browser.newContext({ baseURL: baseUrl });
  // Runs before the page's own scripts in every document: records each CSP violation event.
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as Recorded).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) =>
      seen.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  context.on("console", (message) => {
    const text = message.text();
    if (/Content Security Policy|Permissions-Policy|Refused to/i.test(text)) policyErrors.push(text);
  });
  page = await logIn(context, token, pageErrors);
});

afterAll(async () => {
  await browser?.close();
});

describe("security headers", () => {
  it("are on the dashboard's HTML at / and at a deep link (SPA fallback), and on its assets", async () => {
    const html = await (await fetch(`${baseUrl}/`)).text();
    const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1] ?? "";
    const style = /<link rel="stylesheet" crossorigin href="([^"]+)"/.exec(html)?.[1] ?? "";
    expect(script).toMatch(/^\/assets\//);
    expect(style).toMatch(/^\/assets\//);
    const expected = Object.fromEntries(Object.entries(DASHBOARD_HEADERS).map(([k, v]) => [k.toLowerCase(), v]));
    for (const path of ["/", "/alerts", "/no/such/page", script, style]) {
      const res = await fetch(`${baseUrl}${path}`);
      expect({ path, status: res.status, headers: headersOf(res) }).toMatchObject({
        path,
        status: 200,
        headers: expected,
      });
    }
    // The policy the browser got: no inline script, no framing.
    expect(expected["content-security-policy"]).toContain("script-src 'self';");
    expect(expected["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(expected["content-security-policy"]).not.toContain("unsafe-inline");
  });

  it("are on the API's answers too", async () => {
    const res = await fetch(`${baseUrl}/api/admin/me`);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-security-policy")).toMatch(/^default-src 'none'/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});

describe("the dashboard under its Content-Security-Policy", () => {
  it("loads every page, charts and the live socket included, without a violation", async () => {
    for (const [path, heading, chart] of PAGES) {
      await page.goto(path);
      await page.getByRole("heading", { name: heading, level: 1 }).first().waitFor();
      if (chart) await page.locator(".uplot canvas").first().waitFor();
      await page.locator('[data-connection="connected"]').waitFor();
      expect({ path, violations: await violations() }).toEqual({ path, violations: [] });
    }
    expect(policyErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("sends the dashboard's Origin with its writes, so the Origin check lets them through", async () => {
    await page.goto("/status");
    const [request, status] = await Promise.all([
      page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/api/admin/tokens"),
      page.evaluate(() =>
        fetch("/api/admin/tokens", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: "security e2e" }),
        }).then((r) => r.status),
      ),
    ]);
    expect(status).toBe(201);
    expect((await request.allHeaders()).origin).toBe(baseUrl);
  });

  it("refuses an injected inline script and reports it (the listener above works)", async () => {
    await page.goto("/status");
    await page.locator('[data-connection="connected"]').waitFor();
    const ran = await page.evaluate(async () => {
      const script = document.createElement("script");
      script.textContent = "window.injectedScriptRan = true";
      document.body.appendChild(script);
      await new Promise((r) => setTimeout(r, 100));
      return (window as unknown as { injectedScriptRan?: boolean }).injectedScriptRan === true;
    });
    expect(ran).toBe(false);
    expect(await violations()).toEqual([expect.stringMatching(/^script-src-elem blocked inline/)]);
    policyErrors.length = 0; // the refusal's own console message
  });
});

/** What the browser tests share: how Chromium is started, and a record of the live connection's states. */
import type { BrowserContext, Page } from "playwright-core";

/** Debian's Chromium, headless, without anything that would reach out on its own. */
export const CHROMIUM = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

type Recorded = { connectionStates: string[] };

/** From now on, records every state the page's connection indicator takes (read with `connectionStates`). */
export const recordConnectionStates = (page: Page) =>
  page.evaluate(() => {
    const el = document.querySelector("[data-connection]")!;
    const seen: string[] = [];
    (window as unknown as Recorded).connectionStates = seen;
    new MutationObserver(() => seen.push(el.getAttribute("data-connection") ?? "")).observe(el, {
      attributes: true,
      attributeFilter: ["data-connection"],
    });
  });

/** The states recorded since `recordConnectionStates`. */
export const connectionStates = (page: Page) => page.evaluate(() => (window as unknown as Recorded).connectionStates);

/** A page whose uncaught errors are collected in `pageErrors`, waiting up to 20 s for what it looks for. */
export async function newPage(context: BrowserContext, pageErrors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (err) => pageErrors.push(err.message));
  return page;
}

/** A new page logged in with `token` through the login form, on the live status. */
export async function logIn(context: BrowserContext, token: string, pageErrors: string[]): Promise<Page> {
  const page = await newPage(context, pageErrors);
  await page.goto("/status");
  await page.getByLabel("Admin API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Live status", level: 1 }).waitFor();
  return page;
}

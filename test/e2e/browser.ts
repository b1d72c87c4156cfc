/** What the browser tests share: how Chromium is started, and a record of the live connection's states. */
import type { Page } from "playwright-core";

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

/**
 * Provider isolation through the real queues in workerd: a webhook receiver that hangs
 * (answers after the provider timeout, 2 s here) with jobs queued behind it must not delay
 * a critical Slack page enqueued after them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { adminWith, alertJobs, received, rowOf, setMode, waitFor } from "./delivery-helpers";

const hanging = alertJobs("Isolation hanging", "isohang");
const paging = alertJobs("Isolation page", "isopage");

beforeAll(async () => {
  await hanging.setup();
  await paging.setup();
  // Longer than NOTIFY_TIMEOUT_MS (2 s): every request to the webhook times out.
  await setMode("webhook", { status: 200, delayMs: 6000, match: "isohang-" });
});

// The webhook answers again, so the jobs retried meanwhile leave the lane quickly.
afterAll(() => setMode("webhook", { status: 200, match: "isohang-" }));

describe("provider isolation", () => {
  it("delivers a critical Slack page within 1 s while 25 webhook jobs wait on a hanging webhook", async () => {
    const webhookJobs = [];
    for (let i = 0; i < 25; i++)
      webhookJobs.push((await hanging.jobFor(null, "webhook", { severity: "critical" })).job);
    const admin = await adminWith({ slack: "UISOLATION1" });
    const { job: page, token } = await paging.jobFor(admin, "slack", { severity: "critical" });

    await env.NOTIFY_QUEUE.sendBatch(webhookJobs.map((body) => ({ body })));
    // The webhook is hanging: its first requests are out.
    await waitFor(async () => (await received("webhook", "isohang-")).length > 0, 5000);
    const start = Date.now();
    await env.NOTIFY_QUEUE.send(page);
    await waitFor(async () => (await received("slack-bot", token)).length > 0, 8000);
    const took = Date.now() - start;
    console.log(`critical Slack page delivered ${took} ms after it was enqueued, behind a hanging webhook`);
    expect(took).toBeLessThan(1000);
    expect(await waitFor(async () => (await rowOf(page.idempotencyKey))?.status === "sent" && true)).toBe(true);
  });
});

/**
 * Provider isolation through the real queues in workerd: a provider that hangs (answers
 * after the provider timeout, 2 s here) with jobs queued behind it must not delay a
 * critical page on another channel enqueued after them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { adminWith, alertJobs, received, rowOf, setMode, waitFor } from "./delivery-helpers";

const hanging = alertJobs("Isolation hanging", "isohang");
const paging = alertJobs("Isolation page", "isopage");
const slowSlack = alertJobs("Isolation slow Slack", "isoslack");

beforeAll(async () => {
  await hanging.setup();
  await paging.setup();
  await slowSlack.setup();
  // Longer than NOTIFY_TIMEOUT_MS (2 s): every request for these alerts times out.
  await setMode("webhook", { status: 200, delayMs: 6000, match: "isohang-" });
  await setMode("slack-bot", { status: 200, delayMs: 6000, match: "isoslack-" });
});

// The providers answer again, so the jobs retried meanwhile leave their lanes quickly.
afterAll(async () => {
  await setMode("webhook", { status: 200, match: "isohang-" });
  await setMode("slack-bot", { status: 200, match: "isoslack-" });
});

describe("provider isolation", () => {
  it("delivers a critical Slack page within 1 s while 100 webhook jobs wait on a hanging webhook", async () => {
    const webhookJobs = [];
    for (let i = 0; i < 100; i++)
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

  it("delivers a critical SMS within 1 s while 25 Slack jobs wait on a hanging Slack", async () => {
    const slackJobs = [];
    for (let i = 0; i < 25; i++) {
      const admin = await adminWith({ slack: `UISOSLOW${i}` });
      slackJobs.push((await slowSlack.jobFor(admin, "slack", { severity: "critical" })).job);
    }
    const admin = await adminWith({ phone: "+886900000123" });
    const { job: page, token } = await paging.jobFor(admin, "sms", { severity: "critical" });

    await env.NOTIFY_QUEUE.sendBatch(slackJobs.map((body) => ({ body })));
    await waitFor(async () => (await received("slack-bot", "isoslack-")).length > 0, 5000);
    const start = Date.now();
    await env.NOTIFY_QUEUE.send(page);
    await waitFor(async () => (await received("twilio", token)).length > 0, 8000);
    const took = Date.now() - start;
    console.log(`critical SMS delivered ${took} ms after it was enqueued, behind a hanging Slack`);
    expect(took).toBeLessThan(1000);
  });
});

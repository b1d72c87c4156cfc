/**
 * The outbound dead-man's switch in workerd: DEADMAN_URL (the test sink) hears the
 * monitor's health from the cron and, independently, from the sentinel's alarm loop.
 */
import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Sentinel } from "../../durable-objects/sentinel";
import { WATCH_EVERY_MS } from "../../worker/core/self-watch";
import worker from "../../worker/index";
import { records } from "./delivery-helpers";

const sentinel = () => env.SENTINEL.getByName("main");

describe("the dead-man's switch", () => {
  it("pings DEADMAN_URL with the monitor's health from the cron and from the alarm loop", async () => {
    const before = (await records("deadman")).length;
    const now = Date.now();
    await worker.scheduled(
      createScheduledController({ scheduledTime: now, cron: "* * * * *" }),
      env,
      createExecutionContext(),
    );
    // The cron re-armed the alarm loop; its alarm pings on its own.
    expect((await sentinel().status()).nextCheck).not.toBeNull();
    expect(await runDurableObjectAlarm(sentinel())).toBe(true);
    const pings = (await records("deadman")).slice(before).map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(pings.map((p) => p.source).sort()).toEqual(["alarm", "cron"]);
    for (const p of pings) expect(p).toMatchObject({ ok: true, problems: [] });
    // The loop goes on: its next watch of itself soon, its next ping a minute later.
    expect((await sentinel().status()).nextCheck).toBeLessThanOrEqual(Date.now() + WATCH_EVERY_MS);
    const nextPing = await runInDurableObject(sentinel(), (_s: Sentinel, state) =>
      state.storage.get<number>("deadmanAt"),
    );
    expect(nextPing).toBeGreaterThan(Date.now() + 50_000);
  });
});

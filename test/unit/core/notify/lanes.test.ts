import { describe, expect, it } from "vitest";
import { laneFor } from "../../../../worker/core/notify/lanes";

describe("laneFor", () => {
  it("forwards the shared channels' jobs from the notifications queue to their own lanes", () => {
    expect(laneFor("webhook", "notifications")).toBe("notifications-webhook");
    expect(laneFor("pagerduty", "notifications")).toBe("notifications-pagerduty");
  });

  it("sends personal channels from the notifications queue, and every job read on a lane or the dead-letter queue", () => {
    for (const channel of ["slack", "sms", "email", "toString"]) expect(laneFor(channel, "notifications")).toBeNull();
    expect(laneFor("webhook", "notifications-webhook")).toBeNull();
    expect(laneFor("webhook", "notifications-dlq")).toBeNull();
    expect(laneFor("pagerduty", "notifications-dlq")).toBeNull();
  });
});

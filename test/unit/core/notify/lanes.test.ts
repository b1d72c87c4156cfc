import { describe, expect, it } from "vitest";
import { laneFor } from "../../../../worker/core/notify/lanes";

describe("laneFor", () => {
  it("forwards each channel's jobs from the notifications queue to the channel's own lane", () => {
    for (const channel of ["webhook", "pagerduty", "slack", "sms", "email"]) {
      expect(laneFor(channel, "notifications")).toBe(`notifications-${channel}`);
    }
  });

  it("sends an unknown channel's job from the notifications queue, and every job read on a lane or the dead-letter queue", () => {
    for (const channel of ["fax", "toString", ""]) expect(laneFor(channel, "notifications")).toBeNull();
    expect(laneFor("slack", "notifications-slack")).toBeNull();
    expect(laneFor("webhook", "notifications-webhook")).toBeNull();
    expect(laneFor("webhook", "notifications-dlq")).toBeNull();
    expect(laneFor("pagerduty", "notifications-dlq")).toBeNull();
  });
});

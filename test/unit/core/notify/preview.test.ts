import { describe, expect, it } from "vitest";
import { previewChannel } from "../../../../worker/core/notify/preview";
import { job, NOW } from "./fixtures";

describe("previewChannel", () => {
  it("renders the job as each channel sends it", () => {
    const j = job("firing");
    expect(previewChannel(j, "email", NOW)?.content).toMatch(
      /^Subject: \[CRITICAL\] FIRING: High latency on api \(#12\)\n\n/,
    );
    const sms = previewChannel(j, "sms", NOW);
    expect(sms?.content).toContain("CRITICAL FIRING #12");
    expect(sms?.note).toMatch(/^\d+ characters \(GSM-7\)$/);
    expect(JSON.parse(previewChannel(j, "slack", NOW)?.content ?? "").blocks.length).toBeGreaterThan(1);
    expect(JSON.parse(previewChannel(j, "webhook", NOW)?.content ?? "")).toMatchObject({ version: 1, event: "firing" });
    expect(JSON.parse(previewChannel(j, "pagerduty", NOW)?.content ?? "")).toMatchObject({
      event_action: "trigger",
      routing_key: "<PAGERDUTY_ROUTING_KEY>",
    });
  });

  it("has nothing for a channel it does not know", () => {
    expect(previewChannel(job("firing"), "carrier-pigeon", NOW)).toBeNull();
  });
});

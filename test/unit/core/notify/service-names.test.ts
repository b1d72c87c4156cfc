import { describe, expect, it } from "vitest";
import { withCurrentValues } from "../../../../worker/core/alerts/jobs";
import { slackBlocks } from "../../../../worker/core/notify/slack";
import { smsText } from "../../../../worker/core/notify/sms";
import { details, plainText, title } from "../../../../worker/core/notify/text";
import { job } from "./fixtures";

describe("service display names in notifications", () => {
  const named = withCurrentValues(job("firing"), {
    value: 812.5,
    peakValue: null,
    message: "p95 latency 812.5 ms > 500 ms",
    serviceName: "Public API",
  });

  it("names the service as people know it in the title, the details and every channel", () => {
    expect(title(named)).toBe("[CRITICAL] FIRING: High latency on Public API (#12)");
    expect(details(named)).toContainEqual(["Service", "Public API (api)"]);
    expect(plainText(named)).toContain("Service: Public API (api)");
    expect(JSON.stringify(slackBlocks(named, false))).toContain("Public API (api)");
    expect(smsText(named)).toContain("Public API");
  });

  it("keeps the service id without a display name, or with one equal to it", () => {
    for (const serviceName of [null, "", "api"]) {
      const j = withCurrentValues(job("firing"), { value: 1, peakValue: null, message: "m", serviceName });
      expect(title(j)).toBe("[CRITICAL] FIRING: High latency on api (#12)");
      expect(details(j)).toContainEqual(["Service", "api"]);
    }
  });
});

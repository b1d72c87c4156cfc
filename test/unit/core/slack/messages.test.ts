import { describe, expect, it } from "vitest";
import type { AlertSnapshot } from "../../../../worker/core/alerts/jobs";
import { alertMessageUpdate, ephemeral } from "../../../../worker/core/slack/messages";

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

const alert: AlertSnapshot = {
  id: 12,
  ruleId: 3,
  ruleName: "High latency",
  service: "api",
  labels: {},
  severity: "critical",
  status: "acknowledged",
  value: 812,
  peakValue: 900,
  message: "p95 latency 812 ms > 500 ms",
  observedAt: T0,
  triggeredAt: T0,
  acknowledgedAt: T0 + 60_000,
  acknowledgedBy: "Ada",
  resolvedAt: null,
};

type Block = { type: string; elements?: { text?: string; action_id?: string }[] };
const blocksOf = (m: ReturnType<typeof alertMessageUpdate>) => m.blocks as Block[];
const stateLine = (m: ReturnType<typeof alertMessageUpdate>) =>
  blocksOf(m).find((b) => b.type === "context")?.elements?.[0]?.text;
const buttons = (m: ReturnType<typeof alertMessageUpdate>) =>
  blocksOf(m)
    .find((b) => b.type === "actions")
    ?.elements?.map((e) => e.action_id);

describe("alertMessageUpdate", () => {
  it("shows an acknowledged alert with who acknowledged it, and no Acknowledge button", () => {
    const m = alertMessageUpdate(alert, "acknowledged");
    expect(m.replace_original).toBe(true);
    expect(m.text).toBe("[CRITICAL] ACKNOWLEDGED: High latency on api (#12): p95 latency 812 ms &gt; 500 ms");
    expect(stateLine(m)).toBe("Acknowledged by Ada at 2026-01-02T03:05:05.000Z");
    expect(buttons(m)).toEqual(["resolve", "silence_1h"]);
  });

  it("shows a resolved alert without buttons", () => {
    const m = alertMessageUpdate({ ...alert, status: "resolved", resolvedAt: T0 + 120_000 }, "resolved");
    expect(m.text).toMatch(/^\[CRITICAL\] RESOLVED: High latency on api \(#12\): /);
    expect(stateLine(m)).toBe("Acknowledged by Ada at 2026-01-02T03:05:05.000Z · Resolved at 2026-01-02T03:06:05.000Z");
    expect(buttons(m)).toBeUndefined();
  });

  it("has no buttons for a resolved alert whatever the event", () => {
    expect(
      buttons(alertMessageUpdate({ ...alert, status: "resolved", resolvedAt: T0 }, "acknowledged")),
    ).toBeUndefined();
  });
});

describe("ephemeral", () => {
  it("is Slack's ephemeral response shape", () => {
    expect(ephemeral("hi")).toEqual({ response_type: "ephemeral", text: "hi" });
  });
});

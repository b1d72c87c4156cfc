import { describe, expect, it } from "vitest";
import { renderAlertText } from "../../../../worker/core/rules/render";
import { makeRule } from "../../../fixtures/rules";

describe("renderAlertText", () => {
  it("names the rule, service, value, condition and observation time", () => {
    const rule = makeRule({ kind: "threshold", forSeconds: 60 });
    const text = renderAlertText(
      rule,
      {
        state: "firing",
        value: 7.123456,
        observedAt: Date.UTC(2026, 10, 26, 10, 0, 0),
        reason: "latest value 7.123 > 5",
      },
      0,
    );
    expect(text.title).toBe("[CRITICAL] Payment Failure Rate > 5% on ecpay");
    expect(text.body.split("\n")).toEqual([
      "payment_failure_rate on ecpay: 7.123 (latest value 7.123 > 5)",
      "Condition: threshold > 5 for 60s",
      "Severity: critical",
      "Observed at: 2026-11-26T10:00:00.000Z",
    ]);
  });

  it("says 'no data' and uses the evaluation time when nothing was observed", () => {
    const rule = makeRule({ kind: "threshold", service: null, severity: "warning" });
    const text = renderAlertText(
      rule,
      { state: "no_data", value: null, observedAt: null, reason: "no samples yet" },
      0,
    );
    expect(text.title).toBe("[WARNING] Payment Failure Rate > 5%");
    expect(text.body).toContain("payment_failure_rate: no data (no samples yet)");
    expect(text.body).toContain("Observed at: 1970-01-01T00:00:00.000Z");
  });
});

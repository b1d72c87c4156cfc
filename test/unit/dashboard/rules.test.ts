import { describe, expect, it } from "vitest";
import {
  conditionText,
  emptyRuleForm,
  formToBody,
  hasThreshold,
  paramFields,
  ruleToForm,
  type WireRule,
} from "../../../dashboard/src/lib/rules";

const wire = (over: Partial<WireRule>): WireRule => ({
  id: 1,
  rule_name: "r",
  description: "",
  metric_name: "db_pool_in_use",
  service: "database",
  labels: {},
  kind: "anomaly",
  comparison_operator: ">",
  threshold_value: 0,
  for_seconds: 120,
  resolve_for_seconds: 0,
  resolve_threshold_value: null,
  depends_on: [],
  params: { method: "detector", sensitivity: "medium", direction: "up", window_seconds: 21_600, min_samples: 12 },
  severity: "warning",
  notification_channels: ["email"],
  cooldown_minutes: 15,
  max_alerts_per_hour: 4,
  escalation_policy_id: null,
  is_active: true,
  ...over,
});

describe("anomaly rules in the dashboard", () => {
  it("reads a detector rule as its sensitivity and direction, a z-score rule as its threshold", () => {
    expect(conditionText(wire({}))).toBe("db_pool_in_use on database anomaly (medium, up) for 2 min");
    expect(
      conditionText(
        wire({ threshold_value: 3.5, params: { method: "zscore", direction: "both", window_seconds: 21_600 } }),
      ),
    ).toBe("db_pool_in_use on database unusual: robust z-score > 3.5 (both) over 6 h for 2 min");
  });

  it("shows the detector's sensitivity, the z-score's window and threshold", () => {
    const detector = { ...emptyRuleForm(), kind: "anomaly" as const };
    expect(detector.method).toBe("detector");
    expect(paramFields(detector)).toEqual(["method", "sensitivity", "direction"]);
    expect(hasThreshold("anomaly", "detector")).toBe(false);
    expect(paramFields({ kind: "anomaly", method: "zscore" })).toEqual([
      "method",
      "direction",
      "window_seconds",
      "min_samples",
    ]);
    expect(hasThreshold("anomaly", "zscore")).toBe(true);
  });

  it("sends a detector rule without a threshold, a z-score rule with its default when left blank", () => {
    const form = { ...emptyRuleForm(), kind: "anomaly" as const, metric_name: "m", threshold_value: "" };
    const detector = formToBody({ ...form, sensitivity: "low", direction: "down" });
    expect(detector).not.toHaveProperty("threshold_value");
    expect(detector.params).toEqual({ method: "detector", sensitivity: "low", direction: "down" });
    expect(detector.resolve_threshold_value).toBeNull();
    const zscore = formToBody({ ...form, method: "zscore", window_seconds: "3600" });
    expect(zscore.threshold_value).toBe(3.5);
    expect(zscore.params).toEqual({ method: "zscore", direction: "both", window_seconds: 3600, min_samples: 12 });
  });

  it("opens a detector rule with a blank threshold (it stores a meaningless 0)", () => {
    expect(ruleToForm(wire({})).threshold_value).toBe("");
    expect(ruleToForm(wire({ params: { method: "zscore" }, threshold_value: 4 })).threshold_value).toBe("4");
  });
});

import { describe, expect, it } from "vitest";
import {
  auditFiltersFrom,
  auditFiltersSearch,
  auditQuery,
  changeLines,
  NO_AUDIT_FILTERS,
  targetText,
  valueText,
} from "../../../dashboard/src/lib/audit";

describe("audit filters", () => {
  it("round-trip through the page address, keeping only those set", () => {
    const f = auditFiltersFrom("?via=slack&target_type=alert&bogus=1");
    expect(f).toEqual({ ...NO_AUDIT_FILTERS, via: "slack", target_type: "alert" });
    expect(auditFiltersSearch(f)).toBe("?target_type=alert&via=slack");
    expect(auditFiltersSearch(NO_AUDIT_FILTERS)).toBe("");
  });

  it("build the API query with ISO times and the cursor", () => {
    const q = new URLSearchParams(
      auditQuery({ ...NO_AUDIT_FILTERS, actor: " ops@example.com ", from: "2026-11-26T10:00" }, "17.4", 20),
    );
    expect(q.get("limit")).toBe("20");
    expect(q.get("actor")).toBe("ops@example.com");
    expect(q.get("from")).toBe(new Date("2026-11-26T10:00").toISOString());
    expect(q.get("cursor")).toBe("17.4");
    expect(q.has("to")).toBe(false);
  });
});

describe("audit entries", () => {
  it("read an update field by field, before → after", () => {
    expect(
      changeLines({
        before: { threshold_value: 10, labels: { env: "prod" } },
        after: { threshold_value: 25, labels: { env: "staging" } },
        changes: ["labels.env", "threshold_value"],
      }),
    ).toEqual(["labels.env: prod → staging", "threshold_value: 10 → 25"]);
  });

  it("list what a create had, cut long values and count the rest", () => {
    expect(
      changeLines({ before: null, after: { a: 1, b: "x".repeat(100), c: null }, changes: ["a", "b", "c"] }, 2),
    ).toEqual(["a: 1", `b: ${"x".repeat(59)}…`, "… and 1 more"]);
    expect(valueText(undefined)).toBe("(none)");
  });

  it("name the target", () => {
    expect(targetText({ target_type: "escalation_policy", target_id: "3" })).toBe("escalation policy #3");
    expect(targetText({ target_type: "config", target_id: null })).toBe("config");
  });
});

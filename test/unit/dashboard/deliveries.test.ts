import { describe, expect, it } from "vitest";
import {
  deliveriesQuery,
  deliveryFiltersFrom,
  deliveryFiltersSearch,
  deliveryStatus,
  NO_DELIVERY_FILTERS,
  recipientText,
} from "../../../dashboard/src/lib/deliveries";

describe("delivery log filters", () => {
  it("round-trip through the page address, keeping only those set", () => {
    const f = deliveryFiltersFrom("?status=skipped&channel=sms&recipient=admin%3A3&bogus=1");
    expect(f).toEqual({ ...NO_DELIVERY_FILTERS, status: "skipped", channel: "sms", recipient: "admin:3" });
    expect(deliveryFiltersSearch(f)).toBe("?channel=sms&status=skipped&recipient=admin%3A3");
    expect(deliveryFiltersFrom(deliveryFiltersSearch(f))).toEqual(f);
    expect(deliveryFiltersSearch(NO_DELIVERY_FILTERS)).toBe("");
  });

  it("become the API's query, times as ISO and the cursor last", () => {
    const f = { ...NO_DELIVERY_FILTERS, rule_id: "4", alert_id: "12", since: "2026-03-01T10:00", until: "bad" };
    const q = new URLSearchParams(deliveriesQuery(f, "1700.9"));
    expect(Object.fromEntries(q)).toEqual({
      limit: "50",
      rule_id: "4",
      alert_id: "12",
      since: new Date("2026-03-01T10:00").toISOString(),
      cursor: "1700.9",
    });
  });
});

describe("delivery display", () => {
  it("labels every status with a tone, an unknown one as itself", () => {
    expect(deliveryStatus("dead")).toEqual({ label: "Given up", tone: "down" });
    expect(deliveryStatus("skipped").tone).toBe("unknown");
    expect(deliveryStatus("sent").tone).toBe("healthy");
    expect(deliveryStatus("teleported")).toEqual({ label: "teleported", tone: "unknown" });
  });

  it("names the recipient: the admin, the team channel, or a deleted admin's id", () => {
    expect(recipientText({ recipient: "admin:3", recipient_name: "Ana", channel: "sms" })).toBe("Ana");
    expect(recipientText({ recipient: "shared:webhook", recipient_name: "webhook (shared)", channel: "webhook" })).toBe(
      "Team webhook",
    );
    expect(recipientText({ recipient: "admin:9", recipient_name: null, channel: "email" })).toBe("admin:9 (deleted)");
  });
});

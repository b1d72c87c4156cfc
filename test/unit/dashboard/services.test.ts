import { describe, expect, it } from "vitest";
import {
  countByStatus,
  knownServices,
  parseServices,
  sortServices,
  summarize,
} from "../../../dashboard/src/lib/services";
import type { ServiceHealth } from "../../../dashboard/src/lib/types";

const svc = (service: string, status: ServiceHealth["status"]): ServiceHealth => ({
  service,
  status,
  last_checked_at: null,
  latency_ms: null,
  message: "",
});

describe("parseServices", () => {
  it("accepts the API's shape", () => {
    const list = [
      svc("api", "healthy"),
      { ...svc("db", "down"), last_checked_at: "2026-01-01T00:00:00Z", latency_ms: 12.5, message: "timeout" },
    ];
    expect(parseServices(list)).toEqual(list);
    expect(parseServices([])).toEqual([]);
  });

  it("rejects anything else", () => {
    for (const bad of [
      null,
      undefined,
      {},
      "x",
      [null],
      [{ ...svc("api", "healthy"), status: "fine" }],
      [{ service: "api" }],
      [{ ...svc("api", "healthy"), latency_ms: "3" }],
    ]) {
      expect(parseServices(bad)).toBeNull();
    }
  });
});

describe("sortServices", () => {
  it("puts the most urgent first, then sorts by name, without touching its input", () => {
    const input = [
      svc("b", "healthy"),
      svc("a", "healthy"),
      svc("z", "unknown"),
      svc("c", "down"),
      svc("d", "warning"),
    ];
    const copy = [...input];
    expect(sortServices(input).map((s) => s.service)).toEqual(["c", "d", "z", "a", "b"]);
    expect(input).toEqual(copy);
  });
});

describe("summaries", () => {
  it("counts by status", () => {
    expect(countByStatus([svc("a", "down"), svc("b", "down"), svc("c", "healthy")])).toEqual({
      healthy: 1,
      warning: 0,
      down: 2,
      unknown: 0,
    });
  });

  it("says it in one line", () => {
    expect(summarize([])).toBe("No services are monitored yet.");
    expect(summarize([svc("a", "healthy")])).toBe("The service is healthy");
    expect(summarize([svc("a", "healthy"), svc("b", "healthy")])).toBe("All 2 services healthy");
    expect(summarize([svc("a", "healthy"), svc("b", "down"), svc("c", "unknown")])).toBe(
      "1 down, 1 unknown, 1 healthy",
    );
  });
});

describe("knownServices", () => {
  it("joins monitored, named and ruled services, once each, sorted, without rules on every service", () => {
    expect(
      knownServices(["shop", "api"], { ecpay: "ECPay Integration", api: "Public API" }, [null, "ecpay", "db"]),
    ).toEqual(["api", "db", "ecpay", "shop"]);
  });
});

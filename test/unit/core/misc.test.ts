import { describe, expect, it } from "vitest";
import { deriveServiceHealth, type MonitorReading } from "../../../worker/core/health";
import { hasGap, parseClientMessage } from "../../../worker/core/protocol/dashboard";
import { requiredRoleForMethod, roleAllows } from "../../../worker/core/roles";
import { seriesKey } from "../../../worker/core/series";

describe("roles", () => {
  it("orders viewer < admin < owner", () => {
    expect(roleAllows("viewer", "viewer")).toBe(true);
    expect(roleAllows("viewer", "admin")).toBe(false);
    expect(roleAllows("admin", "admin")).toBe(true);
    expect(roleAllows("admin", "owner")).toBe(false);
    expect(roleAllows("owner", "admin")).toBe(true);
  });

  it("lets viewers read and requires admin to write", () => {
    expect(["GET", "head", "OPTIONS"].map(requiredRoleForMethod)).toEqual(["viewer", "viewer", "viewer"]);
    expect(["POST", "PUT", "PATCH", "DELETE"].map(requiredRoleForMethod)).toEqual(["admin", "admin", "admin", "admin"]);
  });
});

describe("seriesKey", () => {
  it("is independent of label order and distinguishes label values", () => {
    expect(seriesKey("m", "s", { b: "2", a: "1" })).toBe(seriesKey("m", "s", { a: "1", b: "2" }));
    expect(seriesKey("m", "s", { a: "1" })).not.toBe(seriesKey("m", "s", { a: "2" }));
    expect(seriesKey("m", "s")).toBe("m|s|");
  });

  it("cannot be confused by separators inside label values", () => {
    expect(seriesKey("m", "s", { a: '1",b="2' })).not.toBe(seriesKey("m", "s", { a: "1", b: "2" }));
  });
});

describe("deriveServiceHealth", () => {
  const now = 1_000_000;
  const reading = (over: Partial<MonitorReading>): MonitorReading => ({
    monitorId: 1,
    name: "probe",
    service: "api",
    intervalSeconds: 60,
    up: 1,
    latencyMs: 100,
    checkedAt: now - 10_000,
    message: null,
    ...over,
  });

  it("rolls monitors up into healthy, warning, down and unknown", () => {
    const result = deriveServiceHealth(
      [
        reading({ service: "api", monitorId: 1 }),
        reading({ service: "api", monitorId: 2, latencyMs: 300 }),
        reading({ service: "db", monitorId: 3, up: 0, name: "db ping", message: "timeout" }),
        reading({ service: "db", monitorId: 4 }),
        reading({ service: "redis", monitorId: 5, up: 0 }),
        reading({ service: "email", monitorId: 6, up: null, checkedAt: null }),
      ],
      now,
    );
    expect(result.map((s) => [s.service, s.status])).toEqual([
      ["api", "healthy"],
      ["db", "warning"],
      ["email", "unknown"],
      ["redis", "down"],
    ]);
    expect(result[0]).toMatchObject({ latencyMs: 300, message: "2/2 monitors up" });
    expect(result[1]?.message).toBe("db ping: timeout");
    expect(result[2]?.message).toBe("not checked yet");
  });

  it("treats readings older than three intervals as unknown", () => {
    const [stale] = deriveServiceHealth([reading({ checkedAt: now - 181_000 })], now);
    expect(stale).toMatchObject({ status: "unknown", message: "no recent check", lastCheckedAt: now - 181_000 });
    const [fresh] = deriveServiceHealth([reading({ checkedAt: now - 179_000 })], now);
    expect(fresh?.status).toBe("healthy");
  });

  it("gives fast monitors at least 15 s before their readings go stale", () => {
    const [late] = deriveServiceHealth([reading({ intervalSeconds: 1, checkedAt: now - 14_000 })], now);
    expect(late?.status).toBe("healthy");
    const [gone] = deriveServiceHealth([reading({ intervalSeconds: 1, checkedAt: now - 16_000 })], now);
    expect(gone?.status).toBe("unknown");
  });
});

describe("dashboard protocol", () => {
  it("parses known client messages and rejects everything else", () => {
    expect(parseClientMessage('{"type":"resync"}')).toEqual({ type: "resync" });
    expect(parseClientMessage('{"type":"subscribe","topics":["services","services","alerts"]}')).toEqual({
      type: "subscribe",
      topics: ["services", "alerts"],
    });
    for (const bad of ["ping", "{}", "null", '{"type":"subscribe","topics":["nope"]}', '{"type":"drop"}', "[1]"]) {
      expect(parseClientMessage(bad)).toBeNull();
    }
  });

  it("detects sequence gaps", () => {
    expect(hasGap(4, 5)).toBe(false);
    expect(hasGap(4, 6)).toBe(true);
    expect(hasGap(4, 4)).toBe(true);
  });
});

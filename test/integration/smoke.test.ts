import { describe, expect, it } from "vitest";
import { call, callJson, createAdmin } from "./helpers";

describe("smoke", () => {
  it("answers healthz and protects admin routes", async () => {
    const h = await callJson("GET", "/healthz");
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
    expect((await call("GET", "/api/admin/monitoring/rules")).status).toBe(401);
    const owner = await createAdmin("owner");
    const rules = await callJson("GET", "/api/admin/monitoring/rules", { token: owner.token });
    expect(rules.status).toBe(200);
    expect(rules.body).toEqual({ rules: [], next_cursor: null });
  });
});

/** The Worker's own answers carry the security headers (core/security-headers.ts), errors included. */
import { describe, expect, it } from "vitest";
import { call, createAdmin } from "./helpers";

/** A response's headers as a plain object (lower-case names). */
const headersOf = (res: Response) => {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => (out[name] = value));
  return out;
};

describe("security headers on the Worker's answers", () => {
  it("are on successes, refusals, errors and unknown paths alike", async () => {
    const admin = await createAdmin("viewer");
    const answers = {
      healthz: await call("GET", "/healthz"),
      me: await call("GET", "/api/admin/me", { token: admin.token }),
      anonymous: await call("GET", "/api/admin/me"),
      unknown: await call("GET", "/api/nothing-here"),
      socketRefused: await call("GET", "/ws", { headers: { upgrade: "websocket" } }),
      metrics: await call("GET", "/metrics"),
    };
    for (const [name, res] of Object.entries(answers)) {
      expect({ name, headers: headersOf(res) }).toMatchObject({
        name,
        headers: {
          "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
          "x-content-type-options": "nosniff",
          "referrer-policy": "same-origin",
          "x-frame-options": "DENY",
        },
      });
    }
    expect(answers.me.status).toBe(200);
    expect(answers.anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/); // the route's own headers stay
  });
});

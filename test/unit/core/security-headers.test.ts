import { describe, expect, it } from "vitest";
import { DASHBOARD_CSP, DASHBOARD_HEADERS, headersFile } from "../../../worker/core/security-headers";

/** The CSP as directive → sources. */
const directives = (csp: string) =>
  Object.fromEntries(
    csp.split(";").map((d) => {
      const [name = "", ...sources] = d.trim().split(/\s+/);
      return [name, sources];
    }),
  );

describe("the dashboard's security headers", () => {
  it("allow scripts and styles only from the dashboard's own files", () => {
    const csp = directives(DASHBOARD_CSP);
    expect(csp).toMatchObject({
      "default-src": ["'self'"],
      "script-src": ["'self'"],
      "style-src": ["'self'"],
      "connect-src": ["'self'"],
      "img-src": ["'self'", "data:"],
      "object-src": ["'none'"],
      "frame-ancestors": ["'none'"],
      "base-uri": ["'none'"],
      "form-action": ["'self'"],
    });
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-|\*|https?:|nonce-|sha\d+-/);
  });

  it("set the other headers; the clipboard stays allowed (the dashboard copies keys)", () => {
    expect(DASHBOARD_HEADERS).toMatchObject({
      "Referrer-Policy": "same-origin",
      "X-Content-Type-Options": "nosniff",
      "X-Frame-Options": "DENY",
      "Permissions-Policy": expect.stringContaining("camera=(), geolocation=()"),
    });
    expect(DASHBOARD_HEADERS["Permissions-Policy"]).not.toContain("clipboard");
  });

  it("write a _headers file applying them to every path", () => {
    const lines = headersFile().split("\n");
    expect(lines.filter((l) => !l.startsWith("#"))).toEqual([
      "/*",
      ...Object.entries(DASHBOARD_HEADERS).map(([name, value]) => `  ${name}: ${value}`),
      "",
    ]);
  });
});

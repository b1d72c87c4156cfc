import { describe, expect, it } from "vitest";
import { checkOrigin, normalizeOrigin, type OriginRequest, parseAllowedOrigins } from "../../../worker/core/origin";

const SELF = "https://monitor.example.com";
const PAGES = "https://monitor.pages.dev";

const request = (over: Partial<OriginRequest>): OriginRequest => ({
  method: "POST",
  selfOrigin: SELF,
  origin: null,
  secFetchSite: null,
  upgrade: false,
  credential: "ambient",
  ...over,
});

describe("checkOrigin", () => {
  // [case, request, allowed?]: true when the request goes on.
  const cases: [string, Partial<OriginRequest>, boolean][] = [
    ["cookie POST from the dashboard's own origin", { origin: SELF }, true],
    [
      "cookie PUT from the own origin spelled with its default port and in capitals",
      { method: "PUT", origin: "HTTPS://Monitor.Example.com:443" },
      true,
    ],
    ["cookie DELETE from a configured origin", { method: "DELETE", origin: PAGES }, true],
    ["cookie PATCH from a foreign origin", { method: "PATCH", origin: "https://evil.example" }, false],
    ["cookie POST from a foreign origin", { origin: "https://evil.example" }, false],
    ["cookie POST from a sibling subdomain", { origin: "https://evil.monitor.example.com" }, false],
    ["cookie POST from the own host over plain http", { origin: "http://monitor.example.com" }, false],
    ["cookie POST from the own host on another port", { origin: "https://monitor.example.com:8443" }, false],
    ["cookie POST from an opaque origin (Origin: null)", { origin: "null" }, false],
    ["cookie POST with a malformed Origin", { origin: "https://monitor.example.com/path" }, false],
    ["cookie POST without Origin, Sec-Fetch-Site same-origin", { secFetchSite: "same-origin" }, true],
    ["cookie POST without Origin, Sec-Fetch-Site same-site", { secFetchSite: "same-site" }, false],
    ["cookie POST without Origin, Sec-Fetch-Site cross-site", { secFetchSite: "cross-site" }, false],
    ["cookie POST without Origin or Sec-Fetch-Site", {}, false],
    [
      "a foreign Origin wins over Sec-Fetch-Site same-origin",
      { origin: "https://evil.example", secFetchSite: "same-origin" },
      false,
    ],
    [
      "cookie GET from a foreign origin (reads are not checked)",
      { method: "GET", origin: "https://evil.example" },
      true,
    ],
    ["cookie HEAD without Origin", { method: "HEAD" }, true],
    [
      "cookie socket upgrade from a foreign origin",
      { method: "GET", upgrade: true, origin: "https://evil.example" },
      false,
    ],
    ["cookie socket upgrade without Origin", { method: "GET", upgrade: true }, false],
    ["cookie socket upgrade from the own origin", { method: "GET", upgrade: true, origin: SELF }, true],
    ["cookie socket upgrade from a configured origin", { method: "GET", upgrade: true, origin: PAGES }, true],
    ["bearer POST from a foreign origin", { credential: "bearer", origin: "https://evil.example" }, true],
    ["bearer POST with Origin: null", { credential: "bearer", origin: "null" }, true],
    [
      "bearer socket upgrade from a foreign origin",
      { credential: "bearer", method: "GET", upgrade: true, origin: "https://evil.example" },
      true,
    ],
    ["no credential (login, or refused later as 401)", { credential: "none", origin: "https://evil.example" }, true],
    ["local development on 127.0.0.1", { selfOrigin: "http://127.0.0.1:8787", origin: "http://127.0.0.1:8787" }, true],
    [
      "localhost against 127.0.0.1: different origins",
      { selfOrigin: "http://127.0.0.1:8787", origin: "http://localhost:8787" },
      false,
    ],
  ];

  it.each(cases)("%s", (_name, over, allowed) => {
    const verdict = checkOrigin(request(over), [PAGES]);
    expect(verdict.ok).toBe(allowed);
  });

  it("names the reason of a refusal", () => {
    const foreign = checkOrigin(request({ origin: "https://evil.example" }), []);
    expect(foreign).toEqual({ ok: false, reason: expect.stringContaining("https://evil.example") });
    expect(checkOrigin(request({ origin: "null" }), [])).toEqual({
      ok: false,
      reason: expect.stringContaining("Origin: null"),
    });
    expect(checkOrigin(request({}), [])).toEqual({ ok: false, reason: expect.stringContaining("Origin header") });
    expect(checkOrigin(request({ upgrade: true, method: "GET", origin: "https://evil.example" }), [])).toEqual({
      ok: false,
      reason: expect.stringMatching(/^The dashboard socket/),
    });
  });
});

describe("normalizeOrigin", () => {
  const cases: [string, string | null][] = [
    ["https://monitor.example.com", "https://monitor.example.com"],
    ["https://monitor.example.com/", "https://monitor.example.com"],
    ["HTTPS://MONITOR.example.COM:443", "https://monitor.example.com"],
    ["http://monitor.example.com:80", "http://monitor.example.com"],
    ["http://monitor.example.com:443", "http://monitor.example.com:443"],
    ["https://monitor.example.com.", "https://monitor.example.com"],
    ["http://[::1]:8787", "http://[::1]:8787"],
    ["http://127.0.0.1:8787", "http://127.0.0.1:8787"],
    ["https://monitor.example.com/dashboard", null],
    ["https://user@monitor.example.com", null],
    ["ftp://monitor.example.com", null],
    ["monitor.example.com", null],
    ["null", null],
    ["*", null],
    ["", null],
  ];
  it.each(cases)("%s → %s", (input, expected) => {
    expect(normalizeOrigin(input)).toBe(expected);
  });
});

describe("parseAllowedOrigins", () => {
  it("reads a comma- or space-separated list, adds DASHBOARD_URL's origin and sets invalid entries aside", () => {
    expect(
      parseAllowedOrigins(
        " https://monitor.pages.dev, https://b.example:8443/  *  https://x.example/path",
        "https://Monitor.Example.com/alerts",
      ),
    ).toEqual({
      origins: ["https://monitor.pages.dev", "https://b.example:8443", "https://monitor.example.com"],
      invalid: ["*", "https://x.example/path"],
    });
  });

  it("is empty without settings", () => {
    expect(parseAllowedOrigins(undefined, undefined)).toEqual({ origins: [], invalid: [] });
    expect(parseAllowedOrigins("", "")).toEqual({ origins: [], invalid: [] });
  });
});

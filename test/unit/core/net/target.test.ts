import { describe, expect, it } from "vitest";
import { formatIpv6, parseIp, parseNetwork } from "../../../../worker/core/net/ip";
import { MAX_REDIRECTS, nextHop } from "../../../../worker/core/net/redirect";
import { checkTarget, targetPolicy } from "../../../../worker/core/net/target";

const closed = targetPolicy({});

/**
 * Every spelling of a refused target: the URL, what the reason must say, and the
 * ALLOW_PRIVATE_TARGETS entry that lets it through (the narrowest that should).
 */
const REFUSED: [url: string, reason: RegExp, allow: string][] = [
  // loopback, in every IPv4 spelling the URL parser accepts
  ["http://127.0.0.1/", /loopback address 127\.0\.0\.1/, "127.0.0.0/8"],
  ["http://127.0.0.1:8080/admin", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://2130706433/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://0177.0.0.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://0x7f.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://0x7f000001/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://127.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://127.0.0.1./", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://127.255.255.254/", /loopback address 127\.255\.255\.254/, "127.0.0.0/8"],
  ["http://evil.example@127.0.0.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://evil.example:pw@0x7f.1:80/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://\uff11\uff12\uff17.0.0.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["HTTP://127.0.0.1/", /loopback address 127\.0\.0\.1/, "127.0.0.1"],
  ["http://[::1]/", /loopback address ::1/, "::1"],
  ["http://[0:0:0:0:0:0:0:1]:9090/", /loopback address ::1/, "::1/128"],
  ["http://[::ffff:7f00:1]/", /loopback address 127\.0\.0\.1 \(IPv4-mapped IPv6 ::ffff:7f00:1\)/, "127.0.0.1"],
  ["http://[::ffff:127.0.0.1]/", /loopback address 127\.0\.0\.1 \(IPv4-mapped/, "127.0.0.0/8"],
  ["http://[::127.0.0.1]/", /loopback address 127\.0\.0\.1 \(IPv4-compatible/, "127.0.0.1"],
  ["http://[64:ff9b::7f00:1]/", /loopback address 127\.0\.0\.1 \(NAT64/, "127.0.0.1"],
  ["http://[2002:7f00:1::1]/", /loopback address 127\.0\.0\.1 \(6to4/, "127.0.0.1"],
  // localhost names
  ["http://localhost/", /localhost resolves to a loopback address/, "localhost"],
  ["http://LOCALHOST./", /localhost resolves to a loopback address/, "localhost"],
  ["http://localhost%2e:8787/", /localhost resolves to a loopback address/, "127.0.0.1"],
  ["http://admin.localhost/", /admin\.localhost resolves to a loopback address/, "*.localhost"],
  // unspecified and "this network"
  ["http://0.0.0.0/", /unspecified address 0\.0\.0\.0/, "0.0.0.0"],
  ["http://0/", /unspecified address 0\.0\.0\.0/, "0.0.0.0/8"],
  ["http://0.1.2.3/", /"this network" address 0\.1\.2\.3/, "0.0.0.0/8"],
  ["http://[::]/", /unspecified address ::/, "::"],
  // private
  ["http://10.0.0.5:9090/metrics", /private address 10\.0\.0\.5/, "10.0.0.0/8"],
  ["http://167772165/", /private address 10\.0\.0\.5/, "10.0.0.5"],
  ["http://172.16.0.1/", /private address 172\.16\.0\.1/, "172.16.0.0/12"],
  ["http://172.31.255.255/", /private address 172\.31\.255\.255/, "172.16.0.0/12"],
  ["http://192.168.1.10/", /private address 192\.168\.1\.10/, "192.168.1.0/24"],
  ["http://0xc0.0xa8.1.10/", /private address 192\.168\.1\.10/, "192.168.0.0/16"],
  ["http://[::ffff:10.1.2.3]/", /private address 10\.1\.2\.3 \(IPv4-mapped/, "10.0.0.0/8"],
  // link-local and carrier-grade NAT
  ["http://169.254.1.1/", /link-local address 169\.254\.1\.1/, "169.254.0.0/16"],
  ["http://[fe80::1]/", /link-local address fe80::1/, "fe80::/10"],
  ["http://[febf::1]/", /link-local address febf::1/, "fe80::/10"],
  ["http://100.64.0.1/", /carrier-grade NAT address 100\.64\.0\.1/, "100.64.0.0/10"],
  ["http://100.127.255.255/", /carrier-grade NAT address/, "100.64.0.0/10"],
  // multicast, broadcast, reserved
  ["http://224.0.0.1/", /multicast address 224\.0\.0\.1/, "224.0.0.0/4"],
  ["http://239.255.255.250/", /multicast address/, "224.0.0.0/4"],
  ["http://[ff02::1]/", /multicast address ff02::1/, "ff00::/8"],
  ["http://255.255.255.255/", /broadcast address/, "255.255.255.255"],
  ["http://240.0.0.1/", /reserved address 240\.0\.0\.1/, "240.0.0.0/4"],
  // unique-local IPv6
  ["http://[fc00::1]/", /unique-local address fc00::1/, "fc00::/7"],
  ["http://[FD12:3456::1]/", /unique-local address fd12:3456::1/, "fd00::/8"],
  // cloud metadata: allowed only when named exactly
  ["http://169.254.169.254/latest/meta-data/", /cloud metadata address 169\.254\.169\.254/, "169.254.169.254"],
  ["http://2852039166/", /cloud metadata address 169\.254\.169\.254/, "169.254.169.254"],
  [
    "http://[::ffff:169.254.169.254]/",
    /metadata address 169\.254\.169\.254 \(IPv4-mapped IPv6 ::ffff:a9fe:a9fe\)/,
    "169.254.169.254",
  ],
  ["http://[::ffff:a9fe:a9fe]/", /metadata address 169\.254\.169\.254/, "169.254.169.254/32"],
  ["http://100.100.100.200/", /cloud metadata address 100\.100\.100\.200/, "100.100.100.200"],
  ["http://[fd00:ec2::254]/", /cloud metadata address fd00:ec2::254/, "fd00:ec2::254"],
  [
    "http://metadata.google.internal/computeMetadata/v1/",
    /metadata\.google\.internal is a cloud metadata host/,
    "metadata.google.internal",
  ],
  [
    "http://METADATA.GOOGLE.INTERNAL./",
    /metadata\.google\.internal is a cloud metadata host/,
    "metadata.google.internal",
  ],
  ["http://metadata/", /metadata is a cloud metadata host/, "metadata"],
  ["http://instance-data/", /instance-data is a cloud metadata host/, "instance-data"],
  // private-use names
  ["http://grafana.internal/", /grafana\.internal is a private-use name \(\.internal\)/, "grafana.internal"],
  ["http://printer.local/", /private-use name \(\.local\)/, "*.local"],
  ["http://nas.home.arpa/", /private-use name \(\.home\.arpa\)/, "*.home.arpa"],
];

const PUBLIC = [
  "https://example.com",
  "https://example.com./health",
  "https://1.1.1.1",
  "http://8.8.8.8:8080/metrics",
  "https://[2606:4700::1111]",
  "https://[::ffff:1.1.1.1]/",
  "http://172.32.0.1/",
  "http://100.128.0.1/",
  "http://192.169.0.1/",
  "https://shop.example.com:8443/healthz?x=1#frag",
  "https://localhost.example.com/",
  "https://internal.example.com/",
];

describe("checkTarget", () => {
  it.each(REFUSED)("refuses %s", (url, reason) => {
    expect(checkTarget(url, closed)).toEqual({
      ok: false,
      reason: expect.stringMatching(
        new RegExp(`${reason.source}.*, not allowed unless listed in ALLOW_PRIVATE_TARGETS$`),
      ),
    });
  });

  it.each(REFUSED)("allows %s once ALLOW_PRIVATE_TARGETS lists %#", (url, _reason, allow) => {
    expect(checkTarget(url, targetPolicy({ allow }))).toMatchObject({ ok: true });
    // ...and only then: an entry for something else leaves it refused.
    expect(checkTarget(url, targetPolicy({ allow: "198.51.100.0/24, other.example" })).ok).toBe(false);
  });

  it.each(PUBLIC)("allows the public %s", (url) => {
    expect(checkTarget(url, closed)).toEqual({ ok: true, url: new URL(url).href });
  });

  it("refuses other schemes and what is not a URL", () => {
    for (const [url, reason] of [
      ["ftp://files.example.com/x", "uses ftp: only http and https are fetched"],
      ["file:///etc/passwd", "uses file: only http and https are fetched"],
      ["gopher://127.0.0.1:6379/_INFO", "uses gopher: only http and https are fetched"],
      ["javascript:alert(1)", "uses javascript: only http and https are fetched"],
      ["not a url", "is not a valid URL"],
      ["http://", "is not a valid URL"],
    ]) {
      expect(checkTarget(url!, closed), url).toEqual({ ok: false, reason });
    }
  });

  it("never lets a wider network open a metadata address", () => {
    const wide = targetPolicy({ allow: "169.254.0.0/16, fd00::/8, 100.64.0.0/10, 0.0.0.0/0, ::/0" });
    expect(checkTarget("http://169.254.1.1/", wide).ok).toBe(true);
    for (const url of [
      "http://169.254.169.254/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[fd00:ec2::254]/",
      "http://100.100.100.200/",
    ]) {
      expect(checkTarget(url, wide), url).toMatchObject({ ok: false, reason: expect.stringMatching(/metadata/) });
    }
  });

  it("lets localhost through when its addresses are listed, and *.name match subdomains only", () => {
    expect(checkTarget("http://localhost:3000/", targetPolicy({ allow: "127.0.0.0/8" })).ok).toBe(true);
    const corp = targetPolicy({ allow: "*.corp.internal" });
    expect(checkTarget("http://grafana.corp.internal/", corp).ok).toBe(true);
    expect(checkTarget("http://corp.internal/", corp).ok).toBe(false);
  });

  it("reads the setting comma- or space-separated and reports entries it cannot read", () => {
    const policy = targetPolicy({
      allow: " 10.0.0.0/8,192.168.1.0/24  localhost, 10.0.0.1/8, 300.1.1.1, fe80::/129, a b,,http://x/",
    });
    expect(policy.invalid).toEqual(["10.0.0.1/8", "300.1.1.1", "fe80::/129", "http://x/"]);
    expect(checkTarget("http://10.9.9.9/", policy).ok).toBe(true);
    expect(checkTarget("http://192.168.1.7/", policy).ok).toBe(true);
    expect(checkTarget("http://192.168.2.7/", policy).ok).toBe(false);
    expect(checkTarget("http://localhost/", policy).ok).toBe(true);
  });
});

describe("the product's own origin", () => {
  const prod = targetPolicy({ ownOrigins: ["https://monitor.example.com", undefined, ""] });

  it("is refused, on any port and spelling of its host", () => {
    for (const url of [
      "https://monitor.example.com/api/admin/monitoring/users",
      "https://MONITOR.example.com./api/admin/monitoring/users",
      "http://monitor.example.com:8443/healthz",
      "https://user@monitor.example.com/",
    ]) {
      expect(checkTarget(url, prod), url).toMatchObject({
        ok: false,
        reason: expect.stringMatching(/^is the product's own origin \(monitor\.example\.com:\d+\)$/),
      });
    }
    expect(checkTarget("https://status.example.com/", prod).ok).toBe(true);
  });

  it("is refused even when its loopback address is allowed, outside demo mode", () => {
    const local = targetPolicy({ ownOrigins: ["http://127.0.0.1:8787"], allow: "127.0.0.0/8, localhost" });
    expect(checkTarget("http://localhost:8787/demo/ecpay/health", local)).toMatchObject({ ok: false });
    expect(checkTarget("http://127.0.0.1:8787/api/admin/monitoring/users", local)).toMatchObject({ ok: false });
    expect(checkTarget("http://127.0.0.1:3000/health", local).ok).toBe(true);
  });

  it("answers its /demo/* targets in demo mode, at any loopback spelling of its address", () => {
    const demo = targetPolicy({
      ownOrigins: ["http://localhost:8787", "http://127.0.0.1:8787", "https://monitor.example.com"],
      demoMode: true,
    });
    for (const url of [
      "http://localhost:8787/demo/ecpay/health",
      "http://127.0.0.1:8787/demo/metrics",
      "http://[::1]:8787/demo/api/health",
      "http://2130706433:8787/demo/redis/health?incident=redis",
      "https://monitor.example.com/demo/metrics",
    ]) {
      expect(checkTarget(url, demo), url).toMatchObject({ ok: true });
    }
    for (const [url, reason] of [
      ["http://localhost:8787/api/admin/monitoring/users", /localhost resolves to a loopback address/],
      ["http://localhost:8787/demo/../api/admin/monitoring/users", /resolves to a loopback address/],
      ["http://localhost:8787/demo/%2e%2e/api/admin/monitoring/users", /resolves to a loopback address/],
      ["http://127.0.0.1:8787/demonstration", /loopback address 127\.0\.0\.1/],
      ["http://127.0.0.1:9000/demo/metrics", /loopback address 127\.0\.0\.1/],
      [
        "https://monitor.example.com/api/admin/monitoring/users",
        /^is the product's own origin \(monitor\.example\.com:443\)$/,
      ],
      ["https://monitor.example.com/demo/../api/admin/monitoring/users", /own origin/],
    ] as const) {
      expect(checkTarget(url, demo), url).toMatchObject({ ok: false, reason: expect.stringMatching(reason) });
    }
  });
});

describe("nextHop", () => {
  const hop = {
    url: "https://a.example/start",
    method: "POST",
    headers: { authorization: "Bearer x", Cookie: "s=1", "content-type": "text/plain", "x-probe": "1" },
    body: "ping",
  };

  it("is null for answers that are not redirects to follow", () => {
    expect(nextHop(hop, 200, "https://b.example/")).toBeNull();
    expect(nextHop(hop, 304, "https://b.example/")).toBeNull();
    expect(nextHop(hop, 302, null)).toBeNull();
  });

  it("resolves the Location against the hop and changes the method as fetch() does", () => {
    expect(nextHop(hop, 307, "/next")).toEqual({ ok: true, hop: { ...hop, url: "https://a.example/next" } });
    expect(nextHop(hop, 302, "next?x=1")).toEqual({
      ok: true,
      hop: {
        url: "https://a.example/next?x=1",
        method: "GET",
        headers: { authorization: "Bearer x", Cookie: "s=1", "x-probe": "1" },
        body: null,
      },
    });
    expect(nextHop({ ...hop, method: "PUT" }, 303, "/seen")).toMatchObject({
      ok: true,
      hop: { method: "GET", body: null },
    });
    expect(nextHop({ ...hop, method: "HEAD", body: null }, 303, "/seen")).toMatchObject({
      ok: true,
      hop: { method: "HEAD" },
    });
  });

  it("drops credentials on a hop to another origin", () => {
    expect(nextHop(hop, 308, "http://a.example/start")).toEqual({
      ok: true,
      hop: { ...hop, url: "http://a.example/start", headers: { "content-type": "text/plain", "x-probe": "1" } },
    });
  });

  it("names a Location that is no URL", () => {
    expect(nextHop(hop, 301, "http://[bad")).toEqual({ ok: false, reason: "redirect 301 to an invalid URL" });
    expect(MAX_REDIRECTS).toBe(5);
  });
});

describe("ip", () => {
  it("parses and formats addresses and networks", () => {
    expect(parseIp("::ffff:1.2.3.4")).toEqual({ v: 6, n: 0xffff01020304n });
    expect(parseIp("[fe80::1]")).toEqual({ v: 6, n: (0xfe80n << 112n) | 1n });
    expect(parseIp("1::2::3")).toBeNull();
    expect(parseIp("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIp("01.2.3.4.5")).toBeNull();
    expect(formatIpv6(0x20010db8000000000001000000000001n)).toBe("2001:db8::1:0:0:1");
    expect(parseNetwork("10.0.0.0/8")).toEqual({ v: 4, base: 0x0a000000n, bits: 8 });
    expect(parseNetwork("10.0.0.1/8")).toBeNull();
    expect(parseNetwork("::/0")).toEqual({ v: 6, base: 0n, bits: 0 });
  });
});

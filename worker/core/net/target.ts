/**
 * Safe targets: whether a URL may be fetched on a user's behalf (a monitor's probe or
 * scrape, each hop of its redirects). Without this an admin could make the product read
 * its own API, a cloud metadata service or a private network and see the answer through a
 * monitor's keyword and JSON checks.
 *
 * The URL goes through the WHATWG URL parser first, which turns every IPv4 spelling
 * (2130706433, 0177.0.0.1, 0x7f.1, 127.1, a trailing dot, full-width digits) into a dotted
 * quad and IPv6 into its compressed form; the host it leaves is what gets checked. Refused:
 * schemes other than http(s); loopback, private, link-local, carrier-grade NAT, multicast,
 * unspecified, reserved and unique-local addresses, also inside IPv4-mapped, IPv4-compatible,
 * NAT64 and 6to4 IPv6; cloud metadata addresses and names; localhost and the private-use
 * names (.localhost, .internal, .local, .home.arpa); and the product's own origin, except
 * its /demo/* targets in demo mode. An operator who monitors private targets lists them in
 * ALLOW_PRIVATE_TARGETS (networks and host names).
 *
 * A public name whose DNS answer is private cannot be caught here: Workers offer no DNS
 * lookup before fetch(). The literals and the known names are what this refuses.
 */
import { formatIp, type Ip, inNetwork, type Network, parseIp, parseNetwork } from "./ip";

/** The parts of a WHATWG URL this module reads. */
interface ParsedUrl {
  href: string;
  protocol: string;
  hostname: string;
  port: string;
  pathname: string;
}

// core/ is compiled without DOM or Workers types; workerd and Node both provide the WHATWG parser.
declare const URL: new (input: string, base?: string) => ParsedUrl;

/** The setting an operator lists private targets in. */
export const ALLOW_SETTING = "ALLOW_PRIVATE_TARGETS";

/** An ALLOW_PRIVATE_TARGETS entry: a network (or one address), a host name, or `*.suffix`. */
export type AllowEntry = { kind: "net"; net: Network } | { kind: "host"; name: string; subdomains: boolean };

interface OwnOrigin {
  hostname: string;
  port: number;
  loopback: boolean;
}

export interface TargetPolicy {
  allow: readonly AllowEntry[];
  own: readonly OwnOrigin[];
  demoMode: boolean;
}

export type TargetCheck = { ok: true; url: string } | { ok: false; reason: string };

/** Why a host is dangerous: what it is, as a phrase, and the addresses it stands for. */
interface Danger {
  /** "resolves to a loopback address 127.0.0.1", "is a cloud metadata host", … */
  phrase: string;
  ips: Ip[];
  /** Metadata targets are allowed only by naming them exactly, never by a wider network. */
  metadata: boolean;
}

const net = (cidr: string): Network => {
  const parsed = parseNetwork(cidr);
  if (!parsed) throw new Error(`bad built-in network ${cidr}`);
  return parsed;
};

/** First match wins: the specific entries (metadata, unspecified) come before their ranges. */
const V4_RANGES: readonly [Network, string, boolean?][] = [
  [net("169.254.169.254"), "the cloud metadata address", true],
  [net("100.100.100.200"), "the cloud metadata address", true],
  [net("0.0.0.0"), "the unspecified address"],
  [net("0.0.0.0/8"), 'a "this network" address'],
  [net("127.0.0.0/8"), "a loopback address"],
  [net("10.0.0.0/8"), "a private address"],
  [net("172.16.0.0/12"), "a private address"],
  [net("192.168.0.0/16"), "a private address"],
  [net("100.64.0.0/10"), "a carrier-grade NAT address"],
  [net("169.254.0.0/16"), "a link-local address"],
  [net("192.0.0.0/24"), "a reserved (IETF protocol) address"],
  [net("198.18.0.0/15"), "a reserved (benchmarking) address"],
  [net("224.0.0.0/4"), "a multicast address"],
  [net("255.255.255.255"), "the broadcast address"],
  [net("240.0.0.0/4"), "a reserved address"],
];

const V6_RANGES: readonly [Network, string, boolean?][] = [
  [net("fd00:ec2::254"), "the cloud metadata address", true],
  [net("::"), "the unspecified address"],
  [net("::1"), "a loopback address"],
  [net("fe80::/10"), "a link-local address"],
  [net("fec0::/10"), "a site-local address"],
  [net("fc00::/7"), "a unique-local address"],
  [net("ff00::/8"), "a multicast address"],
  [net("100::/64"), "a discard-only address"],
  [net("64:ff9b:1::/48"), "a local-use NAT64 address"],
  [net("2001::/32"), "a Teredo tunnel address"],
];

/** IPv6 ranges that carry an IPv4 address, where it sits (bit shift), and how to name the form. */
const V4_IN_V6: readonly [Network, number, string][] = [
  [net("::ffff:0:0/96"), 0, "IPv4-mapped"],
  [net("::/96"), 0, "IPv4-compatible"],
  [net("64:ff9b::/96"), 0, "NAT64"],
  [net("2002::/16"), 80, "6to4"],
];

const LOOPBACK_IPS: Ip[] = [
  { v: 4, n: 0x7f000001 },
  { v: 6, n: 1n },
];

const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
]);

/** Names that never resolve to a public address (RFC 6761, ICANN's .internal, mDNS, RFC 8375). */
const PRIVATE_SUFFIXES = ["internal", "local", "home.arpa"];

function classifyV4(n: number): [string, boolean] | null {
  const ip: Ip = { v: 4, n };
  for (const [range, what, metadata] of V4_RANGES) if (inNetwork(ip, range)) return [what, metadata === true];
  return null;
}

/** What an address literal is, when refused; null for a public address. */
function classifyIp(ip: Ip): Danger | null {
  const addr = formatIp(ip);
  if (ip.v === 4) {
    const hit = classifyV4(ip.n);
    return hit ? { phrase: `resolves to ${hit[0]} ${addr}`, ips: [ip], metadata: hit[1] } : null;
  }
  for (const [range, what, metadata] of V6_RANGES) {
    if (inNetwork(ip, range)) return { phrase: `resolves to ${what} ${addr}`, ips: [ip], metadata: metadata === true };
  }
  for (const [range, shift, form] of V4_IN_V6) {
    if (!inNetwork(ip, range)) continue;
    const v4: Ip = { v: 4, n: Number((ip.n >> BigInt(shift)) & 0xffffffffn) };
    const hit = classifyV4(v4.n);
    if (!hit) return null;
    return {
      phrase: `resolves to ${hit[0]} ${formatIp(v4)} (${form} IPv6 ${addr})`,
      ips: [v4, ip],
      metadata: hit[1],
    };
  }
  return null;
}

/** What a host name is, when refused; null for any other name (its DNS answer is not known here). */
function classifyName(name: string): Danger | null {
  if (name === "localhost" || name.endsWith(".localhost")) {
    return { phrase: `${name} resolves to a loopback address`, ips: LOOPBACK_IPS, metadata: false };
  }
  if (METADATA_NAMES.has(name)) return { phrase: `${name} is a cloud metadata host`, ips: [], metadata: true };
  const suffix = PRIVATE_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  if (suffix) return { phrase: `${name} is a private-use name (.${suffix})`, ips: [], metadata: false };
  return null;
}

/** A URL host as parsed (lower case already): the literal or the name, trailing dots gone. */
function classifyHost(hostname: string): Danger | null {
  const ip = parseIp(hostname);
  if (ip) return classifyIp(ip);
  return classifyName(hostname.replace(/\.+$/, ""));
}

const nameMatches = (entry: AllowEntry, name: string) =>
  entry.kind === "host" && (entry.subdomains ? name.endsWith(`.${entry.name}`) : name === entry.name);

/** Whether the operator's list allows a refused host: by its name, or by a network holding its address. */
function allowed(policy: TargetPolicy, host: string, danger: Danger): boolean {
  const name = host.replace(/^\[(.*)\]$/, "$1").replace(/\.+$/, "");
  return policy.allow.some((entry) => {
    if (entry.kind === "host") return nameMatches(entry, name);
    const exact = entry.net.bits === (entry.net.v === 4 ? 32 : 128);
    return (!danger.metadata || exact) && danger.ips.some((ip) => inNetwork(ip, entry.net));
  });
}

const effectivePort = (url: ParsedUrl) => (url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80);

const isLoopbackHost = (hostname: string) => {
  const danger = classifyHost(hostname);
  return danger !== null && /loopback/.test(danger.phrase);
};

/**
 * Whether `url` is the product itself: the same host name, or, when both are loopback
 * (localhost:8787 and 127.0.0.1:8787 are one server), the same port.
 */
function isOwn(url: ParsedUrl, own: OwnOrigin): boolean {
  if (own.loopback && isLoopbackHost(url.hostname)) return effectivePort(url) === own.port;
  return url.hostname.replace(/\.+$/, "") === own.hostname;
}

function parse(text: string): ParsedUrl | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/**
 * The policy of a deployment. `allow`: the ALLOW_PRIVATE_TARGETS text (comma- or
 * space-separated networks, addresses, host names and `*.suffix` names); `ownOrigins`:
 * where the product answers (the request's origin, DASHBOARD_URL, DEMO_BASE_URL);
 * `demoMode`: whether its /demo/* targets are allowed. Unreadable entries are returned
 * in `invalid` and otherwise ignored.
 */
export function targetPolicy(opts: {
  allow?: string | null;
  ownOrigins?: readonly (string | null | undefined)[];
  demoMode?: boolean;
}): TargetPolicy & { invalid: string[] } {
  const allow: AllowEntry[] = [];
  const invalid: string[] = [];
  for (const item of (opts.allow ?? "").split(/[\s,]+/).filter(Boolean)) {
    const network = parseNetwork(item);
    const name = item.toLowerCase().replace(/\.+$/, "");
    if (network) allow.push({ kind: "net", net: network });
    // A name whose last label is a number would be an (unreadable) address, as URLs read hosts.
    else if (/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name) && !/(^|\.)\d+$/.test(name)) {
      allow.push({ kind: "host", name: name.replace(/^\*\./, ""), subdomains: name.startsWith("*.") });
    } else invalid.push(item);
  }
  const own: OwnOrigin[] = [];
  for (const origin of opts.ownOrigins ?? []) {
    const url = origin ? parse(origin) : null;
    if (!url || !/^https?:$/.test(url.protocol)) continue;
    const hostname = url.hostname.replace(/\.+$/, "");
    own.push({ hostname, port: effectivePort(url), loopback: isLoopbackHost(hostname) });
  }
  return { allow, own, demoMode: opts.demoMode === true, invalid };
}

/**
 * Whether the product may fetch `target`: `{ok, url}` (the parsed URL's href) or
 * `{ok: false, reason}` naming what was refused.
 *
 * @example checkTarget("http://2130706433/", policy) // { ok: false, reason: "resolves to a loopback address 127.0.0.1 (…)" }
 */
export function checkTarget(target: string, policy: TargetPolicy): TargetCheck {
  const url = parse(target);
  if (!url) return { ok: false, reason: "is not a valid URL" };
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: `uses ${url.protocol.replace(/:$/, "")}: only http and https are fetched` };
  }
  // The demo's own targets first: on a local run they are loopback addresses too.
  const own = policy.own.find((o) => isOwn(url, o));
  const demoTarget = url.pathname === "/demo" || url.pathname.startsWith("/demo/");
  if (own && policy.demoMode && demoTarget) return { ok: true, url: url.href };
  const danger = classifyHost(url.hostname);
  if (danger && !allowed(policy, url.hostname, danger)) {
    return { ok: false, reason: `${danger.phrase}, not allowed unless listed in ${ALLOW_SETTING}` };
  }
  if (own) return { ok: false, reason: `is the product's own origin (${own.hostname}:${own.port})` };
  return { ok: true, url: url.href };
}

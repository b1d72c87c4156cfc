/**
 * IP address literals and networks, as numbers: IPv4 as a 32-bit integer, IPv6 as a
 * 128-bit bigint. Only canonical-ish text is parsed here (what the WHATWG URL parser
 * leaves in a host, and what an operator writes in a setting); the odd IPv4 spellings
 * (2130706433, 0x7f.1, 0177.0.0.1, 127.1) are the URL parser's job.
 */

export type Ip = { v: 4; n: number } | { v: 6; n: bigint };

export interface Network {
  v: 4 | 6;
  /** The network's first address. */
  base: bigint;
  bits: number;
}

/** Dotted-quad IPv4 (each part 0-255, decimal): 32-bit number, or null. */
export function parseIpv4(text: string): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const byte = Number(part);
    if (byte > 255) return null;
    n = n * 256 + byte;
  }
  return n;
}

/** The 16-bit groups of one side of `::` (a trailing dotted IPv4 as two), or null. */
const hexGroups = (half: string): number[] | null => {
  if (half === "") return [];
  const out: number[] = [];
  const parts = half.split(":");
  for (const [i, part] of parts.entries()) {
    if (part.includes(".") && i === parts.length - 1) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      out.push(Math.floor(v4 / 65536), v4 % 65536);
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
      out.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return out;
};

/** IPv6 text (`::` shorthand and a trailing dotted IPv4 allowed, no zone, no brackets): 128-bit bigint, or null. */
export function parseIpv6(text: string): bigint | null {
  if (!/^[0-9a-f:.]+$/i.test(text)) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = hexGroups(halves[0] ?? "");
  const tail = halves.length === 2 ? hexGroups(halves[1] ?? "") : [];
  if (!head || !tail) return null;
  // A trailing IPv4 may only end the address.
  if (halves.length === 2 && (halves[0] ?? "").includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let n = 0n;
  for (const g of [...head, ...Array<number>(missing).fill(0), ...tail]) n = (n << 16n) | BigInt(g);
  return n;
}

/** An address literal of either family; IPv6 may come in brackets, as a URL host has it. */
export function parseIp(text: string): Ip | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { v: 4, n: v4 };
  const v6 = parseIpv6(text.replace(/^\[(.*)\]$/, "$1"));
  return v6 === null ? null : { v: 6, n: v6 };
}

/** `10.0.0.0/8`, `fc00::/7`, or a bare address (a network of one). Host bits must be zero. */
export function parseNetwork(text: string): Network | null {
  const [addr = "", bitsText, extra] = text.trim().split("/");
  if (extra !== undefined) return null;
  const ip = parseIp(addr);
  if (!ip) return null;
  const max = ip.v === 4 ? 32 : 128;
  const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= max)) return null;
  const base = BigInt(ip.n);
  if (base & hostMask(max, bits)) return null;
  return { v: ip.v, base, bits };
}

const hostMask = (max: number, bits: number) => (1n << BigInt(max - bits)) - 1n;

/** Whether `ip` lies in `net` (same family only). */
export function inNetwork(ip: Ip, net: Network): boolean {
  if (ip.v !== net.v) return false;
  const max = ip.v === 4 ? 32 : 128;
  return (BigInt(ip.n) & ~hostMask(max, net.bits)) === net.base;
}

/** Dotted-quad text of a 32-bit number. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** Compressed IPv6 text (longest zero run as `::`), lower case. */
export function formatIpv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(":");
  return `${hex.slice(0, best.at).join(":")}::${hex.slice(best.at + best.len).join(":")}`;
}

export const formatIp = (ip: Ip) => (ip.v === 4 ? formatIpv4(ip.n) : formatIpv6(ip.n));

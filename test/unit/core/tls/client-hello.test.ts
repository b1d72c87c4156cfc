import { describe, expect, it } from "vitest";
import { buildClientHello, handshakeRecord } from "../../../../worker/core/tls/client-hello";

const random = new Uint8Array(32).fill(0xaa);
const sessionId = new Uint8Array(32).fill(0xbb);
const x25519PublicKey = new Uint8Array(32).fill(0xcc);

/** An independent walk over a ClientHello with Buffer reads: fields and extensions by type. */
function dissect(message: Uint8Array) {
  const b = Buffer.from(message);
  let at = 0;
  const take = (n: number) => {
    if (at + n > b.length) throw new Error("short ClientHello");
    const out = b.subarray(at, at + n);
    at += n;
    return out;
  };
  const num = (n: number) => take(n).readUIntBE(0, n);
  const type = num(1);
  const length = num(3);
  const version = num(2);
  const rand = take(32);
  const session = take(num(1));
  const suiteBytes = take(num(2));
  const suites = Array.from({ length: suiteBytes.length / 2 }, (_, i) => suiteBytes.readUInt16BE(i * 2));
  const compression = [...take(num(1))];
  const extBytes = take(num(2));
  const extensions = new Map<number, Buffer>();
  for (let e = 0; e < extBytes.length;) {
    const extType = extBytes.readUInt16BE(e);
    const len = extBytes.readUInt16BE(e + 2);
    extensions.set(extType, extBytes.subarray(e + 4, e + 4 + len));
    e += 4 + len;
  }
  return {
    type,
    length,
    rest: b.length - 4,
    end: at,
    total: b.length,
    version,
    rand,
    session,
    suites,
    compression,
    extensions,
  };
}

const u16list = (buf: Buffer | undefined, skip: number) => {
  if (!buf) return [];
  return Array.from({ length: (buf.length - skip) / 2 }, (_, i) => buf.readUInt16BE(skip + i * 2));
};

describe("buildClientHello", () => {
  const hello = dissect(buildClientHello({ random, sessionId, x25519PublicKey, serverName: "shop.example." }));

  it("is a complete ClientHello message with our random and session id", () => {
    expect(hello).toMatchObject({ type: 1, version: 0x0303, compression: [0] });
    expect(hello.length).toBe(hello.rest);
    expect(hello.end).toBe(hello.total);
    expect(hello.rand.equals(Buffer.from(random))).toBe(true);
    expect(hello.session.equals(Buffer.from(sessionId))).toBe(true);
  });

  it("offers only the AES-GCM TLS 1.3 suites, then TLS 1.2 ECDHE suites", () => {
    expect(hello.suites.slice(0, 2)).toEqual([0x1301, 0x1302]);
    expect(hello.suites).not.toContain(0x1303);
    expect(hello.suites).toEqual(expect.arrayContaining([0xc02b, 0xc02f, 0xc02c, 0xc030]));
  });

  it("sends SNI without the trailing dot", () => {
    const sni = hello.extensions.get(0x0000);
    expect(sni?.readUInt16BE(0)).toBe(sni ? sni.length - 2 : -1);
    expect(sni?.[2]).toBe(0);
    expect(sni?.subarray(5).toString("latin1")).toBe("shop.example");
    expect(sni?.readUInt16BE(3)).toBe("shop.example".length);
  });

  it("offers TLS 1.3 and 1.2, x25519 and P-256, common signature schemes", () => {
    const versions = hello.extensions.get(0x002b);
    expect(versions?.[0]).toBe(4);
    expect(u16list(versions, 1)).toEqual([0x0304, 0x0303]);
    expect(u16list(hello.extensions.get(0x000a), 2)).toEqual([0x001d, 0x0017]);
    const schemes = u16list(hello.extensions.get(0x000d), 2);
    expect(schemes).toEqual(expect.arrayContaining([0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601]));
  });

  it("carries one x25519 key share with our public key", () => {
    const share = hello.extensions.get(0x0033);
    expect(share?.readUInt16BE(0)).toBe(2 + 2 + 32);
    expect(share?.readUInt16BE(2)).toBe(0x001d);
    expect(share?.readUInt16BE(4)).toBe(32);
    expect(share?.subarray(6).equals(Buffer.from(x25519PublicKey))).toBe(true);
  });

  it("leaves SNI out for an IP literal", () => {
    const ip = dissect(buildClientHello({ random, sessionId, x25519PublicKey, serverName: null }));
    expect(ip.extensions.has(0x0000)).toBe(false);
    expect(ip.extensions.has(0x0033)).toBe(true);
  });

  it("refuses inputs of the wrong size", () => {
    expect(() =>
      buildClientHello({ random: new Uint8Array(31), sessionId, x25519PublicKey, serverName: null }),
    ).toThrow(RangeError);
  });

  it("frames the message in a handshake record", () => {
    const message = buildClientHello({ random, sessionId, x25519PublicKey, serverName: "a.example" });
    const rec = Buffer.from(handshakeRecord(message));
    expect([rec[0], rec.readUInt16BE(1), rec.readUInt16BE(3)]).toEqual([22, 0x0301, message.length]);
    expect(rec.subarray(5).equals(Buffer.from(message))).toBe(true);
  });
});

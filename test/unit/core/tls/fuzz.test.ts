import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../../../worker/core/random";
import { LeafCertificateReader } from "../../../../worker/core/tls/handshake";
import { describeAlert, leafCertificate, parseServerHello } from "../../../../worker/core/tls/messages";
import { HandshakeReader, RecordReader } from "../../../../worker/core/tls/records";
import { parseCertificate, parseTime } from "../../../../worker/core/tls/x509";
import { knownShare, nodeCrypto } from "./node-crypto";
import { hex, RFC8448 } from "./rfc8448";

const RUNS = 2000;

function randomBytes(next: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(next() * 256));
}

/** Random bytes, sometimes behind a plausible DER or TLS prefix so the parsers get past their first check. */
function garbage(next: () => number): Uint8Array {
  const body = randomBytes(next, Math.floor(next() * 600));
  const n = body.length;
  switch (Math.floor(next() * 4)) {
    case 0:
      return new Uint8Array([0x30, 0x82, n >> 8, n & 0xff, ...body]);
    case 1:
      return new Uint8Array([0x30, 0x82, (n + 4) >> 8, (n + 4) & 0xff, 0x30, 0x82, n >> 8, n & 0xff, ...body]);
    case 2:
      return new Uint8Array([22, 3, 3, n >> 8, n & 0xff, ...body]);
    default:
      return body;
  }
}

const rfcCertificate = hex(RFC8448.certificateMessage).subarray(11, 11 + 0x1b0);

describe("TLS parsers on random bytes", () => {
  it("never throw and never yield a certificate date", () => {
    const next = mulberry32(8448);
    for (let i = 0; i < RUNS; i++) {
      const input = garbage(next);
      expect(parseCertificate(input).ok).toBe(false);
      expect(parseTime(0x17, input)).toBeNull();
      expect(() => parseServerHello(input)).not.toThrow();
      expect(() => leafCertificate(input, i % 2 === 0)).not.toThrow();
      expect(typeof describeAlert(input)).toBe("string");
      expect(() => new RecordReader().push(input)).not.toThrow();
      expect(() => new HandshakeReader().push(input)).not.toThrow();
    }
  });

  it("never throw on a real certificate with bytes flipped or cut", () => {
    const next = mulberry32(5280);
    for (let i = 0; i < RUNS; i++) {
      const copy = rfcCertificate.slice();
      for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) {
        copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
      }
      expect(() => parseCertificate(copy)).not.toThrow();
      expect(parseCertificate(copy.subarray(0, Math.floor(next() * copy.length))).ok).toBe(false);
    }
  });

  it("leave the handshake reader returning errors, not throwing, after a real or random ServerHello", async () => {
    const next = mulberry32(8446);
    const share = await knownShare(hex(RFC8448.clientPrivate), hex(RFC8448.clientPublic));
    for (let i = 0; i < 300; i++) {
      const reader = new LeafCertificateReader(hex(RFC8448.clientHello), nodeCrypto, share);
      const prefix = i % 2 === 0 ? hex(RFC8448.serverHelloRecord) : new Uint8Array(0);
      const stream = new Uint8Array([...prefix, ...garbage(next), ...garbage(next)]);
      let outcome = null;
      for (let at = 0; at < stream.length && !outcome;) {
        const size = 1 + Math.floor(next() * 50);
        outcome = await reader.push(stream.subarray(at, at + size));
        at += size;
      }
      outcome ??= reader.end();
      expect(outcome.ok).toBe(false);
    }
  });
});

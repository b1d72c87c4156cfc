import { describe, expect, it } from "vitest";
import { LeafCertificateReader } from "../../../../worker/core/tls/handshake";
import {
  hkdfLabel,
  innerPlaintext,
  recordNonce,
  serverHandshakeKeys,
  tls13Suite,
} from "../../../../worker/core/tls/key-schedule";
import { parseCertificate } from "../../../../worker/core/tls/x509";
import { knownShare, nodeCrypto } from "./node-crypto";
import { hex, RFC8448, toHex } from "./rfc8448";

const sha256Suite = tls13Suite(0x1301);
if (!sha256Suite) throw new Error("TLS_AES_128_GCM_SHA256 not known");

/** A length prefix of `size` bytes before `body`. */
const prefixed = (size: number, body: Uint8Array) => {
  const len = Buffer.alloc(size);
  len.writeUIntBE(body.length, 0, size);
  return new Uint8Array(Buffer.concat([len, body]));
};
const bytes = (...parts: (Uint8Array | number[])[]) =>
  new Uint8Array(Buffer.concat(parts.map((p) => Uint8Array.from(p))));
const record = (type: number, body: Uint8Array) => bytes([type, 3, 3], prefixed(2, body));
const handshake = (type: number, body: Uint8Array) => bytes([type], prefixed(3, body));

const serverHello = hex(RFC8448.serverHelloRecord);
const changeCipherSpec = record(20, bytes([1]));
const flight = hex(RFC8448.serverFlightRecord);
/** The DER of the RFC's certificate: the Certificate message after its 4-byte header, empty context and two lengths. */
const rfcCertificate = hex(RFC8448.certificateMessage).subarray(4 + 1 + 3 + 3, 4 + 1 + 3 + 3 + 0x1b0);

async function rfcReader() {
  const share = await knownShare(hex(RFC8448.clientPrivate), hex(RFC8448.clientPublic));
  return new LeafCertificateReader(hex(RFC8448.clientHello), nodeCrypto, share);
}

/** Feeds `stream` in chunks of `size` bytes; returns the first outcome, or end() when the stream runs out. */
async function feed(reader: LeafCertificateReader, stream: Uint8Array, size = stream.length) {
  for (let at = 0; at < stream.length; at += size) {
    const outcome = await reader.push(stream.subarray(at, at + size));
    if (outcome) return outcome;
  }
  return reader.end();
}

describe("TLS 1.3 key schedule (RFC 8448 §3)", () => {
  it("builds HkdfLabel as length, 'tls13 ' label and context", () => {
    // length 16 | 9 bytes of "tls13 key" | empty context
    expect(toHex(hkdfLabel("key", new Uint8Array(0), 16))).toBe(["0010", "09746c733133206b6579", "00"].join(""));
    expect(toHex(hkdfLabel("iv", hex("abcd"), 12))).toBe(["000c", "08746c733133206976", "02abcd"].join(""));
  });

  it("hashes ClientHello..ServerHello into the published transcript hash", async () => {
    const transcript = bytes(hex(RFC8448.clientHello), serverHello.subarray(5));
    expect(toHex(await nodeCrypto.digest("SHA-256", transcript))).toBe(RFC8448.helloHash);
  });

  it("agrees on the published x25519 shared secret", async () => {
    const share = await knownShare(hex(RFC8448.clientPrivate), hex(RFC8448.clientPublic));
    const serverPublic = serverHello.subarray(serverHello.length - 6 - 32, serverHello.length - 6);
    expect(toHex(await share.agree(serverPublic))).toBe(RFC8448.sharedSecret);
  });

  it("derives the published handshake secret, server traffic secret, key and IV", async () => {
    const keys = await serverHandshakeKeys(nodeCrypto, sha256Suite, hex(RFC8448.sharedSecret), hex(RFC8448.helloHash));
    expect(toHex(keys.handshakeSecret)).toBe(RFC8448.handshakeSecret);
    expect(toHex(keys.serverTrafficSecret)).toBe(RFC8448.serverHandshakeTraffic);
    expect(toHex(keys.key)).toBe(RFC8448.serverHandshakeKey);
    expect(toHex(keys.iv)).toBe(RFC8448.serverHandshakeIv);
  });

  it("XORs the sequence number into the IV's last bytes", () => {
    const iv = hex(RFC8448.serverHandshakeIv);
    expect(toHex(recordNonce(iv, 0))).toBe(RFC8448.serverHandshakeIv);
    expect(toHex(recordNonce(iv, 1))).toBe("5d313eb2671276ee13000b31");
    expect(toHex(recordNonce(iv, 0x0102))).toBe("5d313eb2671276ee13000a32");
    expect(toHex(iv)).toBe(RFC8448.serverHandshakeIv);
  });

  it("strips padding and the content type from an inner plaintext", () => {
    expect(innerPlaintext(hex("0b0000011600000000"))).toEqual({ type: 0x16, content: hex("0b000001") });
    expect(innerPlaintext(hex("000000"))).toBeNull();
  });

  it("rejects the suites it does not offer", () => {
    expect(tls13Suite(0x1302)).toEqual({ hash: "SHA-384", hashLength: 48, keyLength: 32 });
    expect(tls13Suite(0x1303)).toBeNull();
  });
});

describe("LeafCertificateReader", () => {
  const stream = bytes(serverHello, changeCipherSpec, flight);

  it.each([1, 3, 5, 64, 700, stream.length])(
    "decrypts the RFC 8448 server flight fed in %i-byte chunks and returns the leaf",
    async (size) => {
      const outcome = await feed(await rfcReader(), stream, size);
      expect(outcome).toEqual({ ok: true, value: { certificate: rfcCertificate, version: "TLSv1.3" } });
    },
  );

  it("reads the RFC certificate's validity and subject", async () => {
    const outcome = await feed(await rfcReader(), stream);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(parseCertificate(outcome.value.certificate)).toEqual({
      ok: true,
      value: {
        notBefore: Date.UTC(2016, 6, 30, 1, 23, 59),
        notAfter: Date.UTC(2026, 6, 30, 1, 23, 59),
        subjectCommonName: "rsa",
        dnsNames: [],
      },
    });
  });

  it("fails on a tampered encrypted record", async () => {
    const tampered = flight.slice();
    tampered[100] = (tampered[100] ?? 0) ^ 1;
    expect(await feed(await rfcReader(), bytes(serverHello, tampered))).toEqual({
      ok: false,
      error: "could not decrypt the server's handshake (bad record MAC)",
    });
  });

  it("reports an alert with its description", async () => {
    expect(await feed(await rfcReader(), bytes(serverHello, record(21, bytes([2, 40]))))).toEqual({
      ok: false,
      error: "TLS alert handshake_failure (40)",
    });
    expect(await feed(await rfcReader(), record(21, bytes([2, 70])))).toEqual({
      ok: false,
      error: "TLS alert protocol_version (70)",
    });
  });

  it("reports a HelloRetryRequest for another group", async () => {
    const hrrRandom = hex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c");
    const extensions = bytes([0x00, 0x2b, 0x00, 0x02, 0x03, 0x04], [0x00, 0x33, 0x00, 0x02, 0x00, 0x17]);
    const hrr = handshake(2, bytes([3, 3], hrrRandom, [0], [0x13, 0x01, 0], prefixed(2, extensions)));
    expect(await feed(await rfcReader(), record(22, hrr))).toEqual({
      ok: false,
      error: "the server asked for a secp256r1 key share (HelloRetryRequest); the certificate check offers x25519 only",
    });
  });

  it("reads the clear Certificate of TLS 1.2, messages grouped in one record and split across reads", async () => {
    const leaf = rfcCertificate;
    const hello12 = handshake(
      2,
      bytes([3, 3], new Uint8Array(32), [0], [0xc0, 0x2f, 0], prefixed(2, bytes([0xff, 1, 0, 1, 0]))),
    );
    const certificate12 = handshake(11, prefixed(3, prefixed(3, leaf)));
    const done = handshake(14, new Uint8Array(0));
    const flight12 = record(22, bytes(hello12, certificate12, done));
    for (const size of [1, 9, flight12.length]) {
      expect(await feed(await rfcReader(), flight12, size)).toEqual({
        ok: true,
        value: { certificate: leaf, version: "TLSv1.2" },
      });
    }
    // The same messages, one record each and the Certificate split over two records.
    const split = bytes(
      record(22, hello12),
      record(22, certificate12.subarray(0, 50)),
      record(22, certificate12.subarray(50)),
    );
    expect(await feed(await rfcReader(), split, 7)).toMatchObject({ ok: true, value: { version: "TLSv1.2" } });
  });

  it("fails when a TLS 1.2 server skips the certificate", async () => {
    const hello12 = handshake(2, bytes([3, 3], new Uint8Array(32), [0], [0xc0, 0x2f, 0]));
    expect(await feed(await rfcReader(), record(22, bytes(hello12, handshake(14, new Uint8Array(0)))))).toEqual({
      ok: false,
      error: "the server sent no certificate",
    });
  });

  it("fails when the server hangs up, or is not speaking TLS", async () => {
    expect(await feed(await rfcReader(), serverHello.subarray(0, 30))).toEqual({
      ok: false,
      error: "the server closed the connection during the TLS handshake mid-record",
    });
    const http = new Uint8Array(Buffer.from("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"));
    expect(await feed(await rfcReader(), http)).toEqual({
      ok: false,
      error: 'the server did not answer with TLS (it sent "HTTP/1.1 400 Bad Request")',
    });
  });

  it("keeps its outcome once known", async () => {
    const reader = await rfcReader();
    const first = await feed(reader, stream);
    expect(await reader.push(new Uint8Array([1, 2, 3]))).toBe(first);
    expect(reader.end()).toBe(first);
  });
});

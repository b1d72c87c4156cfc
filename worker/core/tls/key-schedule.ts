/**
 * The part of the TLS 1.3 key schedule (RFC 8446 §7) that opens the server's handshake
 * records: handshake secret → server handshake traffic secret → key and IV, and the
 * per-record nonce. The primitives (HMAC, hash, AES-GCM) are passed in: WebCrypto is the
 * Worker's, and core stays free of platform globals.
 */
import { ascii, concat, uint, vector } from "./bytes";
import { TLS13_SUITES } from "./client-hello";

export type HashName = "SHA-256" | "SHA-384";

export interface TlsCrypto {
  digest(hash: HashName, data: Uint8Array): Promise<Uint8Array>;
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /** AES-GCM decryption (16-byte tag at the end of `sealed`); null when the tag does not verify. */
  aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Promise<Uint8Array | null>;
}

export interface Tls13Suite {
  hash: HashName;
  hashLength: number;
  keyLength: number;
}

/** The parameters of a TLS 1.3 suite we offer; null for any other. */
export function tls13Suite(suite: number): Tls13Suite | null {
  if (suite === TLS13_SUITES.TLS_AES_128_GCM_SHA256) return { hash: "SHA-256", hashLength: 32, keyLength: 16 };
  if (suite === TLS13_SUITES.TLS_AES_256_GCM_SHA384) return { hash: "SHA-384", hashLength: 48, keyLength: 32 };
  return null;
}

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;

/** The `HkdfLabel` structure: length, "tls13 " + label, context. */
export function hkdfLabel(label: string, context: Uint8Array, length: number): Uint8Array {
  return concat(uint(length, 2), vector(1, ascii(`tls13 ${label}`)), vector(1, context));
}

/** HKDF-Expand (RFC 5869 §2.3). */
export async function hkdfExpand(
  crypto: TlsCrypto,
  hash: HashName,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const blocks: Uint8Array[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  let total = 0;
  for (let i = 1; total < length; i++) {
    previous = await crypto.hmac(hash, prk, concat(previous, info, uint(i, 1)));
    blocks.push(previous);
    total += previous.length;
  }
  return concat(...blocks).slice(0, length);
}

export function hkdfExpandLabel(
  crypto: TlsCrypto,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  return hkdfExpand(crypto, hash, secret, hkdfLabel(label, context, length), length);
}

export interface HandshakeKeys {
  handshakeSecret: Uint8Array;
  serverTrafficSecret: Uint8Array;
  key: Uint8Array;
  iv: Uint8Array;
}

/**
 * The server's handshake traffic keys from the (EC)DHE shared secret and the hash of
 * ClientHello..ServerHello; no PSK, so the early secret starts from zeros.
 */
export async function serverHandshakeKeys(
  crypto: TlsCrypto,
  suite: Tls13Suite,
  sharedSecret: Uint8Array,
  transcriptHash: Uint8Array,
): Promise<HandshakeKeys> {
  const zeros = new Uint8Array(suite.hashLength);
  // HKDF-Extract(salt, ikm) is HMAC(salt, ikm).
  const early = await crypto.hmac(suite.hash, zeros, zeros);
  const emptyHash = await crypto.digest(suite.hash, new Uint8Array(0));
  const derived = await hkdfExpandLabel(crypto, suite.hash, early, "derived", emptyHash, suite.hashLength);
  const handshakeSecret = await crypto.hmac(suite.hash, derived, sharedSecret);
  const serverTrafficSecret = await hkdfExpandLabel(
    crypto,
    suite.hash,
    handshakeSecret,
    "s hs traffic",
    transcriptHash,
    suite.hashLength,
  );
  const empty = new Uint8Array(0);
  return {
    handshakeSecret,
    serverTrafficSecret,
    key: await hkdfExpandLabel(crypto, suite.hash, serverTrafficSecret, "key", empty, suite.keyLength),
    iv: await hkdfExpandLabel(crypto, suite.hash, serverTrafficSecret, "iv", empty, IV_LENGTH),
  };
}

/** The nonce of record number `sequence`: the IV XOR the sequence number, left-padded (§5.3). */
export function recordNonce(iv: Uint8Array, sequence: number): Uint8Array {
  const nonce = iv.slice();
  const seq = uint(sequence, 8);
  for (let i = 0; i < seq.length; i++) {
    const at = nonce.length - seq.length + i;
    nonce[at] = (nonce[at] ?? 0) ^ (seq[i] ?? 0);
  }
  return nonce;
}

/** A decrypted TLSInnerPlaintext: content, then the real content type, then zero padding (§5.2). */
export function innerPlaintext(plain: Uint8Array): { type: number; content: Uint8Array } | null {
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (end < 0) return null;
  return { type: plain[end] ?? 0, content: plain.subarray(0, end) };
}

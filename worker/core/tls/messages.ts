/**
 * The server's handshake messages the certificate check reads: ServerHello (which version,
 * suite and key share), Certificate (its first entry), and alerts. Parsers return errors,
 * never throw.
 */
import { ByteReader, equalBytes, Malformed, type Parsed } from "./bytes";
import { GROUP_SECP256R1, GROUP_X25519, TLS13_SUITES, TLS_1_3 } from "./client-hello";

export const HANDSHAKE_SERVER_HELLO = 2;
export const HANDSHAKE_ENCRYPTED_EXTENSIONS = 8;
export const HANDSHAKE_CERTIFICATE = 11;
export const HANDSHAKE_SERVER_KEY_EXCHANGE = 12;
export const HANDSHAKE_CERTIFICATE_REQUEST = 13;
export const HANDSHAKE_SERVER_HELLO_DONE = 14;

/** ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3). */
const HELLO_RETRY_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
  0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

const EXT_SUPPORTED_VERSIONS = 0x002b;
const EXT_KEY_SHARE = 0x0033;

export type ServerHello =
  /** TLS 1.3: the handshake continues encrypted under keys from this share. */
  | { version: "TLSv1.3"; suite: number; serverShare: Uint8Array }
  /** TLS 1.2 or older: the Certificate message follows in the clear. */
  | { version: "TLSv1.2" | "TLSv1.1" | "TLSv1.0"; suite: number }
  /** A HelloRetryRequest: the server wants another key share group (null: it named none). */
  | { version: "retry"; group: number | null };

const LEGACY_VERSIONS: Record<number, "TLSv1.2" | "TLSv1.1" | "TLSv1.0"> = {
  0x0303: "TLSv1.2",
  0x0302: "TLSv1.1",
  0x0301: "TLSv1.0",
};

export function groupName(group: number): string {
  if (group === GROUP_X25519) return "x25519";
  if (group === GROUP_SECP256R1) return "secp256r1";
  return `0x${group.toString(16).padStart(4, "0")}`;
}

/** The body of a ServerHello (after the 4-byte handshake header). */
export function parseServerHello(body: Uint8Array): Parsed<ServerHello> {
  try {
    const r = new ByteReader(body);
    const legacyVersion = r.uint(2);
    const random = r.bytesOf(32);
    r.vector(1); // legacy_session_id_echo
    const suite = r.uint(2);
    if (r.uint(1) !== 0) return { ok: false, error: "ServerHello chose a compression method" };
    const extensions = new Map<number, Uint8Array>();
    if (r.remaining > 0) {
      const list = new ByteReader(r.vector(2));
      while (list.remaining > 0) {
        const type = list.uint(2);
        if (extensions.has(type)) throw new Malformed("duplicate extension");
        extensions.set(type, list.vector(2));
      }
    }
    r.end();

    const versions = extensions.get(EXT_SUPPORTED_VERSIONS);
    const selected = versions ? readAll(versions, (v) => v.uint(2)) : legacyVersion;
    if (selected !== TLS_1_3) {
      const version = LEGACY_VERSIONS[selected];
      if (!version) return { ok: false, error: `server chose an unknown TLS version 0x${selected.toString(16)}` };
      return { ok: true, value: { version, suite } };
    }
    const share = extensions.get(EXT_KEY_SHARE);
    if (equalBytes(random, HELLO_RETRY_RANDOM)) {
      return { ok: true, value: { version: "retry", group: share ? readAll(share, (s) => s.uint(2)) : null } };
    }
    if (!Object.values<number>(TLS13_SUITES).includes(suite)) {
      return { ok: false, error: `server chose a cipher suite not offered (0x${suite.toString(16)})` };
    }
    if (!share) return { ok: false, error: "TLS 1.3 ServerHello without a key share" };
    const { group, key } = readAll(share, (s) => ({ group: s.uint(2), key: s.vector(2) }));
    if (group !== GROUP_X25519 || key.length !== 32) {
      return { ok: false, error: `server answered with a ${groupName(group)} key share, not the x25519 one offered` };
    }
    return { ok: true, value: { version: "TLSv1.3", suite, serverShare: key } };
  } catch (err) {
    return malformed("ServerHello", err);
  }
}

/**
 * The leaf certificate (DER) of a Certificate message body: the first entry. TLS 1.3
 * adds a request context before the list and extensions after each entry (RFC 8446 §4.4.2).
 */
export function leafCertificate(body: Uint8Array, tls13: boolean): Parsed<Uint8Array> {
  try {
    const r = new ByteReader(body);
    if (tls13) r.vector(1);
    const list = new ByteReader(r.vector(3));
    r.end();
    if (list.remaining === 0) return { ok: false, error: "the server sent no certificate" };
    const leaf = list.vector(3);
    if (leaf.length === 0) throw new Malformed("empty certificate entry");
    if (tls13) list.vector(2);
    return { ok: true, value: leaf };
  } catch (err) {
    return malformed("Certificate message", err);
  }
}

const ALERTS: Record<number, string> = {
  0: "close_notify",
  10: "unexpected_message",
  20: "bad_record_mac",
  22: "record_overflow",
  40: "handshake_failure",
  42: "bad_certificate",
  43: "unsupported_certificate",
  44: "certificate_revoked",
  45: "certificate_expired",
  46: "certificate_unknown",
  47: "illegal_parameter",
  48: "unknown_ca",
  49: "access_denied",
  50: "decode_error",
  51: "decrypt_error",
  70: "protocol_version",
  71: "insufficient_security",
  80: "internal_error",
  86: "inappropriate_fallback",
  90: "user_canceled",
  109: "missing_extension",
  110: "unsupported_extension",
  112: "unrecognized_name",
  113: "bad_certificate_status_response",
  115: "unknown_psk_identity",
  116: "certificate_required",
  120: "no_application_protocol",
};

/** An alert record's body as a reason: "TLS alert handshake_failure (40)". */
export function describeAlert(body: Uint8Array): string {
  const code = body.length === 2 ? body[1] : undefined;
  if (code === undefined) return "malformed TLS alert";
  return `TLS alert ${ALERTS[code] ?? "unknown"} (${code})`;
}

/** Reads a whole vector with `read`; trailing bytes are malformed. */
function readAll<T>(bytes: Uint8Array, read: (r: ByteReader) => T): T {
  const r = new ByteReader(bytes);
  const value = read(r);
  r.end();
  return value;
}

function malformed<T>(what: string, err: unknown): Parsed<T> {
  if (err instanceof Malformed) return { ok: false, error: `malformed ${what}: ${err.message}` };
  return { ok: false, error: `malformed ${what}` };
}

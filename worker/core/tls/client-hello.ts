/**
 * The ClientHello of the certificate check (RFC 8446 §4.1.2): TLS 1.3 and 1.2 offered,
 * one x25519 key share. Randomness comes from the caller.
 */
import { ascii, concat, uint, vector } from "./bytes";
import { CONTENT_HANDSHAKE } from "./records";

export const HANDSHAKE_CLIENT_HELLO = 1;

export const TLS_1_2 = 0x0303;
export const TLS_1_3 = 0x0304;
export const GROUP_X25519 = 0x001d;
export const GROUP_SECP256R1 = 0x0017;

/** TLS 1.3 suites whose AEAD WebCrypto has (AES-GCM; no ChaCha20). */
export const TLS13_SUITES = { TLS_AES_128_GCM_SHA256: 0x1301, TLS_AES_256_GCM_SHA384: 0x1302 } as const;

/**
 * TLS 1.2 suites: nothing is decrypted on 1.2 (its Certificate comes in the clear), so
 * any suite a server may pick works; ECDHE AES-GCM first, then ChaCha20 and CBC.
 */
const TLS12_SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014];

/** ECDSA, RSA-PSS and RSA PKCS#1 with SHA-2, Ed25519, then SHA-1 for old 1.2 servers. */
const SIGNATURE_ALGORITHMS = [
  0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0809, 0x080a, 0x080b, 0x0201,
  0x0203,
];

const EXT_SERVER_NAME = 0x0000;
const EXT_SUPPORTED_GROUPS = 0x000a;
const EXT_EC_POINT_FORMATS = 0x000b;
const EXT_SIGNATURE_ALGORITHMS = 0x000d;
const EXT_SUPPORTED_VERSIONS = 0x002b;
const EXT_KEY_SHARE = 0x0033;
const EXT_RENEGOTIATION_INFO = 0xff01;

export interface ClientHelloParams {
  /** 32 random bytes. */
  random: Uint8Array;
  /** 32 random bytes: a non-empty legacy session id keeps middleboxes in TLS 1.3's compatibility mode. */
  sessionId: Uint8Array;
  /** The client's x25519 public key (32 bytes). */
  x25519PublicKey: Uint8Array;
  /** The SNI host name; null for an IP literal (SNI carries names only). */
  serverName: string | null;
}

const u16s = (values: readonly number[]) => concat(...values.map((v) => uint(v, 2)));
const extension = (type: number, body: Uint8Array) => concat(uint(type, 2), vector(2, body));

/** The ClientHello handshake message (type, length, body): what the transcript hashes. */
export function buildClientHello(p: ClientHelloParams): Uint8Array {
  if (p.random.length !== 32 || p.sessionId.length !== 32 || p.x25519PublicKey.length !== 32) {
    throw new RangeError("random, session id and key share must be 32 bytes");
  }
  const name = p.serverName?.replace(/\.$/, "") ?? "";
  const extensions = [
    ...(name ? [extension(EXT_SERVER_NAME, vector(2, uint(0, 1), vector(2, ascii(name))))] : []),
    extension(EXT_SUPPORTED_VERSIONS, vector(1, u16s([TLS_1_3, TLS_1_2]))),
    extension(EXT_SUPPORTED_GROUPS, vector(2, u16s([GROUP_X25519, GROUP_SECP256R1]))),
    extension(EXT_EC_POINT_FORMATS, vector(1, uint(0, 1))),
    extension(EXT_SIGNATURE_ALGORITHMS, vector(2, u16s(SIGNATURE_ALGORITHMS))),
    extension(EXT_KEY_SHARE, vector(2, uint(GROUP_X25519, 2), vector(2, p.x25519PublicKey))),
    extension(EXT_RENEGOTIATION_INFO, vector(1)),
  ];
  const body = concat(
    uint(TLS_1_2, 2),
    p.random,
    vector(1, p.sessionId),
    vector(2, u16s([...Object.values(TLS13_SUITES), ...TLS12_SUITES])),
    vector(1, uint(0, 1)),
    vector(2, ...extensions),
  );
  return concat(uint(HANDSHAKE_CLIENT_HELLO, 1), vector(3, body));
}

/** A handshake message in a plaintext record; record version 1.0 in the first flight, as RFC 8446 §5.1 allows for old servers. */
export function handshakeRecord(message: Uint8Array): Uint8Array {
  return concat(uint(CONTENT_HANDSHAKE, 1), uint(0x0301, 2), vector(2, message));
}

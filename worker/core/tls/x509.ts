/**
 * Just enough X.509 (RFC 5280 §4.1) to say when a certificate expires: its validity, plus
 * the subject CN and SAN DNS names to name it. The DER walk is strict about the outer
 * structure (lengths must add up exactly), so garbage does not yield a date.
 */
import { ByteReader, latin1, Malformed, type Parsed } from "./bytes";

export interface CertificateInfo {
  /** Epoch ms. */
  notBefore: number;
  /** Epoch ms: the certificate is invalid after this instant. */
  notAfter: number;
  subjectCommonName: string | null;
  dnsNames: string[];
}

const SEQUENCE = 0x30;
const SET = 0x31;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const BOOLEAN = 0x01;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const VERSION = 0xa0;
const ISSUER_UID = 0x81;
const SUBJECT_UID = 0x82;
const EXTENSIONS = 0xa3;
const DNS_NAME = 0x82;

/** 2.5.4.3 (commonName) and 2.5.29.17 (subjectAltName), DER-encoded. */
const OID_COMMON_NAME = "550403";
const OID_SUBJECT_ALT_NAME = "551d11";

interface Tlv {
  tag: number;
  value: Uint8Array;
}

/** One DER TLV: low tag numbers only, definite minimal lengths up to 4 bytes. */
function readTlv(r: ByteReader): Tlv {
  const tag = r.uint(1);
  if ((tag & 0x1f) === 0x1f) throw new Malformed("high tag number");
  const first = r.uint(1);
  let length = first;
  if (first & 0x80) {
    const size = first & 0x7f;
    if (size === 0 || size > 4) throw new Malformed("unsupported length");
    const bytes = r.bytesOf(size);
    if (bytes[0] === 0) throw new Malformed("non-minimal length");
    length = bytes.reduce((n, b) => n * 256 + b, 0);
    if (length < 0x80) throw new Malformed("non-minimal length");
  }
  return { tag, value: r.bytesOf(length) };
}

function expectTlv(r: ByteReader, tag: number): Uint8Array {
  const tlv = readTlv(r);
  if (tlv.tag !== tag) throw new Malformed(`tag 0x${tlv.tag.toString(16)} where 0x${tag.toString(16)} belongs`);
  return tlv.value;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** UTCTime (YYMMDDHHMMSSZ, years 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), as RFC 5280 §4.1.2.5 allows them. */
export function parseTime(tag: number, value: Uint8Array): number | null {
  if (value.length > 15) return null;
  const text = latin1(value);
  const m =
    tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tag === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fullYear = tag === UTC_TIME ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const ms = Date.UTC(fullYear, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Date.UTC rolls 31 February over into March; a real date round-trips.
  const exact =
    d.getUTCFullYear() === fullYear &&
    d.getUTCMonth() === month - 1 &&
    d.getUTCDate() === day &&
    d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute &&
    d.getUTCSeconds() === second;
  return exact ? ms : null;
}

function readTime(r: ByteReader): number {
  const { tag, value } = readTlv(r);
  const ms = parseTime(tag, value);
  if (ms === null) throw new Malformed("invalid time");
  return ms;
}

/** A directory string as text: UTF-8 for the 8-bit types, UTF-16 for BMPString. */
function decodeString(tag: number, value: Uint8Array): string {
  if (tag === 0x1e) {
    let text = "";
    for (let i = 0; i + 1 < value.length; i += 2)
      text += String.fromCharCode(((value[i] ?? 0) << 8) | (value[i + 1] ?? 0));
    return text;
  }
  try {
    return decodeURIComponent(Array.from(value, (b) => `%${b.toString(16).padStart(2, "0")}`).join(""));
  } catch {
    return latin1(value);
  }
}

/** The last commonName of a Name (the most specific one); null when it has none. */
function commonName(name: Uint8Array): string | null {
  try {
    let found: string | null = null;
    const rdns = new ByteReader(name);
    while (rdns.remaining > 0) {
      const set = new ByteReader(expectTlv(rdns, SET));
      while (set.remaining > 0) {
        const attr = new ByteReader(expectTlv(set, SEQUENCE));
        const type = hex(expectTlv(attr, OID));
        const value = readTlv(attr);
        if (type === OID_COMMON_NAME) found = decodeString(value.tag, value.value);
      }
    }
    return found;
  } catch {
    return null;
  }
}

/** The dNSName entries of the subjectAltName extension, if any. */
function dnsNames(extensions: Uint8Array): string[] {
  try {
    const list = new ByteReader(expectTlv(new ByteReader(extensions), SEQUENCE));
    while (list.remaining > 0) {
      const ext = new ByteReader(expectTlv(list, SEQUENCE));
      const id = hex(expectTlv(ext, OID));
      let next = readTlv(ext);
      if (next.tag === BOOLEAN) next = readTlv(ext);
      if (id !== OID_SUBJECT_ALT_NAME || next.tag !== OCTET_STRING) continue;
      const names = new ByteReader(expectTlv(new ByteReader(next.value), SEQUENCE));
      const out: string[] = [];
      while (names.remaining > 0) {
        const name = readTlv(names);
        if (name.tag === DNS_NAME) out.push(latin1(name.value));
      }
      return out;
    }
  } catch {
    // A malformed extension only costs the names.
  }
  return [];
}

/**
 * Validity and names of a DER certificate. The whole input must be one Certificate
 * (tbsCertificate, signatureAlgorithm, signature) with the TBS fields in order.
 */
export function parseCertificate(der: Uint8Array): Parsed<CertificateInfo> {
  try {
    const outer = new ByteReader(der);
    const cert = new ByteReader(expectTlv(outer, SEQUENCE));
    outer.end();
    const tbs = new ByteReader(expectTlv(cert, SEQUENCE));
    expectTlv(cert, SEQUENCE);
    expectTlv(cert, BIT_STRING);
    cert.end();

    let field = readTlv(tbs);
    if (field.tag === VERSION) field = readTlv(tbs);
    if (field.tag !== INTEGER) throw new Malformed("no serial number");
    expectTlv(tbs, SEQUENCE); // signature
    expectTlv(tbs, SEQUENCE); // issuer
    const validity = new ByteReader(expectTlv(tbs, SEQUENCE));
    const notBefore = readTime(validity);
    const notAfter = readTime(validity);
    validity.end();
    const subject = expectTlv(tbs, SEQUENCE);
    expectTlv(tbs, SEQUENCE); // subjectPublicKeyInfo
    let extensions: Uint8Array | null = null;
    while (tbs.remaining > 0) {
      const optional = readTlv(tbs);
      if (optional.tag === EXTENSIONS) extensions = optional.value;
      else if (optional.tag !== ISSUER_UID && optional.tag !== SUBJECT_UID) throw new Malformed("unexpected TBS field");
    }
    return {
      ok: true,
      value: {
        notBefore,
        notAfter,
        subjectCommonName: commonName(subject),
        dnsNames: extensions ? dnsNames(extensions) : [],
      },
    };
  } catch (err) {
    return {
      ok: false,
      error: err instanceof Malformed ? `malformed certificate: ${err.message}` : "malformed certificate",
    };
  }
}

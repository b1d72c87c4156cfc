/** Byte encodings core needs without the DOM lib (no TextEncoder, btoa or URLSearchParams). */

/** UTF-8 bytes of a string. */
export function utf8Bytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard padded base64 of bytes. */
export function base64Bytes(bytes: readonly number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const [a = 0, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += B64.charAt((n >> 18) & 63) + B64.charAt((n >> 12) & 63);
    out += i + 1 < bytes.length ? B64.charAt((n >> 6) & 63) : "=";
    out += i + 2 < bytes.length ? B64.charAt(n & 63) : "=";
  }
  return out;
}

/** Base64 of a string's UTF-8 bytes. */
export const base64 = (text: string): string => base64Bytes(utf8Bytes(text));

/** One form-urlencoded key or value (spaces as "+"). */
export const formComponent = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");

/** application/x-www-form-urlencoded body, fields in the given order. */
export function formEncode(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([k, v]) => `${formComponent(k)}=${formComponent(v)}`).join("&");
}

/** FNV-1a 64-bit as 16 hex digits: a short, stable, non-cryptographic id. */
export function fnv1a64(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of utf8Bytes(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

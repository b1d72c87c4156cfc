/**
 * Byte helpers for the TLS and DER code: building length-prefixed vectors and reading
 * them back with bounds checks. Readers throw `Malformed`; the public parsers catch it.
 */

/** Input that does not parse; never escapes the public functions of worker/core/tls. */
export class Malformed extends Error {
  override name = "Malformed";
}

/** A parse result: the value, or why there is none. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A big-endian unsigned integer of `size` bytes. */
export function uint(value: number, size: 1 | 2 | 3 | 8): Uint8Array {
  const out = new Uint8Array(size);
  let v = value;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** A vector with a `lengthSize`-byte length prefix (RFC 8446 §3.4). */
export function vector(lengthSize: 1 | 2 | 3, ...parts: readonly Uint8Array[]): Uint8Array {
  const body = concat(...parts);
  return concat(uint(body.length, lengthSize), body);
}

/** ASCII text as bytes (hostnames reach here punycoded, labels are ASCII). */
export function ascii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
  return out;
}

/** Bytes as one character each (a spread would overflow the stack on large input). */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Sequential reads over a byte array; every read past the end throws `Malformed`. */
export class ByteReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  bytesOf(n: number): Uint8Array {
    if (n < 0 || n > this.remaining) throw new Malformed(`${n} bytes wanted, ${this.remaining} left`);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  uint(size: 1 | 2 | 3): number {
    return this.bytesOf(size).reduce((n, b) => n * 256 + b, 0);
  }

  /** A vector with a `lengthSize`-byte length prefix. */
  vector(lengthSize: 1 | 2 | 3): Uint8Array {
    return this.bytesOf(this.uint(lengthSize));
  }

  /** Throws unless everything was read. */
  end(): void {
    if (this.remaining !== 0) throw new Malformed(`${this.remaining} trailing bytes`);
  }
}

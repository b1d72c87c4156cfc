/**
 * TLS framing: records out of a byte stream cut anywhere by TCP, and handshake messages
 * out of record fragments that may split or group them (RFC 8446 §5.1, §4).
 */
import { concat, latin1 } from "./bytes";

export const CONTENT_CHANGE_CIPHER_SPEC = 20;
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;

/** The largest record body: 2^14 plaintext plus the most expansion TLS 1.2 allows. */
export const MAX_RECORD_BODY = 16384 + 2048;
/** Handshake messages above this are refused (a certificate chain is a few KiB). */
export const MAX_HANDSHAKE_MESSAGE = 256 * 1024;

export interface TlsRecord {
  type: number;
  version: number;
  /** The 5-byte header: the AAD of a TLS 1.3 encrypted record. */
  header: Uint8Array;
  body: Uint8Array;
}

export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
  /** Type, length and body as sent: what the transcript hashes. */
  raw: Uint8Array;
}

export interface Framed<T> {
  items: T[];
  /** Set once the stream cannot be TLS; nothing more is read after it. */
  error: string | null;
}

/** Printable start of bytes that are not TLS, to say what answered instead ("HTTP/1.1 400 …"). */
function preview(bytes: Uint8Array): string {
  const text = latin1(bytes.subarray(0, 40));
  return /^[\x20-\x7e\r\n\t]+$/.test(text) ? ` (it sent ${JSON.stringify(text.split(/\r?\n/)[0])})` : "";
}

/** Cuts a byte stream into records; chunks may end anywhere. */
export class RecordReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private failed: string | null = null;

  push(chunk: Uint8Array): Framed<TlsRecord> {
    if (this.failed) return { items: [], error: this.failed };
    this.buffer = this.buffer.length === 0 ? chunk.slice() : concat(this.buffer, chunk);
    const items: TlsRecord[] = [];
    let at = 0;
    while (this.buffer.length - at >= 5) {
      const type = this.buffer[at] ?? 0;
      const version = ((this.buffer[at + 1] ?? 0) << 8) | (this.buffer[at + 2] ?? 0);
      const length = ((this.buffer[at + 3] ?? 0) << 8) | (this.buffer[at + 4] ?? 0);
      if (type < CONTENT_CHANGE_CIPHER_SPEC || type > CONTENT_APPLICATION_DATA || version >> 8 !== 3) {
        this.failed = `the server did not answer with TLS${preview(this.buffer.subarray(at))}`;
        return { items, error: this.failed };
      }
      if (length > MAX_RECORD_BODY) {
        this.failed = `TLS record of ${length} bytes is over the limit`;
        return { items, error: this.failed };
      }
      if (this.buffer.length - at < 5 + length) break;
      items.push({
        type,
        version,
        header: this.buffer.slice(at, at + 5),
        body: this.buffer.slice(at + 5, at + 5 + length),
      });
      at += 5 + length;
    }
    this.buffer = this.buffer.slice(at);
    return { items, error: null };
  }

  /** Bytes of a record not yet complete. */
  get pending(): number {
    return this.buffer.length;
  }
}

/** Joins handshake record fragments into messages. */
export class HandshakeReader {
  private buffer: Uint8Array = new Uint8Array(0);

  push(fragment: Uint8Array): Framed<HandshakeMessage> {
    this.buffer = this.buffer.length === 0 ? fragment.slice() : concat(this.buffer, fragment);
    const items: HandshakeMessage[] = [];
    let at = 0;
    while (this.buffer.length - at >= 4) {
      const type = this.buffer[at] ?? 0;
      const length =
        ((this.buffer[at + 1] ?? 0) << 16) | ((this.buffer[at + 2] ?? 0) << 8) | (this.buffer[at + 3] ?? 0);
      if (length > MAX_HANDSHAKE_MESSAGE)
        return { items, error: `handshake message of ${length} bytes is over the limit` };
      if (this.buffer.length - at < 4 + length) break;
      const raw = this.buffer.slice(at, at + 4 + length);
      items.push({ type, body: raw.subarray(4), raw });
      at += 4 + length;
    }
    this.buffer = this.buffer.slice(at);
    return { items, error: null };
  }

  /** Bytes of a message not yet complete: TLS 1.3 forbids them across a key change. */
  get pending(): number {
    return this.buffer.length;
  }
}

/**
 * The client side of a TLS handshake up to the server's Certificate message, and no
 * further: nothing is verified or answered, so the check works against any server. On
 * TLS 1.2 the certificate comes in the clear; on TLS 1.3 the server's handshake records
 * are decrypted with keys from our x25519 share. Fed bytes as TCP delivers them.
 */
import { concat, type Parsed } from "./bytes";
import {
  describeAlert,
  groupName,
  HANDSHAKE_CERTIFICATE,
  HANDSHAKE_CERTIFICATE_REQUEST,
  HANDSHAKE_ENCRYPTED_EXTENSIONS,
  HANDSHAKE_SERVER_HELLO,
  HANDSHAKE_SERVER_HELLO_DONE,
  HANDSHAKE_SERVER_KEY_EXCHANGE,
  leafCertificate,
  parseServerHello,
} from "./messages";
import { innerPlaintext, recordNonce, serverHandshakeKeys, tls13Suite, type TlsCrypto } from "./key-schedule";
import {
  CONTENT_ALERT,
  CONTENT_APPLICATION_DATA,
  CONTENT_CHANGE_CIPHER_SPEC,
  CONTENT_HANDSHAKE,
  type HandshakeMessage,
  HandshakeReader,
  RecordReader,
  type TlsRecord,
} from "./records";

/** Our x25519 key share: the public key sent, and the agreement with the server's. */
export interface KeyShare {
  publicKey: Uint8Array;
  agree(serverPublic: Uint8Array): Promise<Uint8Array>;
}

export interface LeafCertificate {
  /** DER. */
  certificate: Uint8Array;
  version: "TLSv1.3" | "TLSv1.2" | "TLSv1.1" | "TLSv1.0";
}

type Phase =
  | { name: "hello" }
  | { name: "clear"; version: LeafCertificate["version"] }
  | { name: "encrypted"; key: Uint8Array; iv: Uint8Array; sequence: number };

const fail = (error: string): Parsed<LeafCertificate> => ({ ok: false, error });

/** Reads the server's leaf certificate from its side of a handshake we opened with `clientHello`. */
export class LeafCertificateReader {
  private readonly records = new RecordReader();
  private readonly messages = new HandshakeReader();
  private phase: Phase = { name: "hello" };
  private result: Parsed<LeafCertificate> | null = null;

  constructor(
    /** The ClientHello handshake message sent (the start of the transcript). */
    private readonly clientHello: Uint8Array,
    private readonly crypto: TlsCrypto,
    private readonly keyShare: KeyShare,
  ) {}

  /** Takes the next bytes from the server: the outcome once known, null while more are needed. Never throws. */
  async push(chunk: Uint8Array): Promise<Parsed<LeafCertificate> | null> {
    if (this.result) return this.result;
    try {
      const framed = this.records.push(chunk);
      for (const record of framed.items) {
        const outcome = await this.onRecord(record);
        if (outcome) return this.finish(outcome);
      }
      return framed.error ? this.finish(fail(framed.error)) : null;
    } catch (err) {
      return this.finish(fail(`TLS handshake failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  /** The server closed the connection: the outcome, if it had not come yet. */
  end(): Parsed<LeafCertificate> {
    const where = this.records.pending > 0 ? " mid-record" : "";
    return this.result ?? this.finish(fail(`the server closed the connection during the TLS handshake${where}`));
  }

  private finish(outcome: Parsed<LeafCertificate>): Parsed<LeafCertificate> {
    this.result = outcome;
    return outcome;
  }

  private async onRecord(record: TlsRecord): Promise<Parsed<LeafCertificate> | null> {
    switch (record.type) {
      case CONTENT_ALERT:
        return fail(describeAlert(record.body));
      case CONTENT_CHANGE_CIPHER_SPEC:
        // TLS 1.3 servers send one for middlebox compatibility; it means nothing here.
        return null;
      case CONTENT_HANDSHAKE:
        if (this.phase.name === "encrypted") return fail("unencrypted handshake record after a TLS 1.3 ServerHello");
        return this.onHandshakeBytes(record.body);
      case CONTENT_APPLICATION_DATA:
        return this.onEncrypted(record);
      default:
        return fail(`unexpected TLS record type ${record.type}`);
    }
  }

  private async onEncrypted(record: TlsRecord): Promise<Parsed<LeafCertificate> | null> {
    const phase = this.phase;
    if (phase.name !== "encrypted") return fail("application data before the handshake");
    const nonce = recordNonce(phase.iv, phase.sequence++);
    const plain = await this.crypto.aesGcmOpen(phase.key, nonce, record.header, record.body);
    if (!plain) return fail("could not decrypt the server's handshake (bad record MAC)");
    const inner = innerPlaintext(plain);
    if (!inner) return fail("empty encrypted record");
    if (inner.type === CONTENT_ALERT) return fail(describeAlert(inner.content));
    if (inner.type !== CONTENT_HANDSHAKE) return fail(`unexpected encrypted record type ${inner.type}`);
    return this.onHandshakeBytes(inner.content);
  }

  private async onHandshakeBytes(bytes: Uint8Array): Promise<Parsed<LeafCertificate> | null> {
    const framed = this.messages.push(bytes);
    for (const [i, message] of framed.items.entries()) {
      const wasHello = this.phase.name === "hello";
      const outcome = await this.onMessage(message);
      if (outcome) return outcome;
      // TLS 1.3 changes keys after ServerHello: nothing may follow it in the same record.
      const last = i === framed.items.length - 1 && this.messages.pending === 0;
      if (wasHello && this.phase.name === "encrypted" && !last) {
        return fail("handshake data after the ServerHello in the clear");
      }
    }
    return framed.error ? fail(framed.error) : null;
  }

  private async onMessage(message: HandshakeMessage): Promise<Parsed<LeafCertificate> | null> {
    const phase = this.phase;
    if (phase.name === "hello") {
      if (message.type !== HANDSHAKE_SERVER_HELLO)
        return fail(`expected a ServerHello, got handshake message ${message.type}`);
      return this.onServerHello(message);
    }
    if (message.type === HANDSHAKE_CERTIFICATE) {
      const tls13 = phase.name === "encrypted";
      const leaf = leafCertificate(message.body, tls13);
      if (!leaf.ok) return leaf;
      return { ok: true, value: { certificate: leaf.value, version: tls13 ? "TLSv1.3" : phase.version } };
    }
    if (phase.name === "encrypted") {
      if (message.type === HANDSHAKE_ENCRYPTED_EXTENSIONS || message.type === HANDSHAKE_CERTIFICATE_REQUEST)
        return null;
    } else if (
      message.type === HANDSHAKE_SERVER_KEY_EXCHANGE ||
      message.type === HANDSHAKE_CERTIFICATE_REQUEST ||
      message.type === HANDSHAKE_SERVER_HELLO_DONE
    ) {
      return fail("the server sent no certificate");
    }
    return fail(`unexpected handshake message ${message.type} before the certificate`);
  }

  private async onServerHello(message: HandshakeMessage): Promise<Parsed<LeafCertificate> | null> {
    const hello = parseServerHello(message.body);
    if (!hello.ok) return hello;
    const h = hello.value;
    if (h.version === "retry") {
      const wanted = h.group === null ? "another key share" : `a ${groupName(h.group)} key share`;
      return fail(`the server asked for ${wanted} (HelloRetryRequest); the certificate check offers x25519 only`);
    }
    if (h.version !== "TLSv1.3") {
      this.phase = { name: "clear", version: h.version };
      return null;
    }
    const suite = tls13Suite(h.suite);
    if (!suite) return fail(`server chose a cipher suite not offered (0x${h.suite.toString(16)})`);
    const shared = await this.keyShare.agree(h.serverShare);
    const transcript = await this.crypto.digest(suite.hash, concat(this.clientHello, message.raw));
    const keys = await serverHandshakeKeys(this.crypto, suite, shared, transcript);
    this.phase = { name: "encrypted", key: keys.key, iv: keys.iv, sequence: 0 };
    return null;
  }
}

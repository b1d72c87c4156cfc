/**
 * Reads a server's certificate expiry over a plain TCP socket: fetch() and startTls()
 * expose no peer certificate, so we send our own ClientHello and read the server's
 * Certificate message (core/tls), then hang up without finishing the handshake.
 */
import { connect } from "cloudflare:sockets";
import { type CertReading, isIpHost } from "../core/probe";
import { buildClientHello, handshakeRecord } from "../core/tls/client-hello";
import { type KeyShare, LeafCertificateReader } from "../core/tls/handshake";
import type { HashName, TlsCrypto } from "../core/tls/key-schedule";
import { parseCertificate } from "../core/tls/x509";

/** core/tls only makes its byte arrays over plain ArrayBuffers, which WebCrypto's types want spelled out. */
const buf = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

/** The TLS primitives of core/tls, from WebCrypto. */
export const webCrypto: TlsCrypto = {
  async digest(hash: HashName, data: Uint8Array) {
    return new Uint8Array(await crypto.subtle.digest(hash, buf(data)));
  },
  async hmac(hash: HashName, key: Uint8Array, data: Uint8Array) {
    const k = await crypto.subtle.importKey("raw", buf(key), { name: "HMAC", hash }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, buf(data)));
  },
  async aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array) {
    const k = await crypto.subtle.importKey("raw", buf(key), "AES-GCM", false, ["decrypt"]);
    const params = { name: "AES-GCM", iv: buf(iv), additionalData: buf(aad) };
    try {
      return new Uint8Array(await crypto.subtle.decrypt(params, k, buf(sealed)));
    } catch {
      return null;
    }
  },
};

/** A fresh x25519 key pair for one handshake. */
async function x25519Share(): Promise<KeyShare> {
  const pair = (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
  const publicKey = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  return {
    publicKey,
    async agree(serverPublic) {
      const peer = await crypto.subtle.importKey("raw", buf(serverPublic), { name: "X25519" }, false, []);
      // The parameter is `public` at runtime; the workers types spell it `$public`.
      const params = { name: "X25519", public: peer } as unknown as SubtleCryptoDeriveKeyAlgorithm;
      return new Uint8Array(await crypto.subtle.deriveBits(params, pair.privateKey, 256));
    },
  };
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * When the certificate of an https URL's server expires: `{notAfter}` (epoch ms) or
 * `{error}` ("timeout after 5000 ms", "TLS alert handshake_failure (40)", …). Gives up
 * after `timeoutMs`; never throws; the socket is closed either way.
 */
export async function readServerCertificate(target: string, timeoutMs: number): Promise<CertReading> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { error: `invalid URL: ${target}` };
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port) || 443;
  let share: KeyShare;
  try {
    share = await x25519Share();
  } catch (err) {
    return { error: `no x25519 key: ${reason(err)}` };
  }
  const hello = buildClientHello({
    random: crypto.getRandomValues(new Uint8Array(32)),
    sessionId: crypto.getRandomValues(new Uint8Array(32)),
    x25519PublicKey: share.publicKey,
    serverName: isIpHost(hostname) ? null : hostname,
  });

  let socket: Socket;
  try {
    socket = connect({ hostname, port }, { secureTransport: "off", allowHalfOpen: false });
  } catch (err) {
    return { error: `connection failed: ${reason(err)}` };
  }
  socket.closed.catch(() => undefined);
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<CertReading>((resolve) => {
    timer = setTimeout(() => resolve({ error: `timeout after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    return await Promise.race([exchange(socket, hello, share), timeout]);
  } catch (err) {
    return { error: `certificate not read: ${reason(err)}` };
  } finally {
    if (timer !== null) clearTimeout(timer);
    socket.close().catch(() => undefined);
  }
}

/** Sends the ClientHello and reads until the leaf certificate (or a failure) is known. */
async function exchange(socket: Socket, hello: Uint8Array, share: KeyShare): Promise<CertReading> {
  try {
    await socket.opened;
  } catch (err) {
    return { error: `connection failed: ${reason(err)}` };
  }
  const writer = socket.writable.getWriter();
  await writer.write(handshakeRecord(hello));
  writer.releaseLock();
  const tls = new LeafCertificateReader(hello, webCrypto, share);
  const reader = socket.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    const leaf = done
      ? tls.end()
      : await tls.push(value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
    if (!leaf) continue;
    if (!leaf.ok) return { error: leaf.error };
    const cert = parseCertificate(leaf.value.certificate);
    return cert.ok ? { notAfter: cert.value.notAfter } : { error: cert.error };
  }
}

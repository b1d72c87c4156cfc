/** The TLS primitives core/tls takes, from Node's WebCrypto (the Worker passes workerd's). */
import type { KeyShare } from "../../../../worker/core/tls/handshake";
import type { HashName, TlsCrypto } from "../../../../worker/core/tls/key-schedule";

const { subtle } = globalThis.crypto;
const buf = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;

export const nodeCrypto: TlsCrypto = {
  async digest(hash: HashName, data: Uint8Array) {
    return new Uint8Array(await subtle.digest(hash, buf(data)));
  },
  async hmac(hash: HashName, key: Uint8Array, data: Uint8Array) {
    const k = await subtle.importKey("raw", buf(key), { name: "HMAC", hash }, false, ["sign"]);
    return new Uint8Array(await subtle.sign("HMAC", k, buf(data)));
  },
  async aesGcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, sealed: Uint8Array) {
    const k = await subtle.importKey("raw", buf(key), "AES-GCM", false, ["decrypt"]);
    try {
      return new Uint8Array(
        await subtle.decrypt({ name: "AES-GCM", iv: buf(iv), additionalData: buf(aad) }, k, buf(sealed)),
      );
    } catch {
      return null;
    }
  },
};

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

/** An x25519 share from known keys (RFC 8448's client), doing the real key agreement. */
export async function knownShare(privateKey: Uint8Array, publicKey: Uint8Array): Promise<KeyShare> {
  const jwk = { kty: "OKP", crv: "X25519", d: b64url(privateKey), x: b64url(publicKey) };
  const priv = await subtle.importKey("jwk", jwk, { name: "X25519" }, false, ["deriveBits"]);
  return {
    publicKey,
    async agree(serverPublic) {
      const peer = await subtle.importKey("raw", buf(serverPublic), { name: "X25519" }, false, []);
      return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, priv, 256));
    },
  };
}

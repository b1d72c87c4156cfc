/**
 * Secrets shown once: admin tokens, session ids and ingest keys are random
 * 256-bit strings; only their SHA-256 is stored. The Node scripts
 * (scripts/lib/secrets.mjs) produce the same format and hash.
 */

export const SECRET_PREFIX = { token: "emt_", session: "ems_", ingest: "emk_" } as const;
export type SecretKind = keyof typeof SECRET_PREFIX;

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** `byteLength` random bytes as unpadded base64url. */
export function randomUrlSafe(byteLength: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/** A new secret of the given kind, e.g. `emt_3q2…` (47 characters). */
export function newSecret(kind: SecretKind): string {
  return SECRET_PREFIX[kind] + randomUrlSafe(32);
}

/** Hex SHA-256 of a secret: what the database stores and looks up by. */
export async function hashSecret(secret: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)));
}

/** Hex HMAC-SHA256 of `text` under `secret` (Slack request signatures, signed webhooks). */
export async function hmacSha256Hex(secret: string, text: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(text)));
}

/** The recognisable, non-secret start of a secret shown in lists. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, 10);
}

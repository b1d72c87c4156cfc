/**
 * The audit trail's pure half: what an entry may keep of an object (secrets redacted) and
 * which fields a change touched. Redaction runs on every before/after before it is stored,
 * so a secret that a resource's fields ever carry (a token, a key or its hash, a webhook URL's
 * path, a link code, a password in a URL) never reaches the audit table, whichever route wrote it.
 */

export const REDACTED = "[redacted]";

/**
 * Secrets recognised by their shape wherever they appear, whatever the field (a note, a
 * message): the product's own tokens, session ids and ingest keys (emt_/ems_/emk_ and 43
 * base64url characters), and Slack tokens (xoxb-…). A plain "key" field is not a secret by
 * name: the configuration diff names objects by `key`; an ingest key is caught by its shape.
 */
const SECRET_SHAPES = /\bem[tsk]_[\w-]{20,}|\bxox[abeprs]-[\w-]+/g;

/**
 * Field names (lower-case, "-" read as "_") whose values are secrets wherever they appear:
 * credentials, their hashes, request headers that carry them, one-time codes.
 */
const SECRET_NAMES = new Set([
  "token",
  "secret",
  "password",
  "passphrase",
  "authorization",
  "proxy_authorization",
  "cookie",
  "set_cookie",
  "api_key",
  "x_api_key",
  "apikey",
  "link_code",
  "signature",
]);
const SECRET_SUFFIXES = ["_token", "_secret", "_password", "_hash", "_api_key", "_link_code", "_signature"];
const SECRET_NAME_PARTS = ["keyhash", "tokenhash", "secret", "password"];

/** Whether a field's value is a secret, from its name alone. */
export function isSecretField(name: string): boolean {
  const n = name.toLowerCase().replace(/-/g, "_");
  if (SECRET_NAMES.has(n)) return true;
  if (SECRET_SUFFIXES.some((s) => n.endsWith(s))) return true;
  // camelCase spellings (keyHash, tokenHash, clientSecret) lose their underscore.
  const flat = n.replace(/_/g, "");
  return SECRET_NAME_PARTS.some((p) => flat.includes(p));
}

/** Query parameters that carry credentials in URLs people paste (…?token=…, …&api_key=…, sig=…). */
const isSecretParam = (name: string) => isSecretField(name) || /^(sig|auth|access_token|key)$/i.test(name);

/** scheme://authority path ?query #fragment of an absolute http(s) URL. */
const HTTP_URL = /^(https?:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i;

/**
 * A URL with its credentials removed: the userinfo password, secret query values, and, for a
 * webhook (its path is the secret, as in Slack's hooks.slack.com/services/T…/B…/xyz), the whole
 * path and query. Text that is not an absolute http(s) URL comes back unchanged.
 */
export function redactUrl(text: string, isWebhook = false): string {
  const m = HTTP_URL.exec(text);
  if (!m) return text;
  const [, scheme = "", authority = "", path = "", query = "", fragment = ""] = m;
  const at = authority.lastIndexOf("@");
  const host = at < 0 ? authority : authority.slice(at + 1);
  if (isWebhook) return `${scheme}${host}/${REDACTED}`;
  const userinfo = at < 0 ? "" : authority.slice(0, at);
  const colon = userinfo.indexOf(":");
  const user = colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:${REDACTED}`;
  const params = query
    ? `?${query
        .slice(1)
        .split("&")
        .map((pair) => {
          const eq = pair.indexOf("=");
          const name = eq < 0 ? pair : pair.slice(0, eq);
          return eq >= 0 && isSecretParam(safeDecode(name)) ? `${name}=${REDACTED}` : pair;
        })
        .join("&")}`
    : "";
  return `${scheme}${at < 0 ? "" : `${user}@`}${host}${path}${params}${fragment}`;
}

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/**
 * A copy of `value` safe to store: a secret field's value becomes "[redacted]" (null stays
 * null: "none set" is no secret), URLs lose their credentials, deeper objects alike.
 */
export function redact(value: unknown, field = ""): unknown {
  if (value === null || value === undefined) return value;
  if (field && isSecretField(field)) return REDACTED;
  if (typeof value === "string") {
    return redactUrl(value.replace(SECRET_SHAPES, REDACTED), /webhook|hook_url/i.test(field));
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, ""));
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The dotted paths of the fields that differ between two versions of an object (nested
 * objects descended into, arrays compared whole), sorted. A create or a delete (one side
 * null) lists the fields of the side that exists.
 */
export function changedFields(before: unknown, after: unknown, prefix = ""): string[] {
  if (!isPlainObject(before) || !isPlainObject(after)) {
    if (sameValue(before, after)) return [];
    if (prefix) return [prefix];
    const present = isPlainObject(before) ? before : isPlainObject(after) ? after : {};
    return Object.keys(present).sort();
  }
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  const out: string[] = [];
  for (const name of names) {
    const path = prefix ? `${prefix}.${name}` : name;
    const a = before[name];
    const b = after[name];
    if (isPlainObject(a) && isPlainObject(b)) out.push(...changedFields(a, b, path));
    else if (!sameValue(a, b)) out.push(path);
  }
  return out.sort();
}

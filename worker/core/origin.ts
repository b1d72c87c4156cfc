/**
 * Origin checks against cross-site request forgery. A browser attaches the session cookie
 * (and, behind Cloudflare Access, its assertion) to any request to the product, whoever's
 * page sends it; SameSite=Strict is the only other thing in the way. So a request that
 * rides on such an ambient credential and changes state, or opens the dashboard socket,
 * must come from the dashboard itself: its `Origin` is the product's own origin or one the
 * operator configured (a Pages deployment). Browsers send `Origin` on every such request
 * (same-origin POSTs and WebSocket upgrades included); when it is missing, only
 * `Sec-Fetch-Site: same-origin` vouches for the request. A bearer token is never ambient
 * (another site's page cannot set the header without a CORS grant the product never gives),
 * so bearer calls are not checked.
 */

/** How the request authenticates, as far as forgery is concerned. */
export type Credential = "bearer" | "ambient" | "none";

export interface OriginRequest {
  method: string;
  /** The origin of the request's own URL (`new URL(request.url).origin`). */
  selfOrigin: string;
  /** The `Origin` header, or null when absent. */
  origin: string | null;
  /** The `Sec-Fetch-Site` header, or null when absent. */
  secFetchSite: string | null;
  /** Whether the request asks for a WebSocket upgrade. */
  upgrade: boolean;
  credential: Credential;
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether the request must prove where it comes from: an ambient credential on a write or the socket. */
export function needsOriginCheck(req: Pick<OriginRequest, "method" | "upgrade" | "credential">): boolean {
  if (req.credential !== "ambient") return false;
  return req.upgrade || !SAFE_METHODS.has(req.method.toUpperCase());
}

const DEFAULT_PORT: Record<string, string> = { http: "80", https: "443" };
const ORIGIN = /^(https?):\/\/(\[[0-9a-f:.]+\]|[^/?#:@\s[\]]+)(?::(\d{1,5}))?\/?$/i;

/**
 * The canonical form of an http(s) origin (`scheme://host[:port]`, lower case, the default
 * port dropped, one trailing slash allowed), or null for anything else: a path, userinfo,
 * another scheme, "null", "*".
 */
export function normalizeOrigin(value: string): string | null {
  const m = ORIGIN.exec(value.trim());
  if (!m) return null;
  const scheme = (m[1] ?? "").toLowerCase();
  const host = (m[2] ?? "").toLowerCase().replace(/\.$/, "");
  const port = m[3] && m[3] !== DEFAULT_PORT[scheme] ? `:${Number(m[3])}` : "";
  return host ? `${scheme}://${host}${port}` : null;
}

/** The origin of an absolute http(s) URL such as DASHBOARD_URL (its path ignored), or null. */
export function originOfUrl(url: string): string | null {
  const m = /^(https?:\/\/[^/?#]+)/i.exec(url.trim());
  return m?.[1] ? normalizeOrigin(m[1]) : null;
}

export interface AllowedOrigins {
  origins: string[];
  /** Entries that are not an http(s) origin: ignored (never widen the check by accident). */
  invalid: string[];
}

/**
 * The configured origins besides the product's own: ALLOWED_ORIGINS (separated by commas or
 * white space) and the origin of DASHBOARD_URL.
 */
export function parseAllowedOrigins(allowed: string | undefined, dashboardUrl?: string): AllowedOrigins {
  const origins = new Set<string>();
  const invalid: string[] = [];
  for (const entry of (allowed ?? "").split(/[\s,]+/).filter(Boolean)) {
    const origin = normalizeOrigin(entry);
    if (origin) origins.add(origin);
    else invalid.push(entry);
  }
  const dashboard = dashboardUrl ? originOfUrl(dashboardUrl) : null;
  if (dashboard) origins.add(dashboard);
  return { origins: [...origins], invalid };
}

/** Decides whether the request may go on; the reason names what was wrong. */
export function checkOrigin(req: OriginRequest, allowed: readonly string[]): OriginVerdict {
  if (!needsOriginCheck(req)) return { ok: true };
  const what = req.upgrade ? "The dashboard socket" : "A request that changes state with the session cookie";
  if (req.origin === null) {
    if (req.secFetchSite?.trim().toLowerCase() === "same-origin") return { ok: true };
    return {
      ok: false,
      reason: `${what} must carry an Origin header (or Sec-Fetch-Site: same-origin); send a bearer token from scripts.`,
    };
  }
  if (req.origin.trim().toLowerCase() === "null") {
    return { ok: false, reason: `${what} came from an opaque origin (Origin: null).` };
  }
  const origin = normalizeOrigin(req.origin);
  const self = normalizeOrigin(req.selfOrigin);
  if (origin !== null && (origin === self || allowed.includes(origin))) return { ok: true };
  return {
    ok: false,
    reason: `${what} came from ${origin ?? "a malformed origin"}, which is neither the dashboard's origin nor in ALLOWED_ORIGINS.`,
  };
}

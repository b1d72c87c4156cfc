/**
 * Redirects, followed by hand so that each hop's target is checked (core/net/target.ts)
 * before anything is sent to it: a public URL answering `Location: http://127.0.0.1/`
 * must not reach the loopback. The method and body change as fetch() would change them.
 */

// core/ is compiled without DOM or Workers types; workerd and Node both provide the WHATWG parser.
declare const URL: new (input: string, base?: string) => { href: string; origin: string };

/** Hops followed at most; a longer chain fails the probe. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES: readonly number[] = [301, 302, 303, 307, 308];

/** Not sent to another origin: credentials meant for the first one (as fetch() drops Authorization). */
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization"];

export interface Hop {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * Where a response sends the request next: null when it is not a redirect to follow (no
 * Location, or not 301/302/303/307/308), else the next hop, or why there is none.
 */
export function nextHop(
  hop: Hop,
  status: number,
  location: string | null,
): { ok: true; hop: Hop } | { ok: false; reason: string } | null {
  if (!REDIRECT_STATUSES.includes(status) || location === null) return null;
  let next: { href: string; origin: string };
  let from: { origin: string };
  try {
    from = new URL(hop.url);
    next = new URL(location, hop.url);
  } catch {
    return { ok: false, reason: `redirect ${status} to an invalid URL` };
  }
  // 303 always becomes GET (HEAD stays); 301 and 302 turn a POST into a GET, as browsers do.
  const toGet =
    (status === 303 && hop.method !== "HEAD") || ((status === 301 || status === 302) && hop.method === "POST");
  const crossOrigin = next.origin !== from.origin;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(hop.headers)) {
    const lower = name.toLowerCase();
    if (crossOrigin && CREDENTIAL_HEADERS.includes(lower)) continue;
    if (toGet && lower.startsWith("content-")) continue;
    headers[name] = value;
  }
  return {
    ok: true,
    hop: { url: next.href, method: toGet ? "GET" : hop.method, headers, body: toGet ? null : hop.body },
  };
}

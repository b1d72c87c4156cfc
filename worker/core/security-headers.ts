/**
 * The security headers of everything the product serves, in one place: the dashboard's
 * static files get them from the `_headers` file the dashboard build writes next to them
 * (Workers static assets and Pages both apply it; the Worker never sees those requests),
 * the Worker's own answers (the API, the socket's refusals, /healthz, /metrics) from
 * middleware. A test asserts both.
 */

/**
 * The dashboard's Content-Security-Policy. Every script, style sheet and font is a file of
 * the build on the same origin, so no 'unsafe-inline' anywhere: Preact and uPlot set styles
 * through the CSSOM (`element.style.x = …`), which style-src does not govern. The only data:
 * URL is the inline SVG favicon. connect-src 'self' also covers the socket (ws:/wss: on the
 * same host). No framing, no <base>, forms only to the dashboard itself.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

/** The Worker's own answers are data, never a document: nothing may load or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Powerful browser features the dashboard never uses (the clipboard, which it does use, stays allowed). */
export const PERMISSIONS_POLICY = [
  "accelerometer=()",
  "camera=()",
  "geolocation=()",
  "gyroscope=()",
  "magnetometer=()",
  "microphone=()",
  "payment=()",
  "usb=()",
].join(", ");

/**
 * Headers common to every answer. Referrer-Policy is `same-origin`, not `no-referrer`: under
 * `no-referrer` a browser sends `Origin: null` on the dashboard's own POSTs, which the Origin
 * check (core/origin.ts) refuses; `same-origin` sends no referrer to any other site.
 */
const COMMON: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "Permissions-Policy": PERMISSIONS_POLICY,
  ...COMMON,
};

export const API_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": API_CSP,
  ...COMMON,
};

/** The `_headers` file of the dashboard build: the dashboard's headers on every path it serves. */
export function headersFile(): string {
  const lines = Object.entries(DASHBOARD_HEADERS).map(([name, value]) => `  ${name}: ${value}`);
  return ["# Written by the dashboard build from worker/core/security-headers.ts.", "/*", ...lines, ""].join("\n");
}

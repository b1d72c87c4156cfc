/**
 * The Origin check (core/origin.ts) as middleware: in front of the admin API, the session
 * routes and the dashboard socket, before authentication, so a forged request is refused
 * with a 403 naming the reason and never reaches D1.
 */
import { createMiddleware } from "hono/factory";
import { type Credential, checkOrigin, parseAllowedOrigins } from "../core/origin";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { presentedSecrets } from "./auth";

/** Bearer first, as authentication reads it; the cookie and the Access assertion ride along with any request. */
function credentialOf(headers: Headers): Credential {
  const { bearer, cookie } = presentedSecrets(headers);
  if (bearer) return "bearer";
  return cookie || headers.has("cf-access-jwt-assertion") ? "ambient" : "none";
}

/** ALLOWED_ORIGINS entries already reported as invalid, so a misconfiguration is logged once per isolate. */
const reported = new Set<string>();

export const checkRequestOrigin = createMiddleware<AppEnv>(async (c, next) => {
  const req = c.req.raw;
  const allowed = parseAllowedOrigins(c.env.ALLOWED_ORIGINS, c.env.DASHBOARD_URL);
  for (const entry of allowed.invalid) {
    if (reported.has(entry)) continue;
    reported.add(entry);
    console.warn(`ALLOWED_ORIGINS: ignoring ${JSON.stringify(entry)}, which is not an http(s) origin`);
  }
  const verdict = checkOrigin(
    {
      method: req.method,
      selfOrigin: new URL(req.url).origin,
      origin: req.headers.get("origin"),
      secFetchSite: req.headers.get("sec-fetch-site"),
      upgrade: req.headers.get("upgrade")?.toLowerCase() === "websocket",
      credential: credentialOf(req.headers),
    },
    allowed.origins,
  );
  if (!verdict.ok) throw new ApiError(403, verdict.reason, { details: [{ field: "Origin", reason: verdict.reason }] });
  await next();
});

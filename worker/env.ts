/** Hono environment: generated bindings plus the per-request variables set by middleware. */
import type { Actor } from "./middleware/auth";

/**
 * Secrets and optional settings live outside wrangler.toml (see .dev.vars.example),
 * so `wrangler types` cannot see them; they are declared here, all optional.
 */
interface Secrets {
  /** https://<team>.cloudflareaccess.com: enables Cloudflare Access JWT login. */
  ACCESS_TEAM_DOMAIN?: string;
  /** Audience (AUD tag) of the Access application. */
  ACCESS_AUD?: string;
}

declare global {
  interface Env extends Secrets {}
  namespace Cloudflare {
    interface Env extends Secrets {}
  }
}

export type AppEnv = {
  Bindings: Env;
  Variables: { actor: Actor };
};

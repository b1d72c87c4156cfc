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
  /** Analytics Engine SQL API, for long-range history in production: account id and an Account Analytics Read token. */
  AE_ACCOUNT_ID?: string;
  AE_API_TOKEN?: string;
  /** Base URL of the Cloudflare API (default https://api.cloudflare.com/client/v4). */
  AE_SQL_API_BASE?: string;
  /** Signing secret of the Slack app: enables /slack/commands and /slack/interactions. */
  SLACK_SIGNING_SECRET?: string;
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

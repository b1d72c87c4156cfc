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
  /**
   * The outbound dead-man's switch: a URL the monitor POSTs its health to every minute from
   * the cron and from its alarm loop (lib/deadman.ts), e.g. a healthchecks.io check.
   */
  DEADMAN_URL?: string;
  /** Where the dashboard is (https://monitor.example.com): notifications link to it absolutely; else by path. */
  DASHBOARD_URL?: string;
  /**
   * Private targets monitors may probe (core/net/target.ts): networks, addresses and host
   * names, comma-separated ("10.0.0.0/8, 192.168.1.0/24, localhost, *.corp.internal").
   * Without it, loopback, private, link-local, metadata and similar targets are refused.
   */
  ALLOW_PRIVATE_TARGETS?: string;
  /**
   * Origins besides the product's own (and DASHBOARD_URL's) whose pages may use the session
   * cookie to change state or open the socket, separated by commas (core/origin.ts), e.g. a
   * Pages deployment under another hostname: "https://monitor.pages.dev".
   */
  ALLOWED_ORIGINS?: string;
  /** Signing secret of the Slack app: enables /slack/commands and /slack/interactions. */
  SLACK_SIGNING_SECRET?: string;
  /**
   * Notification channels; a channel without its settings leaves its deliveries in the outbox.
   * Slack: a bot token (chat.postMessage DMs) is preferred over an incoming webhook URL; the
   * team channel a rule's `slack` posts to once per event is SLACK_CHANNEL with the bot token,
   * else the incoming webhook's (core/alerts/jobs slackRouting).
   */
  SLACK_BOT_TOKEN?: string;
  SLACK_WEBHOOK_URL?: string;
  /** The team channel (id or name) the bot posts a rule's `slack` to, once per alert event. */
  SLACK_CHANNEL?: string;
  /** Base URL of the Slack Web API (default https://slack.com). */
  SLACK_API_BASE_URL?: string;
  /** SMS through Twilio: all three are needed. */
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_FROM_NUMBER?: string;
  /** Base URL of the Twilio API (default https://api.twilio.com). */
  TWILIO_API_BASE_URL?: string;
  /**
   * Email, from EMAIL_FROM ("Name <address>"): through Resend when its key is set, else
   * Postmark when its token is, else the send_email binding (EMAIL).
   */
  EMAIL_FROM?: string;
  RESEND_API_KEY?: string;
  /** Base URL of the Resend API (default https://api.resend.com). */
  RESEND_API_BASE_URL?: string;
  POSTMARK_SERVER_TOKEN?: string;
  /** Base URL of the Postmark API (default https://api.postmarkapp.com). */
  POSTMARK_API_BASE_URL?: string;
  /** PagerDuty Events API v2 integration key. */
  PAGERDUTY_ROUTING_KEY?: string;
  /** Base URL of the PagerDuty Events API (default https://events.pagerduty.com). */
  PAGERDUTY_API_BASE_URL?: string;
  /** Generic webhook: where to POST, and the HMAC-SHA256 signing secret. */
  WEBHOOK_URL?: string;
  WEBHOOK_SECRET?: string;
  /** "native" (default) or "alertmanager" (Alertmanager webhook v4 body, for existing receivers). */
  WEBHOOK_FORMAT?: string;
  /** How long a provider may take to answer before the attempt counts as a timeout (default 10000). */
  NOTIFY_TIMEOUT_MS?: string;
  /**
   * How often each isolate sends its self-metrics counts to the Sentinel, in ms (default
   * 5000; tests set 0 so that every count goes at once).
   */
  SELF_METRICS_FLUSH_MS?: string;
  /**
   * Anomaly detection: every stored sample is scored by its series' detector (the anomalies
   * list, anomaly rules with method "detector"). "off" turns it off; on by default.
   */
  ANOMALY_DETECTION?: string;
  /**
   * Brute-force limits (core/auth-guard.ts): "off" stops lockouts (failures are still
   * counted); the two allowances per 10 minutes (defaults 10 per address, 5 per account).
   */
  AUTH_LOCKOUT?: string;
  AUTH_FAILURES_PER_ADDRESS?: string;
  AUTH_FAILURES_PER_ACCOUNT?: string;
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

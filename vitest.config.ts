/**
 * Three test projects: `unit` (plain Node: worker/core, scripts, dashboard lib),
 * `workers` (workerd via @cloudflare/vitest-plugin, real migrations and
 * bindings from wrangler.toml) and `e2e` (real Chromium against `wrangler dev`).
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { LANES } from "./worker/core/notify/channels";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: await readD1Migrations("migrations"),
                ACCESS_TEAM_DOMAIN: `http://127.0.0.1:${inject<number>("sinkPort")}`,
                ACCESS_AUD: "test-audience",
                TEST_ACCESS_PRIVATE_JWK: inject<string>("accessPrivateJwk"),
                SLACK_SIGNING_SECRET: "test-signing-secret",
                // Notification providers point at the provider sink; email stays unconfigured (outbox).
                // Slack goes through the bot token (chat.postMessage, chat.update); tests of the
                // incoming webhook drop the token from the env they pass.
                SLACK_BOT_TOKEN: "xoxb-test-bot-token",
                SLACK_API_BASE_URL: `http://127.0.0.1:${inject<number>("sinkPort")}/sink/slack-bot`,
                NOTIFY_TIMEOUT_MS: "2000",
                SLACK_WEBHOOK_URL: `http://127.0.0.1:${inject<number>("sinkPort")}/sink/slack/services/T0/B0/hook-secret-xyz`,
                TWILIO_API_BASE_URL: `http://127.0.0.1:${inject<number>("sinkPort")}/sink/twilio`,
                TWILIO_ACCOUNT_SID: "ACtest",
                TWILIO_AUTH_TOKEN: "twilio-secret-token",
                TWILIO_FROM_NUMBER: "+15550100000",
                WEBHOOK_URL: `http://127.0.0.1:${inject<number>("sinkPort")}/sink/webhook`,
                DEADMAN_URL: `http://127.0.0.1:${inject<number>("sinkPort")}/sink/deadman`,
                WEBHOOK_SECRET: "webhook-secret",
                // The probe tests' local targets listen on 127.0.0.1: allowed as an operator allows a
                // private network; every other private target stays refused (test/integration/targets.test.ts).
                ALLOW_PRIVATE_TARGETS: "127.0.0.1",
                // Self-metrics counts go to the Sentinel at once, so /metrics shows them as soon as the flush lands.
                SELF_METRICS_FLUSH_MS: "0",
              },
              queueConsumers: {
                notifications: { maxBatchTimeout: 0.05 },
                ...Object.fromEntries(Object.values(LANES).map((lane) => [lane, { maxBatchTimeout: 0.05 }])),
                "notifications-dlq": { maxBatchTimeout: 0.05 },
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/integration/**/*.test.ts"],
          // Engine tests wait on Durable Objects, the queue and alarms in one workerd that the
          // whole suite shares on two cores; each wait has its own bound inside the test.
          testTimeout: 15_000,
          globalSetup: [
            "./test/setup/provider-sink.ts",
            "./test/setup/targets.ts",
            "./test/setup/tls-targets.ts",
            "./test/setup/ae-sql.ts",
          ],
          setupFiles: ["./test/setup/apply-migrations.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          // The page follows the server over a socket: give each polled expectation seconds, not the default 1 s.
          expect: { poll: { timeout: 10_000, interval: 100 } },
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["./test/e2e/server.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

import { describe, expect, it } from "vitest";
import { renderUpdate, slackBot, slackWebhook } from "../../../../worker/core/notify/slack";
import { RenderError } from "../../../../worker/core/notify/types";
import { ada, job, NOW } from "./fixtures";

const BOT = { baseUrl: "http://sink/slack", botToken: "xoxb-SECRET" };
const HOOK = { webhookUrl: "https://hooks.slack.com/services/T000/B000/HOOKSECRET" };

const header = (text: string) => ({ type: "header", text: { type: "plain_text", text } });
const message = { type: "section", text: { type: "mrkdwn", text: "p95 latency 812.5 ms &gt; 500 ms", verbatim: true } };
const fields = (value: string) => ({
  type: "section",
  fields: [
    { type: "mrkdwn", text: "*Severity*\ncritical", verbatim: true },
    { type: "mrkdwn", text: "*Service*\napi", verbatim: true },
    { type: "mrkdwn", text: `*Value*\n${value}`, verbatim: true },
    { type: "mrkdwn", text: "*Since*\n2026-11-26T10:00:00.000Z", verbatim: true },
  ],
});
const button = (text: string, action_id: string, style?: string) => ({
  type: "button",
  text: { type: "plain_text", text },
  action_id,
  value: "12",
  ...(style ? { style } : {}),
});
const context = (text: string) => ({ type: "context", elements: [{ type: "mrkdwn", text, verbatim: true }] });

const GOLDEN = {
  firing: {
    text: "[CRITICAL] FIRING: High latency on api (#12): p95 latency 812.5 ms &gt; 500 ms",
    blocks: [
      header("[CRITICAL] FIRING: High latency on api (#12)"),
      message,
      fields("812.5"),
      {
        type: "actions",
        block_id: "alert:12",
        elements: [
          button("Acknowledge", "ack", "primary"),
          button("Resolve", "resolve"),
          button("Silence 1 h", "silence_1h"),
        ],
      },
    ],
  },
  acknowledged: {
    text: "[CRITICAL] ACKNOWLEDGED: High latency on api (#12): p95 latency 812.5 ms &gt; 500 ms",
    blocks: [
      header("[CRITICAL] ACKNOWLEDGED: High latency on api (#12)"),
      message,
      fields("812.5"),
      context("Acknowledged by Ada at 2026-11-26T10:05:00.000Z"),
      {
        type: "actions",
        block_id: "alert:12",
        elements: [button("Resolve", "resolve"), button("Silence 1 h", "silence_1h")],
      },
    ],
  },
  resolved: {
    text: "[CRITICAL] RESOLVED: High latency on api (#12): p95 latency 812.5 ms &gt; 500 ms",
    blocks: [
      header("[CRITICAL] RESOLVED: High latency on api (#12)"),
      message,
      fields("120"),
      context("Resolved at 2026-11-26T10:10:00.000Z"),
    ],
  },
};
const EVENTS = Object.keys(GOLDEN) as (keyof typeof GOLDEN)[];

describe("Slack chat.postMessage", () => {
  it.each(EVENTS)("%s: exact request", (event) => {
    const req = slackBot.render(job(event), ada, BOT, NOW);
    expect(req.url).toBe("http://sink/slack/api/chat.postMessage");
    expect(req.headers).toEqual({
      authorization: "Bearer xoxb-SECRET",
      "content-type": "application/json; charset=utf-8",
    });
    expect(JSON.parse(req.body)).toEqual({ channel: "U0ADA", ...GOLDEN[event] });
  });

  it("refuses a recipient without a member id", () => {
    expect(() => slackBot.render(job("firing"), { ...ada, slackMemberId: null }, BOT, NOW)).toThrow(RenderError);
  });

  it("escapes mrkdwn control characters of alert text", () => {
    const body = JSON.parse(slackBot.render(job("firing", { message: "<!channel> & <@U1>" }), ada, BOT, NOW).body);
    expect(body.blocks[1].text.text).toBe("&lt;!channel&gt; &amp; &lt;@U1&gt;");
  });

  it("keeps the header within Slack's 150 characters", () => {
    const body = JSON.parse(slackBot.render(job("firing", { ruleName: "r".repeat(300) }), ada, BOT, NOW).body);
    expect(body.blocks[0].text.text).toHaveLength(150);
  });
});

describe("Slack incoming webhook", () => {
  it.each(EVENTS)("%s: exact request", (event) => {
    const req = slackWebhook.render(job(event), ada, HOOK, NOW);
    expect(req.url).toBe(HOOK.webhookUrl);
    expect(req.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(req.body)).toEqual(GOLDEN[event]);
  });

  it("takes the plain ok answer as delivered", () => {
    expect(slackWebhook.classify(200, {}, "ok", HOOK, NOW)).toEqual({ outcome: "delivered" });
  });
});

describe("Slack chat.update", () => {
  it.each([
    // Acknowledged: Resolve and Silence stay; resolved: nothing left to press.
    ["acknowledged", GOLDEN.acknowledged.blocks],
    ["resolved", GOLDEN.resolved.blocks],
  ] as const)("%s: the state, buttons only while open", (event, blocks) => {
    const req = renderUpdate(job(event), BOT, "D0ADA", "1764151900.000100");
    expect(req.url).toBe("http://sink/slack/api/chat.update");
    expect(req.headers.authorization).toBe("Bearer xoxb-SECRET");
    expect(JSON.parse(req.body)).toEqual({
      channel: "D0ADA",
      ts: "1764151900.000100",
      text: GOLDEN[event].text,
      blocks,
    });
  });
});

describe("Slack answers", () => {
  it.each([
    [
      200,
      {},
      '{"ok":true,"channel":"D0ADA","ts":"1764151900.000100"}',
      { outcome: "delivered", providerId: "D0ADA/1764151900.000100" },
    ],
    [
      200,
      {},
      '{"ok":false,"error":"channel_not_found"}',
      { outcome: "permanent", reason: "Slack error: channel_not_found" },
    ],
    [200, {}, '{"ok":false,"error":"invalid_auth"}', { outcome: "permanent", reason: "Slack error: invalid_auth" }],
    [
      200,
      { "Retry-After": "30" },
      '{"ok":false,"error":"ratelimited"}',
      { outcome: "retryable", retryAfterSeconds: 30, reason: "Slack error: ratelimited" },
    ],
    [
      200,
      {},
      '{"ok":false,"error":"internal_error"}',
      { outcome: "retryable", retryAfterSeconds: null, reason: "Slack error: internal_error" },
    ],
    [200, {}, "<html>", { outcome: "retryable", retryAfterSeconds: null, reason: "HTTP 200: unreadable Slack answer" }],
    [
      429,
      { "retry-after": "7" },
      '{"ok":false,"error":"ratelimited"}',
      { outcome: "retryable", retryAfterSeconds: 7, reason: "HTTP 429: ratelimited" },
    ],
  ] as const)("%i %j %s", (status, headers, body, expected) => {
    expect(slackBot.classify(status, headers, body, BOT, NOW)).toEqual(expected);
  });
});

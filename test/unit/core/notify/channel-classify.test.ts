import { describe, expect, it } from "vitest";
import { redact, retryAfterSeconds } from "../../../../worker/core/notify/classify";
import { postmark, resend } from "../../../../worker/core/notify/email";
import { pagerDuty } from "../../../../worker/core/notify/pagerduty";
import { slackBot, slackWebhook } from "../../../../worker/core/notify/slack";
import { twilio } from "../../../../worker/core/notify/sms";
import type { Channel, Classification } from "../../../../worker/core/notify/types";
import { webhook } from "../../../../worker/core/notify/webhook";
import { ada, job, NOW } from "./fixtures";

/** A secret whose URL-encoded and base64 forms differ from it. */
const S = "k3y+/s3cr=t&x";
/** The same without "/", which would split a webhook URL's path. */
const HOOK_TOKEN = "k3y+s3cr=t&x";
const HOOK_URL = `https://hooks.slack.com/services/T1/B1/${HOOK_TOKEN}`;

interface Case {
  channel: Channel<never>;
  config: unknown;
  /** What the provider answers on success. */
  ok: string;
  /** The secret itself, if not S. */
  secret?: string;
  /** Every form the secret could be echoed in. */
  secretForms: string[];
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const forms = (...secrets: string[]) =>
  secrets.flatMap((s) => [s, encodeURIComponent(s), b64(s), b64(s).replace(/=+$/, "")]);

const CASES: Record<string, Case> = {
  resend: {
    channel: resend as Channel<never>,
    config: { baseUrl: "http://sink", apiKey: S, from: "a@example.com" },
    ok: '{"id":"x"}',
    secretForms: forms(S),
  },
  postmark: {
    channel: postmark as Channel<never>,
    config: { baseUrl: "http://sink", serverToken: S, from: "a@example.com" },
    ok: '{"ErrorCode":0,"MessageID":"x"}',
    secretForms: forms(S),
  },
  twilio: {
    channel: twilio as Channel<never>,
    config: { baseUrl: "http://sink", accountSid: "AC1", authToken: S, from: "+1" },
    ok: '{"sid":"x"}',
    secretForms: forms(S, `AC1:${S}`),
  },
  "slack webhook": {
    channel: slackWebhook as Channel<never>,
    config: { webhookUrl: HOOK_URL },
    ok: "ok",
    secret: HOOK_TOKEN,
    secretForms: forms(HOOK_URL, `T1/B1/${HOOK_TOKEN}`, HOOK_TOKEN),
  },
  "slack bot": {
    channel: slackBot as Channel<never>,
    config: { baseUrl: "http://sink", botToken: S },
    ok: '{"ok":true,"ts":"x"}',
    secretForms: forms(S),
  },
  webhook: {
    channel: webhook as Channel<never>,
    config: { url: "http://sink", secret: S, format: "native" },
    ok: "",
    secretForms: forms(S),
  },
  pagerduty: {
    channel: pagerDuty as Channel<never>,
    config: { baseUrl: "http://sink", routingKey: S },
    ok: '{"status":"success","dedup_key":"x"}',
    secretForms: forms(S),
  },
};

type Expect = "delivered" | "permanent" | ["retryable", number | null];

/** status, headers, expected outcome: the shared table, the same for every channel. */
const TABLE: [number, Record<string, string>, Expect][] = [
  [200, {}, "delivered"],
  [201, {}, "delivered"],
  [202, {}, "delivered"],
  [400, {}, "permanent"],
  [401, {}, "permanent"],
  [404, {}, "permanent"],
  [408, {}, ["retryable", null]],
  [422, {}, "permanent"],
  [425, {}, ["retryable", null]],
  [429, {}, ["retryable", null]],
  [429, { "Retry-After": "30" }, ["retryable", 30]],
  // An HTTP-date 90 s after NOW (2026-11-26T10:11:40Z).
  [429, { "retry-after": "Thu, 26 Nov 2026 10:13:10 GMT" }, ["retryable", 90]],
  [500, { "Retry-After": "30" }, ["retryable", null]],
  [502, {}, ["retryable", null]],
  [503, { "Retry-After": "120" }, ["retryable", 120]],
  [503, {}, ["retryable", null]],
  [301, {}, "permanent"],
];

describe.each(Object.entries(CASES))("%s", (_name, c) => {
  const classify = (status: number, headers: Record<string, string>, body: string): Classification =>
    c.channel.classify(status, headers, body, c.config as never, NOW);

  it.each(TABLE)("HTTP %i %j", (status, headers, expected) => {
    const body = status < 300 ? c.ok : '{"message":"provider says no"}';
    const got = classify(status, headers, body);
    const summary: Expect = got.outcome === "retryable" ? ["retryable", got.retryAfterSeconds] : got.outcome;
    expect(summary).toEqual(expected);
    expect(got.outcome === "delivered" ? "" : got.reason).toMatch(
      status < 300 ? /^$/ : new RegExp(`^HTTP ${status}: provider says no$`),
    );
  });

  it("says only the status when the error body is empty", () => {
    const got = classify(503, {}, "");
    expect(got.outcome === "delivered" ? "" : got.reason).toBe("HTTP 503");
  });

  it("puts no form of its secret in any reason", () => {
    const secret = c.secret ?? S;
    const echoes = [
      ...c.secretForms.map((f) => `{"message":"invalid key ${f}"}`),
      ...c.secretForms.map((f) => `Authorization: Basic ${f} rejected`),
      ...c.secretForms.map((f) => `{"ok":false,"error":"${f}"}`),
      `{"errors":["bad token ${secret}"],"message":"see ${encodeURIComponent(secret)}"}`,
      // Cut at 200 characters right inside the secret, were it cut before redaction.
      `<html>${"x".repeat(188)}${secret}</html>`,
    ];
    const reasons: string[] = [];
    for (const body of echoes) {
      for (const [status] of TABLE) {
        const got = classify(status, {}, body);
        if (got.outcome !== "delivered") reasons.push(got.reason);
      }
    }
    expect(reasons.length).toBeGreaterThan(100);
    for (const reason of reasons) {
      for (const f of c.secretForms) expect(reason).not.toContain(f);
      // Not even a cut-off start of it.
      expect(reason).not.toContain(secret.slice(0, 6));
    }
    expect(reasons.some((r) => r.includes("[redacted]"))).toBe(true);
  });

  it("lists secrets that cover everything secret in its request", () => {
    const rendered = c.channel.render(job("firing"), ada, c.config as never, NOW);
    const text = `${rendered.url} ${JSON.stringify(rendered.headers)} ${rendered.body}`;
    expect(redact(text, c.channel.secrets(c.config as never))).not.toContain(c.secret ?? S);
  });
});

describe("redact", () => {
  it.each([
    ["token abc123XYZ here", ["abc123XYZ"], "token [redacted] here"],
    ["a%2Bb%2Fc and a+b/c", ["a+b/c"], "[redacted] and [redacted]"],
    ["Basic dXNlcjpwYXNz", ["user:pass"], "Basic [redacted]"],
    ["padless c2VjcmV0", ["secret"], "padless [redacted]"],
    ["nothing to hide", ["", "zzz"], "nothing to hide"],
    ["xx-long-secret-xx", ["long-secret", "secret"], "xx-[redacted]-xx"],
  ])("%j", (text, secrets, expected) => {
    expect(redact(text, secrets)).toBe(expected);
  });
});

describe("Retry-After", () => {
  it.each([
    [{ "Retry-After": "5" }, 5],
    [{ "retry-after": " 0 " }, 0],
    [{ "RETRY-AFTER": "Thu, 26 Nov 2026 10:12:40 GMT" }, 60],
    [{ "Retry-After": "Thu, 26 Nov 2026 09:00:00 GMT" }, 0],
    [{ "Retry-After": "soon" }, null],
    [{ "Retry-After": "-3" }, null],
    [{}, null],
  ])("%j → %s", (headers, expected) => {
    expect(retryAfterSeconds(headers, NOW)).toBe(expected);
  });
});

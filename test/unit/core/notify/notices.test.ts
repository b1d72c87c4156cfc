/** Notices (a quiet-hours digest, a test) in every channel: they show their title and lines, not the alert. */
import { fnv1a64 } from "../../../../worker/core/notify/encoding";
import { describe, expect, it } from "vitest";
import type { NotificationJob } from "../../../../worker/core/alerts/jobs";
import {
  addressOf,
  classifyBindingError,
  emailContent,
  postmark,
  renderRawEmail,
  resend,
} from "../../../../worker/core/notify/email";
import { pagerDuty } from "../../../../worker/core/notify/pagerduty";
import { digestJobs } from "../../../../worker/core/notify/quiet-hours";
import { messageRef, slackBlocks, slackBot, slackWebhook } from "../../../../worker/core/notify/slack";
import { SEGMENT_LIMIT, smsLength, smsText, twilio } from "../../../../worker/core/notify/sms";
import { plainText, title } from "../../../../worker/core/notify/text";
import { RenderError } from "../../../../worker/core/notify/types";
import { ada, job, NOW, T } from "./fixtures";
import { alternativeParts, parseMessage } from "./mime";

/** Two alerts held overnight for Ada's email, one of them with markup in its rule name. */
const digest = digestJobs(
  [
    {
      id: 41,
      adminId: 4,
      channel: "email",
      job: job("firing", { id: 13, ruleName: "<script>alert(1)</script>", severity: "warning" }),
    },
    { id: 42, adminId: 4, channel: "email", job: job("resolved") },
  ],
  NOW,
)[0]?.job as NotificationJob;

const TITLE = "Quiet hours digest: 2 alerts";
const LINES = [
  "By severity: 1 critical, 1 warning",
  "By event: 1 firing, 1 resolved",
  "2026-11-26T10:00:00.000Z FIRING [warning] <script>alert(1)</script> (api), value 812.5",
  "2026-11-26T10:00:00.000Z RESOLVED [critical] High latency (api), value 120",
];

const testNotice: NotificationJob = {
  ...job("firing"),
  alertId: 0,
  event: "test",
  occurrence: "test",
  idempotencyKey: "test|admin:4|email|1",
  notice: { title: "Test notification", lines: ["Sent by Ada to check this channel."] },
};

describe("the digest job", () => {
  it("is the held items as a notice", () => {
    expect(digest).toMatchObject({
      idempotencyKey: `digest|rows:41-42:2:${fnv1a64("41,42")}|admin:4|email`,
      alertId: 0,
      event: "digest",
      notice: { title: TITLE, lines: LINES },
    });
  });

  it("text: its title and lines, not the alert's", () => {
    expect(title(digest)).toBe(TITLE);
    expect(plainText(digest)).toBe([TITLE, "", ...LINES].join("\n"));
    expect(title(testNotice)).toBe("Test notification");
    expect(plainText(testNotice)).toBe("Test notification\n\nSent by Ada to check this channel.");
  });
});

describe("email", () => {
  const HTML =
    `<h2>${TITLE}</h2>\n<ul>\n` +
    "<li>By severity: 1 critical, 1 warning</li>\n" +
    "<li>By event: 1 firing, 1 resolved</li>\n" +
    "<li>2026-11-26T10:00:00.000Z FIRING [warning] &lt;script&gt;alert(1)&lt;/script&gt; (api), value 812.5</li>\n" +
    "<li>2026-11-26T10:00:00.000Z RESOLVED [critical] High latency (api), value 120</li>\n" +
    "</ul>";

  it("subject is the title, text the lines, HTML a list with every line escaped", () => {
    expect(emailContent(digest)).toEqual({ subject: TITLE, text: LINES.join("\n"), html: HTML });
  });

  it("Resend and Postmark send the same content", () => {
    const r = JSON.parse(
      resend.render(digest, ada, { baseUrl: "http://sink", apiKey: "k", from: "a@example.com" }, NOW).body,
    );
    expect([r.subject, r.text, r.html]).toEqual([TITLE, LINES.join("\n"), HTML]);
    const p = JSON.parse(
      postmark.render(digest, ada, { baseUrl: "http://sink", serverToken: "t", from: "a@example.com" }, NOW).body,
    );
    expect([p.Subject, p.TextBody, p.HtmlBody]).toEqual([TITLE, LINES.join("\n"), HTML]);
  });

  describe("renderRawEmail", () => {
    const CONFIG = { from: "Edge Monitor <alerts@mon.example.org>" };

    it("a complete message: Message-ID at the sender's domain, both parts", () => {
      const email = renderRawEmail(digest, ada, CONFIG, NOW);
      expect(email.from).toBe("alerts@mon.example.org");
      expect(email.to).toBe("ada@example.com");
      // A digest is about no one alert: its id part is 0.
      expect(email.messageId).toMatch(/^<[0-9a-f]{16}\.0@mon\.example\.org>$/);
      expect(email.raw).not.toMatch(/[^\r]\n/);

      const { headers, body } = parseMessage(email.raw);
      expect(headers.get("message-id")).toBe(email.messageId);
      expect(headers.get("from")).toBe(CONFIG.from);
      expect(headers.get("to")).toBe('"Ada Lovelace" <ada@example.com>');
      expect(headers.get("subject")).toBe(TITLE);
      expect(headers.get("date")).toBe("Thu, 26 Nov 2026 10:11:40 +0000");
      const decoded = alternativeParts({ headers, body });
      expect(decoded).toEqual([LINES.join("\n"), HTML]);
    });

    it("the same job is the same message whenever it is sent; another key, another message", () => {
      const first = renderRawEmail(digest, ada, CONFIG, NOW);
      const resent = renderRawEmail(digest, ada, CONFIG, NOW + 3_600_000);
      expect(resent.messageId).toBe(first.messageId);
      expect(resent.raw.replace(/\r\nDate: [^\r]*/, "")).toBe(first.raw.replace(/\r\nDate: [^\r]*/, ""));
      const fallback = { ...digest, idempotencyKey: `${digest.idempotencyKey}|fallback:email` };
      expect(renderRawEmail(fallback, ada, CONFIG, NOW).messageId).not.toBe(first.messageId);
      expect(renderRawEmail(job("firing"), ada, CONFIG, NOW).messageId).toMatch(
        /^<[0-9a-f]{16}\.12@mon\.example\.org>$/,
      );
    });

    it("refuses a From without an address, and a recipient without one", () => {
      expect(() => renderRawEmail(digest, ada, { from: "Edge Monitor" }, NOW)).toThrow(
        new RenderError("EMAIL_FROM has no sender address"),
      );
      expect(() => renderRawEmail(digest, { ...ada, email: null }, CONFIG, NOW)).toThrow(RenderError);
    });
  });

  it.each<[string, string | null]>([
    ["Edge Monitor <alerts@example.com>", "alerts@example.com"],
    ['"Ops, Team" <ops@example.com>', "ops@example.com"],
    ["<alerts@example.com>", "alerts@example.com"],
    ["alerts@example.com", "alerts@example.com"],
    ["  alerts@example.com  ", "alerts@example.com"],
    ["Edge Monitor <alerts@example.com>  ", "alerts@example.com"],
    ["Edge Monitor", null],
    ["", null],
    ["Edge Monitor <alerts>", null],
    ["Edge Monitor <alerts@example.com> and more", null],
    ["two words@example.com", null],
  ])("addressOf(%j) is %j", (text, expected) => {
    expect(addressOf(text)).toBe(expected);
  });

  it.each<[string, "permanent" | "retryable"]>([
    ["Sender address not allowed", "permanent"],
    ["destination address is NOT ALLOWED", "permanent"],
    ["invalid message-id header", "permanent"],
    ["Invalid Message-ID", "permanent"],
    ["could not parse message", "permanent"],
    ["From address does not match the binding", "permanent"],
    ["destination address not verified", "permanent"],
    ["internal error", "retryable"],
    ["daily sending limit reached", "retryable"],
    ["network connection lost", "retryable"],
    ["", "retryable"],
  ])("classifyBindingError(%j) is %s", (message, outcome) => {
    const reason = `send_email: ${message}`;
    expect(classifyBindingError(message, [])).toEqual(
      outcome === "permanent" ? { outcome, reason } : { outcome, retryAfterSeconds: null, reason },
    );
  });

  it("classifyBindingError redacts the secrets it is given", () => {
    expect(classifyBindingError("token tok-SECRET-1 not allowed for tok-SECRET-1", ["tok-SECRET-1"])).toEqual({
      outcome: "permanent",
      reason: "send_email: token [redacted] not allowed for [redacted]",
    });
    expect(classifyBindingError("quota for tok-SECRET-1", ["tok-SECRET-1", ""])).toEqual({
      outcome: "retryable",
      retryAfterSeconds: null,
      reason: "send_email: quota for [redacted]",
    });
  });
});

describe("sms", () => {
  const fitsOneSegment = (text: string) => {
    const { encoding, units } = smsLength(text);
    return units <= SEGMENT_LIMIT[encoding];
  };

  it("the title, then as many lines as fit one GSM-7 segment", () => {
    // 157 characters; each "|" is a GSM-7 extension character (2 septets): 160 units.
    const text = smsText(digest);
    expect(text).toBe(
      "Quiet hours digest: 2 alerts | By severity: 1 critical, 1 warning | By event: 1 firing, 1 resolved | " +
        "2026-11-26T10:00:00.000Z FIRING [warning] <script>a...",
    );
    expect(smsLength(text)).toEqual({ encoding: "GSM-7", units: 160 });
  });

  it("a short notice whole", () => {
    const notice = { ...digest, notice: { title: "Quiet hours digest: 1 alert", lines: ["By severity: 1 info"] } };
    expect(smsText(notice)).toBe("Quiet hours digest: 1 alert | By severity: 1 info");
    expect(smsText(testNotice)).toBe("Test notification | Sent by Ada to check this channel.");
  });

  it("70 UCS-2 units when a line needs them, still starting with the title", () => {
    const notice = {
      ...digest,
      notice: { title: TITLE, lines: ["Kühlraum ☃ zu warm: 9 °C", ...LINES] },
    };
    const text = smsText(notice);
    expect(text.startsWith(`${TITLE} | Kühlraum ☃`)).toBe(true);
    expect(text.endsWith("...")).toBe(true);
    expect(smsLength(text).encoding).toBe("UCS-2");
    expect(fitsOneSegment(text)).toBe(true);
    expect(text.length).toBeGreaterThan(65);
  });

  it("line breaks inside a line do not split the message", () => {
    const notice = { ...digest, notice: { title: "Quiet\nhours", lines: ["a\r\nb"] } };
    expect(smsText(notice)).toBe("Quiet hours | a b");
  });

  it("Twilio sends it as the body", () => {
    const req = twilio.render(
      digest,
      ada,
      { baseUrl: "http://sink", accountSid: "AC1", authToken: "t", from: "+1555" },
      NOW,
    );
    expect(new URLSearchParams(req.body).get("Body")).toBe(smsText(digest));
  });
});

describe("slack", () => {
  const BLOCKS = [
    { type: "header", text: { type: "plain_text", text: TITLE } },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: [
          "By severity: 1 critical, 1 warning",
          "By event: 1 firing, 1 resolved",
          "2026-11-26T10:00:00.000Z FIRING [warning] &lt;script&gt;alert(1)&lt;/script&gt; (api), value 812.5",
          "2026-11-26T10:00:00.000Z RESOLVED [critical] High latency (api), value 120",
        ].join("\n"),
        verbatim: true,
      },
    },
  ];

  it("a header and a section, no buttons even when asked", () => {
    expect(slackBlocks(digest, true)).toEqual(BLOCKS);
    expect(slackBlocks(digest, false)).toEqual(BLOCKS);
  });

  it("bot and webhook post the title as the fallback text and no actions", () => {
    const bot = JSON.parse(slackBot.render(digest, ada, { baseUrl: "http://sink", botToken: "xoxb" }, NOW).body);
    expect(bot).toEqual({ channel: "U0ADA", text: TITLE, blocks: BLOCKS });
    const hook = JSON.parse(slackWebhook.render(testNotice, ada, { webhookUrl: "http://sink/hook" }, NOW).body);
    expect(hook).toEqual({
      text: "Test notification",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "Test notification" } },
        { type: "section", text: { type: "mrkdwn", text: "Sent by Ada to check this channel.", verbatim: true } },
      ],
    });
  });

  it("keeps within Slack's limits", () => {
    const long = {
      ...digest,
      notice: { title: "x".repeat(200), lines: Array.from({ length: 100 }, () => "y".repeat(80)) },
    };
    const [header, section] = slackBlocks(long, false) as [{ text: { text: string } }, { text: { text: string } }];
    expect(header.text.text).toHaveLength(150);
    expect(section.text.text).toHaveLength(3000);
  });

  it.each<[string | null | undefined, { channel: string; ts: string } | null]>([
    ["C024BE91L/1700000000.000100", { channel: "C024BE91L", ts: "1700000000.000100" }],
    ["D0ADA/1.2", { channel: "D0ADA", ts: "1.2" }],
    ["1700000000.000100", null],
    ["c024be91l/1700000000.000100", null],
    ["C024BE91L/1700000000", null],
    ["C024BE91L/1700000000.000100/x", null],
    ["", null],
    [null, null],
    [undefined, null],
  ])("messageRef(%j)", (providerId, expected) => {
    expect(messageRef(providerId)).toEqual(expected);
  });
});

describe("pagerduty", () => {
  const CONFIG = { baseUrl: "http://sink", routingKey: "R0UTING" };

  it.each<[string, NotificationJob]>([
    ["digest", digest],
    ["test", testNotice],
  ])("takes no %s", (event, j) => {
    expect(() => pagerDuty.render(j, ada, CONFIG, NOW)).toThrow(new RenderError(`PagerDuty takes no ${event}`));
  });

  it("still takes the alert itself", () => {
    expect(JSON.parse(pagerDuty.render(job("firing"), ada, CONFIG, T).body)).toMatchObject({
      event_action: "trigger",
    });
  });
});

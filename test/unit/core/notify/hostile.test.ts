/**
 * The injection contract of every channel: hostile strings, put where a rule author, a
 * heartbeat URL holder (`POST …/fail` bodies), a probed target or an admin puts text (rule
 * name, alert message, label value, service name, the acknowledging admin's name), must
 * reach each channel as inert text: no Slack mention or link, no HTML tag, no mail header,
 * no control sequence; and still be readable.
 */
import { describe, expect, it } from "vitest";
import type { AlertSnapshot, NotificationJob } from "../../../../worker/core/alerts/jobs";
import { emailContent, renderMime } from "../../../../worker/core/notify/email";
import { pagerDuty } from "../../../../worker/core/notify/pagerduty";
import { previewChannel } from "../../../../worker/core/notify/preview";
import { slackBot, slackWebhook } from "../../../../worker/core/notify/slack";
import { smsLength, SEGMENT_LIMIT, twilio } from "../../../../worker/core/notify/sms";
import { webhook } from "../../../../worker/core/notify/webhook";
import { slack as escapeSlack } from "../../../../worker/core/notify/escape";
import { ada, job, NOW } from "./fixtures";

const HOSTILE: [name: string, text: string][] = [
  ["channel mention", "<!channel> disk full"],
  ["here mention with label", "<!here|here> look"],
  ["user mention", "ping <@U123> now"],
  ["disguised link", "<https://evil.example/login|Click> to fix"],
  ["formatting", "*bold* _it_ ~s~ `code`"],
  ["pre-escaped entity", "&amp; &lt;!channel&gt;"],
  ["header injection", "down\r\nBcc: x@evil.example\r\n\r\nbody"],
  ["script tag", "<script>alert(1)</script>"],
  ["quotes", `"quotes" 'apos'`],
  ["control characters", "bell\u0007 esc\u001b[31mred"],
  ["bidi override", "safe \u202egnp.exe"],
  ["emoji", "🔥 on fire"],
  ["bare mentions", "@channel @here @everyone"],
  ["very long", "<!channel> " + "A".repeat(5000)],
];

/** Where hostile text can sit in an alert. */
const PLACES: [place: string, over: (text: string) => Partial<AlertSnapshot>][] = [
  ["rule name", (t) => ({ ruleName: t })],
  ["message", (t) => ({ message: t })],
  ["label value", (t) => ({ labels: { region: t } })],
  ["service name", (t) => ({ serviceName: t })],
  ["acknowledging admin", (t) => ({ acknowledgedBy: t })],
];

const CASES = PLACES.flatMap(([place, over]) =>
  HOSTILE.map(([name, text]) => ({ place, name, text, job: hostileJob(over(text)) })),
);

function hostileJob(over: Partial<AlertSnapshot>): NotificationJob {
  // Acknowledged so the acknowledging admin's name is shown; buttons stay (still open).
  return job("acknowledged", over);
}

// oxlint-disable-next-line no-control-regex -- the test looks for the characters it forbids
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
// oxlint-disable-next-line no-control-regex -- the same with tab and line feed
const CONTROL_OR_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** What a person sees of a Slack text: entities decoded, formatting look-alikes read as the markers. */
const slackReading = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/∗/g, "*")
    .replace(/ˍ/g, "_")
    .replace(/∼/g, "~")
    .replace(/ˋ/g, "`")
    .replace(/\u2060/g, "");

/** A distinctive piece of the hostile text that survives escaping and one-lining (for readability checks). */
const visible = (text: string) =>
  (text.match(/[A-Za-z0-9.@:/-]{3,}/g) ?? []).sort((a, b) => b.length - a.length)[0]?.slice(0, 40) ?? "";

interface TextObject {
  type: string;
  text: string;
  verbatim?: boolean;
}

/** Every text object of a Slack message's blocks. */
function textObjects(blocks: Record<string, unknown>[]): TextObject[] {
  const out: TextObject[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if ((o.type === "mrkdwn" || o.type === "plain_text") && typeof o.text === "string") out.push(o as never);
      else Object.values(o).forEach(walk);
    }
  };
  walk(blocks);
  return out;
}

/** Slack mrkdwn that Slack would turn into a mention, a link or formatting not of the product's making. */
function assertInertMrkdwn(text: string) {
  // Any < or > would open a mention, channel or link; the product itself writes none.
  expect(text).not.toMatch(/[<>]/);
  // Every & starts an entity Slack decodes to the character it stands for.
  expect(text).not.toMatch(/&(?!amp;|lt;|gt;)/);
  expect(text).not.toMatch(CONTROL);
  expect(text).not.toMatch(/@(channel|here|everyone)\b/i);
  // The only markers are the product's bold labels.
  expect(text.replace(/^\*(Severity|Service|Value|Since)\*\n/, "")).not.toMatch(/[*_~`]/);
}

describe.each(["bot", "webhook"] as const)("Slack (%s): fallback text and blocks", (kind) => {
  it.each(CASES)("$place: $name", ({ place, text, job: j }) => {
    const req =
      kind === "bot"
        ? slackBot.render(j, ada, { baseUrl: "http://sink", botToken: "xoxb" }, NOW)
        : slackWebhook.render(j, ada, { webhookUrl: "https://hooks.slack.com/services/T/B/X" }, NOW);
    const body = JSON.parse(req.body) as { text: string; blocks: Record<string, unknown>[] };
    assertInertMrkdwn(body.text);
    expect(body.text).not.toMatch(/\n/);
    expect(body.text.length).toBeLessThanOrEqual(3000);
    const objects = textObjects(body.blocks);
    const mrkdwn = objects.filter((o) => o.type === "mrkdwn");
    const plain = objects.filter((o) => o.type === "plain_text");
    expect(mrkdwn.length + plain.length).toBe(objects.length);
    for (const o of mrkdwn) assertInertMrkdwn(o.text);
    // Slack adds no links or mentions of its own to sender text.
    expect(mrkdwn.filter((o) => o.verbatim !== true)).toEqual([]);
    expect(mrkdwn.filter((o) => o.text.length > 3000)).toEqual([]);
    // plain_text is never parsed; it only has to stay on one line.
    expect(plain.filter((o) => CONTROL_OR_LINE.test(o.text))).toEqual([]);
    // Still readable: the text shows up, as a person reads it (labels are not part of Slack messages).
    if (place === "label value") return;
    const shown = [body.text, ...objects.map((o) => o.text)].map(slackReading).join("\n");
    expect(shown).toContain(visible(text));
  });
});

describe("email: subject, HTML and text", () => {
  const TAGS = /<\/?(h2|p|table|tr|th( align="left")?|td|ul|li)>/g;
  it.each(CASES)("$place: $name", ({ text, job: j }) => {
    const { subject, html, text: plain } = emailContent(j);
    expect(subject).not.toMatch(CONTROL_OR_LINE);
    // Only the product's own tags; every other < is escaped.
    expect(html.replace(TAGS, "")).not.toMatch(/[<>]/);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(CONTROL);
    expect(plain).not.toMatch(CONTROL);
    expect(plain).not.toMatch(/\r/);
    const decoded = html
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
    expect(decoded + subject + plain).toContain(visible(text));
  });

  it.each(CASES)("MIME headers stay the product's: $place: $name", ({ job: j }) => {
    const raw = renderMime(j, ada, "Edge Monitor <alerts@example.com>", NOW, "id@example.com");
    const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
    const names = head
      .split("\r\n")
      .filter((l) => !l.startsWith(" "))
      .map((l) => l.slice(0, l.indexOf(":")));
    expect(names).toEqual(["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]);
  });
});

describe("SMS", () => {
  it.each(CASES)("$place: $name", ({ job: j }) => {
    const req = twilio.render(j, ada, { baseUrl: "http://sink", accountSid: "AC1", authToken: "t", from: "+1" }, NOW);
    const body = new URLSearchParams(req.body).get("Body") ?? "";
    expect(body).not.toMatch(CONTROL_OR_LINE);
    const { encoding, units } = smsLength(body);
    expect(units).toBeLessThanOrEqual(SEGMENT_LIMIT[encoding]);
    expect(body).toMatch(/^CRITICAL ACKNOWLEDGED #12/);
  });
});

describe("PagerDuty: JSON-encoded, no sender text in links", () => {
  it.each(CASES)("$place: $name", ({ job: j }) => {
    const firing = { ...j, event: "firing" as const };
    const event = JSON.parse(pagerDuty.render(firing, ada, { baseUrl: "http://sink", routingKey: "R" }, NOW).body);
    const payload = event.payload as Record<string, unknown>;
    expect(payload.summary).not.toMatch(CONTROL_OR_LINE);
    expect(String(payload.summary).length).toBeLessThanOrEqual(1024);
    expect(payload.component).not.toMatch(CONTROL_OR_LINE);
    // Nothing PagerDuty shows as clickable.
    expect(event.links).toBeUndefined();
    expect(event.images).toBeUndefined();
    expect(event.client_url).toBeUndefined();
    // The details carry the sender's text exactly, as JSON strings.
    const details = payload.custom_details as { message: string; labels: Record<string, string> };
    expect(JSON.stringify(details)).toContain(JSON.stringify(firing.alert.message));
    expect(details.labels).toEqual(firing.alert.labels);
    expect(details.message).toBe(firing.alert.message);
  });
});

describe("webhook: the exact text, JSON-encoded", () => {
  it.each(CASES)("native: $place: $name", ({ job: j }) => {
    const req = webhook.render(j, ada, { url: "http://sink", secret: "s", format: "native" }, NOW);
    expect(JSON.parse(req.body).alert).toEqual(j.alert);
  });

  it.each(CASES)("alertmanager: $place: $name", ({ job: j }) => {
    const config = {
      url: "http://sink",
      secret: "s",
      format: "alertmanager" as const,
      externalUrl: "https://m.example",
    };
    const body = JSON.parse(webhook.render(j, ada, config, NOW).body);
    expect(body.alerts[0].annotations.description).toBe(j.alert.message);
    expect(body.alerts[0].annotations.summary).not.toMatch(CONTROL_OR_LINE);
    // The one link is the product's own.
    expect(body.alerts[0].generatorURL).toBe("https://m.example/alerts/12");
    expect(body.externalURL).toBe("https://m.example");
  });
});

describe("the rule dry run's preview uses the same renderers", () => {
  it("shows the Slack payload escaped", () => {
    const j = hostileJob({ message: "<!channel> <https://evil.example/login|Click>" });
    const preview = previewChannel(j, "slack", NOW);
    expect(preview?.content).not.toContain("<!channel>");
    expect(preview?.content).toContain("&lt;!channel&gt;");
  });
});

describe("escape.slack", () => {
  it.each([
    ["queue_depth_5", "queue_depth_5"],
    ["*bold* _it_ ~s~", "∗bold∗ ˍitˍ ∼s∼"],
    ["a*b*c `x`", "a*b*c ˋxˋ"],
    ["<!channel> & <@U1>", "&lt;!channel&gt; &amp; &lt;@U1&gt;"],
    ["@here now", "@\u2060here now"],
  ])("%j reads %j", (input, out) => {
    expect(escapeSlack(input)).toBe(out);
  });
});

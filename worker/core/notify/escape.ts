/**
 * The one place where user- and sender-controlled text (rule names, descriptions,
 * heartbeat and probe messages, label values, service names, notes) is made safe for a
 * channel's markup. Every renderer passes such text through these functions and nothing
 * else: a heartbeat URL holder or a rule author must not be able to mention @channel,
 * plant a link, add a mail header or colour a terminal through an alert.
 */

/**
 * Characters that never belong in a notification: C0 and C1 controls (bell, escape
 * sequences, CR/LF), DEL, the Unicode line and paragraph separators, and the bidi
 * overrides and isolates that make text read differently from what it is ("\u202e").
 */
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// oxlint-disable-next-line no-control-regex -- the same set without tab and line feed
const CONTROLS_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line: every control (CR and LF too) becomes a space, runs of spaces one. For headers, subjects, SMS. */
export function oneLine(text: string): string {
  return text.replace(CONTROLS, " ").replace(/ {2,}/g, " ").trim();
}

/** Multi-line text kept as lines (LF and tab stay, CR and other controls go). For text bodies. */
export const plainLines = (text: string): string => text.replace(/\r\n?/g, "\n").replace(CONTROLS_KEEP_LINES, "");

/** HTML text and attribute values: the five characters that can open markup or end a quoted value. */
export const html = (text: string): string =>
  plainLines(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");

/**
 * Slack's formatting markers in user text become look-alikes, so a message cannot bold,
 * strike or code-format itself (and so pass for the product's own `*Severity*` labels).
 * A marker between two letters or digits ("queue_depth") opens no formatting and stays.
 */
const SLACK_MARKERS: Record<string, string> = { "*": "∗", _: "ˍ", "~": "∼", "`": "ˋ" };
const WORD = /^[\p{L}\p{N}]$/u;
const inWord = (text: string, i: number) => WORD.test(text[i - 1] ?? "") && WORD.test(text[i + 1] ?? "");
const neutralMarker = (ch: string, i: number, text: string) =>
  ch !== "`" && inWord(text, i) ? ch : (SLACK_MARKERS[ch] ?? ch);

/**
 * User text inside Slack mrkdwn (block text and the fallback `text`): `&`, `<` and `>`
 * escaped as Slack requires, which leaves no `<!channel>`, `<@U…>` or `<url|label>` to
 * parse; formatting markers at word edges replaced by look-alikes; `@channel`/`@here`/`@everyone`
 * broken by a word joiner in case the message is ever posted with link_names; controls
 * dropped. The result reads the same to a person.
 */
export function slack(text: string): string {
  return plainLines(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[*_~`]/g, neutralMarker)
    .replace(/@(channel|here|everyone)\b/gi, "@\u2060$1");
}

/** A Slack mrkdwn text object for text already escaped: verbatim, so Slack adds no links or mentions of its own. */
export const slackMrkdwn = (text: string) => ({ type: "mrkdwn", text, verbatim: true }) as const;

/**
 * Plain text for Slack's plain_text objects (headers, buttons): never parsed for
 * mentions or links; only controls are dropped and it is kept to one line.
 */
export const slackPlain = (text: string): string => oneLine(text);

/** SMS: one line without controls (a terminal or phone must not read escape sequences). */
export const sms = (text: string): string => oneLine(text);

/**
 * SMS through Twilio's Messages API. The text is kept to one segment: 160 GSM-7
 * characters, or 70 when any character needs UCS-2. Details are cut first; severity,
 * state, alert id and service always stay.
 */
import type { NotificationJob } from "../alerts/jobs";
import { classifyHttp, jsonField } from "./classify";
import { base64, formEncode } from "./encoding";
import * as escape from "./escape";
import { STATE, serviceText, severityWord, valueText } from "./text";
import { type Channel, RenderError } from "./types";

export const TWILIO_BASE = "https://api.twilio.com";

// GSM 03.38 default alphabet (without the escape code) and its extension table, whose
// characters take two septets.
const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENDED = new Set("\f^{}\\[~]|€");

/** True when every character is in the GSM-7 alphabet (basic or extension table). */
export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM_BASIC.has(ch) && !GSM_EXTENDED.has(ch)) return false;
  return true;
}

export type SmsEncoding = "GSM-7" | "UCS-2";

/** Encoding and length in that encoding's units: septets (extension characters count 2) or UTF-16 units. */
export function smsLength(text: string): { encoding: SmsEncoding; units: number } {
  if (!isGsm7(text)) return { encoding: "UCS-2", units: text.length };
  let units = 0;
  for (const ch of text) units += GSM_EXTENDED.has(ch) ? 2 : 1;
  return { encoding: "GSM-7", units };
}

/** Characters a single segment holds. */
export const SEGMENT_LIMIT: Record<SmsEncoding, number> = { "GSM-7": 160, "UCS-2": 70 };

const fits = (text: string) => {
  const { encoding, units } = smsLength(text);
  return units <= SEGMENT_LIMIT[encoding];
};

const ELLIPSIS = "...";

/** `head`, then the longest start of `text` (whole characters) that fits one segment with "...". */
function cut(head: string, text: string): string {
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(head + chars.slice(0, mid).join("") + ELLIPSIS)) lo = mid;
    else hi = mid - 1;
  }
  return head + chars.slice(0, lo).join("").trimEnd() + ELLIPSIS;
}

/** One line, controls (bell, escape sequences, bidi overrides) dropped: sender text reaches a phone as it reads. */
const flat = (s: string) => escape.sms(s).replace(/\s+/g, " ").trim();

/**
 * "CRITICAL FIRING #12 api: High latency 812 - p95 above 500 ms". When too long the
 * details go first, then the rule name, and only then the service name.
 */
export function smsText(job: NotificationJob): string {
  if (job.notice) {
    // A notice: its title, then as many of its lines as fit.
    const whole = [job.notice.title, ...job.notice.lines].map(flat).join(" | ");
    return fits(whole) ? whole : cut(flat(job.notice.title), ` | ${job.notice.lines.map(flat).join(" | ")}`);
  }
  const a = job.alert;
  const must = `${severityWord(a)} ${STATE[job.event]} #${a.id}`;
  const name = serviceText(a);
  const service = name ? ` ${flat(name)}` : "";
  const rule = `: ${flat(a.ruleName)}`;
  const detail = ` ${valueText(a.value)} - ${flat(a.message)}`;
  const whole = must + service + rule + detail;
  if (fits(whole)) return whole;
  if (fits(must + service + rule + ELLIPSIS)) return cut(must + service + rule, detail);
  if (fits(must + service + ": " + ELLIPSIS)) return cut(must + service, rule);
  return cut(must, service);
}

export interface TwilioConfig {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** The sending number (E.164) or messaging service id. */
  from: string;
}

export const twilio: Channel<TwilioConfig> = {
  name: "sms",
  render(job, to, config) {
    if (!to.phone) throw new RenderError(`admin ${to.adminId} has no phone number`);
    return {
      url: `${config.baseUrl}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`,
      method: "POST",
      headers: {
        authorization: `Basic ${base64(`${config.accountSid}:${config.authToken}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: formEncode([
        ["To", to.phone],
        ["From", config.from],
        ["Body", smsText(job)],
      ]),
    };
  },
  classify: (status, headers, body, config, now) =>
    classifyHttp(status, headers, body, twilio.secrets(config), now, jsonField(body, "sid")),
  // The pair too: an echoed Authorization header is base64 of "sid:token".
  secrets: (config) => [config.authToken, `${config.accountSid}:${config.authToken}`],
};

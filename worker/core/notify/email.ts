/**
 * Email: Resend and Postmark HTTP APIs, and a raw RFC 5322 message for Cloudflare's
 * send_email binding. Every channel sends the same subject, text and HTML.
 */
import type { NotificationJob } from "../alerts/jobs";
import { classifyHttp, jsonField, redact } from "./classify";
import { base64, base64Bytes, fnv1a64, utf8Bytes } from "./encoding";
import * as escape from "./escape";
import { details, oneLine, title } from "./text";
import { type Channel, type Classification, type Recipient, RenderError } from "./types";

export const RESEND_BASE = "https://api.resend.com";
export const POSTMARK_BASE = "https://api.postmarkapp.com";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = escape.html;

/**
 * Subject, text and HTML of a job's email: the subject is one line without controls (no
 * header can be added through it), the HTML escapes all alert text, the text drops controls.
 */
export function emailContent(job: NotificationJob): EmailContent {
  const subject = oneLine(title(job));
  if (job.notice) {
    const { lines } = job.notice;
    return {
      subject,
      text: escape.plainLines(lines.join("\n")),
      html:
        `<h2>${escapeHtml(subject)}</h2>\n<ul>\n` + lines.map((l) => `<li>${escapeHtml(l)}</li>\n`).join("") + "</ul>",
    };
  }
  const rows = details(job);
  const text = escape.plainLines([job.alert.message, "", ...rows.map(([k, v]) => `${k}: ${v}`)].join("\n"));
  const html =
    `<h2>${escapeHtml(subject)}</h2>\n<p>${escapeHtml(job.alert.message)}</p>\n<table>\n` +
    rows.map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>\n`).join("") +
    "</table>";
  return { subject, text, html };
}

function emailOf(to: Recipient): string {
  if (!to.email) throw new RenderError(`admin ${to.adminId} has no email address`);
  // An address with spaces or line breaks could inject headers into the MIME message.
  if (/[\s<>]/.test(to.email)) throw new RenderError(`admin ${to.adminId} has an invalid email address`);
  return to.email;
}

export interface ResendConfig {
  baseUrl: string;
  apiKey: string;
  from: string;
}

/** Resend's longest idempotency key; a longer job key is sent without one. */
const RESEND_KEY_MAX = 256;

/**
 * Resend: the job's idempotency key as `Idempotency-Key`, so a retry after a timeout (the
 * first request possibly accepted) is answered with the first email's id, not sent again
 * (Resend keeps keys for 24 hours). The body is the same on every retry, as Resend requires.
 */
export const resend: Channel<ResendConfig> = {
  name: "email",
  render(job, to, config) {
    const { subject, text, html } = emailContent(job);
    const key: Record<string, string> =
      job.idempotencyKey.length <= RESEND_KEY_MAX ? { "idempotency-key": job.idempotencyKey } : {};
    return {
      url: `${config.baseUrl}/emails`,
      method: "POST",
      headers: { authorization: `Bearer ${config.apiKey}`, "content-type": "application/json", ...key },
      body: JSON.stringify({ from: config.from, to: [emailOf(to)], subject, text, html }),
    };
  },
  classify: (status, headers, body, config, now) =>
    classifyHttp(status, headers, body, resend.secrets(config), now, jsonField(body, "id")),
  secrets: (config) => [config.apiKey],
};

export interface PostmarkConfig {
  baseUrl: string;
  serverToken: string;
  from: string;
}

export const postmark: Channel<PostmarkConfig> = {
  name: "email",
  render(job, to, config) {
    const { subject, text, html } = emailContent(job);
    return {
      url: `${config.baseUrl}/email`,
      method: "POST",
      headers: {
        "x-postmark-server-token": config.serverToken,
        accept: "application/json",
        "content-type": "application/json",
      },
      body: JSON.stringify({ From: config.from, To: emailOf(to), Subject: subject, TextBody: text, HtmlBody: html }),
    };
  },
  classify: (status, headers, body, config, now) =>
    classifyHttp(status, headers, body, postmark.secrets(config), now, jsonField(body, "MessageID")),
  secrets: (config) => [config.serverToken],
};

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/**
 * RFC 2047 encoded words for a header value with non-ASCII text: base64 UTF-8, each word
 * at most 75 characters, never splitting a character across words.
 */
export function encodeHeaderWord(text: string): string {
  if (isAscii(text)) return text;
  const words: number[][] = [];
  let chunk: number[] = [];
  for (const ch of text) {
    const bytes = utf8Bytes(ch);
    // "=?UTF-8?B?" + "?=" is 12 characters; 45 bytes make 60 base64 characters.
    if (chunk.length + bytes.length > 45) {
      words.push(chunk);
      chunk = [];
    }
    chunk.push(...bytes);
  }
  words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${base64Bytes(w)}?=`).join("\r\n ");
}

/** A mailbox header value: the display name quoted or encoded, then the address. */
function mailbox(name: string, address: string): string {
  const clean = oneLine(name);
  if (!clean) return `<${address}>`;
  const shown = isAscii(clean) ? `"${clean.replace(/(["\\])/g, "\\$1")}"` : encodeHeaderWord(clean);
  return `${shown} <${address}>`;
}

const pad2 = (n: number) => String(n).padStart(2, "0");
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 date-time in UTC: "Thu, 26 Nov 2026 10:00:00 +0000". */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`
  );
}

/** Base64 of UTF-8 text in lines of 76 characters, as MIME bodies require. */
const base64Lines = (text: string) => (base64(text).match(/.{1,76}/g) ?? []).join("\r\n");

/**
 * A complete RFC 5322 message (CRLF line ends) for the send_email binding:
 * multipart/alternative with a text and an HTML part, both base64 UTF-8. The boundary
 * derives from the message id, so the same message renders the same bytes.
 */
export function renderMime(job: NotificationJob, to: Recipient, from: string, now: number, messageId: string): string {
  const { subject, text, html } = emailContent(job);
  const id = oneLine(messageId).replace(/^<|>$/g, "");
  const boundary = `=_em_${fnv1a64(id)}`;
  const part = (type: string, content: string) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      "Content-Transfer-Encoding: base64",
      "",
      base64Lines(content),
    ].join("\r\n");
  return [
    `From: ${oneLine(from)}`,
    `To: ${mailbox(to.name, emailOf(to))}`,
    `Subject: ${encodeHeaderWord(subject)}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <${id}>`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    "",
    part("text/plain", text),
    part("text/html", html),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

/** The bare address of a "Name <address>" or plain address; null when there is none. */
export function addressOf(mailboxText: string): string | null {
  const m = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(mailboxText) ?? /^\s*([^<>\s]+@[^<>\s]+)\s*$/.exec(mailboxText);
  return m?.[1] ?? null;
}

export interface EmailBindingConfig {
  /** The From header, "Name <address>"; its address must be one the binding may send from. */
  from: string;
}

/** What the send_email binding takes: envelope sender and recipient, and the raw message. */
export interface RawEmail {
  from: string;
  to: string;
  raw: string;
  messageId: string;
}

/**
 * The job as a raw message for the send_email binding. Its Message-ID (which the binding
 * requires) derives from the idempotency key, at the sender's domain, so a resent job is
 * the same message to the receiving side.
 */
export function renderRawEmail(job: NotificationJob, to: Recipient, config: EmailBindingConfig, now: number): RawEmail {
  const from = addressOf(config.from);
  if (!from) throw new RenderError("EMAIL_FROM has no sender address");
  const messageId = `${fnv1a64(job.idempotencyKey)}.${job.alertId}@${from.slice(from.indexOf("@") + 1)}`;
  const raw = renderMime(job, to, config.from, now, messageId);
  return { from, to: emailOf(to), raw, messageId: `<${messageId}>` };
}

/**
 * A send_email binding failure read as an outcome: a refused sender or recipient, or a
 * message the binding cannot parse, will fail the same way again; anything else (quota,
 * an internal error) may pass later.
 */
export function classifyBindingError(message: string, secrets: readonly string[]): Classification {
  const reason = redact(`send_email: ${message}`, secrets);
  return /not allowed|invalid|could not parse|does not match|not verified/i.test(message)
    ? { outcome: "permanent", reason }
    : { outcome: "retryable", retryAfterSeconds: null, reason };
}

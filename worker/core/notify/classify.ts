/** Provider answers to outcomes, shared by every channel, and secret redaction of their texts. */
import { base64, formComponent } from "./encoding";
import type { Classification } from "./types";

export const REDACTED = "[redacted]";

/**
 * Replaces every secret in `text`, also as it appears URL-encoded or base64-encoded (a
 * Basic auth header echoed back is base64 of "user:secret", so pass that pair as a secret
 * too). Longer forms go first so a secret inside another is not half replaced.
 */
export function redact(text: string, secrets: readonly string[]): string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(formComponent(s));
    forms.add(base64(s));
    forms.add(base64(s).replace(/=+$/, ""));
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(REDACTED);
  return out;
}

/** A header's value, whatever the case of its name. */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Retry-After as seconds from `now`: delta-seconds or an HTTP-date; null when absent or unreadable. */
export function retryAfterSeconds(headers: Record<string, string>, now: number): number | null {
  const value = header(headers, "retry-after")?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  // An HTTP-date names its day and month; Date.parse alone would read "-3" as a year.
  if (!/^[a-z]{3}, /i.test(value)) return null;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const MAX_DETAIL = 200;

/**
 * What the provider said went wrong: the usual error fields of a JSON body (Resend,
 * Postmark, Twilio, PagerDuty, Slack), else the raw text, cut short.
 */
export function errorDetail(body: string): string {
  const json = parseJson(body);
  let detail = body.trim();
  if (typeof json === "object" && json !== null) {
    const j = json as Record<string, unknown>;
    const parts = [j.message, j.Message, j.error, j.code, j.ErrorCode, j.errors]
      .filter((v) => v !== undefined && v !== null && v !== "")
      .map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
    if (parts.length) detail = parts.join("; ");
  }
  return detail.length > MAX_DETAIL ? `${detail.slice(0, MAX_DETAIL)}…` : detail;
}

/**
 * The shared table: 2xx delivered; 408, 425, 429 and 5xx retryable (429 and 503 with their
 * Retry-After); any other status permanent. The reason is redacted before it is cut, so a
 * secret cannot survive half-cut.
 */
export function classifyHttp(
  status: number,
  headers: Record<string, string>,
  body: string,
  secrets: readonly string[],
  now: number,
  providerId?: string,
): Classification {
  if (status >= 200 && status < 300)
    return providerId ? { outcome: "delivered", providerId } : { outcome: "delivered" };
  const detail = errorDetail(redact(body, secrets));
  const reason = detail ? `HTTP ${status}: ${detail}` : `HTTP ${status}`;
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const wait = status === 429 || status === 503 ? retryAfterSeconds(headers, now) : null;
    return { outcome: "retryable", retryAfterSeconds: wait, reason };
  }
  return { outcome: "permanent", reason };
}

/** A string field of a JSON object body, if there is one. */
export function jsonField(body: string, field: string): string | undefined {
  const json = parseJson(body);
  if (typeof json !== "object" || json === null) return undefined;
  const v = (json as Record<string, unknown>)[field];
  return typeof v === "string" && v ? v : undefined;
}

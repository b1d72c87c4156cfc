/**
 * Monitors for the dashboard, pure: the API's monitor ↔ the form's text fields, the
 * state of a monitor from its latest samples, and the heartbeat snippets.
 */
import type { HistoryPoint, LatestSample } from "./types";

export type MonitorKind = "http" | "prometheus" | "heartbeat";
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export type JsonScalar = string | number | boolean | null;

/** A monitor as `GET /monitors` sends it. */
export interface Monitor {
  id: number;
  name: string;
  service: string;
  kind: MonitorKind;
  interval_seconds: number;
  is_active: boolean;
  url: string | null;
  method: string | null;
  headers: Record<string, string> | null;
  body: string | null;
  timeout_ms: number | null;
  expect: {
    status: number[];
    body_contains?: string;
    body_not_contains?: string;
    json_path?: { path: string; equals: JsonScalar };
  } | null;
  follow_redirects: boolean | null;
  metrics_allowlist: string[] | null;
  period_seconds: number | null;
  grace_seconds: number | null;
  cron: string | null;
  timezone: string | null;
  heartbeat_url: string | null;
  created_at?: string;
  updated_at?: string;
}

/** What the form edits: everything as the user typed it. */
export interface MonitorForm {
  name: string;
  service: string;
  kind: MonitorKind;
  interval_seconds: string;
  is_active: boolean;
  url: string;
  method: string;
  /** One "Name: value" per line. */
  headers: string;
  body: string;
  timeout_ms: string;
  /** Comma- or space-separated status codes. */
  status: string;
  keyword_present: string;
  keyword_absent: string;
  json_path: string;
  /** JSON when it parses (42, true, null, "x"), the text itself otherwise. */
  json_equals: string;
  follow_redirects: boolean;
  /** One metric name per line; empty keeps all. */
  metrics_allowlist: string;
  /** "period" or "cron": how a heartbeat's schedule is given. */
  schedule: "period" | "cron";
  period_seconds: string;
  grace_seconds: string;
  cron: string;
  timezone: string;
}

export const emptyForm = (kind: MonitorKind = "http"): MonitorForm => ({
  name: "",
  service: "",
  kind,
  interval_seconds: "60",
  is_active: true,
  url: "",
  method: "GET",
  headers: "",
  body: "",
  timeout_ms: "",
  status: "200",
  keyword_present: "",
  keyword_absent: "",
  json_path: "",
  json_equals: "",
  follow_redirects: true,
  metrics_allowlist: "",
  schedule: "period",
  period_seconds: "300",
  grace_seconds: "0",
  cron: "",
  timezone: "UTC",
});

const str = (v: number | null | undefined) => (v == null ? "" : String(v));

/** The form for editing a stored monitor. */
export function toForm(m: Monitor): MonitorForm {
  const equals = m.expect?.json_path?.equals;
  return {
    ...emptyForm(m.kind),
    name: m.name,
    service: m.service,
    interval_seconds: String(m.interval_seconds),
    is_active: m.is_active,
    url: m.url ?? "",
    method: m.method ?? "GET",
    headers: headersText(m.headers ?? {}),
    body: m.body ?? "",
    timeout_ms: str(m.timeout_ms),
    status: (m.expect?.status ?? [200]).join(", "),
    keyword_present: m.expect?.body_contains ?? "",
    keyword_absent: m.expect?.body_not_contains ?? "",
    json_path: m.expect?.json_path?.path ?? "",
    // A string shows bare unless it would read back as something else ("42", "true").
    json_equals:
      equals === undefined
        ? ""
        : typeof equals === "string" && !looksLikeJson(equals)
          ? equals
          : JSON.stringify(equals),
    follow_redirects: m.follow_redirects ?? true,
    metrics_allowlist: (m.metrics_allowlist ?? []).join("\n"),
    schedule: m.cron ? "cron" : "period",
    period_seconds: m.kind === "heartbeat" ? str(m.period_seconds) || "300" : "300",
    grace_seconds: str(m.grace_seconds ?? 0),
    cron: m.cron ?? "",
    timezone: m.timezone ?? "UTC",
  };
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** "Name: value" lines of a header set. */
export const headersText = (headers: Record<string, string>) =>
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");

/** Header lines → a header set; a line without ":" becomes a name with an empty value (the server judges it). */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf(":");
    const name = (at < 0 ? line : line.slice(0, at)).trim();
    headers[name] = at < 0 ? "" : line.slice(at + 1).trim();
  }
  return headers;
}

/**
 * A number field's value for the API: blank is null, a number is itself, anything else
 * is sent as typed so the server's reason ("expected number") appears beside the field.
 */
export function numberOrText(text: string): number | string | null {
  const t = text.trim();
  if (!t) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** "200, 204 301" → [200, 204, 301]; words are kept as typed for the server to refuse. */
export const parseStatuses = (text: string): (number | string)[] =>
  text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

function parseEquals(text: string): JsonScalar {
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) return v as JsonScalar;
  } catch {
    // plain text: the value is the string itself
  }
  return text;
}

const blank = (s: string) => (s.trim() ? s : null);

/**
 * The body of a create or update. Fields of the other kinds are sent as null, as the API
 * asks; so are blanks (the server's defaults apply).
 *
 * On an update (`original` given) an untouched timeout is left out: the API shows the
 * timeout a probe runs with, which may be the one its interval gives, and sending it back
 * would fix it, so a later shorter interval would be refused instead of followed.
 */
export function toBody(f: MonitorForm, original?: Monitor): Record<string, unknown> {
  const body = bodyOf(f);
  if (original && original.kind === f.kind && "timeout_ms" in body && f.timeout_ms === str(original.timeout_ms)) {
    delete body.timeout_ms;
  }
  return body;
}

function bodyOf(f: MonitorForm): Record<string, unknown> {
  const common = {
    name: f.name.trim(),
    service: f.service.trim(),
    kind: f.kind,
    interval_seconds: numberOrText(f.interval_seconds),
    is_active: f.is_active,
  };
  const none = {
    url: null,
    method: null,
    headers: null,
    body: null,
    timeout_ms: null,
    expect: null,
    follow_redirects: null,
    metrics_allowlist: null,
    period_seconds: null,
    grace_seconds: null,
    cron: null,
    timezone: null,
  };
  switch (f.kind) {
    case "http":
      return {
        ...common,
        ...none,
        url: f.url.trim() || null,
        method: f.method,
        headers: parseHeaders(f.headers),
        body: f.method === "GET" || f.method === "HEAD" ? null : blank(f.body),
        timeout_ms: numberOrText(f.timeout_ms),
        expect: {
          status: parseStatuses(f.status),
          ...(f.keyword_present ? { body_contains: f.keyword_present } : {}),
          ...(f.keyword_absent ? { body_not_contains: f.keyword_absent } : {}),
          ...(f.json_path.trim()
            ? { json_path: { path: f.json_path.trim(), equals: parseEquals(f.json_equals) } }
            : {}),
        },
        follow_redirects: f.follow_redirects,
      };
    case "prometheus": {
      const names = f.metrics_allowlist.split(/[\s,]+/).filter(Boolean);
      return {
        ...common,
        ...none,
        url: f.url.trim() || null,
        headers: parseHeaders(f.headers),
        timeout_ms: numberOrText(f.timeout_ms),
        follow_redirects: f.follow_redirects,
        metrics_allowlist: names.length ? names : null,
      };
    }
    case "heartbeat":
      return {
        ...common,
        ...none,
        period_seconds: f.schedule === "period" ? numberOrText(f.period_seconds) : null,
        cron: f.schedule === "cron" ? f.cron.trim() || null : null,
        timezone: f.schedule === "cron" ? f.timezone.trim() || "UTC" : null,
        grace_seconds: numberOrText(f.grace_seconds) ?? 0,
      };
  }
}

/**
 * Which form field shows a reason the API gave for `field` (a dotted path such as
 * "expect.status.0" or "headers.X Y").
 */
export function formFieldOf(field: string): keyof MonitorForm | "" {
  const [head = "", second = ""] = field.split(".");
  if (head === "expect") {
    if (second === "body_contains") return "keyword_present";
    if (second === "body_not_contains") return "keyword_absent";
    if (second === "json_path") return field.endsWith("equals") ? "json_equals" : "json_path";
    return "status";
  }
  if (head === "cron" || head === "timezone" || head === "period_seconds") return head;
  const known: readonly string[] = [
    "name",
    "service",
    "kind",
    "interval_seconds",
    "url",
    "method",
    "headers",
    "body",
    "timeout_ms",
    "follow_redirects",
    "metrics_allowlist",
    "grace_seconds",
  ];
  return known.includes(head) ? (head as keyof MonitorForm) : "";
}

/** The API's reasons (by dotted field) regrouped by form field, "" for the rest. */
export function formErrors(byApiField: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, reason] of Object.entries(byApiField)) {
    const key = formFieldOf(field);
    out[key] = out[key] ? `${out[key]}; ${reason}` : reason;
  }
  return out;
}

/** What the list shows of a monitor's latest samples. */
export interface MonitorStatus {
  state: "paused" | "up" | "down" | "pending";
  /** When the last result came (ISO), null before the first. */
  lastAt: string | null;
  /** Why the last result failed, when the probe said. */
  reason: string | null;
  latencyMs: number | null;
  certDaysLeft: number | null;
  /** When the next probe is due (ISO); null for heartbeats and paused monitors. */
  nextAt: string | null;
}

export const UP_METRIC: Record<MonitorKind, string> = {
  http: "probe_up",
  prometheus: "probe_up",
  heartbeat: "heartbeat_ok",
};

/** Latest samples of the monitor series, by monitor id. */
export function samplesByMonitor(samples: readonly LatestSample[]): Map<string, Map<string, LatestSample>> {
  const out = new Map<string, Map<string, LatestSample>>();
  for (const s of samples) {
    const id = s.labels.monitor;
    if (id === undefined) continue;
    const own = out.get(id) ?? new Map<string, LatestSample>();
    const seen = own.get(s.metric);
    if (!seen || Date.parse(seen.ts) < Date.parse(s.ts)) own.set(s.metric, s);
    out.set(id, own);
  }
  return out;
}

export function monitorStatus(m: Monitor, own: ReadonlyMap<string, LatestSample> | undefined): MonitorStatus {
  const up = own?.get(UP_METRIC[m.kind]);
  const latency = own?.get("probe_latency_ms");
  const cert = own?.get("probe_cert_days_left");
  const lastAt = up?.ts ?? null;
  const state = !m.is_active ? "paused" : up === undefined ? "pending" : up.value >= 1 ? "up" : "down";
  return {
    state,
    lastAt,
    reason: up && up.value < 1 ? (up.message ?? null) : null,
    latencyMs: m.kind === "heartbeat" ? null : (latency?.value ?? null),
    certDaysLeft: cert?.value ?? null,
    nextAt:
      m.kind === "heartbeat" || !m.is_active || lastAt === null
        ? null
        : new Date(Date.parse(lastAt) + m.interval_seconds * 1000).toISOString(),
  };
}

/** An SVG polyline's points for a sparkline of `points` (avg) in a width × height box; "" with fewer than two. */
export function sparklinePoints(points: readonly HistoryPoint[], width: number, height: number): string {
  const values = [...points]
    .sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts))
    .map((p) => p.avg)
    .filter((v) => Number.isFinite(v));
  if (values.length < 2) return "";
  const min = Math.min(...values);
  const span = Math.max(...values) - min || 1;
  const step = width / (values.length - 1);
  const y = (v: number) => height - 1 - ((v - min) / span) * (height - 2);
  return values.map((v, i) => `${(i * step).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
}

/** Copyable ways for a job to ping its heartbeat URL. */
export function heartbeatSnippets(url: string): { id: string; title: string; text: string }[] {
  return [
    {
      id: "celery",
      title: "Celery beat task",
      text: [
        "import requests",
        "from celery import shared_task",
        "",
        "@shared_task",
        "def nightly_job():",
        "    ...  # the job's work; an exception skips the ping",
        `    requests.get("${url}", timeout=10)`,
      ].join("\n"),
    },
    {
      id: "cron",
      title: "Cron line (curl)",
      text: `*/5 * * * * /path/to/job.sh && curl -fsS -m 10 --retry 3 -o /dev/null "${url}"`,
    },
    {
      id: "python",
      title: "Python requests",
      text: ["import requests", "", `requests.get("${url}", timeout=10)`].join("\n"),
    },
  ];
}

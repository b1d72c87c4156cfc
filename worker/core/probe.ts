/**
 * HTTP probes and scrapes, the pure part: stored config → probe settings, what a fetch
 * outcome means (up or down, and why), and the samples a run produces.
 */
import { parseJsonPath, selectJsonPath } from "./json-path";
import { countParseErrors, isSummedUp } from "./prometheus/parse";
import type { Sample } from "./series";

export { countParseErrors };

/** A probe's timeout when none is set and its interval leaves room for it. */
export const DEFAULT_TIMEOUT_MS = 5000;
/** A run must end before the next one starts: an unset timeout is this share of the interval… */
export const DEFAULT_TIMEOUT_SHARE = 0.8;
/** …but never shorter than this. */
export const MIN_DEFAULT_TIMEOUT_MS = 500;

/**
 * The timeout of a monitor that sets none: DEFAULT_TIMEOUT_MS, shortened for fast
 * monitors to DEFAULT_TIMEOUT_SHARE of the interval (a 1 s monitor waits 800 ms).
 *
 * @example defaultTimeoutMs(60) // 5000
 * @example defaultTimeoutMs(2) // 1600
 */
export function defaultTimeoutMs(intervalSeconds: number): number {
  const share = Math.floor(intervalSeconds * 1000 * DEFAULT_TIMEOUT_SHARE);
  return Math.max(MIN_DEFAULT_TIMEOUT_MS, Math.min(DEFAULT_TIMEOUT_MS, share));
}
/** Bodies are read up to this size; checks see the first MAX_BODY_BYTES of a larger one. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Expositions are read up to this size. */
export const MAX_SCRAPE_BYTES = 8 * 1024 * 1024;

export type ProbeKind = "http" | "prometheus";

/** What a runner needs to know about a monitor: its identity, cadence and stored config. */
export interface ProbeMonitor {
  id: number;
  service: string;
  kind: ProbeKind;
  intervalSeconds: number;
  /** The monitor's stored `config` (snake_case, as the monitors API validated it). */
  config: Record<string, unknown>;
}

export type JsonValue = string | number | boolean | null;

export interface HttpExpect {
  status: readonly number[];
  bodyContains: string | null;
  bodyNotContains: string | null;
  jsonPath: { path: string; equals: JsonValue } | null;
}

export interface RequestSettings {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  timeoutMs: number;
  followRedirects: boolean;
}

export interface HttpProbeConfig extends RequestSettings {
  expect: HttpExpect;
}

export interface ScrapeConfig extends RequestSettings {
  /** Metric names to keep; null keeps all. */
  allowlist: string[] | null;
}

type Read<T> = { ok: true; config: T } | { ok: false; error: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function readRequest(raw: Record<string, unknown>, intervalSeconds: number | null): Read<RequestSettings> {
  const url = str(raw.url);
  if (!url) return { ok: false, error: "no url configured" };
  const headers: Record<string, string> = {};
  if (isRecord(raw.headers)) {
    for (const [name, value] of Object.entries(raw.headers)) if (typeof value === "string") headers[name] = value;
  }
  const timeout = raw.timeout_ms;
  return {
    ok: true,
    config: {
      url,
      method: str(raw.method) ?? "GET",
      headers,
      body: str(raw.body),
      timeoutMs:
        typeof timeout === "number" && timeout > 0
          ? timeout
          : intervalSeconds === null
            ? DEFAULT_TIMEOUT_MS
            : defaultTimeoutMs(intervalSeconds),
      followRedirects: raw.follow_redirects !== false,
    },
  };
}

const isJsonValue = (v: unknown): v is JsonValue =>
  v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * The probe settings of an http monitor's stored config (defaults as the API applies them;
 * an unset timeout follows `intervalSeconds`, DEFAULT_TIMEOUT_MS without it).
 */
export function readHttpConfig(
  raw: Record<string, unknown>,
  intervalSeconds: number | null = null,
): Read<HttpProbeConfig> {
  const request = readRequest(raw, intervalSeconds);
  if (!request.ok) return request;
  const expect = isRecord(raw.expect) ? raw.expect : {};
  const status = Array.isArray(expect.status) ? expect.status.filter((s): s is number => typeof s === "number") : [];
  const jp = isRecord(expect.json_path) ? expect.json_path : null;
  return {
    ok: true,
    config: {
      ...request.config,
      expect: {
        status: status.length > 0 ? status : [200],
        bodyContains: str(expect.body_contains),
        bodyNotContains: str(expect.body_not_contains),
        jsonPath:
          jp && typeof jp.path === "string" && isJsonValue(jp.equals) ? { path: jp.path, equals: jp.equals } : null,
      },
    },
  };
}

/** The scrape settings of a prometheus monitor's stored config (timeout as for readHttpConfig). */
export function readScrapeConfig(
  raw: Record<string, unknown>,
  intervalSeconds: number | null = null,
): Read<ScrapeConfig> {
  const request = readRequest(raw, intervalSeconds);
  if (!request.ok) return request;
  const allow = Array.isArray(raw.metrics_allowlist)
    ? raw.metrics_allowlist.filter((m): m is string => typeof m === "string")
    : null;
  return { ok: true, config: { ...request.config, method: "GET", body: null, allowlist: allow } };
}

/** What one request produced. `latencyMs` runs from the request to the end of the body read. */
export type FetchOutcome =
  | { kind: "response"; status: number; body: string; truncated: boolean; latencyMs: number }
  | { kind: "error"; reason: string; timedOut: boolean; latencyMs: number };

export interface Verdict {
  up: boolean;
  /** Why the target is down; when up, null, or what went partly wrong (a scrape's malformed lines). */
  message: string | null;
}

const UP: Verdict = { up: true, message: null };
const down = (message: string): Verdict => ({ up: false, message });

/** Renders a value for a message, shortened: `"degraded"`, `42`, `{"a":1}`. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Status codes for a message: consecutive codes as ranges ("200-204, 301"). */
export function formatStatuses(codes: readonly number[]): string {
  const sorted = [...new Set(codes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] ?? 0) + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : String(sorted[i]));
    i = j + 1;
  }
  return parts.join(", ");
}

/**
 * Whether an HTTP probe passed: the status first, then the keywords, then the JSON path.
 *
 * @example evaluateHttp(expect, { kind: "response", status: 503, … }) // { up: false, message: "status 503 (expected 200)" }
 */
export function evaluateHttp(expect: HttpExpect, outcome: FetchOutcome): Verdict {
  if (outcome.kind === "error") return down(outcome.reason);
  const cloudflare = cloudflareErrorReason(outcome.status, outcome.body);
  if (cloudflare && !expect.status.includes(outcome.status)) return down(cloudflare);
  if (!expect.status.includes(outcome.status)) {
    return down(`status ${outcome.status} (expected ${formatStatuses(expect.status)})`);
  }
  const body = outcome.body;
  if (expect.bodyContains !== null && !body.includes(expect.bodyContains)) {
    return down(`keyword ${show(expect.bodyContains)} missing`);
  }
  if (expect.bodyNotContains !== null && body.includes(expect.bodyNotContains)) {
    return down(`forbidden keyword ${show(expect.bodyNotContains)} present`);
  }
  if (expect.jsonPath) return checkJsonPath(expect.jsonPath, body, outcome.truncated);
  return UP;
}

function checkJsonPath(check: { path: string; equals: JsonValue }, body: string, truncated: boolean): Verdict {
  const path = parseJsonPath(check.path);
  if (!path.ok) return down(`JSON path ${check.path}: ${path.error}`);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return down(truncated ? `invalid JSON (body over ${MAX_BODY_BYTES} bytes)` : "invalid JSON");
  }
  const selected = selectJsonPath(doc, path.segments);
  if (!selected.found) return down(`${check.path} is missing, expected ${show(check.equals)}`);
  if (selected.value !== check.equals) {
    return down(`${check.path} is ${show(selected.value)}, expected ${show(check.equals)}`);
  }
  return UP;
}

/**
 * Cloudflare answers some failures to reach an origin with its own error page
 * (`error code: 1016` etc.) instead of failing the fetch; these name the real cause.
 */
export function cloudflareErrorReason(status: number, body: string): string | null {
  const code = /^error code: (\d{3,4})\s*$/.exec(body.trim())?.[1];
  if (!code) return null;
  const reasons: Record<string, string> = {
    "1016": "DNS lookup failed",
    "521": "connection refused",
    "522": "connection timed out",
    "523": "origin unreachable",
    "525": "TLS handshake failed",
    "526": "invalid TLS certificate",
  };
  return reasons[code] ?? (status >= 520 ? `Cloudflare error ${code}` : null);
}

/** Facts about a fetch that threw, to name the cause: workerd's messages alone are ambiguous. */
export interface FetchFailure {
  name: string;
  message: string;
  /** Our own timeout fired (the abort was ours). */
  timedOut: boolean;
  timeoutMs: number;
  https: boolean;
  /** The host is an IP literal, so no DNS lookup was involved. */
  ipHost: boolean;
  /** A plain TCP connection to host:port succeeded (true), failed (false), or was not tried (null). */
  tcpReachable: boolean | null;
}

/**
 * Why a fetch threw. workerd says "Network connection lost." both for a refused connection
 * and for one closed before a response, and "internal error" both for a failed DNS lookup
 * and a failed TLS handshake; whether a plain TCP connection succeeds tells them apart.
 */
export function describeFetchFailure(f: FetchFailure): string {
  if (f.timedOut) return `timeout after ${f.timeoutMs} ms`;
  const m = f.message;
  if (/ENOTFOUND|EAI_AGAIN|getaddrinfo|DNS|could not resolve|name not resolved/i.test(m)) return "DNS lookup failed";
  if (/ECONNREFUSED|connection refused/i.test(m)) return "connection refused";
  if (/ECONNRESET|connection reset/i.test(m)) return "connection reset";
  if (/certificate|TLS|SSL|handshake/i.test(m)) return `TLS error: ${m}`;
  if (/redirect/i.test(m)) return m;
  if (/network connection lost/i.test(m)) {
    if (f.tcpReachable === true) return "connection closed without a response";
    if (f.tcpReachable === false) return "connection refused";
    return "network connection lost";
  }
  if (/internal error/i.test(m)) {
    if (f.tcpReachable === false) return f.ipHost ? "connection failed" : "DNS lookup failed";
    if (f.tcpReachable === true && f.https) return "TLS handshake failed";
  }
  return `fetch failed: ${m || f.name || "unknown error"}`;
}

/** Whether the host part of a URL is an IPv4 or IPv6 literal. */
export function isIpHost(hostname: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.startsWith("[") || hostname.includes(":");
}

/** What reading the server's certificate gave: when it expires (epoch ms), or why it was not read. */
export type CertReading = { notAfter: number } | { error: string };

export interface ProbeResult {
  verdict: Verdict;
  outcome: FetchOutcome;
  /** When the probe started (epoch ms): the samples' timestamp. */
  ts: number;
  /** Present when this run read the server's certificate. */
  cert?: CertReading;
}

/** An https monitor's certificate is read at most this often: its expiry moves in days, not minutes. */
export const CERT_CHECK_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A scheduled run: its slot, its monitor's interval, and whether it is the monitor's first run (of this schedule). */
export interface RunSlot {
  at: number;
  intervalMs: number;
  first: boolean;
}

const clockHour = (t: number) => Math.floor(t / CERT_CHECK_INTERVAL_MS);

/**
 * Whether a run of a monitor probing `url` also reads the server's certificate: only for
 * https, on a first run, then on the first slot of each clock hour (every run of monitors
 * slower than hourly). A run with no slot (a one-off) reads it.
 *
 * @example certCheckDue("https://shop.example", { at: 3_600_000, intervalMs: 30_000, first: false }) // true
 */
export function certCheckDue(url: string, slot: RunSlot | null): boolean {
  if (!/^\s*https:/i.test(url)) return false;
  if (!slot || slot.first) return true;
  return clockHour(slot.at) !== clockHour(slot.at - slot.intervalMs);
}

/**
 * The samples of one probe run, for the monitor's service labelled `{monitor: "<id>"}`:
 * `probe_up` (with the reason when 0), `probe_latency_ms` (when a response came or the
 * probe timed out), `probe_status_code` (when a response came) and `probe_cert_days_left`
 * (when the run read the certificate: days from the run to its notAfter, negative once expired).
 */
export function probeSamples(monitor: { id: number; service: string }, result: ProbeResult): Sample[] {
  const base = { service: monitor.service, labels: { monitor: String(monitor.id) }, ts: result.ts };
  const { verdict, outcome } = result;
  const samples: Sample[] = [
    {
      ...base,
      metric: "probe_up",
      value: verdict.up ? 1 : 0,
      ...(verdict.message === null ? {} : { message: verdict.message }),
    },
  ];
  if (outcome.kind === "response" || outcome.timedOut) {
    samples.push({ ...base, metric: "probe_latency_ms", value: outcome.latencyMs });
  }
  if (outcome.kind === "response") samples.push({ ...base, metric: "probe_status_code", value: outcome.status });
  if (result.cert && "notAfter" in result.cert) {
    samples.push({ ...base, metric: "probe_cert_days_left", value: (result.cert.notAfter - result.ts) / DAY_MS });
  }
  return samples;
}

/** Malformed lines a scrape's parse names at most, one by one, in the monitor's message. */
export const MAX_DESCRIBED_PARSE_ERRORS = 5;

/**
 * Parse errors of a scrape as one message naming the lines:
 * "2 malformed lines: line 11: invalid value "x"; line 12: unterminated label set".
 */
export function describeParseErrors(errors: readonly { line: number; reason: string }[]): string | null {
  if (errors.length === 0) return null;
  const count = countParseErrors(errors);
  const listed = errors.filter((e) => !isSummedUp(e)).slice(0, MAX_DESCRIBED_PARSE_ERRORS);
  const rest = count - listed.length;
  const lines = listed.map((e) => `line ${e.line}: ${e.reason}`).join("; ");
  return `${count} malformed line${count === 1 ? "" : "s"}: ${lines}${rest > 0 ? `; ${rest} more` : ""}`;
}

/**
 * A scrape's verdict once its body is parsed. Malformed lines do not make a target down: its
 * good samples are stored and the message names the bad lines (scrape_parse_errors counts
 * them). A body with errors and not one sample (an HTML page served with 200, say) is down.
 */
export function scrapeVerdict(
  response: Verdict,
  parsed: {
    samples: number;
    errors: readonly { line: number; reason: string }[];
    /** An allowlist applied: good lines may have been left out, so none kept proves nothing. */
    filtered: boolean;
  },
): Verdict {
  const problem = describeParseErrors(parsed.errors);
  if (!response.up || problem === null) return response;
  return parsed.samples === 0 && !parsed.filtered
    ? down(`no sample parsed: ${problem}`)
    : { up: true, message: problem };
}

/** Whether a scrape answered well enough to parse: any 2xx. */
export function evaluateScrapeResponse(outcome: FetchOutcome): Verdict {
  if (outcome.kind === "error") return down(outcome.reason);
  const cloudflare = cloudflareErrorReason(outcome.status, outcome.body);
  if (cloudflare) return down(cloudflare);
  if (outcome.status < 200 || outcome.status > 299) return down(`status ${outcome.status} (expected 2xx)`);
  if (outcome.truncated) return down(`exposition over ${MAX_SCRAPE_BYTES} bytes`);
  return UP;
}

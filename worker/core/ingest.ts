/**
 * Push ingest validation: an untrusted batch becomes `Sample`s, or every problem
 * is reported with its sample index. Pure: the clock and the raw window are passed in.
 */
import type { Sample } from "./series";

/** Most samples one request may carry. */
export const MAX_BATCH_SAMPLES = 1000;
/** Largest request body, in bytes (after any transfer decoding). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** How far ahead of the server clock a sample may be stamped (client clock skew). */
export const MAX_FUTURE_MS = 5 * 60_000;
/** Samples per minute for a key without its own `rate_limit_per_minute`. */
export const DEFAULT_SAMPLES_PER_MINUTE = 60_000;
export const MAX_LABELS = 20;
export const MAX_METRIC_LENGTH = 200;
export const MAX_SERVICE_LENGTH = 100;
export const MAX_LABEL_NAME_LENGTH = 100;
export const MAX_LABEL_VALUE_LENGTH = 500;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SERVICE_NAME = /^[a-z0-9][a-z0-9_.-]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SAMPLE_FIELDS = new Set(["metric", "service", "value", "ts", "labels"]);
/** ISO 8601 with a time part must say its zone: "10:00" alone is ambiguous across clients. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i;
/**
 * A sample this close to leaving the raw window is refused too: the store checks the
 * window again a moment later with its own clock, and would refuse it after a 202.
 */
export const RAW_WINDOW_MARGIN_MS = 60_000;
/** Epoch ms below this (March 1973) are almost surely epoch seconds sent by mistake. */
const SECONDS_SUSPECT_BELOW = 1e11;

export interface TimeRules {
  /** Server time, epoch ms. */
  now: number;
  /** Samples older than `now - rawWindowMs` are refused (they would fall out of the raw store at once). */
  rawWindowMs: number;
}

export interface SampleProblem {
  index: number;
  field: string;
  reason: string;
}

/**
 * `invalid` counts the failing samples; `outOfRange` those of them whose only problem is a
 * timestamp outside the accepted range (`timestampProblem`).
 */
export type BatchResult =
  | { ok: true; samples: Sample[] }
  | { ok: false; problems: SampleProblem[]; invalid: number; outOfRange: number };

const typeName = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function durationText(ms: number): string {
  const [n, unit] =
    ms % 3_600_000 === 0
      ? [ms / 3_600_000, "hour"]
      : ms % 60_000 === 0
        ? [ms / 60_000, "minute"]
        : [ms / 1000, "second"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * Reads the envelope `{"samples": [...]}`; the samples themselves are checked
 * by `validateSamples`. Returns the reason when the envelope is wrong.
 */
export function readEnvelope(
  body: unknown,
): { ok: true; items: unknown[] } | { ok: false; field: string; reason: string } {
  if (!isRecord(body)) return { ok: false, field: "", reason: `the body must be a JSON object, not ${typeName(body)}` };
  const unknown = Object.keys(body).find((k) => k !== "samples");
  if (unknown !== undefined) return { ok: false, field: unknown, reason: "is not a known field" };
  const items = body.samples;
  if (!Array.isArray(items)) {
    return { ok: false, field: "samples", reason: items === undefined ? "is required" : "must be an array of samples" };
  }
  return { ok: true, items };
}

/**
 * Why `ts` (epoch ms) is refused under `rules`, or null when it is acceptable.
 *
 * @example timestampProblem(now + 600_000, { now, rawWindowMs }) // "is 600 seconds ahead of the server clock; the limit is 5 minutes"
 */
export function timestampProblem(ts: number, rules: TimeRules): string | null {
  if (ts > rules.now + MAX_FUTURE_MS) {
    const ahead = Math.ceil((ts - rules.now) / 1000);
    return `is ${ahead} seconds ahead of the server clock; the limit is ${durationText(MAX_FUTURE_MS)}`;
  }
  if (ts < rules.now - rules.rawWindowMs + RAW_WINDOW_MARGIN_MS) {
    const hint = ts < SECONDS_SUSPECT_BELOW ? " (it looks like epoch seconds; ts is epoch milliseconds)" : "";
    return `is older than the raw window of ${durationText(rules.rawWindowMs)}${hint}`;
  }
  return null;
}

function readTimestamp(raw: unknown, rules: TimeRules): { ts?: number; reason?: string; outOfRange?: true } {
  if (raw === undefined || raw === null) return { ts: rules.now };
  let ts: number;
  if (typeof raw === "number") {
    // Fractional milliseconds (e.g. Python's time.time() * 1000) are common and harmless.
    if (!Number.isFinite(raw) || raw < 0) return { reason: "must be epoch milliseconds (a non-negative number)" };
    ts = Math.floor(raw);
  } else if (typeof raw === "string") {
    const text = raw.trim();
    if (/^\d+$/.test(text)) ts = Number(text);
    else if (ISO_WITH_ZONE.test(text)) ts = Date.parse(text);
    else return { reason: "must be epoch milliseconds or an ISO 8601 date-time with a zone (Z or +08:00)" };
    if (Number.isNaN(ts)) return { reason: "is not a valid date-time" };
  } else {
    return { reason: `must be epoch milliseconds or an ISO 8601 string, not ${typeName(raw)}` };
  }
  const problem = timestampProblem(ts, rules);
  return problem ? { reason: problem, outOfRange: true } : { ts };
}

function nameProblem(value: unknown, pattern: RegExp, max: number, what: string): string | null {
  if (value === undefined) return "is required";
  if (typeof value !== "string") return `must be a string, not ${typeName(value)}`;
  if (value.length === 0) return "must not be empty";
  if (value.length > max) return `must be at most ${max} characters`;
  return pattern.test(value) ? null : what;
}

const METRIC_RULE = "must be a metric name: letters, digits, _ and :, not starting with a digit";
const SERVICE_RULE = "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit";

function labelProblems(raw: unknown, report: (field: string, reason: string) => void): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === undefined || raw === null) return labels;
  if (!isRecord(raw)) {
    report("labels", `must be an object of string values, not ${typeName(raw)}`);
    return labels;
  }
  const names = Object.keys(raw);
  if (names.length > MAX_LABELS) report("labels", `must have at most ${MAX_LABELS} labels (has ${names.length})`);
  for (const name of names) {
    const value = raw[name];
    const field = `labels.${name}`;
    if (name.length > MAX_LABEL_NAME_LENGTH)
      report(field, `label names are at most ${MAX_LABEL_NAME_LENGTH} characters`);
    else if (!LABEL_NAME.test(name)) report(field, "label names are letters, digits and _, not starting with a digit");
    else if (name.startsWith("__")) report(field, "label names starting with __ are reserved");
    else if (typeof value !== "string") report(field, `label values must be strings, not ${typeName(value)}`);
    else if (value.length > MAX_LABEL_VALUE_LENGTH)
      report(field, `must be at most ${MAX_LABEL_VALUE_LENGTH} characters`);
    else labels[name] = value;
  }
  return labels;
}

/**
 * Checks one sample: unknown fields, names, labels, a finite value and the
 * time rules. `report` receives each problem (`outOfRange` for a readable timestamp outside
 * the accepted range); the sample is returned when there was none.
 */
export function validateSample(
  raw: unknown,
  rules: TimeRules,
  report: (field: string, reason: string, outOfRange?: boolean) => void,
): Sample | null {
  if (!isRecord(raw)) {
    report("", `each sample must be an object, not ${typeName(raw)}`);
    return null;
  }
  let bad = false;
  const problem = (field: string, reason: string, outOfRange = false) => {
    bad = true;
    report(field, reason, outOfRange);
  };
  for (const key of Object.keys(raw)) if (!SAMPLE_FIELDS.has(key)) problem(key, "is not a known field");
  const metricProblem = nameProblem(raw.metric, METRIC_NAME, MAX_METRIC_LENGTH, METRIC_RULE);
  if (metricProblem) problem("metric", metricProblem);
  const serviceProblem = nameProblem(raw.service, SERVICE_NAME, MAX_SERVICE_LENGTH, SERVICE_RULE);
  if (serviceProblem) problem("service", serviceProblem);
  const value = raw.value;
  if (typeof value !== "number")
    problem("value", value === undefined ? "is required" : `must be a number, not ${typeName(value)}`);
  else if (!Number.isFinite(value)) problem("value", "must be a finite number");
  const { ts, reason, outOfRange } = readTimestamp(raw.ts, rules);
  if (reason) problem("ts", reason, outOfRange);
  const labels = labelProblems(raw.labels, problem);
  if (bad || ts === undefined) return null;
  return { metric: raw.metric as string, service: raw.service as string, labels, value: value as number, ts };
}

/**
 * Validates a whole batch: all samples or none. Problems are listed for every
 * failing index, at most `maxProblems` of them; `invalid` counts the failing samples.
 */
export function validateSamples(items: readonly unknown[], rules: TimeRules, maxProblems = 100): BatchResult {
  const samples: Sample[] = [];
  const problems: SampleProblem[] = [];
  let invalid = 0;
  let outOfRange = 0;
  items.forEach((item, index) => {
    let failed = false;
    let onlyRange = true;
    const sample = validateSample(item, rules, (field, reason, range) => {
      failed = true;
      onlyRange &&= range === true;
      if (problems.length < maxProblems) problems.push({ index, field, reason });
    });
    if (failed || !sample) {
      invalid++;
      if (failed && onlyRange) outOfRange++;
    } else samples.push(sample);
  });
  return invalid === 0 ? { ok: true, samples } : { ok: false, problems, invalid, outOfRange };
}

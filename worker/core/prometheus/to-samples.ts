/** Parsed exposition samples → series samples, dropping what a series cannot hold (non-finite values, invalid names). */
import type { Sample } from "../series";
import type { ParseResult } from "./parse";

/** The same limits the ingest API puts on pushed samples (worker/routes/fields.ts). */
export const MAX_METRIC_NAME_LENGTH = 200;
export const MAX_LABELS = 20;
export const MAX_LABEL_VALUE_LENGTH = 500;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface ExpositionToSamplesOptions {
  service: string;
  /** Epoch ms, the timestamp of samples the exposition gave none. */
  now: number;
  /** Added to every sample's labels; on a clash these win. */
  extraLabels?: Record<string, string>;
}

function labelProblem(labels: Record<string, string>): string | null {
  const names = Object.keys(labels);
  if (names.length > MAX_LABELS) return `more than ${MAX_LABELS} labels`;
  for (const name of names) {
    if (!LABEL_NAME.test(name)) return `invalid label name ${JSON.stringify(name)}`;
    if ((labels[name] ?? "").length > MAX_LABEL_VALUE_LENGTH)
      return `label ${name} is longer than ${MAX_LABEL_VALUE_LENGTH} characters`;
  }
  return null;
}

function valueProblem(value: number): string | null {
  if (Number.isNaN(value)) return "value is NaN";
  if (value === Infinity) return "value is +Inf";
  if (value === -Infinity) return "value is -Inf";
  return null;
}

/** One `dropped` entry per sample left out, in exposition order. */
export function expositionToSamples(
  result: ParseResult,
  opts: ExpositionToSamplesOptions,
): { samples: Sample[]; dropped: { name: string; reason: string }[] } {
  const extra = opts.extraLabels ?? {};
  const samples: Sample[] = [];
  const dropped: { name: string; reason: string }[] = [];
  for (const s of result.samples) {
    const labels = { ...s.labels, ...extra };
    const ts = s.timestampMs ?? opts.now;
    const reason =
      (!METRIC_NAME.test(s.name) ? "invalid metric name" : null) ??
      (s.name.length > MAX_METRIC_NAME_LENGTH
        ? `metric name is longer than ${MAX_METRIC_NAME_LENGTH} characters`
        : null) ??
      valueProblem(s.value) ??
      (Number.isFinite(ts) ? null : "timestamp is not finite") ??
      labelProblem(labels);
    if (reason !== null) dropped.push({ name: s.name, reason });
    else samples.push({ metric: s.name, service: opts.service, labels, value: s.value, ts });
  }
  return { samples, dropped };
}

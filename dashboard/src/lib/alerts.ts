/** Pure helpers for alerts and latest samples: validation of untrusted socket data, counts, texts. */
import type { Alert, AlertStatus, LatestSample, Role, Severity } from "./types";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

const SEVERITIES: readonly Severity[] = ["critical", "warning", "info"];
const STATUSES: readonly AlertStatus[] = ["firing", "acknowledged", "resolved"];

function isAlert(v: unknown): v is Alert {
  return (
    isObject(v) &&
    typeof v.id === "number" &&
    typeof v.alert_rule_id === "number" &&
    SEVERITIES.includes(v.alert_severity as Severity) &&
    STATUSES.includes(v.status as AlertStatus) &&
    isObject(v.labels) &&
    typeof v.message === "string"
  );
}

/** The alerts in `data` (the socket's `alerts` topic), or null when it is not a list of them. */
export function parseAlerts(data: unknown): Alert[] | null {
  return Array.isArray(data) && data.every(isAlert) ? data : null;
}

function isSample(v: unknown): v is LatestSample {
  return (
    isObject(v) &&
    typeof v.metric === "string" &&
    typeof v.service === "string" &&
    isObject(v.labels) &&
    typeof v.value === "number" &&
    typeof v.ts === "string"
  );
}

/** The latest samples in `data` (the socket's `metrics` topic), or null when it is not a list of them. */
export function parseSamples(data: unknown): LatestSample[] | null {
  return Array.isArray(data) && data.every(isSample) ? data : null;
}

/** One key per series: metric, service and sorted labels. */
export function sampleKey(s: { metric: string; service: string; labels: Record<string, string> }): string {
  const labels = Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${s.labels[k]}`)
    .join(",");
  return `${s.metric}|${s.service}|${labels}`;
}

/** Folds samples into a latest-by-series map (a newer `ts` wins); returns a new map. */
export function mergeSamples(
  into: ReadonlyMap<string, LatestSample>,
  samples: readonly LatestSample[],
): Map<string, LatestSample> {
  const out = new Map(into);
  for (const s of samples) {
    const key = sampleKey(s);
    const held = out.get(key);
    if (!held || Date.parse(s.ts) >= Date.parse(held.ts)) out.set(key, s);
  }
  return out;
}

/** The latest sample of `metric` on `service`: the series without labels, else the newest of them. */
export function latestOf(
  samples: ReadonlyMap<string, LatestSample>,
  metric: string,
  service: string,
): LatestSample | null {
  const plain = samples.get(`${metric}|${service}|`);
  if (plain) return plain;
  let best: LatestSample | null = null;
  for (const s of samples.values()) {
    if (s.metric !== metric || s.service !== service) continue;
    if (!best || Date.parse(s.ts) > Date.parse(best.ts)) best = s;
  }
  return best;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };
export const severityRank = (s: Severity) => SEVERITY_RANK[s] ?? 3;

const time = (iso: string | null) => (iso ? Date.parse(iso) : 0);

/** Newest first (by trigger time, then id). Does not modify its input. */
export function newestFirst<T extends Pick<Alert, "triggered_at" | "id">>(alerts: readonly T[]): T[] {
  return [...alerts].sort((a, b) => time(b.triggered_at) - time(a.triggered_at) || b.id - a.id);
}

export interface AlertCounts {
  firing: number;
  acknowledged: number;
  critical: number;
}

export function countAlerts(alerts: readonly Alert[]): AlertCounts {
  const counts: AlertCounts = { firing: 0, acknowledged: 0, critical: 0 };
  for (const a of alerts) {
    if (a.status === "firing") counts.firing += 1;
    if (a.status === "acknowledged") counts.acknowledged += 1;
    if (a.status !== "resolved" && a.alert_severity === "critical") counts.critical += 1;
  }
  return counts;
}

/** Whether a role may act on alerts (acknowledge, resolve, silence). */
export const canAct = (role: Role) => role === "admin" || role === "owner";

/** "payment_failure_rate{region=tw}"-style text of an alert's series labels; "" without labels. */
export function labelText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? keys.map((k) => `${k}=${labels[k]}`).join(", ") : "";
}

/**
 * Merges the last 24 h of alert history with the live active list (which wins for the alerts
 * it holds): newest first, at most `limit`. An alert that left the active list since the history
 * was read keeps its history entry.
 */
export function recentAlerts(
  history: readonly Alert[],
  active: readonly Alert[],
  nowMs: number,
  limit = 20,
  windowMs = 24 * 3_600_000,
): Alert[] {
  const byId = new Map<number, Alert>();
  for (const a of history) byId.set(a.id, a);
  for (const a of active) byId.set(a.id, a);
  return newestFirst(
    [...byId.values()].filter((a) => a.status !== "resolved" || nowMs - time(a.resolved_at) <= windowMs),
  ).slice(0, limit);
}

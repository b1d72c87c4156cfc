/**
 * The audit page's pure parts: its filters as the address and the API's query carry them,
 * and how an entry's change reads (field: before → after).
 */
import type { AuditEntry } from "./types";

/** Filters of the trail, as the API's query parameters ("" for none). */
export interface AuditFilters {
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  via: string;
  /** `datetime-local` values, in the browser's zone. */
  from: string;
  to: string;
}

export const NO_AUDIT_FILTERS: AuditFilters = {
  actor: "",
  action: "",
  target_type: "",
  target_id: "",
  via: "",
  from: "",
  to: "",
};

const KEYS = Object.keys(NO_AUDIT_FILTERS) as (keyof AuditFilters)[];

/** Where a change came from (the server's list). */
export const AUDIT_VIAS = ["api", "dashboard", "slack", "config-import", "integration", "system"] as const;

/** What the trail records, for the target filter. */
export const AUDIT_TARGETS = [
  "rule",
  "monitor",
  "key",
  "silence",
  "escalation_policy",
  "alert",
  "anomaly",
  "anomaly_feedback",
  "user",
  "token",
  "preferences",
  "dashboard_settings",
  "config",
] as const;

/** The filters in a page address's query; unknown keys are ignored. */
export function auditFiltersFrom(search: string): AuditFilters {
  const q = new URLSearchParams(search);
  const f = { ...NO_AUDIT_FILTERS };
  for (const key of KEYS) f[key] = q.get(key) ?? "";
  return f;
}

/** The page address's query for these filters: only those set. */
export function auditFiltersSearch(f: AuditFilters): string {
  const q = new URLSearchParams();
  for (const key of KEYS) if (f[key]) q.set(key, f[key].trim());
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** A `datetime-local` value (the browser's zone) as ISO, or "" when empty or invalid. */
const localToIso = (v: string) => {
  if (!v) return "";
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? "" : new Date(t).toISOString();
};

/** The API query for a page of the trail under these filters. */
export function auditQuery(f: AuditFilters, cursor: string | null, limit = 50): string {
  const q = new URLSearchParams({ limit: String(limit) });
  for (const key of ["actor", "action", "target_type", "target_id", "via"] as const) {
    if (f[key].trim()) q.set(key, f[key].trim());
  }
  const from = localToIso(f.from);
  const to = localToIso(f.to);
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

const at = (o: Record<string, unknown> | null, path: string): unknown =>
  path
    .split(".")
    .reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), o);

/** A value as a short text: JSON, cut at `max` characters. */
export function valueText(v: unknown, max = 60): string {
  if (v === undefined) return "(none)";
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The entry's changes as lines "field: before → after" (an update), "field: value" (a create
 * or a delete lists what there was), at most `max` with a count of the rest.
 */
export function changeLines(e: Pick<AuditEntry, "before" | "after" | "changes">, max = 6): string[] {
  const both = e.before !== null && e.after !== null;
  const lines = e.changes.slice(0, max).map((path) => {
    if (both) return `${path}: ${valueText(at(e.before, path))} → ${valueText(at(e.after, path))}`;
    return `${path}: ${valueText(at(e.before ?? e.after, path))}`;
  });
  if (e.changes.length > max) lines.push(`… and ${e.changes.length - max} more`);
  return lines;
}

/** The target as people read it: "rule #12", "config". */
export const targetText = (e: Pick<AuditEntry, "target_type" | "target_id">) =>
  e.target_id === null ? e.target_type.replace(/_/g, " ") : `${e.target_type.replace(/_/g, " ")} #${e.target_id}`;

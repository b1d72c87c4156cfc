/**
 * Pure helpers of the Silences and Escalation policies pages: the forms' state to the
 * API's bodies and back, matchers prefilled from an alert, and short texts for lists.
 * The server validates; these only reshape, so a value the user typed reaches the server
 * as typed and its reason comes back beside the field.
 */
import type { Alert } from "./types";

// ---------------------------------------------------------------- silences

export type MatchOp = "=" | "!=" | "=~" | "!~";
export const MATCH_OPS: readonly MatchOp[] = ["=", "!=", "=~", "!~"];

/** A matcher as the API sends and takes it. */
export interface ApiMatcher {
  name: string;
  value: string;
  is_regex: boolean;
  is_equal: boolean;
}

export interface ApiRecurrence {
  weekdays: number[];
  start: string;
  duration_minutes: number;
  timezone: string;
}

/** A silence as the API sends it. */
export interface Silence {
  id: number;
  matchers: ApiMatcher[];
  starts_at: string;
  ends_at: string;
  recurrence: ApiRecurrence | null;
  comment: string;
  status: "pending" | "active" | "expired";
  created_by: number | null;
  created_at: string;
}

export interface MatcherRow {
  name: string;
  op: MatchOp;
  value: string;
}

/** The silence form: times as `datetime-local` values in the browser's zone; numbers as typed. */
export interface SilenceForm {
  matchers: MatcherRow[];
  /** Blank: now. */
  starts_at: string;
  ends_at: string;
  recurring: boolean;
  weekdays: number[];
  start: string;
  duration_minutes: string;
  timezone: string;
  comment: string;
}

export const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

const pad = (n: number) => String(n).padStart(2, "0");

/** A `datetime-local` value (the browser's zone) of an instant. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value as ISO; what cannot be read is sent as typed, for the server to name. */
function localToIso(v: string): string {
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? v : new Date(t).toISOString();
}

/** A number field's text as a number; what is not one is sent as typed, for the server to name. */
export function numberOrText(v: string): number | string {
  const n = Number(v.trim());
  return v.trim() !== "" && Number.isFinite(n) ? n : v;
}

export const opOf = (m: Pick<ApiMatcher, "is_regex" | "is_equal">): MatchOp =>
  m.is_regex ? (m.is_equal ? "=~" : "!~") : m.is_equal ? "=" : "!=";

/** Label names the API takes (letters, digits and _): query keys that are not one are not matchers. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Equality matchers from a page address's query (`?alertname=…&service=…&region=tw`), as
 * the "Silence…" link of an alert writes it; none when there is no query.
 */
export function matchersFromQuery(search: string): MatcherRow[] {
  const rows: MatcherRow[] = [];
  for (const [name, value] of new URLSearchParams(search)) {
    if (LABEL_NAME.test(name)) rows.push({ name, op: "=", value });
  }
  return rows;
}

/** The new-silence address prefilled for an alert: its rule's name, its service and its series labels. */
export function silenceHref(alert: Pick<Alert, "rule_name" | "alert_rule_id" | "service" | "labels">): string {
  const q = new URLSearchParams();
  if (alert.rule_name) q.set("alertname", alert.rule_name);
  else q.set("rule_id", String(alert.alert_rule_id));
  if (alert.service) q.set("service", alert.service);
  for (const [name, value] of Object.entries(alert.labels).sort(([a], [b]) => a.localeCompare(b))) {
    // The pseudo-labels win over series labels of the same name (as the engine matches them).
    if (!["alertname", "rule_id", "service", "severity"].includes(name)) q.set(name, value);
  }
  return `/silences/new?${q.toString()}`;
}

/** A new silence's form: the given matchers (or one blank), from now for two hours, weekly fields ready. */
export function newSilenceForm(matchers: MatcherRow[], now: number, timezone: string): SilenceForm {
  return {
    matchers: matchers.length ? matchers : [{ name: "", op: "=", value: "" }],
    starts_at: "",
    ends_at: toLocalInput(now + 2 * 3_600_000),
    recurring: false,
    weekdays: [],
    start: "02:00",
    duration_minutes: "120",
    timezone,
    comment: "",
  };
}

/** What the form sends to create (or preview) a silence. */
export function toSilenceBody(f: SilenceForm) {
  return {
    matchers: f.matchers.map((m) => ({
      name: m.name.trim(),
      value: m.value,
      is_regex: m.op === "=~" || m.op === "!~",
      is_equal: m.op === "=" || m.op === "=~",
    })),
    ...(f.starts_at.trim() ? { starts_at: localToIso(f.starts_at) } : {}),
    ends_at: localToIso(f.ends_at),
    recurrence: f.recurring
      ? {
          weekdays: [...f.weekdays].sort((a, b) => a - b),
          start: f.start,
          duration_minutes: numberOrText(f.duration_minutes),
          timezone: f.timezone,
        }
      : null,
    comment: f.comment,
  };
}

/** `service="shop", region=~"t.*"` */
export const matchersText = (ms: readonly ApiMatcher[]) => ms.map((m) => `${m.name}${opOf(m)}"${m.value}"`).join(", ");

/** "Mon, Wed 02:00 for 2 h (Asia/Taipei)" */
export function recurrenceText(r: ApiRecurrence): string {
  const days = [...r.weekdays].sort((a, b) => a - b).map((d) => WEEKDAYS[d] ?? String(d));
  const m = r.duration_minutes;
  const length = m % 60 === 0 ? `${m / 60} h` : m > 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
  return `${days.join(", ")} ${r.start} for ${length} (${r.timezone})`;
}

// ---------------------------------------------------------------- escalation policies

export interface PolicyStep {
  after_minutes: number;
  channels: string[];
  targets: { admin_ids?: number[]; roles?: string[] };
}

/** An escalation policy as the API sends it. */
export interface Policy {
  id: number;
  name: string;
  description: string;
  steps: PolicyStep[];
  repeat_count: number;
  repeat_interval_minutes: number | null;
  ack_timeout_minutes: number | null;
}

export interface StepForm {
  after_minutes: string;
  channels: string[];
  roles: string[];
  admin_ids: number[];
}

/** The policy form: numbers as typed; blank reminder interval and acknowledgement timeout are "none". */
export interface PolicyForm {
  name: string;
  description: string;
  steps: StepForm[];
  repeat_count: string;
  repeat_interval_minutes: string;
  ack_timeout_minutes: string;
}

export const newStep = (after: number): StepForm => ({
  after_minutes: String(after),
  channels: [],
  roles: [],
  admin_ids: [],
});

export const newPolicyForm = (): PolicyForm => ({
  name: "",
  description: "",
  steps: [newStep(0)],
  repeat_count: "0",
  repeat_interval_minutes: "",
  ack_timeout_minutes: "",
});

const blankOr = (v: number | null) => (v === null ? "" : String(v));

export function policyToForm(p: Policy): PolicyForm {
  return {
    name: p.name,
    description: p.description,
    steps: p.steps.map((s) => ({
      after_minutes: String(s.after_minutes),
      channels: [...s.channels],
      roles: [...(s.targets.roles ?? [])],
      admin_ids: [...(s.targets.admin_ids ?? [])],
    })),
    repeat_count: String(p.repeat_count),
    repeat_interval_minutes: blankOr(p.repeat_interval_minutes),
    ack_timeout_minutes: blankOr(p.ack_timeout_minutes),
  };
}

const optionalNumber = (v: string) => (v.trim() === "" ? null : numberOrText(v));

/** What the form sends; a step's empty target lists are left out (the API wants at least one of them). */
export function toPolicyBody(f: PolicyForm) {
  return {
    name: f.name,
    description: f.description,
    steps: f.steps.map((s) => ({
      after_minutes: numberOrText(s.after_minutes),
      channels: s.channels,
      targets: {
        ...(s.roles.length ? { roles: s.roles } : {}),
        ...(s.admin_ids.length ? { admin_ids: s.admin_ids } : {}),
      },
    })),
    repeat_count: numberOrText(f.repeat_count),
    repeat_interval_minutes: optionalNumber(f.repeat_interval_minutes),
    ack_timeout_minutes: optionalNumber(f.ack_timeout_minutes),
  };
}

/** "after 0 min: email, slack to admin, owner" */
export function stepText(s: PolicyStep, adminName: (id: number) => string = (id) => `admin #${id}`): string {
  const who = [...(s.targets.roles ?? []).map((r) => `every ${r}`), ...(s.targets.admin_ids ?? []).map(adminName)];
  return `after ${s.after_minutes} min: ${s.channels.join(", ")} to ${who.join(", ")}`;
}

/** The names of the rules using each policy, by policy id. */
export function rulesByPolicy(
  rules: readonly { rule_name: string; escalation_policy_id?: number | null }[],
): Map<number, string[]> {
  const by = new Map<number, string[]>();
  for (const r of rules) {
    if (r.escalation_policy_id == null) continue;
    by.set(r.escalation_policy_id, [...(by.get(r.escalation_policy_id) ?? []), r.rule_name]);
  }
  return by;
}

/** An id usable in the page for a field path of the API ("steps.1.after_minutes" → "f-steps-1-after_minutes"). */
export const fieldId = (path: string) => `f-${path.replace(/[^a-zA-Z0-9_]/g, "-")}`;

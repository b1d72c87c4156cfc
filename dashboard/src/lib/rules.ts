/**
 * Alert rules on the page: the rule as the API sends it, its condition in words, and the
 * form's values ↔ the API's body. The form holds text as typed (numbers included), so a
 * refused save keeps exactly what the user wrote; the server validates and names fields.
 */
import { ZSCORE_DEFAULTS } from "../../../worker/core/rules/types";

export const RULE_KINDS = ["threshold", "ratio", "absence", "heartbeat", "anomaly"] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const OPERATORS = [">", ">=", "<", "<=", "==", "!="] as const;
export const AGGREGATIONS = ["last", "avg", "min", "max", "sum", "count", "rate", "p95", "p99"] as const;
export const RULE_SEVERITIES = ["critical", "warning", "info"] as const;
export const RULE_CHANNELS = ["email", "sms", "slack", "webhook", "pagerduty"] as const;
export const HEARTBEAT_METRIC = "heartbeat_ok";
/** Anomaly rules: how a sample is judged, how strong an anomaly must be, and which way. */
export const ANOMALY_METHODS = ["detector", "zscore"] as const;
export const SENSITIVITIES = ["low", "medium", "high"] as const;
export const ANOMALY_DIRECTIONS = ["up", "down", "both"] as const;
/** The z-score method's default threshold on |z|, as the API's. */
export const ZSCORE_DEFAULT_THRESHOLD = ZSCORE_DEFAULTS.threshold;

/** A rule as the API sends it. */
export interface WireRule {
  id: number;
  rule_name: string;
  description: string;
  metric_name: string;
  service: string | null;
  labels: Record<string, string>;
  kind: RuleKind;
  comparison_operator: string;
  threshold_value: number;
  for_seconds: number;
  resolve_for_seconds: number;
  resolve_threshold_value: number | null;
  depends_on: string[];
  params: Record<string, unknown>;
  severity: string;
  notification_channels: string[];
  cooldown_minutes: number;
  max_alerts_per_hour: number;
  escalation_policy_id: number | null;
  is_active: boolean;
  /** Since when a series has been pending (breaching, for_seconds not yet over); null: none. */
  pending_since?: string | null;
}

const seconds = (s: number) =>
  s % 3600 === 0 && s >= 3600 ? `${s / 3600} h` : s % 60 === 0 && s >= 60 ? `${s / 60} min` : `${s} s`;

/**
 * The condition in words, e.g. "payment_failure_rate on ecpay > 5 % over 5 min for 60 s".
 *
 * @example conditionText({ kind: "absence", metric_name: "m", service: null, params: { absent_for_seconds: 600 }, … }) // "no m for 10 min"
 */
export function conditionText(
  r: Pick<
    WireRule,
    "kind" | "metric_name" | "service" | "comparison_operator" | "threshold_value" | "params" | "for_seconds"
  >,
): string {
  const where = `${r.metric_name}${r.service ? ` on ${r.service}` : ""}`;
  const against = `${r.comparison_operator} ${r.threshold_value}`;
  const p = r.params;
  const num = (k: string) => (typeof p[k] === "number" ? (p[k] as number) : 0);
  const held = r.for_seconds > 0 ? ` for ${seconds(r.for_seconds)}` : "";
  switch (r.kind) {
    case "threshold": {
      const agg = typeof p.aggregation === "string" ? p.aggregation : "last";
      const window = num("window_seconds");
      const of = agg === "last" && window === 0 ? where : `${agg} of ${where} over ${seconds(window)}`;
      return `${of} ${against}${held}`;
    }
    case "ratio":
      return `${r.metric_name} / ${String(p.denominator_metric ?? "?")}${r.service ? ` on ${r.service}` : ""} ${against} % over ${seconds(num("window_seconds") || 300)}${held}`;
    case "absence":
      return `no ${where} for ${seconds(num("absent_for_seconds"))}`;
    case "heartbeat":
      return p.monitor_id
        ? `heartbeat monitor ${String(p.monitor_id)} late or failed`
        : `a heartbeat late or failed${r.service ? ` on ${r.service}` : ""}`;
    case "anomaly": {
      const direction = String(p.direction ?? "both");
      // Rules stored before the detector existed are z-score rules (the API sends their method).
      return p.method === "zscore"
        ? `${where} unusual: robust z-score ${against} (${direction}) over ${seconds(num("window_seconds") || 21_600)}${held}`
        : `${where} anomaly (${String(p.sensitivity ?? "medium")}, ${direction})${held}`;
    }
  }
}

/** The form's values: text exactly as typed, switches and lists as chosen. */
export interface RuleForm {
  rule_name: string;
  description: string;
  kind: RuleKind;
  metric_name: string;
  service: string;
  labels: string;
  comparison_operator: string;
  threshold_value: string;
  for_seconds: string;
  resolve_for_seconds: string;
  resolve_threshold_value: string;
  depends_on: string;
  severity: string;
  notification_channels: string[];
  cooldown_minutes: string;
  max_alerts_per_hour: string;
  escalation_policy_id: string;
  is_active: boolean;
  // Parameters of the kinds (only the chosen kind's are sent).
  aggregation: string;
  window_seconds: string;
  denominator_metric: string;
  min_denominator: string;
  absent_for_seconds: string;
  monitor_id: string;
  min_samples: string;
  method: string;
  sensitivity: string;
  direction: string;
}

/** Which parameter fields each kind shows and sends (an anomaly rule's depend on its method: paramFields). */
export const PARAM_FIELDS: Record<RuleKind, readonly (keyof RuleForm)[]> = {
  threshold: ["aggregation", "window_seconds"],
  ratio: ["denominator_metric", "window_seconds", "min_denominator"],
  absence: ["absent_for_seconds"],
  heartbeat: ["monitor_id"],
  anomaly: ["method", "sensitivity", "direction", "window_seconds", "min_samples"],
};

/** The parameter fields the form shows and sends: the detector has a sensitivity, the z-score a window. */
export function paramFields(f: Pick<RuleForm, "kind" | "method">): readonly (keyof RuleForm)[] {
  if (f.kind !== "anomaly") return PARAM_FIELDS[f.kind];
  return f.method === "zscore"
    ? ["method", "direction", "window_seconds", "min_samples"]
    : ["method", "sensitivity", "direction"];
}

/** Whether a rule compares against a threshold (absence, heartbeat and the anomaly detector do not). */
export const hasThreshold = (kind: RuleKind, method?: string) =>
  kind !== "absence" && kind !== "heartbeat" && !(kind === "anomaly" && method !== "zscore");

/** Parameters sent as text (the others are numbers). */
const TEXT_PARAMS = new Set<keyof RuleForm>([
  "aggregation",
  "direction",
  "denominator_metric",
  "method",
  "sensitivity",
]);

export function emptyRuleForm(): RuleForm {
  return {
    rule_name: "",
    description: "",
    kind: "threshold",
    metric_name: "",
    service: "",
    labels: "",
    comparison_operator: ">",
    threshold_value: "",
    for_seconds: "0",
    resolve_for_seconds: "0",
    resolve_threshold_value: "",
    depends_on: "",
    severity: "warning",
    notification_channels: ["email"],
    cooldown_minutes: "15",
    max_alerts_per_hour: "4",
    escalation_policy_id: "",
    is_active: true,
    aggregation: "last",
    window_seconds: "",
    denominator_metric: "",
    min_denominator: "10",
    absent_for_seconds: "600",
    monitor_id: "",
    min_samples: "12",
    method: "detector",
    sensitivity: "medium",
    direction: "both",
  };
}

const str = (v: unknown) => (v === null || v === undefined ? "" : String(v));

/** A saved rule in the form. */
export function ruleToForm(r: WireRule): RuleForm {
  const p = r.params;
  return {
    ...emptyRuleForm(),
    rule_name: r.rule_name,
    description: r.description,
    kind: r.kind,
    metric_name: r.metric_name,
    service: str(r.service),
    labels: Object.entries(r.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(", "),
    comparison_operator: r.comparison_operator,
    // A detector rule's stored threshold means nothing: switching it to the z-score starts blank (its default).
    threshold_value: r.kind === "anomaly" && p.method !== "zscore" ? "" : str(r.threshold_value),
    for_seconds: str(r.for_seconds),
    resolve_for_seconds: str(r.resolve_for_seconds),
    resolve_threshold_value: str(r.resolve_threshold_value),
    depends_on: r.depends_on.join(", "),
    severity: r.severity,
    notification_channels: [...r.notification_channels],
    cooldown_minutes: str(r.cooldown_minutes),
    max_alerts_per_hour: str(r.max_alerts_per_hour),
    escalation_policy_id: str(r.escalation_policy_id),
    is_active: r.is_active,
    aggregation: str(p.aggregation ?? "last"),
    window_seconds: str(p.window_seconds),
    denominator_metric: str(p.denominator_metric),
    min_denominator: str(p.min_denominator ?? 10),
    absent_for_seconds: str(p.absent_for_seconds ?? 600),
    monitor_id: str(p.monitor_id),
    min_samples: str(p.min_samples ?? 12),
    method: str(p.method ?? "zscore"),
    sensitivity: str(p.sensitivity ?? "medium"),
    direction: str(p.direction ?? "both"),
  };
}

/** Typed text as a number when it reads as one; otherwise the text itself, for the server to name. */
function number(text: string): number | string {
  const t = text.trim();
  return t !== "" && Number.isFinite(Number(t)) ? Number(t) : t;
}

const orNull = (text: string, as: (t: string) => unknown = (t) => t) => (text.trim() === "" ? null : as(text.trim()));

const list = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** "k=v, k2=v2" as labels; a part without "=" is kept under its text with an empty value, for the server to refuse. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of list(text)) {
    const at = part.indexOf("=");
    if (at < 0) labels[part] = "";
    else labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

/** The API body for the form: the kind's own parameters only; blanks left to the server's defaults. */
export function formToBody(f: RuleForm): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const key of paramFields(f)) {
    const v = f[key];
    if (typeof v !== "string" || v.trim() === "") continue;
    params[key] = TEXT_PARAMS.has(key) ? v.trim() : number(v);
  }
  if (f.kind === "heartbeat" && !("monitor_id" in params)) params.monitor_id = null;
  const compares = hasThreshold(f.kind, f.method);
  // An anomaly rule's detector reads no threshold (none is sent); a blank z-score threshold is its
  // default, sent explicitly so that an update does not keep a detector rule's stored one.
  const threshold =
    f.kind === "anomaly"
      ? compares
        ? f.threshold_value.trim() === ""
          ? ZSCORE_DEFAULT_THRESHOLD
          : number(f.threshold_value)
        : undefined
      : compares
        ? number(f.threshold_value)
        : f.threshold_value.trim() === ""
          ? 0
          : number(f.threshold_value);
  return {
    rule_name: f.rule_name.trim(),
    description: f.description,
    kind: f.kind,
    metric_name: f.kind === "heartbeat" ? HEARTBEAT_METRIC : f.metric_name.trim(),
    service: orNull(f.service),
    labels: parseLabels(f.labels),
    comparison_operator: compares ? f.comparison_operator : ">",
    ...(threshold !== undefined && { threshold_value: threshold }),
    for_seconds: number(f.for_seconds || "0"),
    resolve_for_seconds: number(f.resolve_for_seconds || "0"),
    resolve_threshold_value: compares ? orNull(f.resolve_threshold_value, number) : null,
    depends_on: list(f.depends_on),
    params,
    severity: f.severity,
    notification_channels: f.notification_channels,
    cooldown_minutes: number(f.cooldown_minutes || "15"),
    max_alerts_per_hour: number(f.max_alerts_per_hour || "4"),
    escalation_policy_id: orNull(f.escalation_policy_id, number),
    is_active: f.is_active,
  };
}

/** A backtest's state stretch, as the API sends it. */
export interface BacktestBand {
  state: "pending" | "firing" | "resolving" | "resolved";
  from: string;
  to: string;
}

export interface BacktestResult {
  period: string;
  from: string;
  to: string;
  summary: {
    alerts: number;
    notifications: number;
    firing_seconds: number;
    series_evaluated: number;
    series_alerting: number;
    rate_limited: number;
  };
  series: { fingerprint: string; service: string; labels: Record<string, string>; bands: BacktestBand[] }[];
}

/** A band's place on a strip `width` wide spanning [from, to]: x and width in the strip's units. */
export function bandBox(band: { from: string; to: string }, from: number, to: number, width: number) {
  const span = Math.max(1, to - from);
  const a = Math.max(from, Date.parse(band.from));
  const b = Math.min(to, Date.parse(band.to));
  const x = ((a - from) / span) * width;
  return { x, w: Math.max(((b - a) / span) * width, 0.5) };
}

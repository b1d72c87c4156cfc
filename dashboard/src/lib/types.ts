/** Wire shapes the dashboard reads from the API (see API.md / /api/openapi.json). */

export type Role = "viewer" | "admin" | "owner";

/** `GET /api/admin/me`, and `admin` of `POST /api/auth/session`. */
export interface Me {
  id: number;
  email: string;
  name: string;
  role: Role;
  timezone: string;
}

export const HEALTH_STATUSES = ["healthy", "warning", "down", "unknown"] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

/** One service of `GET /api/admin/monitoring/health/services`, and of the socket's `services` topic. */
export interface ServiceHealth {
  service: string;
  status: HealthStatus;
  last_checked_at: string | null;
  latency_ms: number | null;
  message: string;
}

export type Severity = "info" | "warning" | "critical";

/** The fields of an alert rule the dashboard shows (the API sends more). */
export interface RuleSummary {
  id: number;
  rule_name: string;
  description?: string;
  metric_name: string;
  service: string | null;
  kind: string;
  comparison_operator: string;
  threshold_value: number;
  severity: Severity | (string & {});
  is_active: boolean;
}

/** The API's error body: `{"error", "message", "details"}`. */
export interface ApiErrorBody {
  error: string;
  message: string;
  details?: unknown[];
}

export type AlertStatus = "firing" | "acknowledged" | "resolved";

/** An alert as the API and the socket's `alerts` topic send it. */
export interface Alert {
  id: number;
  alert_rule_id: number;
  rule_name: string | null;
  metric_name: string | null;
  service: string | null;
  fingerprint: string;
  labels: Record<string, string>;
  metric_value: number | null;
  peak_value: number | null;
  breach_count: number;
  reopen_count: number;
  flapping: boolean;
  alert_severity: Severity;
  status: AlertStatus;
  message: string;
  observed_at: string | null;
  triggered_at: string | null;
  acknowledged_at: string | null;
  acknowledged_by: number | null;
  resolved_at: string | null;
  auto_resolved: boolean;
  resolution_notes: string | null;
  escalation_step: number;
  notifications_sent: number;
  notification_attempts: number;
  /** Deliveries given up (dead after their retries, or failed for good). */
  notifications_failed: number;
  /** Ids of the silences in effect on this open alert (absent from an older server). */
  silenced_by?: number[];
}

export interface AlertEvent {
  type: string;
  at: string;
  actor: string;
  value: number | null;
  note: string | null;
  details: Record<string, unknown> | null;
}

export interface AlertDelivery {
  event: string;
  channel: string;
  recipient: string;
  status: string;
  attempts: number;
  reason: string | null;
  idempotency_key: string;
  enqueued_at: string;
  delivered_at: string | null;
}

/** `GET /api/admin/monitoring/alerts/{id}`. */
export interface AlertDetail extends Alert {
  timeline: AlertEvent[];
  notifications: AlertDelivery[];
}

export interface AlertPage {
  alerts: Alert[];
  next_cursor: string | null;
}

/** The latest sample of a series (`metrics/realtime`, the socket's `metrics` topic). */
export interface LatestSample {
  metric: string;
  service: string;
  labels: Record<string, string>;
  value: number;
  ts: string;
  message?: string;
}

/** One bucket of `GET metrics/history`. */
export interface HistoryPoint {
  ts: string;
  count: number;
  min: number;
  max: number;
  avg: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** With band=1: the normal range of `avg` (null where there is too little history). */
  expected?: number | null;
  low?: number | null;
  high?: number | null;
}

export interface MetricHistory {
  metric: string;
  resolution_seconds: number;
  points: HistoryPoint[];
}

/** Periods of the Trends page (the API also answers "1h"). */
export type TrendPeriod = "1h" | "24h" | "7d" | "30d";

/** How a chart field aggregates its metric per bucket. */
export type TrendAggregation = "avg" | "min" | "max" | "sum" | "p50" | "p95" | "p99" | "increase";

/** One value of a chart's points: `field` holds `aggregation` of `metric` on `service`, in `unit`. */
export interface TrendChartField {
  field: string;
  metric: string;
  service: string;
  aggregation: TrendAggregation;
  unit: string;
}

/** A point of a chart: `ts` (bucket start, ISO) and one value (or null) per field of the chart. */
export type TrendPoint<F extends string> = { ts: string } & Record<F, number | null>;

/** One chart of `GET /api/admin/monitoring/performance/trends`. */
export interface TrendChart<F extends string = string, Optional extends string = never> {
  title: string;
  resolution_seconds: number;
  from: string;
  to: string;
  /** False when the long-range store failed to answer. */
  complete: boolean;
  /** The fields present in `points` (optional ones only when the period holds data for them). */
  fields: TrendChartField[];
  /** The field whose normal range the points carry when asked with band=1. */
  band_field?: string;
  /** Buckets where any field has data, oldest first; with band=1 also `expected`, `low`, `high`. */
  points: (TrendPoint<F> & Partial<Record<Optional | "expected" | "low" | "high", number | null>>)[];
}

export interface TrendCharts {
  payment_success_rate: TrendChart<"value">;
  api_response_time: TrendChart<"p50" | "p95" | "p99">;
  /** `query_ms` only where `db_query_ms` is reported. */
  database: TrendChart<"pool_utilization" | "pool_in_use" | "pool_size", "query_ms">;
  user_activity: TrendChart<"requests">;
}

/** One service of the trends' `services`. */
export interface ServiceTrend {
  service: string;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null };
  /** Share of failures, 0–1. */
  error_rate: number | null;
  error_rate_source: "requests" | "probes" | null;
  /** Share of probes up, 0–1. */
  availability: number | null;
  samples: { latency: number; probes: number };
}

/** `GET /api/admin/monitoring/performance/trends?period=`. */
export interface PerformanceTrends {
  period: TrendPeriod;
  from: string;
  to: string;
  services: ServiceTrend[];
  charts: TrendCharts;
}

/** A metric card of the dashboard settings. */
export interface MetricCard {
  id: string;
  title: string;
  metric: string;
  service: string;
  unit: string;
  /** Shown as "value / secondary" (e.g. db_pool_in_use / db_pool_size), or null. */
  secondary_metric: string | null;
}

/** `GET/PUT /api/admin/monitoring/dashboard`. */
export interface DashboardSettings {
  cards: MetricCard[];
  /** Service name → display name. */
  service_names: Record<string, string>;
  /** Null until first saved (the values are defaults). */
  updated_at: string | null;
}

/** The body of `PUT /api/admin/monitoring/dashboard`: only the fields sent change. */
export interface DashboardSettingsUpdate {
  cards?: (Omit<MetricCard, "secondary_metric"> & { secondary_metric?: string | null })[];
  service_names?: Record<string, string>;
}

/** One row of `GET /api/admin/monitoring/deliveries`: a notification job and what became of it. */
export interface Delivery {
  id: number;
  alert_id: number | null;
  rule_id: number | null;
  rule_name: string | null;
  service: string | null;
  severity: string | null;
  event: string;
  channel: string;
  recipient: string;
  recipient_name: string | null;
  recipient_email: string | null;
  status: string;
  attempts: number;
  reason: string | null;
  enqueued_at: string;
  delivered_at: string | null;
  latency_from_breach_ms: number | null;
  latency_from_enqueue_ms: number | null;
}

export interface DeliveryPage {
  deliveries: Delivery[];
  next_cursor: string | null;
}

/** One row of `GET /api/admin/monitoring/audit`: a configuration change or alert action. */
export interface AuditEntry {
  id: number;
  at: string;
  actor_admin_id: number | null;
  /** The admin's email, "slack:<member id>" or "system". */
  actor: string;
  via: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /** Dotted paths of the fields that differ. */
  changes: string[];
  note: string | null;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_cursor: string | null;
}

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
}

export interface MetricHistory {
  metric: string;
  resolution_seconds: number;
  points: HistoryPoint[];
}

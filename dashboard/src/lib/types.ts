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

/**
 * Ready-made rules for what the Python integration (integrations/python) reports: failing
 * Celery tasks, late or failed beat entries, a worker gone, a growing queue, slow endpoints.
 * Each is a body for `POST /api/admin/monitoring/rules`, so it passes the same validation as
 * any rule; the Rules page offers them with one button each, and an administrator edits the
 * created rule like any other (thresholds, channels).
 */

export interface RuleTemplate {
  /** What the rule catches, in a sentence, shown beside its button. */
  summary: string;
  /** The create body (the rule's name is also how the page knows it was added). */
  body: {
    rule_name: string;
    description: string;
    metric_name: string;
    service: string;
    kind: "threshold" | "heartbeat" | "absence";
    comparison_operator: ">" | "<";
    threshold_value: number;
    for_seconds: number;
    params: Record<string, unknown>;
    severity: "critical" | "warning";
    notification_channels: ("email" | "slack" | "sms")[];
  };
}

export const RULE_TEMPLATES: readonly RuleTemplate[] = [
  {
    summary: "A Celery task failed in the last 5 minutes (an alert per task and worker process).",
    body: {
      rule_name: "Celery task failing",
      description: "A Celery task raised an exception; the alert's labels name the task.",
      metric_name: "celery_task_failures_total",
      service: "celery",
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: 0,
      for_seconds: 0,
      // Failures per second over 5 minutes: above 0 while a failure is in the window.
      params: { aggregation: "rate", window_seconds: 300 },
      severity: "warning",
      notification_channels: ["email", "slack"],
    },
  },
  {
    summary: "A Celery beat entry did not run on schedule, or its last run failed.",
    body: {
      rule_name: "Celery beat late or failed",
      description: "A scheduled Celery task is late or failed: the monitor's message says which.",
      metric_name: "heartbeat_ok",
      service: "celery",
      kind: "heartbeat",
      comparison_operator: "<",
      threshold_value: 1,
      for_seconds: 0,
      params: { monitor_id: null },
      severity: "critical",
      notification_channels: ["email", "slack", "sms"],
    },
  },
  {
    summary: "A Celery worker stopped reporting for 2 minutes.",
    body: {
      rule_name: "Celery worker gone",
      description: "A Celery worker has sent no liveness sample for 2 minutes: it stopped or cannot reach the monitor.",
      metric_name: "celery_worker_up",
      service: "celery",
      kind: "absence",
      comparison_operator: ">",
      threshold_value: 0,
      for_seconds: 0,
      params: { absent_for_seconds: 120 },
      severity: "critical",
      notification_channels: ["email", "slack"],
    },
  },
  {
    summary: "More than 100 tasks waiting in a Celery queue for 5 minutes.",
    body: {
      rule_name: "Celery queue backlog",
      description: "Tasks are queued faster than the workers take them.",
      metric_name: "celery_queue_length",
      service: "celery",
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: 100,
      for_seconds: 300,
      params: { aggregation: "last", window_seconds: 0 },
      severity: "warning",
      notification_channels: ["email"],
    },
  },
  {
    summary: "An endpoint's 95th percentile response time above 1 s for 5 minutes.",
    body: {
      rule_name: "Slow endpoint",
      description: "An endpoint of the web application answers slowly; the alert's labels name the route.",
      metric_name: "api_response_ms",
      service: "api",
      kind: "threshold",
      comparison_operator: ">",
      threshold_value: 1000,
      for_seconds: 120,
      params: { aggregation: "p95", window_seconds: 300 },
      severity: "warning",
      notification_channels: ["email"],
    },
  },
];

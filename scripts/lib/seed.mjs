// The demo configuration, created through the API so it passes the same validation
// as any client's writes. Idempotent: objects are matched by name and only missing ones are created.

export const DEMO_OWNER = { email: "admin@example.com", name: "Demo Owner", role: "owner" };

export const DEMO_RULES = [
  {
    rule_name: "Payment Failure Rate > 5%",
    description: "Share of ECPay payments failing over the last minutes.",
    metric_name: "payment_failure_rate",
    service: "ecpay",
    kind: "threshold",
    comparison_operator: ">",
    threshold_value: 5,
    for_seconds: 60,
    severity: "critical",
    notification_channels: ["email", "slack"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
  {
    rule_name: "API Response Time > 1000ms",
    description: "Shop API latency.",
    metric_name: "api_response_ms",
    service: "api",
    kind: "threshold",
    comparison_operator: ">",
    threshold_value: 1000,
    for_seconds: 120,
    severity: "warning",
    notification_channels: ["email"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
  // Health probes down for longer than their monitor's interval (15 s): one failed run (a
  // network blip both confirming locations saw) or a flapping endpoint never pages, the next
  // run clears it first. The API's 60 s rides out a deploy's restart (about 45 s of 503s).
  ...[
    ["ECPay health down", "ecpay", "The ECPay gateway's health endpoint fails: payments cannot go through.", 30],
    ["Shop API health down", "api", "The shop API's health endpoint fails.", 60],
    ["PostgreSQL health down", "database", "PostgreSQL's health check fails.", 30],
    ["Redis health down", "redis", "Redis' health check fails: sessions, carts and task queues are affected.", 30],
  ].map(([rule_name, service, description, for_seconds]) => ({
    rule_name,
    description,
    metric_name: "probe_up",
    service,
    kind: "threshold",
    comparison_operator: "<",
    threshold_value: 1,
    for_seconds,
    severity: "critical",
    notification_channels: ["email", "slack", "sms"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  })),
  {
    rule_name: "DB pool exhausted",
    description: "Every PostgreSQL connection of the pool is in use: requests queue for one.",
    metric_name: "db_pool_in_use",
    service: "database",
    kind: "threshold",
    comparison_operator: ">=",
    threshold_value: 20,
    for_seconds: 30,
    severity: "critical",
    notification_channels: ["email", "slack", "sms"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
  {
    // Held 5 minutes: a deploy's 2-minute bump of 5 % errors lifts the 5-minute rate to
    // about 2.8 % for 2–3 minutes, and must not page.
    rule_name: "API error rate > 2.5%",
    description: "Share of shop API requests failing over the last 5 minutes.",
    metric_name: "error_rate",
    service: "api",
    kind: "threshold",
    comparison_operator: ">",
    threshold_value: 2.5,
    for_seconds: 300,
    severity: "critical",
    notification_channels: ["email", "slack"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
  // Anomaly rules on the shop's key metrics: the series' detector judges each sample against
  // what the series usually does at that time; no threshold to choose.
  {
    rule_name: "Unusual DB connections",
    description: "Database connection pool use is unusually high: {{value}} connections in use.",
    metric_name: "db_pool_in_use",
    service: "database",
    kind: "anomaly",
    params: { method: "detector", sensitivity: "medium", direction: "up" },
    for_seconds: 120,
    severity: "warning",
    notification_channels: ["email"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
  {
    rule_name: "Payment success rate below normal",
    description: "ECPay payment success rate is unusually low: {{value}} %.",
    metric_name: "payment_success_rate",
    service: "ecpay",
    kind: "anomaly",
    params: { method: "detector", sensitivity: "medium", direction: "down" },
    for_seconds: 120,
    severity: "warning",
    notification_channels: ["email"],
    cooldown_minutes: 15,
    max_alerts_per_hour: 4,
  },
];

/**
 * Monitors watching the demo shop that the Worker simulates under /demo in demo mode.
 * `baseUrl` is the Worker's own origin as the Worker itself can reach it.
 */
export function demoMonitors(baseUrl) {
  const http = (name, service, path, interval_seconds, expect = { status: [200] }) => ({
    name,
    service,
    kind: "http",
    url: `${baseUrl}${path}`,
    method: "GET",
    interval_seconds,
    timeout_ms: 5000,
    expect,
  });
  return [
    // Every 15 s: a rule on a probe must wait for a second run before it pages (one run can
    // be a blip), so the interval sets the delay of a page.
    http("ECPay gateway", "ecpay", "/demo/ecpay/health", 15, { status: [200], body_contains: "ok" }),
    http("Shop API", "api", "/demo/api/health", 15),
    http("PostgreSQL", "database", "/demo/database/health", 15),
    http("Redis", "redis", "/demo/redis/health", 15),
    http("Email service", "email", "/demo/email/health", 60),
    {
      name: "Celery metrics",
      service: "celery",
      kind: "prometheus",
      url: `${baseUrl}/demo/metrics`,
      interval_seconds: 60,
      timeout_ms: 5000,
    },
    {
      name: "Celery beat: settle payments",
      service: "celery",
      kind: "heartbeat",
      period_seconds: 60,
      grace_seconds: 45,
    },
  ];
}

async function api(fetchImpl, baseUrl, token, method, path, body) {
  const res = await fetchImpl(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Creates whichever demo objects are missing; returns the names it created.
 * `fetchImpl` lets tests send the requests straight into a Worker.
 */
export async function seedDemo(baseUrl, token, fetchImpl = fetch) {
  const call = (method, path, body) => api(fetchImpl, baseUrl, token, method, path, body);
  const created = [];
  const { rules } = await call("GET", "/api/admin/monitoring/rules?limit=1000");
  const existingRules = new Set(rules.map((r) => r.rule_name));
  for (const rule of DEMO_RULES) {
    if (existingRules.has(rule.rule_name)) continue;
    await call("POST", "/api/admin/monitoring/rules", rule);
    created.push(rule.rule_name);
  }
  const { monitors } = await call("GET", "/api/admin/monitoring/monitors?limit=1000");
  const existingMonitors = new Set(monitors.map((m) => m.name));
  for (const monitor of demoMonitors(baseUrl)) {
    if (existingMonitors.has(monitor.name)) continue;
    await call("POST", "/api/admin/monitoring/monitors", monitor);
    created.push(monitor.name);
  }
  return created;
}

/**
 * Stores the demo shop's last 30 days once (POST /demo/backfill, after the seed so the
 * replayed alerts are the seeded rules'); answers the Worker's summary, whose `status`
 * is "already_done" on every later start.
 */
export async function backfillDemo(baseUrl, token, fetchImpl = fetch) {
  return api(fetchImpl, baseUrl, token, "POST", "/demo/backfill");
}

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
];

async function api(baseUrl, token, method, path, body) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Creates whichever demo objects are missing; returns the names it created. */
export async function seedDemo(baseUrl, token) {
  const created = [];
  const { rules } = await api(baseUrl, token, "GET", "/api/admin/monitoring/rules?limit=1000");
  const existing = new Set(rules.map((r) => r.rule_name));
  for (const rule of DEMO_RULES) {
    if (existing.has(rule.rule_name)) continue;
    await api(baseUrl, token, "POST", "/api/admin/monitoring/rules", rule);
    created.push(rule.rule_name);
  }
  return created;
}

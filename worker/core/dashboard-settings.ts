/**
 * The dashboard's shared settings: the metric cards at the top of the status
 * page, in order, and the display name of each service. Defaults until saved;
 * the rules a whole settings object must follow beyond each field's own shape.
 */

/** One metric card: the latest `metric` on `service`, shown as "value / secondary" when `secondaryMetric` is set. */
export interface MetricCard {
  /** Stable key of the card (unique among the cards). */
  id: string;
  title: string;
  metric: string;
  service: string;
  /** Shown after the value: "%", "ms", "" for none. */
  unit: string;
  /** A second metric on the same service shown after the value ("in use / size"), or null. */
  secondaryMetric: string | null;
}

export interface DashboardSettings {
  cards: MetricCard[];
  /** Service name → the name shown for it; services not listed are shown by their own name. */
  serviceNames: Record<string, string>;
}

export const MAX_CARDS = 12;
export const MAX_SERVICE_NAMES = 100;

export function defaultDashboardSettings(): DashboardSettings {
  return {
    cards: [
      {
        id: "payment-success-rate",
        title: "Payment success rate",
        metric: "payment_success_rate",
        service: "ecpay",
        unit: "%",
        secondaryMetric: null,
      },
      {
        id: "api-response-p95",
        title: "API response time (p95)",
        metric: "api_response_p95_ms",
        service: "api",
        unit: "ms",
        secondaryMetric: null,
      },
      {
        id: "db-connection-pool",
        title: "DB connection pool",
        metric: "db_pool_in_use",
        service: "database",
        unit: "",
        secondaryMetric: "db_pool_size",
      },
    ],
    serviceNames: {
      ecpay: "ECPay Integration",
      database: "Database Connection",
      redis: "Redis Cache",
      celery: "Celery Workers",
      email: "Email Service",
      api: "Shop API",
    },
  };
}

export interface SettingsIssue {
  /** Dotted path in the wire object, e.g. "cards.2.id". */
  field: string;
  reason: string;
}

/** Rules across fields of a whole settings object (each field's own shape is checked before). */
export function settingsIssues(settings: DashboardSettings): SettingsIssue[] {
  const issues: SettingsIssue[] = [];
  if (settings.cards.length > MAX_CARDS) issues.push({ field: "cards", reason: `at most ${MAX_CARDS} cards` });
  const seen = new Set<string>();
  settings.cards.forEach((card, i) => {
    if (seen.has(card.id))
      issues.push({ field: `cards.${i}.id`, reason: `"${card.id}" is already used by another card` });
    seen.add(card.id);
    if (card.secondaryMetric !== null && card.secondaryMetric === card.metric)
      issues.push({ field: `cards.${i}.secondary_metric`, reason: "must differ from metric" });
  });
  if (Object.keys(settings.serviceNames).length > MAX_SERVICE_NAMES)
    issues.push({ field: "service_names", reason: `at most ${MAX_SERVICE_NAMES} services` });
  return issues;
}

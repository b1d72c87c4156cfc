import { describe, expect, it } from "vitest";
import {
  defaultDashboardSettings,
  MAX_CARDS,
  type MetricCard,
  settingsIssues,
} from "../../../worker/core/dashboard-settings";

const card = (id: string, extra: Partial<MetricCard> = {}): MetricCard => ({
  id,
  title: id,
  metric: "probe_up",
  service: "api",
  unit: "",
  secondaryMetric: null,
  ...extra,
});

describe("dashboard settings", () => {
  it("defaults to the three cards and the demo services' names, each call a fresh copy", () => {
    const a = defaultDashboardSettings();
    expect(a.cards.map((c) => [c.metric, c.service, c.unit, c.secondaryMetric])).toEqual([
      ["payment_success_rate", "ecpay", "%", null],
      ["api_response_p95_ms", "api", "ms", null],
      ["db_pool_in_use", "database", "", "db_pool_size"],
    ]);
    expect(a.serviceNames).toEqual({
      ecpay: "ECPay Integration",
      database: "Database Connection",
      redis: "Redis Cache",
      celery: "Celery Workers",
      email: "Email Service",
      api: "Shop API",
    });
    a.cards.pop();
    expect(defaultDashboardSettings().cards).toHaveLength(3);
    expect(settingsIssues(defaultDashboardSettings())).toEqual([]);
  });

  it("names each repeated card id, a secondary metric equal to the metric, and too many cards", () => {
    expect(
      settingsIssues({
        cards: [card("a"), card("b", { secondaryMetric: "probe_up" }), card("a"), card("c", { secondaryMetric: "x" })],
        serviceNames: {},
      }),
    ).toEqual([
      { field: "cards.1.secondary_metric", reason: "must differ from metric" },
      { field: "cards.2.id", reason: '"a" is already used by another card' },
    ]);
    const many = Array.from({ length: MAX_CARDS + 1 }, (_, i) => card(`c${i}`));
    expect(settingsIssues({ cards: many, serviceNames: {} })).toEqual([{ field: "cards", reason: "at most 12 cards" }]);
    expect(settingsIssues({ cards: many.slice(1), serviceNames: {} })).toEqual([]);
  });

  it("limits the service names", () => {
    const names = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`s${i}`, "S"]));
    expect(settingsIssues({ cards: [], serviceNames: names })).toEqual([
      { field: "service_names", reason: "at most 100 services" },
    ]);
  });
});

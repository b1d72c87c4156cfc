/**
 * The live status screen's decisions, pure: the overall banner, each metric card's level,
 * service display names.
 */
import { compare } from "../../../worker/core/rules/compare";
import { OPERATORS, type Operator } from "../../../worker/core/rules/types";
import type { Alert, MetricCard, RuleSummary, ServiceHealth, Severity } from "./types";

const isOperator = (op: string): op is Operator => (OPERATORS as readonly string[]).includes(op);

export type Level = "ok" | "warning" | "critical";
export type Overall = "operational" | "degraded" | "outage" | "unknown";

export const OVERALL_TEXT: Record<Overall, string> = {
  operational: "All Systems Operational",
  degraded: "Degraded",
  outage: "Outage",
  unknown: "Status unknown",
};

/**
 * The worst state: a service down or a critical alert open is an outage; a service in
 * warning or a warning alert open is degraded. Without any checked service (not loaded yet,
 * none monitored, or none checked) it is unknown, never "operational"; else operational.
 */
export function overallState(services: readonly ServiceHealth[] | null, alerts: readonly Alert[]): Overall {
  const list = services ?? [];
  const open = alerts.filter((a) => a.status !== "resolved");
  if (list.some((s) => s.status === "down") || open.some((a) => a.alert_severity === "critical")) return "outage";
  if (list.some((s) => s.status === "warning") || open.some((a) => a.alert_severity === "warning")) return "degraded";
  if (!list.some((s) => s.status === "healthy")) return "unknown";
  return "operational";
}

/** The name an administrator reads: the configured display name, else the service id. */
export const displayName = (names: Readonly<Record<string, string>>, service: string) => names[service] || service;

const LEVEL_OF: Record<Severity, Level> = { critical: "critical", warning: "warning", info: "ok" };
const RANK: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };
const worse = (a: Level, b: Level): Level => (RANK[b] > RANK[a] ? b : a);

/**
 * A card's level from the rules that watch it: active threshold rules on the card's metric
 * and service that its latest value crosses, and alerts open on those rules or on the card's
 * service. The worst wins; no value and no open alert is ok.
 */
export function cardLevel(
  card: Pick<MetricCard, "metric" | "service">,
  value: number | null,
  rules: readonly RuleSummary[],
  alerts: readonly Alert[],
): Level {
  let level: Level = "ok";
  const watching = rules.filter(
    (r) => r.is_active && r.metric_name === card.metric && (r.service === null || r.service === card.service),
  );
  if (value !== null) {
    for (const r of watching) {
      if (
        r.kind === "threshold" &&
        isOperator(r.comparison_operator) &&
        compare(value, r.comparison_operator, r.threshold_value)
      )
        level = worse(level, LEVEL_OF[r.severity as Severity] ?? "ok");
    }
  }
  const ruleIds = new Set(watching.map((r) => r.id));
  for (const a of alerts) {
    if (a.status === "resolved") continue;
    if (ruleIds.has(a.alert_rule_id) || a.service === card.service) level = worse(level, LEVEL_OF[a.alert_severity]);
  }
  return level;
}

/** Points of a sparkline path in a `width` × `height` box; empty when fewer than two points. */
export function sparklinePath(values: readonly (number | null)[], width: number, height: number): string {
  const pts = values.map((v, i) => [i, v] as const).filter((p): p is readonly [number, number] => p[1] !== null);
  if (pts.length < 2) return "";
  let min = Infinity;
  let max = -Infinity;
  for (const [, v] of pts) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const span = max - min || 1;
  const last = values.length - 1 || 1;
  return pts
    .map(([i, v], n) => {
      const x = (i / last) * width;
      const y = height - ((v - min) / span) * (height - 2) - 1;
      return `${n === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

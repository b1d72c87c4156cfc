/** Pure helpers for service health: validation of untrusted data, ordering, summaries. */
import { HEALTH_STATUSES, type HealthStatus, type ServiceHealth } from "./types";

const isStatus = (v: unknown): v is HealthStatus =>
  typeof v === "string" && (HEALTH_STATUSES as readonly string[]).includes(v);

function isServiceHealth(v: unknown): v is ServiceHealth {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.service === "string" &&
    isStatus(s.status) &&
    (s.last_checked_at === null || typeof s.last_checked_at === "string") &&
    (s.latency_ms === null || typeof s.latency_ms === "number") &&
    typeof s.message === "string"
  );
}

/** The services in `data` (socket payloads are `unknown`), or null when it is not a list of them. */
export function parseServices(data: unknown): ServiceHealth[] | null {
  return Array.isArray(data) && data.every(isServiceHealth) ? data : null;
}

/** Most urgent first, so a problem is never below the fold. */
const URGENCY: Record<HealthStatus, number> = { down: 0, warning: 1, unknown: 2, healthy: 3 };

/** Services ordered by urgency, then by name. Does not modify its input. */
export function sortServices(services: readonly ServiceHealth[]): ServiceHealth[] {
  return [...services].sort((a, b) => URGENCY[a.status] - URGENCY[b.status] || a.service.localeCompare(b.service));
}

export type StatusCounts = Record<HealthStatus, number>;

export function countByStatus(services: readonly ServiceHealth[]): StatusCounts {
  const counts: StatusCounts = { healthy: 0, warning: 0, down: 0, unknown: 0 };
  for (const s of services) counts[s.status] += 1;
  return counts;
}

export const STATUS_LABELS: Record<HealthStatus, string> = {
  healthy: "Healthy",
  warning: "Warning",
  down: "Down",
  unknown: "Unknown",
};

/** One line for the page header, e.g. "1 down, 2 healthy" or "All 3 services healthy". */
export function summarize(services: readonly ServiceHealth[]): string {
  if (services.length === 0) return "No services are monitored yet.";
  const counts = countByStatus(services);
  if (counts.healthy === services.length)
    return services.length === 1 ? "The service is healthy" : `All ${services.length} services healthy`;
  return (["down", "warning", "unknown", "healthy"] as const)
    .filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(", ");
}

/** Every service the product knows of: monitored, named, or watched by a rule; sorted, once each. */
export function knownServices(
  monitored: readonly string[],
  named: Readonly<Record<string, string>>,
  ruled: readonly (string | null)[],
): string[] {
  return [...new Set([...monitored, ...Object.keys(named), ...ruled.filter((s): s is string => !!s)])].sort();
}

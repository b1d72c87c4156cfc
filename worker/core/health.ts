/** Service health derived from the latest probe results of the service's monitors. */

export type HealthStatus = "healthy" | "warning" | "down" | "unknown";

export interface MonitorReading {
  monitorId: number;
  name: string;
  service: string;
  intervalSeconds: number;
  /** Latest probe outcome: 1 up, 0 down; null when never probed. */
  up: number | null;
  latencyMs: number | null;
  checkedAt: number | null;
  message: string | null;
}

export interface ServiceHealth {
  service: string;
  status: HealthStatus;
  lastCheckedAt: number | null;
  latencyMs: number | null;
  message: string;
}

/** A reading older than this many intervals no longer says anything about now… */
export const STALE_INTERVALS = 3;
/**
 * …nor older than this, whatever the interval: a 1 s monitor is not unknown after one
 * slow alarm and a missed slot (the bound of the 5 s monitors, once the fastest).
 */
export const MIN_STALE_MS = 15_000;

/** How old a monitor's reading may be and still count. */
export const staleAfterMs = (intervalSeconds: number): number =>
  Math.max(MIN_STALE_MS, STALE_INTERVALS * intervalSeconds * 1000);

/**
 * Rolls monitor readings up per service: all up → healthy, some down → warning,
 * all down → down, nothing fresh → unknown. Services are returned by name.
 */
export function deriveServiceHealth(readings: readonly MonitorReading[], now: number): ServiceHealth[] {
  const byService = new Map<string, MonitorReading[]>();
  for (const r of readings) byService.set(r.service, [...(byService.get(r.service) ?? []), r]);
  return [...byService.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([service, rs]) => {
      const fresh = rs.filter(
        (r) => r.up !== null && r.checkedAt !== null && now - r.checkedAt <= staleAfterMs(r.intervalSeconds),
      );
      const down = fresh.filter((r) => r.up === 0);
      const lastCheckedAt = rs.reduce<number | null>(
        (m, r) => (r.checkedAt !== null && (m === null || r.checkedAt > m) ? r.checkedAt : m),
        null,
      );
      const latencies = fresh.map((r) => r.latencyMs).filter((v): v is number => v !== null);
      const latencyMs = latencies.length ? Math.max(...latencies) : null;
      if (fresh.length === 0) {
        return {
          service,
          status: "unknown",
          lastCheckedAt,
          latencyMs: null,
          message: lastCheckedAt === null ? "not checked yet" : "no recent check",
        };
      }
      const status: HealthStatus = down.length === 0 ? "healthy" : down.length === fresh.length ? "down" : "warning";
      const message =
        down.length === 0
          ? `${fresh.length}/${rs.length} monitors up`
          : down.map((r) => `${r.name}: ${r.message ?? "down"}`).join("; ");
      return { service, status, lastCheckedAt, latencyMs, message };
    });
}

/** Service health as the API and the live dashboard show it. */
import { eq } from "drizzle-orm";
import { deriveServiceHealth, type MonitorReading, type ServiceHealth } from "../core/health";
import { type Sample, seriesKey } from "../core/series";
import { toIso } from "../core/time";
import { getDb } from "../db/client";
import { monitors } from "../db/schema";
import { seriesIndex } from "./series";

/** Series whose change can change a service's health. */
export const HEALTH_METRICS: ReadonlySet<string> = new Set(["probe_up", "probe_latency_ms", "heartbeat_ok"]);

/** The API and WebSocket shape of one service's health. */
export function toServiceHealthWire(s: ServiceHealth) {
  return {
    service: s.service,
    status: s.status,
    last_checked_at: toIso(s.lastCheckedAt),
    latency_ms: s.latencyMs,
    message: s.message,
  };
}

/** The up signal of a monitor: heartbeats report `heartbeat_ok`, probes `probe_up`. */
const upMetric = (kind: string) => (kind === "heartbeat" ? "heartbeat_ok" : "probe_up");

/** Seconds after which a monitor's reading is one period old: a heartbeat's period plus grace, else its interval. */
function periodSeconds(m: typeof monitors.$inferSelect): number {
  if (m.kind !== "heartbeat") return m.intervalSeconds;
  const { period_seconds: period, grace_seconds: grace } = m.config;
  return typeof period === "number" && period > 0
    ? period + (typeof grace === "number" && grace > 0 ? grace : 0)
    : m.intervalSeconds;
}

type LatestOf = (keys: string[]) => Promise<(Sample | null)[]> | (Sample | null)[];

/**
 * Health of every service from its active monitors' latest readings, looked up
 * in the series index in one call (`latestOf` lets the index itself pass its own lookup).
 */
export async function readMonitorHealth(
  env: Env,
  now: number,
  latestOf: LatestOf = (keys) => seriesIndex(env).get(keys),
) {
  const active = await getDb(env.DB).select().from(monitors).where(eq(monitors.isActive, true));
  // Heartbeats have no latency series: their runtime is not a response time.
  const wanted = active.map((m) => {
    const labels = { monitor: String(m.id) };
    const latency = m.kind === "heartbeat" ? null : seriesKey("probe_latency_ms", m.service, labels);
    return { up: seriesKey(upMetric(m.kind), m.service, labels), latency };
  });
  const keys = wanted.flatMap((w) => (w.latency === null ? [w.up] : [w.up, w.latency]));
  const found = new Map<string, Sample>();
  if (keys.length) {
    const latest = await latestOf(keys);
    latest.forEach((s, i) => s && found.set(keys[i] ?? "", s));
  }
  const readings = active.map((m, i): MonitorReading => {
    const up = found.get(wanted[i]?.up ?? "");
    const latency = found.get(wanted[i]?.latency ?? "");
    return {
      monitorId: m.id,
      name: m.name,
      service: m.service,
      intervalSeconds: periodSeconds(m),
      up: up?.value ?? null,
      latencyMs: latency?.value ?? null,
      checkedAt: up?.ts ?? null,
      message: up?.message ?? null,
    };
  });
  return deriveServiceHealth(readings, now);
}

/** Service health: `GET /health/services`, derived from each service's monitors. */
import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { deriveServiceHealth, type MonitorReading, type ServiceHealth } from "../core/health";
import { getDb } from "../db/client";
import { monitors } from "../db/schema";
import { seriesStub } from "../lib/series";
import { commonErrors, createApi, jsonResponse } from "./api";
import { iso } from "./fields";

const ServiceHealthOut = z
  .object({
    service: z.string(),
    status: z.enum(["healthy", "warning", "down", "unknown"]),
    last_checked_at: z.string().nullable(),
    latency_ms: z.number().nullable(),
    message: z.string(),
  })
  .openapi("ServiceHealth");

export const health = createApi();

/** The API and WebSocket shape of one service's health. */
export function toServiceHealthWire(s: ServiceHealth) {
  return {
    service: s.service,
    status: s.status,
    last_checked_at: s.lastCheckedAt === null ? null : iso(s.lastCheckedAt),
    latency_ms: s.latencyMs,
    message: s.message,
  };
}

/** Latest probe readings of every active monitor, from its series. */
export async function readMonitorHealth(env: Env, now: number) {
  const active = await getDb(env.DB).select().from(monitors).where(eq(monitors.isActive, true));
  const readings = await Promise.all(
    active.map(async (m): Promise<MonitorReading> => {
      const labels = { monitor: String(m.id) };
      const [up, latency] = await Promise.all([
        seriesStub(env, "probe_up", m.service, labels).latest(),
        seriesStub(env, "probe_latency_ms", m.service, labels).latest(),
      ]);
      return {
        monitorId: m.id,
        name: m.name,
        service: m.service,
        intervalSeconds: m.intervalSeconds,
        up: up?.value ?? null,
        latencyMs: latency?.value ?? null,
        checkedAt: up?.ts ?? null,
        message: null,
      };
    }),
  );
  return deriveServiceHealth(readings, now);
}

health.openapi(
  createRoute({
    method: "get",
    path: "/health/services",
    tags: ["health"],
    summary: "Health of every monitored service",
    responses: {
      200: jsonResponse(z.object({ services: z.array(ServiceHealthOut) }), "Per-service health"),
      ...commonErrors,
    },
  }),
  async (c) => {
    const services = await readMonitorHealth(c.env, Date.now());
    return c.json({ services: services.map(toServiceHealthWire) }, 200);
  },
);

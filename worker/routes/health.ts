/** Service health: `GET /health/services`, derived from each service's monitors. */
import { createRoute, z } from "@hono/zod-openapi";
import { readMonitorHealth, toServiceHealthWire } from "../lib/health";
import { selfReport } from "../lib/self-health";
import { commonErrors, createApi, jsonResponse } from "./api";

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

const SelfOut = z
  .object({
    ok: z.boolean(),
    problems: z.array(z.string()),
    version: z.string(),
    d1: z.object({ round_trip_ms: z.number(), error: z.string().nullable() }),
    sentinel: z.object({
      round_trip_ms: z.number(),
      error: z.string().nullable(),
      next_check_at: z.string().nullable(),
    }),
    cron: z.object({ last_tick_at: z.string().nullable(), lag_seconds: z.number().nullable() }),
    notifications: z.object({ backlog: z.number().nullable(), oldest_undelivered_seconds: z.number().nullable() }),
    probes: z.array(z.object({ id: z.number(), monitor: z.string(), lag_seconds: z.number() })),
  })
  .openapi("SelfHealth");

health.openapi(
  createRoute({
    method: "get",
    path: "/health/self",
    tags: ["health"],
    summary: "The monitor's own health in detail: what /healthz judges, and the delivery backlog and probe lag",
    responses: { 200: jsonResponse(SelfOut, "Measured now"), ...commonErrors },
  }),
  async (c) => c.json(await selfReport(c.env, Date.now()), 200),
);

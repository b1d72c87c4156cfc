/** Service health: `GET /health/services`, derived from each service's monitors. */
import { createRoute, z } from "@hono/zod-openapi";
import { readMonitorHealth, toServiceHealthWire } from "../lib/health";
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

/**
 * `GET /metrics`: the product's own state in Prometheus text format, for an outside checker
 * (a Prometheus, a Grafana Agent, a cron with curl) to watch the watcher. Authenticated with
 * an ingest key, the credential such a machine client already holds, read from D1 per request.
 * The counters' totals come from the Sentinel (lib/counters.ts), in parallel with D1.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { BUILD_VERSION, renderSelfMetrics } from "../core/self-metrics";
import { readSelfMetrics } from "../db/self-metrics";
import { readCounterTotals } from "../lib/counters";
import { requireIngestKey } from "../middleware/ingest-auth";
import { createApi, ErrorSchema, jsonResponse } from "./api";

export const selfMetrics = createApi();

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

selfMetrics.openAPIRegistry.registerPath(
  createRoute({
    method: "get",
    path: "/metrics",
    tags: ["collection"],
    summary: "The product's own metrics, in Prometheus text exposition format 0.0.4",
    description:
      "Alerts by state, notification deliveries by channel and status, the delivery backlog and latency, rules, monitors and probe lag, read from D1 at request time; counters of samples accepted by source, refused by reason, and rule evaluations by kind. Send an ingest key.",
    security: [{ ingestKey: [] }],
    responses: {
      200: { description: "The exposition", content: { "text/plain": { schema: z.string() } } },
      401: jsonResponse(ErrorSchema, "No, unknown or revoked key"),
      403: jsonResponse(ErrorSchema, "The key is not an ingest key"),
    },
  }),
);

selfMetrics.get("/metrics", requireIngestKey("ingest"), async (c) => {
  const [metrics, counters] = await Promise.all([readSelfMetrics(c.env.DB, Date.now()), readCounterTotals(c.env)]);
  return c.body(renderSelfMetrics({ ...metrics, counters, version: BUILD_VERSION }), 200, {
    "content-type": CONTENT_TYPE,
    "cache-control": "no-store",
  });
});

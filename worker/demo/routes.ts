/**
 * The demo shop's endpoints under /demo (demo mode only): a health endpoint per service and a
 * Prometheus /metrics, answered from the simulation. `?incident=<kind>` previews an incident.
 * `POST /demo/backfill` (an admin) stores the shop's past once (see backfill.ts).
 */
import { Hono } from "hono";
import {
  DEMO_SERVICES,
  type DemoService,
  demoHealth,
  INCIDENT_KINDS,
  type Incident,
  incidentAround,
  isIncidentKind,
  nextIncident,
  renderShopMetrics,
  shopState,
} from "../core/demo-shop";
import { toIso } from "../core/time";
import type { AppEnv } from "../env";
import { ApiError, badRequest, toErrorResponse } from "../lib/errors";
import { authenticate, requireRole } from "../middleware/auth";
import { backfillDemoHistory } from "./backfill";

export const demo = new Hono<AppEnv>();

demo.onError((err) => toErrorResponse(err));
demo.notFound((c) => toErrorResponse(new ApiError(404, `No demo route for ${new URL(c.req.url).pathname}.`)));

// The app mounts this only in demo mode; the check here keeps it closed wherever it is mounted.
demo.use("*", async (c, next) => {
  if (c.env.DEMO_MODE !== "1") throw new ApiError(404, "The demo shop runs only in demo mode.");
  c.header("cache-control", "no-store");
  await next();
});

/** Incidents requested with `?incident=<kind>`, on top of the schedule. */
function forcedIncidents(query: string | undefined, now: number): Incident[] {
  if (query === undefined || query === "") return [];
  if (!isIncidentKind(query)) {
    throw badRequest([{ field: "incident", reason: `must be one of ${INCIDENT_KINDS.join(", ")}` }]);
  }
  return [incidentAround(query, now)];
}

const isDemoService = (s: string): s is DemoService => (DEMO_SERVICES as readonly string[]).includes(s);

demo.get("/:service/health", async (c) => {
  const service = c.req.param("service");
  if (!isDemoService(service)) throw new ApiError(404, `The demo shop has no service "${service}".`);
  const now = Date.now();
  const health = demoHealth(shopState(now, forcedIncidents(c.req.query("incident"), now)), service);
  // a degraded dependency answers slowly; probes should see it
  if (health.delayMs > 0) await scheduler.wait(health.delayMs);
  return c.json(health.body, health.httpStatus);
});

demo.get("/metrics", (c) => {
  const now = Date.now();
  const text = renderShopMetrics(shopState(now, forcedIncidents(c.req.query("incident"), now)));
  return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
});

const incidentWire = (i: Incident) => ({
  kind: i.kind,
  starts_at: new Date(i.start).toISOString(),
  ends_at: new Date(i.end).toISOString(),
});

/** The whole simulated shop now, and when the next scheduled incident starts. */
demo.get("/state", (c) => {
  const now = Date.now();
  const state = shopState(now, forcedIncidents(c.req.query("incident"), now));
  const next = nextIncident(now);
  return c.json({
    at: new Date(now).toISOString(),
    traffic: Math.round(state.traffic * 100) / 100,
    incidents: state.incidents.map(incidentWire),
    next_incident: incidentWire(next),
    services: Object.fromEntries(DEMO_SERVICES.map((s) => [s, demoHealth(state, s).body])),
  });
});

/**
 * The shop's last 30 days, stored once: 200 with `status` "completed" (this call did it,
 * in seconds) or "already_done", the range, what was stored and how long it took.
 */
demo.post("/backfill", authenticate, requireRole("admin"), async (c) => {
  const r = await backfillDemoHistory(c.env, Date.now());
  return c.json({
    status: r.status,
    from: toIso(r.from),
    to: toIso(r.to),
    raw_samples: r.rawSamples,
    rollup_rows: r.rollupRows,
    alerts: r.alerts,
    duration_ms: r.durationMs,
    completed_at: toIso(r.completedAt),
  });
});

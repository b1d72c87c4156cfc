/**
 * The HTTP app: public endpoints, the session login, and the admin API behind
 * authentication and role checks. One sub-app per resource, one error path.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { API_HEADERS } from "./core/security-headers";
import { checkSelf } from "./lib/self-health";
import { ApiError, toErrorResponse } from "./lib/errors";
import { authenticate, authorizeByMethod, requireRole, resolveActor } from "./middleware/auth";
import { checkRequestOrigin } from "./middleware/origin";
import { createApi, jsonResponse } from "./routes/api";
import { CONFIG_BODY_LIMIT, config } from "./routes/config";
import { dashboard } from "./routes/dashboard";
import { deliveries } from "./routes/deliveries";
import { demo } from "./demo/routes";
import { alerts } from "./routes/alerts";
import { anomalies } from "./routes/anomalies";
import { audit } from "./routes/audit";
import { escalationPolicies } from "./routes/escalation-policies";
import { health } from "./routes/health";
import { heartbeat } from "./routes/heartbeat";
import { ingest } from "./routes/ingest";
import { integration } from "./routes/integration";
import { keys } from "./routes/keys";
import { me } from "./routes/me";
import { metrics } from "./routes/metrics";
import { monitors } from "./routes/monitors";
import { notifications } from "./routes/notifications";
import { preferences } from "./routes/preferences";
import { rules } from "./routes/rules";
import { selfMetrics } from "./routes/self-metrics";
import { session } from "./routes/session";
import { silences } from "./routes/silences";
import { slack } from "./routes/slack";
import { tokens } from "./routes/tokens";
import { users } from "./routes/users";

/** Largest configuration request body accepted, in bytes. */
export const ADMIN_BODY_LIMIT = 64 * 1024;

export const app = createApi();

// The Worker's own answers carry the security headers (core/security-headers.ts); the dashboard's
// files get theirs from the build's _headers file. A 101 keeps its socket untouched.
app.use("*", async (c, next) => {
  await next();
  if (c.res.status === 101) return;
  const res = new Response(c.res.body, c.res); // headers of a fetched response are immutable
  for (const [name, value] of Object.entries(API_HEADERS)) if (!res.headers.has(name)) res.headers.set(name, value);
  c.res = undefined;
  c.res = res;
});

app.onError((err) => toErrorResponse(err));
app.notFound((c) => toErrorResponse(new ApiError(404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`)));

app.openapi(
  createRoute({
    method: "get",
    path: "/healthz",
    tags: ["public"],
    summary: "Health of the monitor itself: tiny, public, no secrets; 503 when it cannot do its job",
    responses: {
      200: jsonResponse(z.object({ ok: z.literal(true), time: z.string() }), "Working"),
      503: jsonResponse(
        z.object({ ok: z.literal(false), time: z.string(), problems: z.array(z.string()) }),
        "Not able to do its job (D1 unreachable, the cron silent for over 2 minutes, the sentinel unreachable)",
      ),
    },
  }),
  async (c) => {
    const now = Date.now();
    const self = await checkSelf(c.env, now);
    const time = new Date(now).toISOString();
    return self.ok
      ? c.json({ ok: true as const, time }, 200)
      : c.json({ ok: false as const, time, problems: self.problems }, 503);
  },
);

const tooLarge = () => {
  throw new ApiError(413, `The body is larger than ${ADMIN_BODY_LIMIT} bytes.`);
};
// A forged request riding on the session cookie stops here, before authentication (core/origin.ts).
app.use("/api/auth/*", checkRequestOrigin);
app.use("/api/admin/*", checkRequestOrigin);
app.use("/ws", checkRequestOrigin);

app.use("/api/auth/*", bodyLimit({ maxSize: ADMIN_BODY_LIMIT, onError: tooLarge }));
app.route("/api/auth", session);

const admin = createApi();
const adminBodyLimit = bodyLimit({ maxSize: ADMIN_BODY_LIMIT, onError: tooLarge });
// A configuration document carries every rule and monitor: it may be larger than one object.
const configBodyLimit = bodyLimit({
  maxSize: CONFIG_BODY_LIMIT,
  onError: () => {
    throw new ApiError(413, `The configuration document is larger than ${CONFIG_BODY_LIMIT} bytes.`);
  },
});
admin.use("*", authenticate, (c, next) =>
  c.req.path === "/api/admin/monitoring/config/import" ? configBodyLimit(c, next) : adminBodyLimit(c, next),
);
admin.route("/", me);
// Self-service: every role manages its own notification preferences (and tests them) and API tokens
// (a token carries its owner's role). Registered before the method rule, which
// therefore never sees these routes.
admin.route("/monitoring", preferences);
admin.route("/monitoring", notifications);
admin.route("/", tokens);
admin.use("*", authorizeByMethod);
admin.use("/users/*", requireRole("owner"));
admin.use("/users", requireRole("owner"));
admin.route("/", users);
for (const resource of [
  health,
  metrics,
  dashboard,
  rules,
  alerts,
  anomalies,
  deliveries,
  monitors,
  keys,
  escalationPolicies,
  silences,
  config,
  audit,
]) {
  admin.route("/monitoring", resource);
}
app.route("/api/admin", admin);

// Collection: push ingest (scoped ingest keys), heartbeat pings (the URL's key) and the
// heartbeat monitors an integration key keeps.
app.route("/api", ingest);
app.route("/api", heartbeat);
app.route("/api", integration);

// The product's own metrics for an outside checker: an ingest key, like the collection endpoints.
app.route("/", selfMetrics);

// Slack's slash command and message buttons: public, each request signed by Slack.
app.route("/slack", slack);

// The demo shop exists only in demo mode (`npm start`).
app.use("/demo/*", async (c, next) => {
  if (c.env.DEMO_MODE !== "1") throw new ApiError(404, "The demo shop runs only in demo mode.");
  await next();
});
app.route("/demo", demo);

// The dashboard socket: authenticated like the admin API, then handed to the hub.
app.get("/ws", async (c) => {
  const actor = await resolveActor(c.req.raw, c.env, Date.now(), (p) => c.executionCtx.waitUntil(p));
  if (!actor) throw new ApiError(401, "Authentication required.");
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(400, "Expected a WebSocket upgrade.");
  return c.env.DASHBOARD_HUB.getByName("main").fetch(c.req.raw);
});

app.doc31("/api/openapi.json", {
  openapi: "3.1.0",
  info: { title: "Edge Monitor API", version: "1" },
  security: [{ bearer: [] }],
});
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

/**
 * What an integration key (scope "integration": the Python package's) may do besides pushing
 * samples: keep the heartbeat monitors it owns, one per name, up to date.
 *
 * `PUT /integration/heartbeats/{name}` creates the monitor, or updates the schedule of the one
 * this key made, and answers with its ping URL. Every worker process of an application calls
 * it when it starts, so an unchanged schedule writes nothing; two processes starting together
 * make one monitor (a unique index on the owner and the name). A monitor of that name made by
 * an admin or by another key is not taken over (409). The name is what the integration knows
 * it by: a monitor an admin paused stays paused, and one deleted or renamed is made again
 * under its name at the integration's next start.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { bodyLimit } from "hono/body-limit";
import { getDb } from "../db/client";
import type { IngestKey } from "../db/ingest-keys";
import { monitors } from "../db/schema";
import { syncMonitorSchedule } from "../handlers/probes";
import { type AuditActor, insertedId, withAudit } from "../lib/audit";
import { ApiError, badRequest, conflict } from "../lib/errors";
import { requireIngestKey } from "../middleware/ingest-auth";
import { commonErrors, createApi, errorResponse, issuesToDetails, jsonResponse } from "./api";
import { resourceValidator } from "./crud";
import { Name, ServiceName, TimeZone } from "./fields";
import { monitorResource, monitorValues, rowToInput } from "./monitors";

const BODY_LIMIT = 16 * 1024;

export const integration = createApi();

integration.use(
  "/integration/*",
  bodyLimit({
    maxSize: BODY_LIMIT,
    onError: () => {
      throw new ApiError(413, `The body is larger than ${BODY_LIMIT} bytes.`);
    },
  }),
);

const HeartbeatSpec = z
  .object({
    service: ServiceName.openapi({ example: "celery" }),
    period_seconds: z.number().int().nullish().openapi({ description: "Expected ping period (or cron)" }),
    cron: z
      .string()
      .nullish()
      .openapi({ description: "5-field cron schedule (or period_seconds)", example: "0 3 * * *" }),
    timezone: TimeZone.nullish().openapi({ description: "The cron's time zone, default UTC", example: "Asia/Taipei" }),
    grace_seconds: z
      .number()
      .int()
      .nullish()
      .openapi({ description: "Lateness allowed before a run counts as missed" }),
  })
  .strict()
  .openapi("IntegrationHeartbeatInput");

const HeartbeatOut = z
  .object({
    id: z.number().int(),
    name: z.string(),
    service: z.string(),
    period_seconds: z.number().int().nullable(),
    cron: z.string().nullable(),
    timezone: z.string().nullable(),
    grace_seconds: z.number().int().nullable(),
    is_active: z.boolean(),
    heartbeat_url: z
      .string()
      .openapi({ description: "POST here on success, …/start when a run starts, …/fail on failure" }),
  })
  .openapi("IntegrationHeartbeat");

const route = createRoute({
  method: "put",
  path: "/integration/heartbeats/{name}",
  tags: ["collection"],
  summary: "Create or update a heartbeat monitor this integration key owns (by name)",
  security: [{ ingestKey: [] }],
  request: {
    params: z.object({
      name: z.string().openapi({ param: { name: "name", in: "path" }, example: "beat: nightly-report" }),
    }),
    body: { required: true, content: { "application/json": { schema: HeartbeatSpec } } },
  },
  responses: {
    200: jsonResponse(HeartbeatOut, "The monitor, updated or unchanged"),
    201: jsonResponse(HeartbeatOut, "The monitor, created"),
    ...commonErrors,
    409: errorResponse("A monitor of this name exists that this key does not own"),
    413: errorResponse(`Body larger than ${BODY_LIMIT} bytes`),
  },
});

const validator = resourceValidator(monitorResource);
type MonitorRow = typeof monitors.$inferSelect;

const actorOf = (key: IngestKey): AuditActor => ({ adminId: null, label: `key:${key.name}`, via: "integration" });

function render(row: MonitorRow, origin: string) {
  const input = rowToInput(row);
  return {
    id: row.id,
    name: row.name,
    service: row.service,
    period_seconds: input.period_seconds ?? null,
    cron: input.cron ?? null,
    timezone: input.timezone ?? null,
    grace_seconds: input.grace_seconds ?? null,
    is_active: row.isActive,
    heartbeat_url: `${origin}/api/heartbeat/${row.heartbeatSlug ?? ""}`,
  };
}

integration.openapi({ ...route, middleware: [requireIngestKey("integration")] as const }, async (c) => {
  const key = c.get("ingestKey");
  const name = Name.safeParse(c.req.valid("param").name);
  if (!name.success) throw badRequest(issuesToDetails(name.error.issues, ["name"]), "Invalid name.");
  const spec = c.req.valid("json");
  const origin = new URL(c.req.url).origin;
  const db = getDb(c.env.DB);
  const now = Date.now();
  const byName = await db.select().from(monitors).where(eq(monitors.name, name.data));
  const owned = byName.find((m) => m.ownerKeyId === key.id);
  if (!owned && byName.length) {
    throw conflict(`A monitor named "${name.data}" exists and was not made by this key.`, [
      { field: "name", reason: "taken by a monitor this key does not own" },
    ]);
  }
  // The schedule is the integration's; whether it runs and how often it is checked stay the admin's.
  const base = owned
    ? rowToInput(owned)
    : { name: name.data, kind: "heartbeat" as const, interval_seconds: 60, is_active: true };
  const parsed = validator.safeParse({
    ...base,
    service: spec.service,
    period_seconds: spec.period_seconds ?? null,
    cron: spec.cron ?? null,
    timezone: spec.cron == null ? null : (spec.timezone ?? null),
    grace_seconds: spec.grace_seconds ?? null,
  });
  if (!parsed.success) throw badRequest(issuesToDetails(parsed.error.issues), "Invalid heartbeat.");
  const input = parsed.data;
  const values = monitorValues(input, owned);
  const entry = { targetType: "monitor", after: input, note: "integration" };
  if (owned) {
    const before = rowToInput(owned);
    const unchanged =
      owned.service === values.service && JSON.stringify(owned.config) === JSON.stringify(values.config);
    if (unchanged) return c.json(render(owned, origin), 200);
    const [row] = await withAudit(
      db,
      db
        .update(monitors)
        .set({ service: values.service, config: values.config, updatedAt: now })
        .where(and(eq(monitors.id, owned.id), eq(monitors.ownerKeyId, key.id)))
        .returning(),
      actorOf(key),
      { ...entry, action: "monitor.update", targetId: owned.id, before },
      now,
    );
    if (!row) throw new ApiError(409, "The monitor changed meanwhile; send the request again.");
    await syncMonitorSchedule(c.env, row.id, row);
    return c.json(render(row, origin), 200);
  }
  let row: MonitorRow | undefined;
  try {
    [row] = await withAudit(
      db,
      db
        .insert(monitors)
        .values({ ...values, ownerKeyId: key.id })
        .returning(),
      actorOf(key),
      { ...entry, action: "monitor.create", targetId: insertedId() },
      now,
    );
  } catch (err) {
    // Another process of the same application made it a moment ago: that one is the answer.
    [row] = await db
      .select()
      .from(monitors)
      .where(and(eq(monitors.name, name.data), eq(monitors.ownerKeyId, key.id)));
    if (!row) throw err;
    return c.json(render(row, origin), 200);
  }
  if (!row) throw new Error("insert returned no row");
  await syncMonitorSchedule(c.env, row.id, row);
  return c.json(render(row, origin), 201);
});

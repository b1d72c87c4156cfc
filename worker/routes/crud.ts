/**
 * One mechanism for the configuration resources (rules, monitors, keys,
 * escalation policies, silences, admins): list, create, read, update, delete,
 * validated from one field schema that also documents the routes in OpenAPI.
 *
 * PUT is a partial update: the body's fields are merged over the stored object
 * and the result is validated as a whole, so cross-field rules still hold.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt, type InferInsertModel, type InferSelectModel, type SQL } from "drizzle-orm";
import type { SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import { toIso } from "../core/time";
import type { Actor } from "../middleware/auth";
import { getDb } from "../db/client";
import { auditActorOf, insertedId, recordAudit, withAudit } from "../lib/audit";
import { type ApiError, asConflict, badRequest, notFound } from "../lib/errors";
import {
  commonErrors,
  conflictError,
  createApi,
  IdParams,
  issuesToDetails,
  jsonBody,
  jsonResponse,
  notFoundError,
} from "./api";

export type Table = SQLiteTable & { id: SQLiteColumn };
export type Row<T extends Table> = InferSelectModel<T>;

export interface WriteContext<T extends Table> {
  env: Env;
  actor: Actor;
  now: number;
  /** The stored row, on update. */
  existing?: Row<T>;
  /** Origin of the request (scheme://host), when the write comes from one. */
  origin?: string;
}

export interface OutputContext {
  now: number;
  env: Env;
  /** Origin of the request (scheme://host), for absolute URLs in responses. */
  origin: string;
}

export interface CrudResource<T extends Table, F extends z.ZodObject, O extends z.ZodObject> {
  /** Singular, for messages and OpenAPI summaries: "Monitor". */
  noun: string;
  /** Path segment and list key: "monitors". */
  collection: string;
  table: T;
  /** Writable fields; `refine` adds checks across fields. */
  fields: F;
  refine?: (input: z.output<F>, issue: (field: string, reason: string) => void) => void;
  output: O;
  /** Stored row → writable fields, for merging a partial update. */
  toInput: (row: Row<T>) => z.input<F>;
  /** Validated input → column values; `reveal` is added once to the create response (new secrets). */
  toValues: (
    input: z.output<F>,
    ctx: WriteContext<T>,
  ) =>
    | Promise<{ values: InferInsertModel<T>; reveal?: Record<string, unknown> }>
    | { values: InferInsertModel<T>; reveal?: Record<string, unknown> };
  /**
   * Row → response. By default: `id`, the writable fields (`toInput`), whatever
   * `extraOutput` adds, and `created_at`/`updated_at` as ISO strings.
   */
  toOutput?: (row: Row<T>, ctx: OutputContext) => z.input<O>;
  extraOutput?: (row: Row<T>, ctx: OutputContext) => Record<string, unknown>;
  /** Runs after a write commits (e.g. tells a Durable Object); `row` is null after delete. */
  afterWrite?: (env: Env, id: number, row: Row<T> | null) => Promise<void>;
  /** Extra checks with database access, throwing ApiError (e.g. a referenced id exists). */
  check?: (input: z.output<F>, ctx: WriteContext<T>) => Promise<void>;
  /** Refuses a delete with an ApiError (e.g. the last owner). */
  beforeDelete?: (row: Row<T>, ctx: WriteContext<T>) => Promise<void>;
  /**
   * A condition the row must meet at the moment of the write, part of the UPDATE's or
   * DELETE's own WHERE (values null on delete), so a check across rows cannot be raced
   * by a concurrent write the way a check-then-write can; `refused` when it does not hold.
   */
  writeGuard?: {
    where: (id: number, values: InferInsertModel<T> | null) => SQL | undefined;
    refused: () => ApiError;
  };
  /** The audit trail's target type ("rule" → "rule.create"); by default the noun in snake case. */
  auditType?: string;
}

const MAX_PAGE = 1000;

/** A resource definition, typed as `crudRoutes` takes it (also read by the configuration import). */
export const defineResource = <T extends Table, F extends z.ZodObject, O extends z.ZodObject>(
  r: CrudResource<T, F, O>,
) => r;

/**
 * The whole-object check of a resource, as its create and update routes run it: unknown
 * fields refused, read-only output fields (id, timestamps, …) dropped, `refine` applied.
 */
export function resourceValidator<T extends Table, F extends z.ZodObject, O extends z.ZodObject>(
  r: CrudResource<T, F, O>,
) {
  // Unknown fields are refused (a typo must not be silently ignored), but the
  // read-only fields of the output (id, timestamps, …) may be sent back as read.
  const readOnly = new Set(Object.keys(r.output.shape).filter((k) => !(k in r.fields.shape)));
  const writable = (body: unknown) =>
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? Object.fromEntries(Object.entries(body).filter(([k]) => !readOnly.has(k)))
      : body;
  const full = r.fields
    .strict()
    .superRefine((input, ctx) =>
      r.refine?.(input as z.output<F>, (field, reason) =>
        ctx.addIssue({ code: "custom", path: field.split("."), message: reason }),
      ),
    );
  return {
    writable,
    safeParse: (body: unknown) => full.safeParse(writable(body)) as z.ZodSafeParseResult<z.output<F>>,
  };
}

/** Builds the five routes of a resource as an OpenAPI-documented sub-app. */
export function crudRoutes<T extends Table, F extends z.ZodObject, O extends z.ZodObject>(r: CrudResource<T, F, O>) {
  const app = createApi();
  const tags = [r.collection];
  const { writable, safeParse } = resourceValidator(r);
  const table = r.table as Table;
  // Every write is recorded in the audit trail with the writable fields (`toInput`) before and
  // after: what an administrator set, never a derived secret (a key's hash lives in `values`).
  const auditType = r.auditType ?? r.noun.toLowerCase().replace(/\s+/g, "_");

  const render = (row: Row<T>, ctx: OutputContext): unknown => {
    if (r.toOutput) return r.toOutput(row, ctx);
    const { id, createdAt, updatedAt } = row as { id: number; createdAt?: number; updatedAt?: number };
    return {
      id,
      ...r.toInput(row),
      ...r.extraOutput?.(row, ctx),
      ...(createdAt === undefined ? {} : { created_at: toIso(createdAt) }),
      ...(updatedAt === undefined ? {} : { updated_at: toIso(updatedAt) }),
    };
  };

  /** Validates a whole object (create, or update after merging). */
  const validate = (body: unknown): z.output<F> => {
    const parsed = safeParse(body);
    if (!parsed.success) throw badRequest(issuesToDetails(parsed.error.issues), `Invalid ${r.noun.toLowerCase()}.`);
    return parsed.data;
  };

  const load = async (env: Env, id: number): Promise<Row<T>> => {
    const [row] = await getDb(env.DB).select().from(table).where(eq(table.id, id)).limit(1);
    if (!row) throw notFound(`${r.noun} ${id}`);
    return row as Row<T>;
  };

  const listRoute = createRoute({
    method: "get",
    path: `/${r.collection}`,
    tags,
    summary: `List ${r.collection}`,
    request: { query: ListQuery },
    responses: { 200: jsonResponse(createListSchema(r.collection, r.output), `The ${r.collection}`), ...commonErrors },
  });
  app.openapi(listRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const rows = (await getDb(c.env.DB)
      .select()
      .from(table)
      .where(cursor ? gt(table.id, cursor) : undefined)
      .orderBy(asc(table.id))
      .limit(limit + 1)) as Row<T>[];
    const page = rows.slice(0, limit);
    const out = outputContext(c.env, c.req.url);
    const last = page.at(-1) as { id: number } | undefined;
    const body = {
      [r.collection]: page.map((row) => render(row, out)),
      next_cursor: rows.length > limit && last ? String(last.id) : null,
    };
    return c.json(body as never, 200);
  });

  const createRouteDef = createRoute({
    method: "post",
    path: `/${r.collection}`,
    tags,
    summary: `Create a ${r.noun.toLowerCase()}`,
    request: jsonBody(r.fields),
    responses: { 201: jsonResponse(r.output, `The new ${r.noun.toLowerCase()}`), ...commonErrors, ...conflictError },
  });
  app.openapi(createRouteDef, async (c) => {
    const now = Date.now();
    const ctx = { env: c.env, actor: c.get("actor"), now, origin: new URL(c.req.url).origin };
    const input = validate(await c.req.json());
    await r.check?.(input, ctx);
    const { values, reveal } = await r.toValues(input, ctx);
    const db = getDb(c.env.DB);
    const [row] = (await withAudit(
      db,
      db.insert(table).values(values).returning(),
      auditActorOf(ctx.actor),
      { action: `${auditType}.create`, targetType: auditType, targetId: insertedId(), after: input },
      now,
    ).catch((err: unknown) => Promise.reject(asConflict(err)))) as Row<T>[];
    const created = row as Row<T>;
    const id = (created as { id: number }).id;
    await r.afterWrite?.(c.env, id, created);
    return c.json({ ...(render(created, outputContext(c.env, c.req.url, now)) as object), ...reveal } as never, 201);
  });

  const getRoute = createRoute({
    method: "get",
    path: `/${r.collection}/{id}`,
    tags,
    summary: `Get a ${r.noun.toLowerCase()}`,
    request: { params: IdParams },
    responses: { 200: jsonResponse(r.output, `The ${r.noun.toLowerCase()}`), ...commonErrors, ...notFoundError },
  });
  app.openapi(getRoute, async (c) => {
    const row = await load(c.env, c.req.valid("param").id);
    return c.json(render(row, outputContext(c.env, c.req.url)) as never, 200);
  });

  const updateRoute = createRoute({
    method: "put",
    path: `/${r.collection}/{id}`,
    tags,
    summary: `Update a ${r.noun.toLowerCase()} (fields not sent keep their values)`,
    request: { params: IdParams, ...jsonBody(r.fields.partial()) },
    responses: {
      200: jsonResponse(r.output, `The updated ${r.noun.toLowerCase()}`),
      ...commonErrors,
      ...notFoundError,
      ...conflictError,
    },
  });
  app.openapi(updateRoute, async (c) => {
    const { id } = c.req.valid("param");
    const existing = await load(c.env, id);
    const now = Date.now();
    const ctx = { env: c.env, actor: c.get("actor"), now, existing, origin: new URL(c.req.url).origin };
    const body = (await c.req.json()) as Record<string, unknown>;
    const input = validate({ ...r.toInput(existing), ...(writable(body) as object) });
    await r.check?.(input, ctx);
    const { values } = await r.toValues(input, ctx);
    const stamped = "updatedAt" in table ? { ...values, updatedAt: now } : values;
    const db = getDb(c.env.DB);
    const who = auditActorOf(ctx.actor);
    const entry = {
      action: `${auditType}.update`,
      targetType: auditType,
      targetId: id,
      before: r.toInput(existing),
      after: input,
    };
    const update = db.update(table).set(stamped);
    // A guarded write may be refused by its own condition, and an entry batched with it would
    // then record a change that did not happen: it is recorded once the write is known.
    const [row] = (await (
      r.writeGuard
        ? update.where(and(eq(table.id, id), r.writeGuard.where(id, values))).returning()
        : withAudit(db, update.where(eq(table.id, id)).returning(), who, entry, now)
    ).catch((err: unknown) => Promise.reject(asConflict(err)))) as Row<T>[];
    if (!row) throw r.writeGuard?.refused() ?? notFound(`${r.noun} ${id}`);
    if (r.writeGuard) await recordAudit(c.env.DB, who, entry, now);
    const updated = row as Row<T>;
    await r.afterWrite?.(c.env, id, updated);
    return c.json(render(updated, outputContext(c.env, c.req.url, now)) as never, 200);
  });

  const deleteRoute = createRoute({
    method: "delete",
    path: `/${r.collection}/{id}`,
    tags,
    summary: `Delete a ${r.noun.toLowerCase()}`,
    request: { params: IdParams },
    responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundError, ...conflictError },
  });
  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const existing = await load(c.env, id);
    const now = Date.now();
    const actor = c.get("actor");
    await r.beforeDelete?.(existing, { env: c.env, actor, now, existing });
    const db = getDb(c.env.DB);
    const who = auditActorOf(actor);
    const entry = { action: `${auditType}.delete`, targetType: auditType, targetId: id, before: r.toInput(existing) };
    if (r.writeGuard) {
      const deleted = await db
        .delete(table)
        .where(and(eq(table.id, id), r.writeGuard.where(id, null)))
        .returning({ id: table.id });
      if (!deleted.length) throw r.writeGuard.refused();
      await recordAudit(c.env.DB, who, entry, now);
    } else {
      await withAudit(db, db.delete(table).where(eq(table.id, id)), who, entry, now);
    }
    await r.afterWrite?.(c.env, id, null);
    return c.body(null, 204);
  });

  return app;
}

const outputContext = (env: Env, url: string, now = Date.now()): OutputContext => ({
  env,
  now,
  origin: new URL(url).origin,
});

const ListQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .default(500)
    .openapi({ param: { name: "limit", in: "query" }, example: 100 }),
  cursor: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .openapi({ param: { name: "cursor", in: "query" }, description: "next_cursor of the previous page" }),
});

function createListSchema<O extends z.ZodType>(collection: string, item: O) {
  return z.object({ [collection]: z.array(item), next_cursor: z.string().nullable() });
}

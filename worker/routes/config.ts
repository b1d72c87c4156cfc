/**
 * Configuration as code: `GET /config` exports the whole configuration as one JSON
 * document (core/config-doc.ts describes it), `POST /config/import` takes one back:
 * with `dry_run=1` it answers what would change; without, it applies.
 *
 * An import never half-applies. Every object is validated first, by its resource's own
 * schema and checks (the same field errors the CRUD routes give, under the document's
 * path, e.g. `rules.3.threshold_value`); then all writes go to D1 in one batch (one
 * transaction: all or nothing); then, as after a CRUD write, each changed rule's and
 * monitor's `afterWrite` runs (the rule's object is configured, the monitor scheduled).
 * New objects get their ids before the batch, so rules can reference policies and
 * monitors created by the same import.
 *
 * Reading (export) is for every role, like the objects it contains; importing is for
 * admins and owners (POST, the method rule).
 */
import { auditActorOf, batchWithAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import { asc, eq, gt } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  CONFIG_VERSION,
  type ConfigDiff,
  type ConfigDoc,
  type DocIssue,
  diffConfig,
  diffIsEmpty,
  indexByKey,
  type Item,
  itemKey,
  monitorToDoc,
  policyFromDoc,
  policyToDoc,
  redactHeaders,
  restoreSecrets,
  ruleFromDoc,
  ruleToDoc,
  SECTIONS,
  silenceToDoc,
  withKeys,
} from "../core/config-doc";
import { settingsIssues } from "../core/dashboard-settings";
import type { Actor } from "../middleware/auth";
import { getDb } from "../db/client";
import { loadDashboardSettings } from "../db/dashboard-settings";
import { adminUsers, alertRules, dashboardSettings, escalationPolicies, monitors, silences } from "../db/schema";
import { ApiError, asConflict, badRequest, type ErrorDetail } from "../lib/errors";
import { commonErrors, conflictError, createApi, errorResponse, issuesToDetails, jsonResponse } from "./api";
import { type CrudResource, resourceValidator, type Row, type Table } from "./crud";
import { ServiceNames } from "./dashboard";
import { policyResource } from "./escalation-policies";
import { monitorResource } from "./monitors";
import { ruleResource } from "./rules";
import { silenceResource } from "./silences";

/** Largest import document accepted, in bytes (the rest of the admin API takes 64 KiB). */
export const CONFIG_BODY_LIMIT = 2 * 1024 * 1024;
/** Most objects in one section of a document. */
const MAX_ITEMS = 2000;

type ObjectSection = "escalation_policies" | "monitors" | "rules" | "silences";

const Objects = z.array(z.record(z.string(), z.unknown())).max(MAX_ITEMS);

const Document = z
  .object({
    version: z.literal(CONFIG_VERSION, `must be ${CONFIG_VERSION}`),
    exported_at: z.string().optional(),
    service_names: ServiceNames.optional(),
    escalation_policies: Objects.optional(),
    monitors: Objects.optional(),
    rules: Objects.optional(),
    silences: Objects.optional(),
  })
  .strict()
  .openapi("ConfigDocument", {
    description:
      "The configuration; a section left out is not touched by an import. Objects are matched by key " +
      "(rules: rule_name, monitors: service/name, escalation_policies: name, silences: comment and matchers).",
  });

const Change = z.object({ field: z.string(), from: z.unknown(), to: z.unknown() });
const SectionDiffOut = z.object({
  create: z.array(z.string()),
  update: z.array(z.object({ key: z.string(), changes: z.array(Change) })),
  delete: z.array(z.string()),
  unchanged: z.array(z.string()),
});
const ImportOut = z
  .object({
    dry_run: z.boolean(),
    applied: z.boolean(),
    prune: z.boolean(),
    changes: z.boolean().openapi({ description: "Whether the import changes anything" }),
    diff: z.object(Object.fromEntries(SECTIONS.map((s) => [s, SectionDiffOut]))),
    notes: z.array(z.string()).openapi({ description: "Objects skipped and why (e.g. silences already over)" }),
  })
  .openapi("ConfigImportResult");

const ImportQuery = z.object({
  dry_run: z
    .enum(["0", "1", "true", "false"])
    .optional()
    .openapi({ param: { name: "dry_run", in: "query" }, description: "1: only answer what would change" }),
  prune: z
    .enum(["0", "1", "true", "false"])
    .optional()
    .openapi({
      param: { name: "prune", in: "query" },
      description: "1: also delete objects of the document's sections that it does not list",
    }),
});

const yes = (v: string | undefined) => v === "1" || v === "true";

// ------------------------------------------------------------------ the stored configuration

/** The stored configuration as a document (secrets included, for diffing) and each object's row by key. */
interface Snapshot {
  doc: Required<Omit<ConfigDoc, "exported_at">>;
  rows: {
    escalation_policies: Map<string, Row<typeof escalationPolicies>>;
    monitors: Map<string, Row<typeof monitors>>;
    rules: Map<string, Row<typeof alertRules>>;
    silences: Map<string, Row<typeof silences>>;
  };
  adminIdByEmail: Map<string, number>;
  cards: Awaited<ReturnType<typeof loadDashboardSettings>>["settings"]["cards"];
}

/** Items keyed as the document keys them, with the rows they came from. */
function keyed<R extends { id: number }>(section: ObjectSection, rows: R[], toDoc: (row: R) => Item) {
  const items = withKeys(section, rows.map(toDoc));
  const byKey = new Map(items.map((item, i) => [itemKey(section, item), rows[i] as R]));
  return { items, byKey };
}

async function readSnapshot(env: Env, now: number): Promise<Snapshot> {
  const db = getDb(env.DB);
  const [admins, policyRows, monitorRows, ruleRows, silenceRows, settings] = await Promise.all([
    db.select({ id: adminUsers.id, email: adminUsers.email }).from(adminUsers),
    db.select().from(escalationPolicies).orderBy(asc(escalationPolicies.id)),
    db.select().from(monitors).orderBy(asc(monitors.id)),
    db.select().from(alertRules).orderBy(asc(alertRules.id)),
    // Silences already over are history, not configuration.
    db.select().from(silences).where(gt(silences.endsAt, now)).orderBy(asc(silences.id)),
    loadDashboardSettings(db),
  ]);
  const emailById = new Map(admins.map((a) => [a.id, a.email]));
  const policies = keyed("escalation_policies", policyRows, (row) =>
    policyToDoc(policyResource.toInput(row), (id) => emailById.get(id)),
  );
  const mons = keyed("monitors", monitorRows, (row) => monitorToDoc(monitorResource.toInput(row), { redact: false }));
  const policyName = new Map(policyRows.map((r) => [r.id, r.name]));
  const monitorKey = new Map([...mons.byKey].map(([key, row]) => [row.id, key]));
  const rules = keyed("rules", ruleRows, (row) =>
    ruleToDoc(
      ruleResource.toInput(row),
      (id) => policyName.get(id),
      (id) => monitorKey.get(id),
    ),
  );
  const sils = keyed("silences", silenceRows, (row) => silenceToDoc(silenceResource.toInput(row)));
  return {
    doc: {
      version: CONFIG_VERSION,
      service_names: { ...settings.settings.serviceNames },
      escalation_policies: policies.items,
      monitors: mons.items,
      rules: rules.items,
      silences: sils.items,
    },
    rows: { escalation_policies: policies.byKey, monitors: mons.byKey, rules: rules.byKey, silences: sils.byKey },
    adminIdByEmail: new Map(admins.map((a) => [a.email.toLowerCase(), a.id])),
    cards: settings.settings.cards,
  };
}

/** The document as exported: monitors' credential-like header values redacted. */
function exportDoc(snapshot: Snapshot, now: number): ConfigDoc {
  const { doc } = snapshot;
  return {
    version: CONFIG_VERSION,
    exported_at: new Date(now).toISOString(),
    service_names: doc.service_names,
    escalation_policies: doc.escalation_policies,
    monitors: doc.monitors.map((m) => monitorToDoc(m)),
    rules: doc.rules,
    silences: doc.silences,
  };
}

// ------------------------------------------------------------------ validating an import

/** The next free id of a table: past every id it ever gave (AUTOINCREMENT's sequence), so none is reused. */
async function idAllocator(env: Env, table: string): Promise<() => number> {
  const row = await env.DB.prepare(
    `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0),
                COALESCE((SELECT MAX(id) FROM ${table}), 0)) AS top`,
  )
    .bind(table)
    .first<{ top: number }>();
  let next = (row?.top ?? 0) + 1;
  return () => next++;
}

/** Each resource's validator, built once (a document may hold thousands of objects). */
const validators = new WeakMap<object, ReturnType<typeof resourceValidator>>();
function validatorOf<T extends Table, F extends z.ZodObject, O extends z.ZodObject>(r: CrudResource<T, F, O>) {
  let v = validators.get(r) as ReturnType<typeof resourceValidator<T, F, O>> | undefined;
  if (!v) {
    v = resourceValidator(r);
    validators.set(r, v as never);
  }
  return v;
}

interface Prepared<T extends Table> {
  key: string;
  id: number;
  existing: Row<T> | undefined;
  values: Record<string, unknown>;
  /** The object as the document carries it once validated and normalised (defaults filled in). */
  normal: Item;
  row: Row<T>;
}

/**
 * One document object through its resource, as a create (or, when its key is stored, an
 * update) would take it: the schema, the `check` (unless `check` is false), the column
 * values; issues are named by the object's path in the document.
 */
async function prepare<T extends Table, F extends z.ZodObject, O extends z.ZodObject>(
  r: CrudResource<T, F, O>,
  opts: {
    section: ObjectSection;
    index: number;
    wire: Item;
    explicitKey: unknown;
    existingByKey: Map<string, Row<T>>;
    nextId: () => number;
    env: Env;
    actor: Actor;
    now: number;
    /** Origin of the import request, for checks that refuse the product's own (monitor URLs). */
    origin: string;
    check: boolean;
    toDoc: (wire: Item) => Item;
  },
  issues: ErrorDetail[],
): Promise<Prepared<T> | null> {
  const { section, index } = opts;
  const path = [section, index];
  const { key: _key, ...body } = opts.wire;
  const parsed = validatorOf(r).safeParse(body);
  if (!parsed.success) {
    issues.push(...issuesToDetails(parsed.error.issues, path));
    return null;
  }
  // The key of the normalised object (names trimmed), which stored objects are keyed by too.
  const draftRow = (values: object, id: number) =>
    ({ id, createdAt: opts.now, updatedAt: opts.now, createdBy: null, ...values }) as Row<T>;
  const probe = await r.toValues(parsed.data, { env: opts.env, actor: opts.actor, now: opts.now });
  const key = itemKey(section, { ...opts.toDoc(r.toInput(draftRow(probe.values, 0)) as Item), key: opts.explicitKey });
  const existing = opts.existingByKey.get(key);
  const ctx = { env: opts.env, actor: opts.actor, now: opts.now, existing, origin: opts.origin };
  if (opts.check && r.check) {
    try {
      await r.check(parsed.data, ctx);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const details = err.details.length ? err.details : [{ reason: err.message }];
      issues.push(...details.map((d) => ({ ...d, field: [...path, ...(d.field ? [d.field] : [])].join(".") })));
      return null;
    }
  }
  const { values } = existing ? await r.toValues(parsed.data, ctx) : probe;
  const id = existing ? (existing as { id: number }).id : opts.nextId();
  const row = draftRow(existing ? { ...existing, ...values } : values, id);
  const normal = opts.toDoc(r.toInput(row) as Item);
  if (typeof opts.explicitKey === "string") normal.key = opts.explicitKey;
  return { key, id, existing, values: values as Record<string, unknown>, normal, row };
}

interface Plan {
  diff: ConfigDiff;
  notes: string[];
  statements: BatchItem<"sqlite">[];
  /** Rule and monitor ids whose side effects run after the batch. */
  touched: { rules: number[]; monitors: number[] };
}

async function planImport(
  env: Env,
  actor: Actor,
  body: unknown,
  prune: boolean,
  now: number,
  origin: string,
): Promise<Plan> {
  const parsedDoc = Document.safeParse(body);
  if (!parsedDoc.success) throw badRequest(issuesToDetails(parsedDoc.error.issues), "Invalid configuration.");
  const doc = parsedDoc.data;
  const snap = await readSnapshot(env, now);
  const issues: ErrorDetail[] = [];
  const notes: string[] = [];
  const addIssues = (xs: DocIssue[]) => issues.push(...xs);
  const common = { env, actor, now, origin };

  // Policies and monitors first: rules reference them, by name and by key.
  const policies: Prepared<typeof escalationPolicies>[] = [];
  const nextPolicyId = await idAllocator(env, "escalation_policies");
  for (const [index, item] of (doc.escalation_policies ?? []).entries()) {
    const path = `escalation_policies.${index}`;
    const { wire, issues: mapped } = policyFromDoc(item, (email) => snap.adminIdByEmail.get(email), path);
    addIssues(mapped);
    if (mapped.length) continue;
    const emailById = new Map([...snap.adminIdByEmail].map(([email, id]) => [id, email]));
    const p = await prepare(
      policyResource,
      {
        ...common,
        section: "escalation_policies",
        index,
        wire,
        explicitKey: item.key,
        existingByKey: snap.rows.escalation_policies,
        nextId: nextPolicyId,
        check: true,
        toDoc: (w) => policyToDoc(w, (id) => emailById.get(id)),
      },
      issues,
    );
    if (p) policies.push(p);
  }

  const monitorsIn: Prepared<typeof monitors>[] = [];
  const nextMonitorId = await idAllocator(env, "monitors");
  const storedMonitors = new Map(snap.doc.monitors.map((m) => [itemKey("monitors", m), m]));
  for (const [index, item] of (doc.monitors ?? []).entries()) {
    const path = `monitors.${index}`;
    const restored = restoreSecrets(item, storedMonitors.get(itemKey("monitors", item)), path);
    addIssues(restored.issues);
    if (restored.issues.length) continue;
    const p = await prepare(
      monitorResource,
      {
        ...common,
        section: "monitors",
        index,
        wire: restored.item,
        explicitKey: item.key,
        existingByKey: snap.rows.monitors,
        nextId: nextMonitorId,
        check: true,
        toDoc: (w) => monitorToDoc(w, { redact: false }),
      },
      issues,
    );
    if (p) monitorsIn.push(p);
  }

  // What rules may reference: the stored objects, then the document's (which win).
  const policyIds = new Map([...snap.rows.escalation_policies].map(([, row]) => [row.name, row.id]));
  for (const p of policies) policyIds.set(p.normal.name as string, p.id);
  const monitorTargets = new Map<string, { id: number; kind: unknown }>(
    [...snap.rows.monitors].map(([key, row]) => [key, { id: row.id, kind: row.kind }]),
  );
  for (const m of monitorsIn) monitorTargets.set(m.key, { id: m.id, kind: m.normal.kind });
  const storedPolicyIds = new Set([...snap.rows.escalation_policies.values()].map((r) => r.id));
  const storedMonitorIds = new Set([...snap.rows.monitors.values()].map((r) => r.id));
  const policyName = new Map([...policyIds].map(([name, id]) => [id, name]));
  const monitorKey = new Map([...monitorTargets].map(([key, t]) => [t.id, key]));

  const rulesIn: Prepared<typeof alertRules>[] = [];
  const nextRuleId = await idAllocator(env, "alert_rules");
  for (const [index, item] of (doc.rules ?? []).entries()) {
    const path = `rules.${index}`;
    const targets = {
      policyId: (name: string) => policyIds.get(name),
      monitor: (key: string) => monitorTargets.get(key),
    };
    const { wire, issues: mapped } = ruleFromDoc(item, targets, path);
    // An unknown reference is one issue; the rule's other fields are still checked.
    addIssues(mapped);
    // The rule's own reference checks read the database: only for objects already stored.
    const policyId = wire.escalation_policy_id as number | null;
    const monitorId = (wire.params as { monitor_id?: number | null } | undefined)?.monitor_id ?? null;
    const stored =
      (policyId === null || storedPolicyIds.has(policyId)) && (monitorId === null || storedMonitorIds.has(monitorId));
    const p = await prepare(
      ruleResource,
      {
        ...common,
        section: "rules",
        index,
        wire,
        explicitKey: item.key,
        existingByKey: snap.rows.rules,
        nextId: nextRuleId,
        check: stored,
        toDoc: (w) =>
          ruleToDoc(
            w,
            (id) => policyName.get(id),
            (id) => monitorKey.get(id),
          ),
      },
      issues,
    );
    if (p && !mapped.length) rulesIn.push(p);
  }

  const silencesIn: Prepared<typeof silences>[] = [];
  const nextSilenceId = await idAllocator(env, "silences");
  for (const [index, item] of (doc.silences ?? []).entries()) {
    const key = itemKey("silences", item);
    const ends = Date.parse(String(item.ends_at));
    // A silence that is over by now (exported a while ago) is history: skipped, not an error.
    if (!snap.rows.silences.has(key) && Number.isFinite(ends) && ends <= now) {
      notes.push(`silences.${index} (${key}) ended at ${String(item.ends_at)}: skipped`);
      continue;
    }
    const p = await prepare(
      silenceResource,
      {
        ...common,
        section: "silences",
        index,
        wire: item,
        explicitKey: item.key,
        existingByKey: snap.rows.silences,
        nextId: nextSilenceId,
        check: true,
        toDoc: silenceToDoc,
      },
      issues,
    );
    if (p) silencesIn.push(p);
  }

  // A key used twice in the document.
  const sections = { escalation_policies: policies, monitors: monitorsIn, rules: rulesIn, silences: silencesIn };
  for (const [section, prepared] of Object.entries(sections) as [ObjectSection, Prepared<Table>[]][]) {
    const { issues: dupes } = indexByKey(
      section,
      prepared.map((p) => ({ ...p.normal, key: p.key })),
    );
    addIssues(dupes);
  }

  const serviceNames = doc.service_names
    ? prune
      ? doc.service_names
      : { ...snap.doc.service_names, ...doc.service_names }
    : null;
  if (serviceNames) {
    const merged = ServiceNames.safeParse(serviceNames);
    if (!merged.success) issues.push(...issuesToDetails(merged.error.issues, ["service_names"]));
    issues.push(
      ...settingsIssues({ cards: snap.cards, serviceNames }).filter((i) => i.field.startsWith("service_names")),
    );
  }

  if (issues.length) throw badRequest(issues, "Invalid configuration: nothing was changed.");

  const incoming: ConfigDoc = {
    version: CONFIG_VERSION,
    ...(doc.service_names && { service_names: doc.service_names }),
    ...Object.fromEntries(
      (Object.entries(sections) as [ObjectSection, Prepared<Table>[]][])
        .filter(([section]) => doc[section] !== undefined)
        .map(([section, prepared]) => [section, prepared.map((p) => p.normal)]),
    ),
  };
  const diff = diffConfig(snap.doc, incoming, { prune });
  // Silences skipped as over are not deleted by a prune either: they are listed.
  return { diff, notes, ...statementsFor(env, actor, now, snap, sections, diff, serviceNames) };
}

function statementsFor(
  env: Env,
  actor: Actor,
  now: number,
  snap: Snapshot,
  sections: {
    escalation_policies: Prepared<typeof escalationPolicies>[];
    monitors: Prepared<typeof monitors>[];
    rules: Prepared<typeof alertRules>[];
    silences: Prepared<typeof silences>[];
  },
  diff: ConfigDiff,
  serviceNames: Record<string, string> | null,
) {
  const db = getDb(env.DB);
  const statements: BatchItem<"sqlite">[] = [];
  const touched = { rules: [] as number[], monitors: [] as number[] };
  const tables = { escalation_policies: escalationPolicies, monitors, rules: alertRules, silences } as const;
  const order: ObjectSection[] = ["escalation_policies", "monitors", "rules", "silences"];
  for (const section of order) {
    const table = tables[section] as Table;
    const d = diff[section];
    const creates = new Set(d.create);
    const updates = new Set(d.update.map((u) => u.key));
    for (const p of sections[section] as Prepared<Table>[]) {
      if (creates.has(p.key)) statements.push(db.insert(table).values({ ...p.values, id: p.id } as never));
      else if (updates.has(p.key))
        statements.push(
          db
            .update(table)
            .set({ ...p.values, updatedAt: now } as never)
            .where(eq(table.id, p.id)),
        );
      else continue;
      if (section === "rules" || section === "monitors") touched[section].push(p.id);
    }
  }
  // Deletes after the writes, rules before what they reference.
  const deleteOrder: ObjectSection[] = ["rules", "silences", "monitors", "escalation_policies"];
  for (const section of deleteOrder) {
    const table = tables[section] as Table;
    for (const key of diff[section].delete) {
      const row = snap.rows[section].get(key);
      if (!row) continue;
      statements.push(db.delete(table).where(eq(table.id, row.id)));
      if (section === "rules" || section === "monitors") touched[section].push(row.id);
    }
  }
  if (
    serviceNames &&
    (diff.service_names.create.length || diff.service_names.update.length || diff.service_names.delete.length)
  ) {
    const values = { cards: snap.cards, serviceNames, updatedBy: actor.adminId, updatedAt: now };
    statements.push(
      db
        .insert(dashboardSettings)
        .values({ id: 1, ...values })
        .onConflictDoUpdate({ target: dashboardSettings.id, set: values }),
    );
  }
  return { statements, touched };
}

const redactValue = (v: unknown) =>
  v && typeof v === "object" && !Array.isArray(v) ? redactHeaders(v as Record<string, string>) : v;

/** Header values in a diff's monitor changes are shown redacted, as in the export. */
function redactDiff(diff: ConfigDiff): ConfigDiff {
  return {
    ...diff,
    monitors: {
      ...diff.monitors,
      update: diff.monitors.update.map((u) => ({
        key: u.key,
        changes: u.changes.map((c) =>
          c.field === "headers" ? { ...c, from: redactValue(c.from), to: redactValue(c.to) } : c,
        ),
      })),
    },
  };
}

/** After the batch, what a CRUD write of each changed rule and monitor does next. */
async function runSideEffects(env: Env, touched: Plan["touched"]) {
  const db = getDb(env.DB);
  for (const id of touched.monitors) {
    const [row] = await db.select().from(monitors).where(eq(monitors.id, id));
    await monitorResource.afterWrite?.(env, id, row ?? null);
  }
  for (const id of touched.rules) {
    const [row] = await db.select().from(alertRules).where(eq(alertRules.id, id));
    await ruleResource.afterWrite?.(env, id, row ?? null);
  }
}

/** The diff without its unchanged lists: what an import did, for the audit trail. */
const appliedChanges = (diff: ConfigDiff) =>
  Object.fromEntries(
    Object.entries(diff)
      .map(([section, d]) => [section, { create: d.create, update: d.update, delete: d.delete }] as const)
      .filter(([, d]) => d.create.length || d.update.length || d.delete.length),
  );

// ------------------------------------------------------------------ routes

export const config = createApi();

config.openapi(
  createRoute({
    method: "get",
    path: "/config",
    tags: ["config"],
    summary: "Export the configuration as one document (no secrets); any role",
    responses: { 200: jsonResponse(Document, "The configuration"), ...commonErrors },
  }),
  async (c) => {
    const now = Date.now();
    return c.json(exportDoc(await readSnapshot(c.env, now), now) as never, 200);
  },
);

config.openapi(
  createRoute({
    method: "post",
    path: "/config/import",
    tags: ["config"],
    summary: "Import a configuration document: dry_run=1 answers the diff; otherwise it is applied; admin or owner",
    description:
      "Objects are created or updated by key; nothing is deleted unless prune=1. The whole document is " +
      "validated first (400 with each bad field's path, e.g. rules.3.threshold_value) and then applied in " +
      "one transaction.",
    request: {
      query: ImportQuery,
      body: { required: true, content: { "application/json": { schema: Document } } },
    },
    responses: {
      200: jsonResponse(ImportOut, "What changes (dry run) or changed"),
      ...commonErrors,
      ...conflictError,
      413: errorResponse(`The document is larger than ${CONFIG_BODY_LIMIT} bytes`),
    },
  }),
  async (c) => {
    const { dry_run: dryRunParam, prune: pruneParam } = c.req.valid("query");
    const dryRun = yes(dryRunParam);
    const prune = yes(pruneParam);
    const now = Date.now();
    const plan = await planImport(c.env, c.get("actor"), await c.req.json(), prune, now, new URL(c.req.url).origin);
    const changes = !diffIsEmpty(plan.diff);
    if (!dryRun && plan.statements.length) {
      const actor = c.get("actor");
      // One entry sums up the import: every applied create, update (field by field, before → after)
      // and delete, in the same transaction as the changes.
      await batchWithAudit(
        getDb(c.env.DB),
        plan.statements as BatchItem<"sqlite">[],
        { adminId: actor.adminId, label: actor.email, via: "config-import" },
        {
          action: "config.import",
          targetType: "config",
          after: { prune, diff: appliedChanges(redactDiff(plan.diff)) },
          note: `${auditActorOf(actor).via} import`,
        },
        now,
      )
        // A concurrent write took an id or a unique name: the transaction left everything as it was.
        .catch((err: unknown) => Promise.reject(asConflict(err)));
      await runSideEffects(c.env, plan.touched);
    }
    return c.json(
      {
        dry_run: dryRun,
        applied: !dryRun && changes,
        prune,
        changes,
        diff: redactDiff(plan.diff),
        notes: plan.notes,
      } as never,
      200,
    );
  },
);

/**
 * The dashboard's shared settings: the metric cards and the services' display
 * names. Every role reads them; admins and owners change them, a partial update
 * merged over the current values and validated whole.
 */
import { auditActorOf, recordAudit } from "../lib/audit";
import { createRoute, z } from "@hono/zod-openapi";
import {
  type DashboardSettings,
  MAX_CARDS,
  MAX_SERVICE_NAMES,
  type MetricCard,
  settingsIssues,
} from "../core/dashboard-settings";
import { toIso } from "../core/time";
import { getDb } from "../db/client";
import { loadDashboardSettings, saveDashboardSettings, type StoredDashboardSettings } from "../db/dashboard-settings";
import { badRequest } from "../lib/errors";
import { commonErrors, createApi, issuesToDetails, jsonBody, jsonResponse } from "./api";
import { MetricName, ServiceName } from "./fields";

const CardFields = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, "must be lowercase letters, digits, '_' or '-'")
      .max(64)
      .openapi({ example: "payment-success-rate" }),
    title: z.string().trim().min(1, "must not be empty").max(100).openapi({ example: "Payment success rate" }),
    metric: MetricName.openapi({ example: "payment_success_rate" }),
    service: ServiceName.openapi({ example: "ecpay" }),
    unit: z
      .string()
      .trim()
      .max(20)
      .openapi({ description: 'Shown after the value ("%", "ms"; "" for none)', example: "%" }),
    secondary_metric: MetricName.nullable().optional().openapi({
      description: 'A second metric on the same service, shown as "value / secondary" (e.g. db_pool_size)',
      example: null,
    }),
  })
  .strict()
  .openapi("MetricCardInput");

export const ServiceNames = z
  .record(ServiceName, z.string().trim().min(1, "must not be empty").max(100))
  .refine((names) => Object.keys(names).length <= MAX_SERVICE_NAMES, `at most ${MAX_SERVICE_NAMES} services`)
  .openapi({ description: "Service name → the name shown for it", example: { ecpay: "ECPay Integration" } });

const SettingsFields = z
  .object({
    cards: z
      .array(CardFields)
      .max(MAX_CARDS, `at most ${MAX_CARDS} cards`)
      .openapi({ description: `The metric cards, in the order shown (at most ${MAX_CARDS}; ids unique)` }),
    service_names: ServiceNames,
  })
  .strict();

const SettingsInput = SettingsFields.partial().openapi("DashboardSettingsInput");

const CardOut = z
  .object({
    id: z.string(),
    title: z.string(),
    metric: z.string(),
    service: z.string(),
    unit: z.string(),
    secondary_metric: z.string().nullable(),
  })
  .openapi("MetricCard");

const SettingsOut = z
  .object({
    cards: z.array(CardOut),
    service_names: z.record(z.string(), z.string()),
    updated_at: z
      .string()
      .nullable()
      .openapi({ format: "date-time", description: "Null until first saved (the values are defaults)" }),
  })
  .openapi("DashboardSettings");

type WireSettings = z.output<typeof SettingsFields>;

/** The settings as answered (every card with its `secondary_metric`, null when none). */
type WireOut = Omit<z.output<typeof SettingsOut>, "updated_at">;

const toWire = (s: DashboardSettings): WireOut => ({
  cards: s.cards.map((c) => ({
    id: c.id,
    title: c.title,
    metric: c.metric,
    service: c.service,
    unit: c.unit,
    secondary_metric: c.secondaryMetric,
  })),
  service_names: { ...s.serviceNames },
});

const fromWire = (w: WireSettings): DashboardSettings => ({
  cards: w.cards.map((c): MetricCard => ({
    id: c.id,
    title: c.title,
    metric: c.metric,
    service: c.service,
    unit: c.unit,
    secondaryMetric: c.secondary_metric ?? null,
  })),
  serviceNames: { ...w.service_names },
});

const render = ({ settings, updatedAt }: StoredDashboardSettings) => ({
  ...toWire(settings),
  updated_at: toIso(updatedAt),
});

const invalid = (details: Parameters<typeof badRequest>[0]) => badRequest(details, "Invalid dashboard settings.");

export const dashboard = createApi();

dashboard.openapi(
  createRoute({
    method: "get",
    path: "/dashboard",
    tags: ["dashboard"],
    summary: "The dashboard's metric cards and service display names (defaults until saved); any role",
    responses: { 200: jsonResponse(SettingsOut, "The settings"), ...commonErrors },
  }),
  async (c) => c.json(render(await loadDashboardSettings(getDb(c.env.DB))), 200),
);

dashboard.openapi(
  createRoute({
    method: "put",
    path: "/dashboard",
    tags: ["dashboard"],
    summary: "Change the dashboard settings (fields not sent keep their values); admin or owner",
    description:
      "`cards` replaces the whole list and `service_names` the whole map when sent. The merged settings are " +
      "validated as a whole (card ids unique, a secondary metric other than the card's metric) and nothing " +
      "is written when they are invalid.",
    request: jsonBody(SettingsInput),
    responses: { 200: jsonResponse(SettingsOut, "The saved settings"), ...commonErrors },
  }),
  async (c) => {
    const db = getDb(c.env.DB);
    const current = await loadDashboardSettings(db);
    const parsed = SettingsFields.safeParse({ ...toWire(current.settings), ...c.req.valid("json") });
    if (!parsed.success) throw invalid(issuesToDetails(parsed.error.issues));
    const merged = fromWire(parsed.data);
    const issues = settingsIssues(merged);
    if (issues.length) throw invalid(issues);
    const now = Date.now();
    const saved = await saveDashboardSettings(db, merged, c.get("actor").adminId, now);
    await recordAudit(
      c.env.DB,
      auditActorOf(c.get("actor")),
      {
        action: "dashboard_settings.update",
        targetType: "dashboard_settings",
        before: toWire(current.settings),
        after: parsed.data,
      },
      now,
    );
    return c.json(render(saved), 200);
  },
);

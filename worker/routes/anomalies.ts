/**
 * Anomalies and "expected" feedback: the anomalies every series' detector found (whether
 * or not a rule alerts on them), marking an anomaly or an anomaly rule's alert as expected
 * (the series then no longer counts the same pattern: core/anomaly/feedback.ts), the marks,
 * and undoing one. Reads for every role, writes for admins (the method rule in app.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { PERIOD_MS, PERIODS } from "../core/history";
import type { AnomalyDirection } from "../core/anomaly/types";
import type { MarkedAnomaly } from "../core/anomaly/feedback";
import { toFeedbackWire } from "../core/anomaly/wire";
import {
  anomalyAround,
  type AnomalyRow,
  feedbackByAlert,
  feedbackForAnomalies,
  getAnomalyRow,
  listFeedbackRows,
} from "../db/anomalies";
import { getAlertWithRule } from "../db/alerts";
import { listAnomalies, markExpected, unmarkExpected } from "../lib/anomalies";
import { auditActorOf, recordAudit } from "../lib/audit";
import { ApiError, conflict, notFound } from "../lib/errors";
import { familyStub } from "../lib/series";
import { commonErrors, conflictError, createApi, IdParams, jsonBody, jsonResponse, notFoundError } from "./api";
import { MetricName, ServiceName } from "./fields";

export const anomalies = createApi();

const query = (name: string, example?: string) => ({ param: { name, in: "query" as const }, example });

const Direction = z.enum(["up", "down"]);

const FeedbackRef = z
  .object({ id: z.number().int(), note: z.string(), created_by: z.number().int().nullable(), created_at: z.string() })
  .openapi("AnomalyFeedbackRef");

const AnomalyOut = z
  .object({
    id: z.number().int(),
    series_key: z.string(),
    metric: z.string(),
    service: z.string(),
    labels: z.record(z.string(), z.string()),
    started_at: z.string().openapi({ format: "date-time" }),
    ended_at: z.string().nullable().openapi({ format: "date-time", description: "null while ongoing" }),
    peak_score: z.number().openapi({ description: "The highest detector score, in [0, 1]" }),
    peak_at: z.string().openapi({ format: "date-time" }),
    direction: Direction,
    observed: z.number().openapi({ description: "The value at the peak" }),
    expected: z.number().nullable().openapi({ description: "What the detector expected at the peak" }),
    summary: z.string().openapi({ example: "db_pool_in_use 3.1× its usual level at 14:30 (ongoing)" }),
    feedback: FeedbackRef.nullable().openapi({ description: 'The "expected" mark on it, if any' }),
  })
  .openapi("Anomaly");

const FeedbackOut = z
  .object({
    id: z.number().int(),
    series_key: z.string(),
    metric: z.string(),
    service: z.string(),
    labels: z.record(z.string(), z.string()),
    direction: Direction,
    minute_of_day_from: z.number().int().openapi({ description: "UTC minute of the day the window starts (0–1439)" }),
    minute_of_day_to: z
      .number()
      .int()
      .openapi({ description: "UTC minute of the day it ends (before from: it wraps past midnight)" }),
    weekday: z.number().int().nullable().openapi({ description: "UTC weekday, 0 = Sunday; null: every day" }),
    magnitude: z.number().nullable().openapi({ description: "|observed − expected| / |expected| at the marked peak" }),
    note: z.string(),
    created_by: z.number().int().nullable(),
    created_at: z.string().openapi({ format: "date-time" }),
    anomaly_id: z.number().int().nullable(),
    alert_id: z.number().int().nullable(),
  })
  .openapi("AnomalyFeedback");

const MarkBody = z
  .object({
    note: z.string().trim().min(1, "must not be empty").max(2000).openapi({ example: "Nightly batch import" }),
    weekly: z
      .boolean()
      .default(false)
      .openapi({ description: "The pattern holds on the anomaly's weekday only (default: every day)" }),
  })
  .strict()
  .openapi("AnomalyFeedbackInput");

const FEEDBACK_DESCRIPTION =
  "The series' later judgements that match the pattern (same direction, within the anomaly's UTC time-of-day " +
  "window ± 30 min, on its weekday when `weekly`, at most 1.5× as far from normal) are damped below every " +
  "sensitivity's threshold: they open no anomaly and breach no anomaly rule. DELETE the feedback to undo.";

anomalies.openapi(
  createRoute({
    method: "get",
    path: "/performance/anomalies",
    tags: ["performance"],
    summary: "Anomalies found by the series' detectors over a period (ongoing, or ended within it), newest first",
    description:
      "Every stored sample of every series is scored by its series' detector (unless ANOMALY_DETECTION=off). An " +
      "anomaly starts at a score of at least the medium sensitivity's threshold and ends once scores stayed below " +
      "it for 5 samples and 5 minutes. Starts and ends are also pushed on the dashboard socket as " +
      '`{"type":"anomaly","anomaly":…}`.',
    request: {
      query: z.object({
        period: z.enum(PERIODS).default("24h").openapi(query("period", "24h")),
        service: ServiceName.optional().openapi(query("service")),
        metric: MetricName.optional().openapi(query("metric")),
      }),
    },
    responses: {
      200: jsonResponse(
        z.object({ period: z.enum(PERIODS), anomalies: z.array(AnomalyOut) }).openapi("AnomalyList"),
        "At most 500 anomalies",
      ),
      ...commonErrors,
    },
  }),
  async (c) => {
    const { period, service, metric } = c.req.valid("query");
    const from = Date.now() - PERIOD_MS[period];
    return c.json({ period, anomalies: await listAnomalies(c.env, { from, service, metric }) }, 200);
  },
);

const markedFromRow = (row: AnomalyRow): MarkedAnomaly => ({
  startedAt: row.started_at,
  endedAt: row.ended_at,
  peakAt: row.peak_at,
  direction: row.direction,
  observed: row.observed,
  expected: row.expected,
});

const parseLabels = (text: string): Record<string, string> => {
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch {
    return {};
  }
};

anomalies.openapi(
  createRoute({
    method: "post",
    path: "/performance/anomalies/{id}/feedback",
    tags: ["performance"],
    summary: 'Mark an anomaly "expected", with a note',
    description: FEEDBACK_DESCRIPTION,
    request: { params: IdParams, ...jsonBody(MarkBody) },
    responses: {
      201: jsonResponse(z.object({ feedback: FeedbackOut }), "The feedback stored"),
      ...commonErrors,
      ...notFoundError,
      ...conflictError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { note, weekly } = c.req.valid("json");
    const row = await getAnomalyRow(c.env.DB, id);
    if (!row) throw notFound(`Anomaly ${id}`);
    const existing = (await feedbackForAnomalies(c.env.DB, [id])).get(id);
    if (existing) throw conflict(`Anomaly ${id} is already marked expected (feedback ${existing.id}).`);
    const feedback = await markExpected(
      c.env,
      {
        seriesKey: row.series_key,
        metric: row.metric,
        service: row.service,
        labels: parseLabels(row.labels),
        anomaly: markedFromRow(row),
        note,
        createdBy: c.get("actor").adminId,
        anomalyId: id,
        alertId: null,
        weekly,
      },
      Date.now(),
    );
    await recordAudit(c.env.DB, auditActorOf(c.get("actor")), {
      action: "anomaly.expected",
      targetType: "anomaly",
      targetId: id,
      after: feedback,
      note,
    });
    return c.json({ feedback }, 201);
  },
);

/** How far from an alert's breaching sample its anomaly may have started or ended. */
const ALERT_ANOMALY_SLACK_MS = 10 * 60_000;

anomalies.openapi(
  createRoute({
    method: "post",
    path: "/alerts/{id}/expected",
    tags: ["alerts"],
    summary: 'Mark an alert of an anomaly rule "expected", with a note',
    description:
      `${FEEDBACK_DESCRIPTION} The pattern comes from the series' anomaly around the alert's breaching sample ` +
      "(marked too), else from the alert's value against what the series' detector expects at that time. " +
      "400 when the alert's rule is not an anomaly rule.",
    request: { params: IdParams, ...jsonBody(MarkBody) },
    responses: {
      201: jsonResponse(z.object({ feedback: FeedbackOut }), "The feedback stored"),
      ...commonErrors,
      ...notFoundError,
      ...conflictError,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { note, weekly } = c.req.valid("json");
    const alert = await getAlertWithRule(c.env, id);
    if (!alert) throw notFound(`Alert ${id}`);
    const rule = await c.env.DB.prepare("SELECT kind, params FROM alert_rules WHERE id = ?")
      .bind(alert.alert_rule_id)
      .first<{ kind: string; params: string }>();
    if (rule && rule.kind !== "anomaly") {
      throw new ApiError(400, "Only alerts of anomaly rules can be marked expected.", {
        details: [{ field: "id", reason: `alert ${id} is of a ${rule.kind} rule, not an anomaly rule` }],
      });
    }
    const existing = await feedbackByAlert(c.env.DB, id);
    if (existing) throw conflict(`Alert ${id} is already marked expected (feedback ${existing.id}).`);
    const observedAt = alert.observed_at;
    const row = await anomalyAround(c.env.DB, alert.fingerprint, observedAt, ALERT_ANOMALY_SLACK_MS);
    const metric = row?.metric ?? alert.metric_name;
    const service = row?.service ?? alert.service;
    if (metric === null || service === null) {
      throw conflict(`Alert ${id}'s rule is gone and no anomaly of its series is recorded around it.`);
    }
    let marked: MarkedAnomaly;
    if (row) {
      const onAnomaly = (await feedbackForAnomalies(c.env.DB, [row.id])).get(row.id);
      if (onAnomaly)
        throw conflict(`Alert ${id}'s anomaly ${row.id} is already marked expected (feedback ${onAnomaly.id}).`);
      marked = markedFromRow(row);
    } else {
      const observed = alert.peak_value ?? alert.metric_value;
      if (observed === null) throw conflict(`Alert ${id} has no value to learn the pattern from.`);
      const expected = await familyStub(c.env, metric, service).expectationAt(alert.fingerprint, observedAt);
      const direction = alertDirection(rule?.params ?? null, observed, expected);
      if (!direction)
        throw conflict(`Alert ${id}'s direction is unknown: the series' detector has no expectation yet.`);
      marked = {
        startedAt: alert.triggered_at,
        endedAt: alert.resolved_at,
        peakAt: observedAt,
        direction,
        observed,
        expected,
      };
    }
    const feedback = await markExpected(
      c.env,
      {
        seriesKey: alert.fingerprint,
        metric,
        service,
        labels: row ? parseLabels(row.labels) : parseLabels(alert.labels),
        anomaly: marked,
        note,
        createdBy: c.get("actor").adminId,
        anomalyId: row?.id ?? null,
        alertId: id,
        weekly,
      },
      Date.now(),
    );
    await recordAudit(c.env.DB, auditActorOf(c.get("actor")), {
      action: "alert.expected",
      targetType: "alert",
      targetId: id,
      after: feedback,
      note,
    });
    return c.json({ feedback }, 201);
  },
);

/** The alert's direction: its rule's, when one way only; else its value against the expected one. */
function alertDirection(params: string | null, observed: number, expected: number | null): AnomalyDirection | null {
  try {
    const direction = (JSON.parse(params ?? "{}") as { direction?: unknown }).direction;
    if (direction === "up" || direction === "down") return direction;
  } catch {
    // Unparsable params: decided by the values.
  }
  if (expected === null || observed === expected) return null;
  return observed > expected ? "up" : "down";
}

anomalies.openapi(
  createRoute({
    method: "get",
    path: "/anomaly-feedback",
    tags: ["performance"],
    summary: '"Expected" marks on anomalies and anomaly alerts, newest first (at most 1000)',
    responses: {
      200: jsonResponse(z.object({ feedback: z.array(FeedbackOut) }).openapi("AnomalyFeedbackList"), "The marks"),
      ...commonErrors,
    },
  }),
  async (c) => c.json({ feedback: (await listFeedbackRows(c.env.DB)).map(toFeedbackWire) }, 200),
);

anomalies.openapi(
  createRoute({
    method: "delete",
    path: "/anomaly-feedback/{id}",
    tags: ["performance"],
    summary: 'Undo an "expected" mark: the pattern counts again from the series\' next sample',
    request: { params: IdParams },
    responses: { 204: { description: "Deleted" }, ...commonErrors, ...notFoundError },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    if (!(await unmarkExpected(c.env, id))) throw notFound(`Feedback ${id}`);
    await recordAudit(c.env.DB, auditActorOf(c.get("actor")), {
      action: "anomaly_feedback.delete",
      targetType: "anomaly_feedback",
      targetId: id,
    });
    return c.body(null, 204);
  },
);

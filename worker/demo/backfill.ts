/**
 * The demo's history (demo mode only): on first start, the last HISTORY_DAYS of the shop
 * as the live demo would have stored them (core/demo-history.ts: its pushes, the derived
 * metrics, and the probes of the monitors watching its health endpoints), imported through each
 * MetricSeries' own `importHistory`, and the alerts its active rules would have raised
 * and resolved meanwhile, written as history (no notification is sent or queued; the
 * rules' live state is left alone). Once only: a row in D1 `demo_backfill` holds the
 * history's end, so a resumed run redoes the same history (every step is idempotent)
 * and a completed one is not repeated.
 */
import { and, eq } from "drizzle-orm";
import { demoHistory, demoProbeHistory, historyRange, replayRule } from "../core/demo-history";
import { evaluatedBySeries } from "../core/rules/types";
import { runBounded } from "../core/schedule";
import { replayedAlertStatements } from "../db/alerts";
import { getDb } from "../db/client";
import { rowToProbeMonitor } from "../db/monitors";
import { rowToRule } from "../db/rules";
import { alertRules, monitors } from "../db/schema";
import { familyStub } from "../lib/series";

/** Series imported at once. */
const IMPORT_CONCURRENCY = 3;

/** The note on a backfilled alert's timeline. */
export const BACKFILL_NOTE = "Demo history: replayed by the backfill from the shop's past; no notifications were sent.";

interface MarkerRow {
  anchor: number;
  started_at: number;
  completed_at: number | null;
  raw_samples: number | null;
  rollup_rows: number | null;
  alerts: number | null;
  duration_ms: number | null;
}

export interface BackfillResult {
  /** "completed": this call stored the history; "already_done": an earlier one had. */
  status: "completed" | "already_done";
  from: number;
  to: number;
  rawSamples: number;
  rollupRows: number;
  alerts: number;
  durationMs: number;
  completedAt: number;
}

const done = (status: BackfillResult["status"], m: MarkerRow): BackfillResult => ({
  status,
  ...historyRange(m.anchor),
  rawSamples: m.raw_samples ?? 0,
  rollupRows: m.rollup_rows ?? 0,
  alerts: m.alerts ?? 0,
  durationMs: m.duration_ms ?? 0,
  completedAt: m.completed_at ?? 0,
});

/** Runs the backfill at `now` unless it has completed before. */
export async function backfillDemoHistory(env: Env, now: number): Promise<BackfillResult> {
  const started = Date.now();
  await env.DB.prepare(
    "INSERT INTO demo_backfill (id, anchor, started_at) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
  )
    .bind(now, now)
    .run();
  const marker = await env.DB.prepare("SELECT * FROM demo_backfill WHERE id = 1").first<MarkerRow>();
  if (!marker) throw new Error("demo_backfill row missing after insert");
  if (marker.completed_at !== null) return done("already_done", marker);

  const { from, to } = historyRange(marker.anchor);
  const db = getDb(env.DB);
  const probed = (
    await db
      .select()
      .from(monitors)
      .where(and(eq(monitors.isActive, true), eq(monitors.kind, "http")))
  )
    .map(rowToProbeMonitor)
    .filter((m) => m !== null);
  const history = [...demoHistory(from, to), ...demoProbeHistory(probed, from, to)];
  // A few series at a time: each import holds its month of rollups until written.
  const results = await runBounded(history, IMPORT_CONCURRENCY, (s) =>
    familyStub(env, s.metric, s.service).importHistory(s.metric, s.service, s.labels, s.ts, s.values),
  );
  const imported = results.map((r) => {
    if (r.status === "rejected") throw r.reason;
    return r.value;
  });

  const rules = (await db.select().from(alertRules).where(eq(alertRules.isActive, true)))
    .map(rowToRule)
    // Rules each series decides alone; the history has no heartbeats.
    .filter((r) => evaluatedBySeries(r) && r.kind !== "heartbeat");
  const alerts = rules.flatMap((rule) => replayRule(rule, history, from, to));

  const rawSamples = imported.reduce((n, r) => n + r.raw, 0);
  const rollupRows = imported.reduce((n, r) => n + r.rows, 0);
  const completedAt = Date.now();
  const durationMs = completedAt - started;
  // The alerts and the completion in one transaction; a concurrent run finds them already there.
  await env.DB.batch([
    ...alerts.flatMap((a) => replayedAlertStatements(env, a, BACKFILL_NOTE)),
    env.DB.prepare(
      `UPDATE demo_backfill SET completed_at = ?, raw_samples = ?, rollup_rows = ?, alerts = ?, duration_ms = ?
       WHERE id = 1 AND completed_at IS NULL`,
    ).bind(completedAt, rawSamples, rollupRows, alerts.length, durationMs),
  ]);
  return {
    status: "completed",
    from,
    to,
    rawSamples,
    rollupRows,
    alerts: alerts.length,
    durationMs,
    completedAt,
  };
}

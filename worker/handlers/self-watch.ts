/**
 * One watch of the monitor on itself (core/self-watch.ts decides the samples): what D1 and
 * the series index say about notifications past their deadlines and monitors without
 * recent results, stored as samples of its own service, where the built-in rules read them.
 * Run by the sentinel's alarm loop, not by the cron it watches.
 */
import { selfSamples, type ProbedMonitor } from "../core/self-watch";
import { seriesKey } from "../core/series";
import { recordSamples, seriesIndex } from "../lib/series";

export async function watchSelf(env: Env, now: number, cronAt: number | null): Promise<void> {
  const [overdue, probed] = await env.DB.batch([
    env.DB.prepare(
      "SELECT MIN(due_at) AS oldest FROM notification_deliveries WHERE status = 'queued' AND due_at <= ?",
    ).bind(now),
    env.DB.prepare(
      "SELECT id, service, interval_seconds, updated_at FROM monitors WHERE is_active = 1 AND kind IN ('http', 'prometheus')",
    ),
  ]);
  const rows = (probed?.results ?? []) as {
    id: number;
    service: string;
    interval_seconds: number;
    updated_at: number;
  }[];
  const latest = rows.length
    ? await seriesIndex(env).get(rows.map((r) => seriesKey("probe_up", r.service, { monitor: String(r.id) })))
    : [];
  const monitors: ProbedMonitor[] = rows.map((r, i) => ({
    id: r.id,
    intervalSeconds: r.interval_seconds,
    since: r.updated_at,
    lastResultAt: latest[i]?.ts ?? null,
  }));
  const oldest = (overdue?.results[0] as { oldest: number | null } | undefined)?.oldest ?? null;
  await recordSamples(env, selfSamples({ now, cronAt, oldestOverdueAt: oldest, monitors }), now, "self");
}

/**
 * Every minute in demo mode: what the demo shop's application would push (payments, API,
 * DB pool), and the pings of its Celery beat task through the real heartbeat endpoint.
 */
import { and, eq, isNotNull } from "drizzle-orm";
import { demoPushSamples, type Incident, shopState } from "../core/demo-shop";
import { getDb } from "../db/client";
import { monitors } from "../db/schema";
import { readSeries, recordSamples } from "../lib/series";

/** Minutes of counter history pushed when the series has none recent, so windowed rates work at once. */
const BACKFILL_MINUTES = 5;

export interface DemoPushOptions {
  /** Incidents on top of the schedule (previews, tests). */
  incidents?: readonly Incident[];
  /** How heartbeat pings are sent; default the global fetch. */
  fetcher?: (url: string) => Promise<Response>;
}

export async function pushDemoMetrics(env: Env, now: number, options: DemoPushOptions = {}): Promise<void> {
  const extra = options.incidents ?? [];
  const recent = await readSeries(env, "payments_total", "ecpay", {}, now - 2 * BACKFILL_MINUTES * 60_000);
  const backfillMinutes = recent.some((s) => s.ts < now) ? 0 : BACKFILL_MINUTES;
  await recordSamples(env, demoPushSamples(now, { backfillMinutes, extra }), now, "demo");
  await pingBeatTasks(env, now, extra, options.fetcher ?? ((url) => fetch(url)));
}

/** The demo's Celery beat task runs: start ping, the task's runtime, then success (not while Celery is down). */
async function pingBeatTasks(
  env: Env,
  now: number,
  extra: readonly Incident[],
  fetcher: (url: string) => Promise<Response>,
): Promise<void> {
  const base = env.DEMO_BASE_URL.replace(/\/+$/, "");
  if (!base) return;
  const rows = await getDb(env.DB)
    .select({ slug: monitors.heartbeatSlug })
    .from(monitors)
    .where(
      and(
        eq(monitors.kind, "heartbeat"),
        eq(monitors.service, "celery"),
        eq(monitors.isActive, true),
        isNotNull(monitors.heartbeatSlug),
      ),
    );
  const { celery } = shopState(now, extra);
  const failures: string[] = [];
  const ping = async (url: string) => {
    const res = await fetcher(url);
    await res.body?.cancel();
    if (!res.ok) failures.push(`${url.replace(/heartbeat\/[^/]+/, "heartbeat/…")} → ${res.status}`);
  };
  await Promise.all(
    rows.map(async ({ slug }) => {
      const url = `${base}/api/heartbeat/${slug}`;
      await ping(`${url}/start`);
      if (!celery.beatSucceeds) return;
      await scheduler.wait(celery.beatRuntimeMs);
      await ping(url);
    }),
  );
  if (failures.length) throw new Error(`demo heartbeat pings failed: ${failures.join("; ")}`);
}

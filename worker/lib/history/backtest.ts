/**
 * The stored history a rule backtest replays: raw samples from the series store for the
 * raw window (the newest RETENTION_RAW_HOURS), minute rollups from D1 before it. Bounded:
 * too many series or samples is refused with a reason rather than read.
 */
import { and, eq, gte, lt } from "drizzle-orm";
import { historySeconds, minuteSample } from "../../core/rules/backtest";
import type { SeriesWindow } from "../../core/rules/evaluate";
import { type Rule, ruleMetrics, selectsSeries } from "../../core/rules/types";
import { bucketStart, MINUTE_MS, parseRetention } from "../../core/rollup";
import { type Labels, type Sample, seriesKey } from "../../core/series";
import { getDb } from "../../db/client";
import { systemMetrics } from "../../db/schema";
import { ApiError } from "../errors";
import { familyStub, seriesIndex } from "../series";

/** Most series (of each metric the rule reads) one backtest replays. */
export const MAX_BACKTEST_SERIES = 50;
/** Most samples one backtest reads, raw and minute rollups together. */
export const MAX_BACKTEST_POINTS = 300_000;

export interface BacktestHistory {
  series: SeriesWindow[];
  denominator: SeriesWindow[];
  /** Where the samples came from: minute rollups before `rawFrom`, raw samples from it. */
  rawFrom: number;
  points: number;
}

const tooMuch = (reason: string) =>
  new ApiError(413, `The backtest would read too much history: ${reason}.`, {
    details: [{ field: "period", reason }],
  });

/** Every series of one metric the rule selects, over [since, now]. */
async function readMetric(
  env: Env,
  rule: Rule,
  metric: string,
  since: number,
  rawFrom: number,
  budget: { points: number },
): Promise<SeriesWindow[]> {
  const windows = new Map<string, { service: string; labels: Labels; samples: Sample[] }>();
  const add = (metricName: string, service: string, labels: Labels, ts: number, value: number) => {
    const key = seriesKey(metricName, service, labels);
    let w = windows.get(key);
    if (!w) {
      if (windows.size >= MAX_BACKTEST_SERIES) {
        throw tooMuch(
          `more than ${MAX_BACKTEST_SERIES} ${metric} series match the rule; narrow it by service or labels`,
        );
      }
      windows.set(key, (w = { service, labels, samples: [] }));
    }
    w.samples.push({ metric: metricName, service, labels, ts, value });
    if (++budget.points > MAX_BACKTEST_POINTS) {
      throw tooMuch(`more than ${MAX_BACKTEST_POINTS} samples; choose the 24h period or fewer series`);
    }
  };

  // Minute rollups before the raw window (ordered, so each series' samples come oldest first).
  const services = new Set<string>(rule.service === null ? [] : [rule.service]);
  if (since < rawFrom) {
    const where = [
      eq(systemMetrics.metricName, metric),
      eq(systemMetrics.resolutionSeconds, 60),
      gte(systemMetrics.bucketStart, since - (since % MINUTE_MS)),
      lt(systemMetrics.bucketStart, rawFrom),
    ];
    if (rule.service !== null) where.push(eq(systemMetrics.service, rule.service));
    const rows = await getDb(env.DB)
      .select({
        service: systemMetrics.service,
        labels: systemMetrics.labels,
        bucketStart: systemMetrics.bucketStart,
        count: systemMetrics.count,
        sum: systemMetrics.sum,
        min: systemMetrics.min,
        max: systemMetrics.max,
      })
      .from(systemMetrics)
      .where(and(...where))
      .orderBy(systemMetrics.bucketStart)
      .limit(MAX_BACKTEST_POINTS + 1);
    for (const r of rows) {
      if (!selectsSeries(rule, r.service, r.labels)) continue;
      services.add(r.service);
      const s = minuteSample(rule, r);
      add(metric, r.service, r.labels, s.ts, s.value);
    }
  }

  // Raw samples from the series store, on every service the metric is reported on.
  if (rule.service === null) {
    for (const s of await seriesIndex(env).list({ metric })) {
      if (selectsSeries(rule, s.service, s.labels)) services.add(s.service);
    }
  }
  const from = Math.max(since, rawFrom);
  const raw = await Promise.all([...services].map((svc) => familyStub(env, metric, svc).sinceAll(from)));
  for (const s of raw.flat()) {
    if (s.ts >= from && selectsSeries(rule, s.service, s.labels)) add(metric, s.service, s.labels, s.ts, s.value);
  }
  return [...windows.values()].map((w) => ({ ...w, samples: w.samples.sort((a, b) => a.ts - b.ts) }));
}

/**
 * The history of a rule's metrics for a backtest of [from, now): from `from` minus the
 * rule's lookback, so the first evaluations see a full window (a detector rule's: a day
 * its detector learns the series from, see historySeconds).
 */
export async function readBacktestHistory(env: Env, rule: Rule, from: number, now: number): Promise<BacktestHistory> {
  const retention = parseRetention(env);
  // The raw window starts on a minute, so a minute is read either raw or rolled up, never
  // both: the minute holding its edge, which pruning keeps whole (rollup.rawPruneBefore).
  const rawFrom = bucketStart(now - retention.rawMs, 60);
  const since = from - historySeconds(rule) * 1000;
  const budget = { points: 0 };
  // One metric after the other: the point budget is shared.
  const read: SeriesWindow[][] = [];
  for (const metric of ruleMetrics(rule)) read.push(await readMetric(env, rule, metric, since, rawFrom, budget));
  return { series: read[0] ?? [], denominator: read[1] ?? [], rawFrom, points: budget.points };
}

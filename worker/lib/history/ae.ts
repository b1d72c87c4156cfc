/**
 * History from Workers Analytics Engine through its SQL API (production, long
 * range). Points are sampled, so every count and quantile is weighted by
 * `_sample_interval`. Layout of the writer (core/analytics.ts): index1 series
 * id, blob1 metric, blob2 service, double1 value, double2 count, double3 sum,
 * double4 min, double5 max.
 */
import { seriesIndexKey } from "../../core/analytics";
import type { HistoryPoint } from "../../core/history";
import { seriesKey } from "../../core/series";
import type { HistoryQuery, HistoryReader } from "./reader";

export const AE_DATASET = "edge_monitor_metrics";
export const AE_DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4";

export interface AeConfig {
  /** Base of the Cloudflare API, without a trailing slash. */
  apiBase: string;
  accountId: string;
  apiToken: string;
  dataset: string;
}

/** The SQL API settings, or null unless both the account id and the token are set. */
export function aeConfigFromEnv(env: Env): AeConfig | null {
  const accountId = env.AE_ACCOUNT_ID?.trim();
  const apiToken = env.AE_API_TOKEN?.trim();
  if (!accountId || !apiToken) return null;
  return {
    apiBase: (env.AE_SQL_API_BASE?.trim() || AE_DEFAULT_API_BASE).replace(/\/+$/, ""),
    accountId,
    apiToken,
    dataset: AE_DATASET,
  };
}

/** A ClickHouse string literal. */
export const sqlString = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

const QUANTILES = [
  ["p50", 0.5],
  ["p95", 0.95],
  ["p99", 0.99],
] as const;

/** The SQL for one history query: weighted aggregates per bucket, oldest first. */
export function historySql(query: HistoryQuery, dataset: string): string {
  const where = [
    `timestamp >= toDateTime(${Math.floor(query.from / 1000)})`,
    `timestamp < toDateTime(${Math.ceil(query.to / 1000)})`,
    `blob1 = ${sqlString(query.metric)}`,
    `blob2 IN (${query.services.map(sqlString).join(", ")})`,
  ];
  if (query.labels) {
    const labels = query.labels;
    const ids = query.services.map((s) => sqlString(seriesIndexKey(seriesKey(query.metric, s, labels))));
    where.push(`index1 IN (${ids.join(", ")})`);
  }
  const select = [
    `toUnixTimestamp(toStartOfInterval(timestamp, INTERVAL '${query.bucketSeconds}' SECOND)) AS t`,
    "SUM(_sample_interval * double2) AS count",
    "SUM(_sample_interval * double3) AS sum",
    "MIN(double4) AS min",
    "MAX(double5) AS max",
    ...QUANTILES.map(([name, q]) => `quantileExactWeighted(${q})(double1, _sample_interval) AS ${name}`),
  ];
  return `SELECT ${select.join(", ")} FROM ${dataset} WHERE ${where.join(" AND ")} GROUP BY t ORDER BY t FORMAT JSON`;
}

/** The SQL API's JSON answer (ClickHouse JSON format; 64-bit integers may arrive as strings). */
interface AeResult {
  meta?: { name: string; type: string }[];
  data?: Record<string, unknown>[];
  rows?: number;
}

const num = (v: unknown): number | null => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : typeof v === "number" ? v : Number.NaN;
  return Number.isFinite(n) ? n : null;
};

/** Rows of the answer as points; rows without samples are dropped. */
export function pointsFromResult(result: AeResult): HistoryPoint[] {
  const points: HistoryPoint[] = [];
  for (const row of result.data ?? []) {
    const t = num(row.t);
    const count = num(row.count);
    const sum = num(row.sum);
    const min = num(row.min);
    const max = num(row.max);
    if (t === null || count === null || sum === null || min === null || max === null || count <= 0) continue;
    points.push({
      ts: t * 1000,
      count: Math.round(count),
      sum,
      min,
      max,
      avg: sum / count,
      p50: num(row.p50),
      p95: num(row.p95),
      p99: num(row.p99),
    });
  }
  return points.sort((a, b) => a.ts - b.ts);
}

export class AnalyticsEngineError extends Error {}

export class AnalyticsEngineReader implements HistoryReader {
  constructor(
    private readonly config: AeConfig,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  async read(query: HistoryQuery): Promise<HistoryPoint[]> {
    if (!query.services.length || query.from >= query.to) return [];
    const url = `${this.config.apiBase}/accounts/${encodeURIComponent(this.config.accountId)}/analytics_engine/sql`;
    const res = await this.fetcher(url, {
      method: "POST",
      headers: { authorization: `Bearer ${this.config.apiToken}`, "content-type": "text/plain" },
      body: historySql(query, this.config.dataset),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new AnalyticsEngineError(`Analytics Engine SQL API answered ${res.status}: ${text.slice(0, 300)}`);
    }
    let result: AeResult;
    try {
      result = JSON.parse(text) as AeResult;
    } catch (err) {
      throw new AnalyticsEngineError("Analytics Engine SQL API answered with something other than JSON", {
        cause: err,
      });
    }
    return pointsFromResult(result);
  }
}

import { useEffect, useState } from "preact/hooks";
import { latestOf } from "../lib/alerts";
import { formatRelative, formatValue } from "../lib/format";
import { useNow } from "./hooks";
import { type Level, sparklinePath } from "../lib/overview";
import type { LatestSample, MetricCard as Card, MetricHistory } from "../lib/types";
import { api } from "../models/session";

const HOUR_MS = 3_600_000;
const W = 160;
const H = 36;

/** What a card says: its level, or that nothing was reported (never "OK" without a value). */
type Shown = Level | "nodata";
const LEVEL_TEXT: Record<Shown, string> = { ok: "OK", warning: "Warning", critical: "Critical", nodata: "No data" };

/** The page that charts a metric's history. */
export const historyHref = (service: string, metric: string) =>
  `/metrics/${encodeURIComponent(service)}/${encodeURIComponent(metric)}`;

type Point = { t: number; v: number };

/** The last hour of a metric: minute averages from the API, then every live sample appended. */
function useLastHour(metric: string, service: string, latest: LatestSample | null): Point[] {
  const [points, setPoints] = useState<Point[]>([]);
  useEffect(() => {
    let stale = false;
    const q = new URLSearchParams({ metric, service, period: "1h" });
    api
      .get<MetricHistory>(`/api/admin/monitoring/metrics/history?${q}`)
      .then((h) => {
        if (!stale)
          setPoints((live) =>
            merge(
              h.points.map((p) => ({ t: Date.parse(p.ts), v: p.avg })),
              live,
            ),
          );
      })
      .catch(() => {});
    return () => {
      stale = true;
    };
  }, [metric, service]);
  useEffect(() => {
    if (latest) setPoints((held) => merge(held, [{ t: Date.parse(latest.ts), v: latest.value }]));
  }, [latest?.ts, latest?.value]);
  return points;
}

function merge(a: Point[], b: Point[]): Point[] {
  const all = [...a, ...b].sort((x, y) => x.t - y.t);
  const newest = all.at(-1)?.t ?? 0;
  return all.filter((p, i) => p.t > newest - HOUR_MS && (i === 0 || p.t !== all[i - 1]?.t));
}

/** One critical metric: value, level colour (with its name in text), a 1-hour sparkline, a link to its history. */
export function MetricCard({
  card,
  samples,
  level,
}: {
  card: Card;
  samples: ReadonlyMap<string, LatestSample>;
  level: Level;
}) {
  const latest = latestOf(samples, card.metric, card.service);
  const secondary = card.secondary_metric ? latestOf(samples, card.secondary_metric, card.service) : null;
  const points = useLastHour(card.metric, card.service, latest);
  const path = sparklinePath(
    points.map((p) => p.v),
    W,
    H,
  );
  const value = latest
    ? card.secondary_metric
      ? `${formatValue(latest.value)} / ${formatValue(secondary?.value ?? null)}`
      : formatValue(latest.value, card.unit)
    : "\u2014";
  const titleId = `card-${card.id}`;
  const shown: Shown = latest === null && level === "ok" ? "nodata" : level;
  const now = useNow(5_000);
  return (
    <section class={`card card-${shown}`} aria-labelledby={titleId} data-card={card.id} data-level={shown}>
      <h3 id={titleId}>{card.title}</h3>
      <p class="card-value">
        <span data-value>{value}</span>
        <span class={`level level-${shown}`}>{LEVEL_TEXT[shown]}</span>
      </p>
      <p class="card-age muted">
        {latest ? (
          <>
            as of <time dateTime={latest.ts}>{formatRelative(latest.ts, now)}</time>
          </>
        ) : (
          "nothing reported yet"
        )}
      </p>
      <svg
        class="sparkline"
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${card.title}, last hour: ${points.length} points`}
      >
        {path && <path d={path} />}
      </svg>
      <a href={historyHref(card.service, card.metric)}>
        History<span class="visually-hidden"> of {card.title}</span>
      </a>
    </section>
  );
}

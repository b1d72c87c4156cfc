/**
 * System performance trends over 24 hours, 7 or 30 days: payment success rate,
 * API response time percentiles, the database and user activity per hour.
 * Loaded lazily with its charts, so uPlot stays out of the initial bundle.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { TimeChart } from "../components/time-chart";
import { isUnauthorized } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { type ChartView, TREND_PERIODS, trendViews } from "../lib/trends";
import type { PerformanceTrends, TrendPeriod } from "../lib/types";
import { api, auth } from "../models/session";

function ChartCard({ view, timeZone }: { view: ChartView; timeZone: string }) {
  const headingId = `chart-${view.id}`;
  const bucket =
    view.resolutionSeconds >= 3600
      ? `per ${view.resolutionSeconds / 3600 === 1 ? "hour" : `${view.resolutionSeconds / 3600} hours`}`
      : `per ${view.resolutionSeconds / 60} minutes`;
  return (
    <section class="chart-card" aria-labelledby={headingId} data-chart={view.id}>
      <h2 id={headingId}>
        {view.title} <span class="muted chart-bucket">{bucket}</span>
      </h2>
      <TimeChart
        // The series of a chart can change (query latency once reported): a new set remounts.
        key={view.series.map((s) => s.field).join(",")}
        title={view.title}
        series={view.series}
        data={view.data}
        bars={view.bars}
        emptyText={view.emptyText}
        formatTime={(s) => formatDateTime(new Date(s * 1000).toISOString(), timeZone)}
      />
    </section>
  );
}

export function TrendsPage() {
  useTitle("Trends");
  const period = useSignal<TrendPeriod>("24h");
  const trends = useSignal<PerformanceTrends | null>(null);
  const loading = useSignal(false);
  const error = useSignal<string | null>(null);
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";

  async function load(p: TrendPeriod, signal?: AbortSignal) {
    loading.value = true;
    error.value = null;
    try {
      const answer = await api.get<PerformanceTrends>(`/api/admin/monitoring/performance/trends?period=${p}`, signal);
      if (!signal?.aborted) trends.value = answer;
    } catch (err) {
      if (signal?.aborted || (err instanceof DOMException && err.name === "AbortError")) return;
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    } finally {
      if (!signal?.aborted) loading.value = false;
    }
  }

  useEffect(() => {
    const controller = new AbortController();
    void load(period.value, controller.signal);
    return () => controller.abort();
  }, [period.value]);

  const shown = trends.value;
  const views = useMemo(() => (shown ? trendViews(shown) : []), [shown]);
  const incomplete = shown ? Object.values(shown.charts).some((c) => !c.complete) : false;
  const periodLabel = TREND_PERIODS.find((p) => p.value === period.value)?.label ?? period.value;

  return (
    <>
      <div class="page-head">
        <h1>System performance trends</h1>
        <fieldset class="segmented">
          <legend class="visually-hidden">Period</legend>
          {TREND_PERIODS.map((p) => (
            <label key={p.value} class={period.value === p.value ? "selected" : undefined}>
              <input
                type="radio"
                name="trends-period"
                value={p.value}
                checked={period.value === p.value}
                onChange={() => (period.value = p.value)}
              />
              {p.label}
            </label>
          ))}
        </fieldset>
      </div>

      {error.value && (
        <div class="error-box" role="alert">
          <p>Could not load the trends: {error.value}</p>
          <button type="button" onClick={() => void load(period.value)} disabled={loading.value}>
            Retry
          </button>
        </div>
      )}

      <p class="summary" id="trends-status" role="status" aria-live="polite">
        {loading.value
          ? `Loading the last ${periodLabel}\u2026`
          : shown
            ? `The last ${periodLabel}${incomplete ? " (older data could not be read; showing what is stored here)" : ""}`
            : ""}
      </p>

      {shown && (
        <div class="chart-grid" aria-busy={loading.value}>
          {views.map((v) => (
            <ChartCard key={v.id} view={v} timeZone={timeZone} />
          ))}
          <section class="chart-card" aria-labelledby="chart-anomalies" data-chart="anomalies">
            <h2 id="chart-anomalies">Anomalies</h2>
            <p class="muted">
              Anomaly detection results will be listed here once detection is enabled. No anomalies are being detected
              yet.
            </p>
          </section>
        </div>
      )}
    </>
  );
}

/**
 * System performance trends over 24 hours, 7 or 30 days: payment success rate,
 * API response time percentiles, the database and user activity per hour, each
 * with its normal range (a toggle) and its anomalies shaded; below them the
 * period's anomalies (kept current by the socket) and the patterns marked expected.
 * Loaded lazily with its charts, so uPlot stays out of the initial bundle.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import { AnomalySection, ExpectedPatterns } from "../components/anomalies";
import { useTitle } from "../components/hooks";
import { TimeChart } from "../components/time-chart";
import { canAct } from "../lib/alerts";
import {
  type Anomaly,
  ANOMALIES_PATH,
  type AnomalyList,
  anomaliesShown,
  anomalyServices,
  anomalySpans,
  type MarkerSpan,
  upsertAnomalies,
} from "../lib/anomalies";
import { isUnauthorized } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { type ChartView, TREND_PERIODS, trendViews } from "../lib/trends";
import type { PerformanceTrends, TrendPeriod } from "../lib/types";
import { liveAnomalies } from "../models/live";
import { api, auth } from "../models/session";

function ChartCard({ view, timeZone, markers }: { view: ChartView; timeZone: string; markers: MarkerSpan[] }) {
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
        // The series of a chart can change (query latency once reported), and the band come or go: a new set remounts.
        key={`${view.series.map((s) => s.field).join(",")}|${view.band ? "band" : ""}`}
        title={view.title}
        series={view.series}
        data={view.data}
        bars={view.bars}
        band={view.band}
        markers={markers}
        emptyText={view.emptyText}
        formatTime={(s) => formatDateTime(new Date(s * 1000).toISOString(), timeZone)}
      />
      {markers.length > 0 && (
        <p class="muted chart-markers">
          {markers.length} {markers.length === 1 ? "anomaly" : "anomalies"} shaded
        </p>
      )}
    </section>
  );
}

export function TrendsPage() {
  useTitle("Trends");
  const period = useSignal<TrendPeriod>("24h");
  const trends = useSignal<PerformanceTrends | null>(null);
  const loading = useSignal(false);
  const error = useSignal<string | null>(null);
  const showBand = useSignal(true);
  const anomalies = useSignal<Anomaly[]>([]);
  const anomaliesLoading = useSignal(false);
  const anomaliesError = useSignal<string | null>(null);
  const anomalyService = useSignal<string | null>(null);
  /** Bumped when feedback changes, so the expected patterns reload. */
  const feedbackVersion = useSignal(0);
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";
  const mayAct = session.kind === "authenticated" && canAct(session.me.role);

  async function load(p: TrendPeriod, signal?: AbortSignal) {
    loading.value = true;
    error.value = null;
    try {
      // The normal range is always asked for: the toggle only hides it, without another request.
      const answer = await api.get<PerformanceTrends>(
        `/api/admin/monitoring/performance/trends?period=${p}&band=1`,
        signal,
      );
      if (!signal?.aborted) trends.value = answer;
    } catch (err) {
      if (signal?.aborted || (err instanceof DOMException && err.name === "AbortError")) return;
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    } finally {
      if (!signal?.aborted) loading.value = false;
    }
  }

  async function loadAnomalies(p: TrendPeriod, signal?: AbortSignal) {
    anomaliesLoading.value = true;
    anomaliesError.value = null;
    try {
      const answer = await api.get<AnomalyList>(`${ANOMALIES_PATH}?period=${p}`, signal);
      if (!signal?.aborted) anomalies.value = answer.anomalies;
    } catch (err) {
      if (signal?.aborted || (err instanceof DOMException && err.name === "AbortError")) return;
      if (!isUnauthorized(err)) anomaliesError.value = err instanceof Error ? err.message : String(err);
    } finally {
      if (!signal?.aborted) anomaliesLoading.value = false;
    }
  }

  useEffect(() => {
    const controller = new AbortController();
    void load(period.value, controller.signal);
    void loadAnomalies(period.value, controller.signal);
    return () => controller.abort();
  }, [period.value]);

  /** The period's anomalies: the loaded list with what the socket announced since put in by id. */
  const now = Date.now();
  const allAnomalies = useMemo(
    () => anomaliesShown(upsertAnomalies(anomalies.value, liveAnomalies.value), period.value, Date.now(), null),
    [anomalies.value, liveAnomalies.value, period.value],
  );

  function setFeedback(anomaly: Anomaly, feedback: Anomaly["feedback"]) {
    const changed = { ...(allAnomalies.find((a) => a.id === anomaly.id) ?? anomaly), feedback };
    anomalies.value = upsertAnomalies(anomalies.value, [changed]);
    // A later socket update of the same anomaly would carry the feedback too; this one must not undo it.
    if (liveAnomalies.value.some((a) => a.id === anomaly.id))
      liveAnomalies.value = upsertAnomalies(liveAnomalies.value, [changed]);
    feedbackVersion.value++;
  }

  const shown = trends.value;
  const views = useMemo(() => (shown ? trendViews(shown, { band: showBand.value }) : []), [shown, showBand.value]);
  const incomplete = shown ? Object.values(shown.charts).some((c) => !c.complete) : false;
  const periodLabel = TREND_PERIODS.find((p) => p.value === period.value)?.label ?? period.value;

  return (
    <>
      <div class="page-head">
        <h1>System performance trends</h1>
        <div class="trends-options">
          <label class="inline-field">
            <input
              type="checkbox"
              checked={showBand.value}
              onChange={(e) => (showBand.value = (e.target as HTMLInputElement).checked)}
            />
            Normal range
          </label>
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
            <ChartCard key={v.id} view={v} timeZone={timeZone} markers={anomalySpans(allAnomalies, v.inputs, now)} />
          ))}
        </div>
      )}
      <div class="chart-grid trends-anomalies">
        <AnomalySection
          anomalies={allAnomalies}
          services={anomalyServices(allAnomalies)}
          service={anomalyService.value}
          onService={(s) => (anomalyService.value = s)}
          loading={anomaliesLoading.value}
          error={anomaliesError.value}
          onRetry={() => void loadAnomalies(period.value)}
          mayAct={mayAct}
          timeZone={timeZone}
          onFeedback={setFeedback}
        />
        <ExpectedPatterns
          mayAct={mayAct}
          timeZone={timeZone}
          version={feedbackVersion.value}
          onUndone={() => void loadAnomalies(period.value)}
        />
      </div>
    </>
  );
}

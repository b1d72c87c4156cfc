import { useSignal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import { ANOMALIES_PATH, type AnomalyList, anomalySpans } from "../lib/anomalies";
import { HttpError } from "../lib/api";
import { type HistoryField, type HistoryPeriod, historyColumns } from "../lib/history";
import type { ChartBand } from "../lib/trends";
import type { MetricHistory } from "../lib/types";
import { api } from "../models/session";
import { TimeChart, type TimeChartSeries } from "./time-chart";

const FIELDS: { field: HistoryField; label: string; color: string }[] = [
  { field: "avg", label: "average", color: "--chart-1" },
  { field: "p95", label: "p95", color: "--chart-2" },
  { field: "max", label: "max", color: "--chart-3" },
];

/**
 * A metric's history over a period (one series, or the series with `labels`): average, p95 and
 * max per bucket, with the normal range of the average behind them and the series' anomalies shaded.
 */
export function MetricChart({
  metric,
  service,
  labels,
  period,
  title,
}: {
  metric: string;
  service: string;
  labels?: Record<string, string>;
  period: HistoryPeriod;
  title: string;
}) {
  const history = useSignal<MetricHistory | null>(null);
  const anomalies = useSignal<AnomalyList["anomalies"]>([]);
  const error = useSignal<string | null>(null);
  const labelJson = labels && Object.keys(labels).length ? JSON.stringify(labels) : "";
  useEffect(() => {
    const controller = new AbortController();
    const q = new URLSearchParams({ metric, service, period, band: "1" });
    if (labelJson) q.set("labels", labelJson);
    error.value = null;
    api
      .get<MetricHistory>(`/api/admin/monitoring/metrics/history?${q}`, controller.signal)
      .then((h) => (history.value = h))
      .catch((err: unknown) => {
        if (err instanceof DOMException && err.name === "AbortError") return;
        error.value = err instanceof HttpError ? err.message : String(err);
      });
    // The markers are extra: without them (an older server, a failed read) the chart stays as it is.
    api
      .get<AnomalyList>(`${ANOMALIES_PATH}?${new URLSearchParams({ metric, service, period })}`, controller.signal)
      .then((list) => {
        const wanted = labelJson ? (JSON.parse(labelJson) as Record<string, string>) : null;
        anomalies.value = list.anomalies.filter(
          (a) => !wanted || Object.entries(wanted).every(([k, v]) => a.labels[k] === v),
        );
      })
      .catch(() => (anomalies.value = []));
    return () => controller.abort();
  }, [metric, service, period, labelJson]);
  const markers = useMemo(
    () => anomalySpans(anomalies.value, [{ metric, service }], Date.now()),
    [anomalies.value, metric, service],
  );

  const [data, band] = useMemo(() => {
    const points = history.value?.points ?? [];
    const columns = historyColumns(points, [...FIELDS.map((f) => f.field), "low", "high", "expected"]);
    const [low, high, expected] = columns.slice(1 + FIELDS.length) as (number | null)[][];
    const withBand = points.some((p) => p.expected != null);
    const chartBand: ChartBand | null = withBand
      ? { low: low ?? [], high: high ?? [], expected: expected ?? [], unit: "", axis: "left" }
      : null;
    return [columns.slice(0, 1 + FIELDS.length) as typeof columns, chartBand] as const;
  }, [history.value]);
  const series: TimeChartSeries[] = FIELDS.map((f) => ({ label: f.label, unit: "", color: f.color }));
  if (error.value)
    return (
      <p class="error-box" role="alert">
        Could not load the history: {error.value}
      </p>
    );
  return (
    <TimeChart
      key={band ? "band" : "plain"}
      title={title}
      series={series}
      data={data}
      band={band}
      markers={markers}
      emptyText="No samples in this period."
    />
  );
}

import { periodAround } from "../lib/history";
import type { AlertDetail } from "../lib/types";
import { MetricChart } from "./metric-chart";

/** The alert's metric (its series) over the shortest period that shows what led to it. */
export function AlertChart({ alert }: { alert: AlertDetail }) {
  if (!alert.metric_name || alert.service === null) return null;
  const at = Date.parse(alert.triggered_at ?? alert.observed_at ?? "") || Date.now();
  return (
    <MetricChart
      metric={alert.metric_name}
      service={alert.service}
      labels={alert.labels}
      period={periodAround(at, Date.now())}
      title={`${alert.metric_name} around the alert`}
    />
  );
}

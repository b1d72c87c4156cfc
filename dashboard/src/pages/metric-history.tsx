import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { MetricChart } from "../components/metric-chart";
import { HISTORY_PERIODS, type HistoryPeriod, PERIOD_LABEL } from "../lib/history";
import { displayName } from "../lib/overview";
import { ensureSettings, settings } from "../models/config";

/** One metric of one service over 1 h, 24 h, 7 d or 30 d (the metric cards link here). */
export function MetricHistoryPage({ service, metric }: { service: string; metric: string }) {
  useTitle(`${metric} history`);
  const period = useSignal<HistoryPeriod>("24h");
  useEffect(() => void ensureSettings(), []);
  const name = displayName(settings.value.service_names, service);
  return (
    <>
      <div class="page-head">
        <h1>
          {metric} <span class="muted">on {name}</span>
        </h1>
        <fieldset class="segmented">
          <legend class="visually-hidden">Period</legend>
          {HISTORY_PERIODS.map((p) => (
            <label key={p} class={period.value === p ? "selected" : undefined}>
              <input
                type="radio"
                name="history-period"
                value={p}
                checked={period.value === p}
                onChange={() => (period.value = p)}
              />
              {PERIOD_LABEL[p]}
            </label>
          ))}
        </fieldset>
      </div>
      <MetricChart metric={metric} service={service} period={period.value} title={`${metric} on ${name}`} />
    </>
  );
}

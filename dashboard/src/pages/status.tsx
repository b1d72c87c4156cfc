import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useNow, useTitle } from "../components/hooks";
import { MetricCard } from "../components/metric-card";
import { alertStateText, SeverityBadge } from "../components/severity";
import { StatusBadge } from "../components/status-badge";
import { latestOf, recentAlerts } from "../lib/alerts";
import { formatDateTime, formatLatency, formatRelative } from "../lib/format";
import { cardLevel, displayName, OVERALL_TEXT, overallState } from "../lib/overview";
import { sortServices, summarize } from "../lib/services";
import type { Alert, AlertPage } from "../lib/types";
import { loadRules, loadSettings, rules, settings } from "../models/config";
import {
  activeAlerts,
  connection,
  lastMessageAt,
  latestSamples,
  loadActiveAlerts,
  loadServices,
  services,
  servicesError,
  servicesLoading,
} from "../models/live";
import { api, auth } from "../models/session";

const DAY_MS = 86_400_000;

/** "Last updated: 3s ago", ticking each second from the last frame the server sent. */
function LastUpdated() {
  const now = useNow(1_000);
  const at = lastMessageAt.value;
  const seconds = at === null ? null : Math.max(0, Math.floor((now - at) / 1000));
  return (
    <p class="last-updated" data-testid="last-updated">
      Last updated: {seconds === null ? "waiting for the server" : `${seconds}s ago`}
      {connection.value !== "connected" && " \u00b7 live updates paused"}
    </p>
  );
}

/** The last 24 hours of alerts, read once; live changes come with the active list. */
function useRecentHistory() {
  const history = useSignal<Alert[]>([]);
  useEffect(() => {
    const from = new Date(Date.now() - DAY_MS).toISOString();
    api
      .get<AlertPage>(`/api/admin/monitoring/alerts/history?from=${encodeURIComponent(from)}&limit=50`)
      .then((page) => (history.value = page.alerts))
      .catch(() => {});
  }, []);
  return history.value;
}

/** Live status: the overall banner, critical metric cards, service health and recent alerts. */
export function StatusPage() {
  useTitle("Live status");
  useEffect(() => {
    void loadServices();
    void loadActiveAlerts();
    void loadSettings();
    void loadRules();
  }, []);
  const now = useNow(5_000);
  const list = services.value;
  const active = activeAlerts.value ?? [];
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";
  const names = settings.value.service_names;
  const overall = overallState(list, active);
  const recent = recentAlerts(useRecentHistory(), active, now);
  const samples = latestSamples.value;

  return (
    <>
      <div class="page-head">
        <h1>Live status</h1>
      </div>

      <section class={`banner banner-${overall}`} aria-label="Overall status" data-overall={overall}>
        <p class="banner-title" role="status" aria-live="polite">
          {OVERALL_TEXT[overall]}
        </p>
        <LastUpdated />
      </section>

      <h2>Critical metrics</h2>
      <div class="cards">
        {settings.value.cards.map((card) => {
          const value = latestOf(samples, card.metric, card.service)?.value ?? null;
          return (
            <MetricCard
              key={card.id}
              card={card}
              samples={samples}
              level={cardLevel(card, value, rules.value, active)}
            />
          );
        })}
      </div>

      <h2>Service health</h2>
      {servicesError.value && (
        <div class="error-box" role="alert">
          <p>Could not load service health: {servicesError.value}</p>
          <button type="button" onClick={() => void loadServices()} disabled={servicesLoading.value}>
            Retry
          </button>
        </div>
      )}
      <p class="summary" role="status" aria-live="polite">
        {list === null ? (servicesLoading.value ? "Loading services\u2026" : "") : summarize(list)}
      </p>
      {list !== null && list.length === 0 && (
        <p class="empty muted">
          A service appears here once a monitor checks it; monitors are set up on the Monitors page.
        </p>
      )}
      {list !== null && list.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="services">
            <caption class="visually-hidden">Health of each monitored service, most urgent first</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Status</th>
                <th scope="col">Last checked</th>
                <th scope="col" class="num">
                  Latency
                </th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {sortServices(list).map((s) => (
                <tr key={s.service} data-service={s.service}>
                  <th scope="row">
                    {displayName(names, s.service)}
                    {names[s.service] && <span class="muted service-id"> ({s.service})</span>}
                  </th>
                  <td data-label="Status">
                    <StatusBadge status={s.status} />
                  </td>
                  <td data-label="Last checked">
                    {s.last_checked_at ? (
                      <time dateTime={s.last_checked_at} title={formatDateTime(s.last_checked_at, timeZone)}>
                        {formatRelative(s.last_checked_at, now)}
                      </time>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td class="num" data-label="Latency">
                    {formatLatency(s.latency_ms)}
                  </td>
                  <td class="message" data-label="Reason">
                    {s.status === "healthy" ? "" : s.message}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Recent alerts (24 h)</h2>
      {recent.length === 0 ? (
        <p class="empty muted">No alerts in the last 24 hours.</p>
      ) : (
        <ul class="alert-list" aria-label="Recent alerts">
          {recent.map((a) => (
            <li key={a.id} data-alert={a.id} data-status={a.status}>
              <SeverityBadge severity={a.alert_severity} />
              <a href={`/alerts/${a.id}`}>{a.rule_name ?? `Rule ${a.alert_rule_id}`}</a>
              {a.service && <span class="muted"> {displayName(names, a.service)}</span>}
              <span class="alert-state">{alertStateText(a, now)}</span>
              <time class="muted" dateTime={a.triggered_at ?? ""} title={formatDateTime(a.triggered_at, timeZone)}>
                {formatRelative(a.triggered_at, now)}
              </time>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

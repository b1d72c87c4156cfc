import { useSignal } from "@preact/signals";
import { lazy, Suspense } from "preact/compat";
import { useEffect } from "preact/hooks";
import { AlertActions } from "../components/alert-actions";
import { MarkAlertExpected } from "../components/anomalies";
import { useNow, useTitle } from "../components/hooks";
import { alertStateText, SeverityBadge, SilencedBadge } from "../components/severity";
import { historyHref } from "../components/metric-card";
import { canAct, labelText } from "../lib/alerts";
import { HttpError } from "../lib/api";
import { formatDateTime, formatRelative, formatValue } from "../lib/format";
import { displayName } from "../lib/overview";
import type { AlertDetail, Me } from "../lib/types";
import { ensureSettings, settings } from "../models/config";
import { activeAlerts } from "../models/live";
import { api, auth } from "../models/session";

const AlertChart = lazy(() => import("../components/alert-chart").then((m) => m.AlertChart));

/** "you", or "admin #3"; "the engine" for the engine. */
function actorText(actor: string | number | null, me: Me | null): string {
  if (actor === null) return "\u2014";
  if (actor === "engine") return "the engine";
  const id = typeof actor === "number" ? actor : Number(/^admin:(\d+)$/.exec(actor)?.[1] ?? Number.NaN);
  if (Number.isNaN(id)) return String(actor);
  return me && me.id === id ? `you (${me.name})` : `admin #${id}`;
}

const EVENT_TEXT: Record<string, string> = {
  pending: "Pending",
  pending_cleared: "Pending cleared",
  fired: "Fired",
  notified: "Notified",
  reminded: "Reminder",
  escalated: "Escalated",
  acknowledged: "Acknowledged",
  ack_timeout: "Acknowledgement timed out",
  reopened: "Re-opened",
  flapping_started: "Flapping started",
  flapping_stopped: "Flapping stopped",
  resolve_notice: "Resolve notice",
  resolved: "Resolved",
};

/** One alert: what it is, its timeline, its notifications and the metric around it. */
export function AlertDetailPage({ id }: { id: string }) {
  useTitle(`Alert ${id}`);
  const alert = useSignal<AlertDetail | null>(null);
  const error = useSignal<string | null>(null);
  const now = useNow(5_000);
  const session = auth.value;
  const me = session.kind === "authenticated" ? session.me : null;
  const timeZone = me?.timezone ?? "UTC";

  /** The kind of the alert's rule: anomaly alerts can be marked expected. */
  const ruleKind = useSignal<string | null>(null);

  async function load() {
    try {
      alert.value = await api.get<AlertDetail>(`/api/admin/monitoring/alerts/${encodeURIComponent(id)}`);
      error.value = null;
      const ruleId = alert.value.alert_rule_id;
      // The alert does not carry its rule's kind; a rule deleted since leaves it unknown.
      api
        .get<{ kind: string }>(`/api/admin/monitoring/rules/${ruleId}`)
        .then((rule) => (ruleKind.value = rule.kind))
        .catch(() => (ruleKind.value = null));
    } catch (err) {
      error.value = err instanceof HttpError ? err.message : String(err);
    }
  }
  // Reloaded whenever this alert changes in the live active list (or leaves it).
  const live = activeAlerts.value?.find((a) => String(a.id) === id);
  const liveKey = live
    ? `${live.status}|${live.acknowledged_at}|${live.metric_value}|${live.escalation_step}|${live.silenced_by ?? ""}`
    : "gone";
  useEffect(() => void ensureSettings(), []);
  useEffect(() => void load(), [id, liveKey]);

  const a = alert.value;
  if (error.value && !a) {
    return (
      <>
        <div class="page-head">
          <h1>Alert {id}</h1>
        </div>
        <div class="error-box" role="alert">
          <p>Could not load the alert: {error.value}</p>
          <button type="button" onClick={() => void load()}>
            Retry
          </button>
        </div>
      </>
    );
  }
  if (!a) return <p role="status">Loading{"\u2026"}</p>;
  const names = settings.value.service_names;
  const labels = labelText(a.labels);
  const at = (iso: string | null) =>
    iso ? (
      <time dateTime={iso} title={formatRelative(iso, now)}>
        {formatDateTime(iso, timeZone)}
      </time>
    ) : (
      "\u2014"
    );

  return (
    <>
      <div class="page-head">
        <p class="muted">
          <a href="/alerts">Alerts</a> / #{a.id}
        </p>
        <h1>
          Alert #{a.id}: {a.rule_name ?? `Rule ${a.alert_rule_id}`}
        </h1>
      </div>
      <div class="alert-summary" data-status={a.status}>
        <SeverityBadge severity={a.alert_severity} /> <strong class="alert-state">{alertStateText(a, now)}</strong>{" "}
        <SilencedBadge alert={a} />
        <p class="alert-message">{a.message}</p>
      </div>
      <dl class="facts facts-wide">
        <dt>Service</dt>
        <dd>{a.service ? displayName(names, a.service) : "\u2014"}</dd>
        {labels && (
          <>
            <dt>Series</dt>
            <dd>
              <code>{labels}</code>
            </dd>
          </>
        )}
        <dt>Value</dt>
        <dd>{formatValue(a.metric_value)}</dd>
        <dt>Peak</dt>
        <dd>{formatValue(a.peak_value)}</dd>
        <dt>Observed</dt>
        <dd>{at(a.observed_at)}</dd>
        <dt>Triggered</dt>
        <dd>{at(a.triggered_at)}</dd>
        <dt>Acknowledged</dt>
        <dd data-field="acknowledged">
          {a.acknowledged_at ? (
            <>
              {at(a.acknowledged_at)} by {actorText(a.acknowledged_by, me)}
            </>
          ) : (
            "\u2014"
          )}
        </dd>
        <dt>Resolved</dt>
        <dd>
          {a.resolved_at ? (
            <>
              {at(a.resolved_at)} {a.auto_resolved ? "(automatically)" : "(by hand)"}
            </>
          ) : (
            "\u2014"
          )}
        </dd>
        {a.resolution_notes && (
          <>
            <dt>Notes</dt>
            <dd>{a.resolution_notes}</dd>
          </>
        )}
        <dt>Notifications</dt>
        <dd>
          {a.notifications_sent} sent, {a.notification_attempts} attempts
          {a.notifications_failed > 0 && `, ${a.notifications_failed} given up`}
        </dd>
      </dl>
      {me && canAct(me.role) && <AlertActions alert={a} onDone={() => void load()} />}
      {me && canAct(me.role) && ruleKind.value === "anomaly" && <MarkAlertExpected alertId={a.id} />}

      <section aria-labelledby="chart-title">
        <h2 id="chart-title">Metric around the alert</h2>
        {a.metric_name && a.service !== null ? (
          <>
            <Suspense fallback={<p class="muted">Loading the chart{"\u2026"}</p>}>
              <AlertChart alert={a} />
            </Suspense>
            <a href={historyHref(a.service, a.metric_name)}>Full history of {a.metric_name}</a>
          </>
        ) : (
          <p class="muted">The rule of this alert no longer exists, so its metric is unknown.</p>
        )}
      </section>

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <ol class="timeline" aria-label="Timeline">
          {a.timeline.map((e, i) => (
            <li key={i} data-event={e.type}>
              <time dateTime={e.at}>{formatDateTime(e.at, timeZone)}</time>{" "}
              <strong>{EVENT_TEXT[e.type] ?? e.type}</strong> <span class="muted">by {actorText(e.actor, me)}</span>
              {e.value !== null && <span> · value {formatValue(e.value)}</span>}
              {e.note && <span class="timeline-note"> · {e.note}</span>}
            </li>
          ))}
        </ol>
      </section>

      <section aria-labelledby="notifications-title">
        <h2 id="notifications-title">Notifications</h2>
        <p>
          <a href={`/deliveries?alert_id=${a.id}`}>In the delivery log</a>, with their latency from the breach.
        </p>
        {a.notifications.length === 0 ? (
          <p class="empty muted">No notification was planned for this alert.</p>
        ) : (
          <div class="table-wrap stack-on-phone">
            <table class="notifications">
              <caption class="visually-hidden">Notifications of this alert</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Recipient</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Reason</th>
                  <th scope="col">Delivered</th>
                </tr>
              </thead>
              <tbody>
                {a.notifications.map((n) => (
                  <tr key={n.idempotency_key} data-channel={n.channel} data-delivery-status={n.status}>
                    <th scope="row">{n.event}</th>
                    <td data-label="Channel">{n.channel}</td>
                    <td data-label="Recipient">{n.recipient}</td>
                    <td data-label="Status">{n.status}</td>
                    <td class="num" data-label="Attempts">
                      {n.attempts}
                    </td>
                    <td class="message" data-label="Reason">
                      {n.reason ?? ""}
                    </td>
                    <td data-label="Delivered">
                      {n.delivered_at ? formatDateTime(n.delivered_at, timeZone) : "\u2014"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

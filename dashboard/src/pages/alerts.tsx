import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { AlertActions } from "../components/alert-actions";
import { useNow, useTitle } from "../components/hooks";
import { SeverityBadge, SilencedBadge, alertStateText } from "../components/severity";
import { canAct, countAlerts, labelText, newestFirst } from "../lib/alerts";
import { HttpError } from "../lib/api";
import { formatDateTime, formatRelative, formatValue } from "../lib/format";
import { displayName } from "../lib/overview";
import type { Alert, AlertPage } from "../lib/types";
import { loadRules, ensureSettings, rules, settings } from "../models/config";
import { activeAlerts, loadActiveAlerts } from "../models/live";
import { api, auth } from "../models/session";
import { LoadError } from "../components/feedback";

/** Filters of the history, as the API's query parameters. */
interface Filters {
  rule_id: string;
  service: string;
  severity: string;
  status: string;
  from: string;
  to: string;
}

const NO_FILTERS: Filters = { rule_id: "", service: "", severity: "", status: "", from: "", to: "" };

/** Filters given in the page's address (`/alerts?rule_id=12&status=firing`, as grouped notifications link). */
function filtersFromAddress(): Filters {
  const q = new URLSearchParams(typeof location === "undefined" ? "" : location.search);
  const f = { ...NO_FILTERS };
  for (const key of ["rule_id", "service", "severity", "status"] as const) f[key] = q.get(key) ?? "";
  return f;
}

/** A `datetime-local` value (the browser's zone) as ISO, or "" when empty or invalid. */
const localToIso = (v: string) => {
  if (!v) return "";
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? "" : new Date(t).toISOString();
};

function historyQuery(f: Filters, cursor: string | null): string {
  const q = new URLSearchParams({ limit: "50" });
  for (const key of ["rule_id", "service", "severity", "status"] as const) if (f[key]) q.set(key, f[key]);
  const from = localToIso(f.from);
  const to = localToIso(f.to);
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  if (cursor) q.set("cursor", cursor);
  return q.toString();
}

function ActiveAlert({
  alert,
  mayAct,
  now,
  timeZone,
}: {
  alert: Alert;
  mayAct: boolean;
  now: number;
  timeZone: string;
}) {
  const names = settings.value.service_names;
  const labels = labelText(alert.labels);
  return (
    <li class={`alert-item alert-${alert.alert_severity}`} data-alert={alert.id} data-status={alert.status}>
      <div class="alert-head">
        <SeverityBadge severity={alert.alert_severity} />
        <a class="alert-rule" href={`/alerts/${alert.id}`}>
          {alert.rule_name ?? `Rule ${alert.alert_rule_id}`}
        </a>
        <span class="alert-state">{alertStateText(alert, now)}</span>
        <SilencedBadge alert={alert} />
      </div>
      <dl class="facts">
        {alert.service && (
          <>
            <dt>Service</dt>
            <dd>{displayName(names, alert.service)}</dd>
          </>
        )}
        {labels && (
          <>
            <dt>Series</dt>
            <dd>
              <code>{labels}</code>
            </dd>
          </>
        )}
        <dt>Value</dt>
        <dd data-value>{formatValue(alert.metric_value)}</dd>
        <dt>Age</dt>
        <dd>
          <time dateTime={alert.triggered_at ?? ""} title={formatDateTime(alert.triggered_at, timeZone)}>
            {formatRelative(alert.triggered_at, now)}
          </time>
        </dd>
      </dl>
      <p class="alert-message">{alert.message}</p>
      {mayAct && <AlertActions alert={alert} />}
    </li>
  );
}

function History({ timeZone, now }: { timeZone: string; now: number }) {
  const filters = useSignal<Filters>(filtersFromAddress());
  const draft = useSignal<Filters>(filters.value);
  const rows = useSignal<Alert[] | null>(null);
  const cursor = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const loading = useSignal(false);

  async function load(f: Filters, after: string | null) {
    loading.value = true;
    error.value = null;
    try {
      const page = await api.get<AlertPage>(`/api/admin/monitoring/alerts/history?${historyQuery(f, after)}`);
      rows.value = after ? [...(rows.value ?? []), ...page.alerts] : page.alerts;
      cursor.value = page.next_cursor;
    } catch (err) {
      error.value = err instanceof HttpError ? err.message : String(err);
    } finally {
      loading.value = false;
    }
  }
  useEffect(() => void load(filters.value, null), []);

  const set = (key: keyof Filters) => (e: Event) => {
    draft.value = { ...draft.value, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value };
  };
  const names = settings.value.service_names;
  const services = [...new Set([...Object.keys(names), ...(rows.value ?? []).map((a) => a.service ?? "")])]
    .filter(Boolean)
    .sort();

  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          filters.value = draft.value;
          void load(draft.value, null);
        }}
      >
        <label>
          Rule
          <select value={draft.value.rule_id} onChange={set("rule_id")}>
            <option value="">Any rule</option>
            {rules.value.map((r) => (
              <option key={r.id} value={String(r.id)}>
                {r.rule_name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <select value={draft.value.service} onChange={set("service")}>
            <option value="">Any service</option>
            {services.map((s) => (
              <option key={s} value={s}>
                {displayName(names, s)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Severity
          <select value={draft.value.severity} onChange={set("severity")}>
            <option value="">Any severity</option>
            <option value="critical">Critical</option>
            <option value="warning">Warning</option>
            <option value="info">Info</option>
          </select>
        </label>
        <label>
          Status
          <select value={draft.value.status} onChange={set("status")}>
            <option value="">Any status</option>
            <option value="firing">Firing</option>
            <option value="acknowledged">Acknowledged</option>
            <option value="resolved">Resolved</option>
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" value={draft.value.from} onInput={set("from")} />
        </label>
        <label>
          To
          <input type="datetime-local" value={draft.value.to} onInput={set("to")} />
        </label>
        <div class="filter-buttons">
          <button type="submit" class="primary" disabled={loading.value}>
            Apply filters
          </button>
          <button
            type="button"
            onClick={() => {
              draft.value = NO_FILTERS;
              filters.value = NO_FILTERS;
              void load(NO_FILTERS, null);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <LoadError what="the history" error={error.value} />
      <p class="summary" aria-live="polite">
        {rows.value === null
          ? "Loading\u2026"
          : rows.value.length === 0
            ? "No alerts match these filters."
            : `${rows.value.length} alert${rows.value.length === 1 ? "" : "s"} shown${cursor.value ? ", more available" : ""}.`}
      </p>
      {rows.value && rows.value.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="history">
            <caption class="visually-hidden">Alert history, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">Severity</th>
                <th scope="col">Service</th>
                <th scope="col">Status</th>
                <th scope="col">Triggered</th>
                <th scope="col" class="num">
                  Value
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.value.map((a) => (
                <tr key={a.id} data-alert={a.id}>
                  <th scope="row">
                    <a href={`/alerts/${a.id}`}>
                      #{a.id} {a.rule_name ?? `Rule ${a.alert_rule_id}`}
                    </a>
                  </th>
                  <td data-label="Severity">
                    <SeverityBadge severity={a.alert_severity} />
                  </td>
                  <td data-label="Service">{a.service ? displayName(names, a.service) : "\u2014"}</td>
                  <td data-label="Status">
                    {alertStateText(a, now)} <SilencedBadge alert={a} />
                  </td>
                  <td data-label="Triggered">
                    <time dateTime={a.triggered_at ?? ""}>{formatDateTime(a.triggered_at, timeZone)}</time>
                  </td>
                  <td class="num" data-label="Value">
                    {formatValue(a.metric_value)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor.value && (
        <button type="button" disabled={loading.value} onClick={() => void load(filters.value, cursor.value)}>
          Load more
        </button>
      )}
    </section>
  );
}

/** Alerts: counts, the live active list with actions, and the filtered history. */
export function AlertsPage() {
  useTitle("Alerts");
  useEffect(() => {
    void loadActiveAlerts();
    void loadRules();
    void ensureSettings();
  }, []);
  const now = useNow(5_000);
  const session = auth.value;
  const me = session.kind === "authenticated" ? session.me : null;
  const timeZone = me?.timezone ?? "UTC";
  const list = activeAlerts.value;
  const counts = countAlerts(list ?? []);
  const mayAct = me ? canAct(me.role) : false;

  return (
    <>
      <div class="page-head">
        <h1>Alerts</h1>
      </div>
      <div class="counts" aria-label="Alert counts">
        <p class="count" data-count="active">
          <strong>{counts.firing}</strong> active
        </p>
        <p class="count" data-count="acknowledged">
          <strong>{counts.acknowledged}</strong> acknowledged
        </p>
      </div>
      <section aria-labelledby="active-title">
        <h2 id="active-title">Active alerts</h2>
        {list === null ? (
          <p class="summary">Loading{"\u2026"}</p>
        ) : list.length === 0 ? (
          <p class="empty muted">No alert is firing or acknowledged.</p>
        ) : (
          <ul class="alert-items" aria-label="Active alerts">
            {newestFirst(list).map((a) => (
              <ActiveAlert key={a.id} alert={a} mayAct={mayAct} now={now} timeZone={timeZone} />
            ))}
          </ul>
        )}
      </section>
      <History timeZone={timeZone} now={now} />
    </>
  );
}

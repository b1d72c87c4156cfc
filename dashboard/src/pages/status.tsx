import { useEffect } from "preact/hooks";
import { useNow, useTitle } from "../components/hooks";
import { StatusBadge } from "../components/status-badge";
import { formatDateTime, formatLatency, formatRelative } from "../lib/format";
import { sortServices, summarize } from "../lib/services";
import { connection, loadServices, services, servicesError, servicesLoading, servicesUpdatedAt } from "../models/live";
import { auth } from "../models/session";

/** Live status: one row per monitored service, kept current by the socket. */
export function StatusPage() {
  useTitle("Live status");
  useEffect(() => void loadServices(), []);
  const now = useNow();
  const list = services.value;
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";
  const updatedAt = servicesUpdatedAt.value;

  return (
    <>
      <div class="page-head">
        <h1>Live status</h1>
        {updatedAt && (
          <p class="muted">
            Updated{" "}
            <time dateTime={updatedAt} title={formatDateTime(updatedAt, timeZone)}>
              {formatRelative(updatedAt, now)}
            </time>
            {connection.value !== "connected" && " \u00b7 live updates paused"}
          </p>
        )}
      </div>

      {servicesError.value && (
        <div class="error-box" role="alert">
          <p>Could not load service health: {servicesError.value}</p>
          <button type="button" onClick={() => void loadServices()} disabled={servicesLoading.value}>
            Retry
          </button>
        </div>
      )}

      <p
        class={list !== null && list.length === 0 ? "summary empty-title" : "summary"}
        role="status"
        aria-live="polite"
      >
        {list === null ? (servicesLoading.value ? "Loading services\u2026" : "") : summarize(list)}
      </p>

      {list !== null && list.length === 0 && (
        <p class="empty muted">
          A service appears here once a monitor checks it; monitors are set up on the Monitors page.
        </p>
      )}

      {list !== null && list.length > 0 && (
        <div class="table-wrap">
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
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {sortServices(list).map((s) => (
                <tr key={s.service} data-service={s.service}>
                  <th scope="row">{s.service}</th>
                  <td>
                    <StatusBadge status={s.status} />
                  </td>
                  <td>
                    {s.last_checked_at ? (
                      <time dateTime={s.last_checked_at} title={formatDateTime(s.last_checked_at, timeZone)}>
                        {formatRelative(s.last_checked_at, now)}
                      </time>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td class="num">{formatLatency(s.latency_ms)}</td>
                  <td class="message">{s.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { HttpError } from "../lib/api";
import {
  DELIVERY_CHANNELS,
  DELIVERY_STATUSES,
  type DeliveryFilters,
  NO_DELIVERY_FILTERS,
  deliveriesQuery,
  deliveryFiltersFrom,
  deliveryFiltersSearch,
  deliveryStatus,
  recipientText,
} from "../lib/deliveries";
import { formatDateTime, formatLatency } from "../lib/format";
import type { Delivery, DeliveryPage } from "../lib/types";
import { loadRules, rules } from "../models/config";
import { api, auth } from "../models/session";
import { LoadError } from "../components/feedback";

function DeliveryStatusBadge({ status }: { status: string }) {
  const { label, tone } = deliveryStatus(status);
  return (
    <span class={`badge badge-${tone}`} data-delivery-status={status}>
      <span class="badge-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function DeliveryRow({ d, timeZone }: { d: Delivery; timeZone: string }) {
  const alertText = d.alert_id === null ? d.event : `#${d.alert_id} ${d.rule_name ?? `Rule ${d.rule_id ?? "?"}`}`;
  const delivered = d.latency_from_breach_ms !== null || d.latency_from_enqueue_ms !== null;
  return (
    <tr data-delivery={d.id} data-alert={d.alert_id ?? ""} data-channel={d.channel} data-event={d.event}>
      <th scope="row">
        {d.alert_id === null ? alertText : <a href={`/alerts/${d.alert_id}`}>{alertText}</a>}
        <span class="cell-note">{[d.event, d.service].filter(Boolean).join(" · ")}</span>
      </th>
      <td data-label="Recipient" title={d.recipient_email ?? d.recipient}>
        {recipientText(d)}
        <span class="cell-note">on {d.channel}</span>
      </td>
      <td data-label="Status">
        <DeliveryStatusBadge status={d.status} />
      </td>
      <td class="num" data-label="Attempts">
        {d.attempts}
      </td>
      <td class="message reason" data-label="Reason">
        {d.reason ?? ""}
      </td>
      <td data-label="Enqueued">
        <time dateTime={d.enqueued_at}>{formatDateTime(d.enqueued_at, timeZone)}</time>
      </td>
      <td class="num" data-label="Latency">
        {delivered ? (
          <>
            <span title="From the breaching sample to the provider's acceptance">
              {formatLatency(d.latency_from_breach_ms)} from breach
            </span>
            <span class="cell-note">{formatLatency(d.latency_from_enqueue_ms)} from enqueue</span>
          </>
        ) : (
          "\u2014"
        )}
      </td>
    </tr>
  );
}

/**
 * Deliveries: every notification job, newest first, and what became of it (sent, skipped
 * and why, held, failed, given up), filtered by rule, alert, channel, status, recipient and
 * time; the filters live in the address, so a view can be reloaded or shared. Read-only for
 * every role.
 */
export function DeliveriesPage() {
  useTitle("Deliveries");
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";
  const filters = useSignal<DeliveryFilters>(
    deliveryFiltersFrom(typeof location === "undefined" ? "" : location.search),
  );
  const draft = useSignal<DeliveryFilters>(filters.value);
  const rows = useSignal<Delivery[] | null>(null);
  const cursor = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const loading = useSignal(false);
  /** Recipients seen in any page loaded, for the recipient filter (the admin list is the owner's). */
  const recipients = useSignal<Map<string, string>>(new Map());

  async function load(f: DeliveryFilters, after: string | null) {
    loading.value = true;
    error.value = null;
    try {
      const page = await api.get<DeliveryPage>(`/api/admin/monitoring/deliveries?${deliveriesQuery(f, after)}`);
      rows.value = after ? [...(rows.value ?? []), ...page.deliveries] : page.deliveries;
      cursor.value = page.next_cursor;
      const seen = new Map(recipients.value);
      for (const d of page.deliveries) seen.set(d.recipient, recipientText(d));
      recipients.value = seen;
    } catch (err) {
      error.value = err instanceof HttpError ? err.message : String(err);
    } finally {
      loading.value = false;
    }
  }

  /** Applies filters: to the address (replacing it, so Back leaves the page) and to the list. */
  function apply(f: DeliveryFilters) {
    draft.value = f;
    filters.value = f;
    history.replaceState(history.state, "", `${location.pathname}${deliveryFiltersSearch(f)}`);
    void load(f, null);
  }

  useEffect(() => {
    void loadRules();
    void load(filters.value, null);
  }, []);

  const set = (key: keyof DeliveryFilters) => (e: Event) => {
    draft.value = { ...draft.value, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value };
  };
  const recipientOptions = [...recipients.value].sort((a, b) => a[1].localeCompare(b[1]));
  if (draft.value.recipient && !recipients.value.has(draft.value.recipient)) {
    recipientOptions.push([draft.value.recipient, draft.value.recipient]);
  }

  return (
    <>
      <div class="page-head">
        <h1>Deliveries</h1>
      </div>
      <p class="muted">
        Every notification planned for an alert and what became of it: who was paged, on which channel, and why a page
        was skipped, held or given up. A notification held back before anyone was chosen (a silence, an inhibition, the
        rule's hourly limit) or folded into another alert's storm notice is on its alert's timeline instead.
      </p>
      <section aria-labelledby="deliveries-title">
        <h2 id="deliveries-title" class="visually-hidden">
          Delivery log
        </h2>
        <form
          class="filters"
          aria-label="Filters"
          onSubmit={(e) => {
            e.preventDefault();
            apply(draft.value);
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
            Alert #
            <input
              type="number"
              min="1"
              inputMode="numeric"
              value={draft.value.alert_id}
              onInput={set("alert_id")}
              placeholder="Any alert"
            />
          </label>
          <label>
            Channel
            <select value={draft.value.channel} onChange={set("channel")}>
              <option value="">Any channel</option>
              {DELIVERY_CHANNELS.map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select value={draft.value.status} onChange={set("status")}>
              <option value="">Any status</option>
              {DELIVERY_STATUSES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Recipient
            <select value={draft.value.recipient} onChange={set("recipient")}>
              <option value="">Anyone</option>
              {recipientOptions.map(([value, text]) => (
                <option key={value} value={value}>
                  {text}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="datetime-local" value={draft.value.since} onInput={set("since")} />
          </label>
          <label>
            To
            <input type="datetime-local" value={draft.value.until} onInput={set("until")} />
          </label>
          <div class="filter-buttons">
            <button type="submit" class="primary" disabled={loading.value}>
              Apply filters
            </button>
            <button type="button" onClick={() => apply(NO_DELIVERY_FILTERS)}>
              Clear
            </button>
          </div>
        </form>
        <LoadError what="the deliveries" error={error.value} />
        <p class="summary" aria-live="polite">
          {rows.value === null
            ? "Loading\u2026"
            : rows.value.length === 0
              ? "No delivery matches these filters."
              : `${rows.value.length} deliver${rows.value.length === 1 ? "y" : "ies"} shown${cursor.value ? ", more available" : ""}.`}
        </p>
        {rows.value && rows.value.length > 0 && (
          <div class="table-wrap stack-on-phone">
            <table class="deliveries">
              <caption class="visually-hidden">Deliveries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Alert</th>
                  <th scope="col">Recipient</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Reason</th>
                  <th scope="col">Enqueued</th>
                  <th scope="col" class="num">
                    Latency
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.value.map((d) => (
                  <DeliveryRow key={d.id} d={d} timeZone={timeZone} />
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
    </>
  );
}

import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { LoadError } from "../components/feedback";
import { useTitle } from "../components/hooks";
import { HttpError } from "../lib/api";
import {
  AUDIT_TARGETS,
  AUDIT_VIAS,
  type AuditFilters,
  auditFiltersFrom,
  auditFiltersSearch,
  auditQuery,
  changeLines,
  NO_AUDIT_FILTERS,
  targetText,
} from "../lib/audit";
import { formatDateTime } from "../lib/format";
import type { AuditEntry, AuditPage as AuditPageBody } from "../lib/types";
import { api, auth } from "../models/session";

function AuditRow({ e, timeZone }: { e: AuditEntry; timeZone: string }) {
  const lines = changeLines(e);
  return (
    <tr data-audit={e.id} data-action={e.action} data-via={e.via}>
      <td data-label="When">
        <time dateTime={e.at}>{formatDateTime(e.at, timeZone)}</time>
      </td>
      <th scope="row" data-label="Who">
        {e.actor}
        <span class="cell-note">via {e.via}</span>
      </th>
      <td data-label="Action">
        {e.action}
        <span class="cell-note">{targetText(e)}</span>
      </td>
      <td class="message" data-label="Changes">
        {lines.length ? (
          <ul class="changes">
            {lines.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        ) : (
          "\u2014"
        )}
      </td>
      <td class="message" data-label="Note">
        {e.note ?? ""}
      </td>
    </tr>
  );
}

/**
 * Audit: every configuration change and alert action, newest first: who, when, from where
 * (API, dashboard, Slack, a configuration import) and what changed, before → after, secrets
 * redacted. Filters live in the address. Admins and owners only (the API refuses viewers).
 */
export function AuditPage() {
  useTitle("Audit");
  const session = auth.value;
  const timeZone = session.kind === "authenticated" ? session.me.timezone : "UTC";
  const filters = useSignal<AuditFilters>(auditFiltersFrom(typeof location === "undefined" ? "" : location.search));
  const draft = useSignal<AuditFilters>(filters.value);
  const rows = useSignal<AuditEntry[] | null>(null);
  const cursor = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const loading = useSignal(false);

  async function load(f: AuditFilters, after: string | null) {
    loading.value = true;
    error.value = null;
    try {
      const page = await api.get<AuditPageBody>(`/api/admin/monitoring/audit?${auditQuery(f, after)}`);
      rows.value = after ? [...(rows.value ?? []), ...page.entries] : page.entries;
      cursor.value = page.next_cursor;
    } catch (err) {
      error.value = err instanceof HttpError ? err.message : String(err);
      if (!after) rows.value = [];
    } finally {
      loading.value = false;
    }
  }

  function apply(f: AuditFilters) {
    draft.value = f;
    filters.value = f;
    history.replaceState(history.state, "", `${location.pathname}${auditFiltersSearch(f)}`);
    void load(f, null);
  }

  useEffect(() => {
    void load(filters.value, null);
  }, []);

  const set = (key: keyof AuditFilters) => (e: Event) => {
    draft.value = { ...draft.value, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value };
  };

  return (
    <>
      <div class="page-head">
        <h1>Audit</h1>
      </div>
      <p class="muted">
        Who changed the configuration or acted on an alert, when, from where, and what changed. Secrets (tokens, keys,
        webhook addresses) are never recorded.
      </p>
      <section aria-labelledby="audit-title">
        <h2 id="audit-title" class="visually-hidden">
          Audit trail
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
            Who
            <input value={draft.value.actor} onInput={set("actor")} placeholder="Email, admin id or slack:U…" />
          </label>
          <label>
            Action
            <input value={draft.value.action} onInput={set("action")} placeholder="rule.update or rule.*" />
          </label>
          <label>
            Target type
            <select value={draft.value.target_type} onChange={set("target_type")}>
              <option value="">Anything</option>
              {AUDIT_TARGETS.map((t) => (
                <option key={t} value={t}>
                  {t.replace(/_/g, " ")}
                </option>
              ))}
            </select>
          </label>
          <label>
            Target id
            <input value={draft.value.target_id} onInput={set("target_id")} placeholder="Any" />
          </label>
          <label>
            From where
            <select value={draft.value.via} onChange={set("via")}>
              <option value="">Anywhere</option>
              {AUDIT_VIAS.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
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
            <button type="button" onClick={() => apply(NO_AUDIT_FILTERS)}>
              Clear
            </button>
          </div>
        </form>
        <LoadError what="the audit trail" error={error.value} />
        <p class="summary" aria-live="polite">
          {rows.value === null
            ? "Loading\u2026"
            : rows.value.length === 0
              ? "No entry matches these filters."
              : `${rows.value.length} entr${rows.value.length === 1 ? "y" : "ies"} shown${cursor.value ? ", more available" : ""}.`}
        </p>
        {rows.value && rows.value.length > 0 && (
          <div class="table-wrap stack-on-phone">
            <table class="audit">
              <caption class="visually-hidden">Audit trail, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Action</th>
                  <th scope="col">Changes</th>
                  <th scope="col">Note</th>
                </tr>
              </thead>
              <tbody>
                {rows.value.map((e) => (
                  <AuditRow key={e.id} e={e} timeZone={timeZone} />
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

import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { isUnauthorized } from "../lib/api";
import type { RuleSummary } from "../lib/types";
import { api } from "../models/session";

/** Read-only list of alert rules; editing comes with the full dashboard. */
export function RulesPage() {
  useTitle("Rules");
  const rules = useSignal<RuleSummary[] | null>(null);
  const error = useSignal<string | null>(null);

  async function load() {
    error.value = null;
    try {
      rules.value = (await api.get<{ rules: RuleSummary[] }>("/api/admin/monitoring/rules?limit=500")).rules;
    } catch (err) {
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => void load(), []);

  const list = rules.value;
  return (
    <>
      <div class="page-head">
        <h1>Rules</h1>
        <p class="muted">
          Alert rules, read-only for now: creating and editing them comes with a later version of the dashboard.
        </p>
      </div>
      {error.value && (
        <div class="error-box" role="alert">
          <p>Could not load the rules: {error.value}</p>
          <button type="button" onClick={() => void load()}>
            Retry
          </button>
        </div>
      )}
      <p class="summary" role="status">
        {list === null
          ? error.value
            ? ""
            : "Loading rules\u2026"
          : list.length === 0
            ? "No alert rules yet."
            : `${list.length} rule${list.length === 1 ? "" : "s"}`}
      </p>
      {list !== null && list.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table>
            <caption class="visually-hidden">Alert rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Severity</th>
                <th scope="col">Condition</th>
                <th scope="col">Service</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id}>
                  <th scope="row">{r.rule_name}</th>
                  <td data-label="Severity">
                    <span class={`severity severity-${r.severity}`}>{r.severity}</span>
                  </td>
                  <td data-label="Condition">
                    <code>
                      {r.metric_name} {r.comparison_operator} {r.threshold_value}
                    </code>
                    {r.kind !== "threshold" && <span class="muted"> ({r.kind})</span>}
                  </td>
                  <td data-label="Service">{r.service ?? <span class="muted">any</span>}</td>
                  <td data-label="State">{r.is_active ? "Active" : <span class="muted">Paused</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

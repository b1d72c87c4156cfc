import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useRoute } from "preact-iso";
import { useTitle } from "../components/hooks";
import { canAct } from "../lib/alerts";
import { HttpError, isUnauthorized } from "../lib/api";
import { conditionText, type WireRule } from "../lib/rules";
import { activeAlerts } from "../models/live";
import { api, auth } from "../models/session";
import { type DryRun, DryRunResult } from "../components/rule-results";
import { ActionResult, LoadError } from "../components/feedback";
import { RULE_TEMPLATES, type RuleTemplate } from "../../../worker/core/rules/templates";

const RULES = "/api/admin/monitoring/rules";
const PENDING_REFRESH_MS = 15_000;

/** A rule's live state from the open alerts the socket keeps current. */
function stateOf(rule: WireRule, open: { alert_rule_id: number; status: string }[]) {
  if (!rule.is_active) return { text: "Disabled", cls: "muted" };
  const mine = open.filter((a) => a.alert_rule_id === rule.id);
  const firing = mine.filter((a) => a.status === "firing").length;
  if (firing) return { text: `Firing (${firing})`, cls: "state-firing" };
  if (mine.length) return { text: `Acknowledged (${mine.length})`, cls: "state-acknowledged" };
  if (rule.pending_since) {
    const since = new Date(rule.pending_since).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    return { text: `Pending since ${since}`, cls: "state-acknowledged" };
  }
  return { text: "OK", cls: "state-ok" };
}

/**
 * The alert rules: severity, condition in words, channels and live state, with Edit,
 * Disable / Enable, Test (the dry run on the latest data) and Delete for admins.
 */
export function RulesPage() {
  useTitle("Rules");
  const rules = useSignal<WireRule[] | null>(null);
  const error = useSignal<string | null>(null);
  const result = useSignal<{ ok: boolean; text: string } | null>(null);
  const tested = useSignal<{ rule: WireRule; run: DryRun } | null>(null);
  const confirming = useSignal<number | null>(null);
  const busy = useSignal<number | null>(null);
  const adding = useSignal<string | null>(null);
  const { query } = useRoute();
  const session = auth.value;
  const mayEdit = session.kind === "authenticated" && canAct(session.me.role);

  async function load() {
    error.value = null;
    try {
      rules.value = (await api.get<{ rules: WireRule[] }>(`${RULES}?limit=500`)).rules;
    } catch (err) {
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => {
    void load();
    // Firing is live over the socket; pending (a timer inside the engine) is re-read now and then.
    const timer = setInterval(() => void load(), PENDING_REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  async function act(rule: WireRule, what: "toggle" | "test" | "delete") {
    busy.value = rule.id;
    result.value = null;
    try {
      if (what === "toggle") {
        await api.request(`${RULES}/${rule.id}`, { method: "PUT", body: { is_active: !rule.is_active } });
        result.value = { ok: true, text: `${rule.rule_name} ${rule.is_active ? "disabled" : "enabled"}.` };
      } else if (what === "delete") {
        await api.request(`${RULES}/${rule.id}`, { method: "DELETE" });
        confirming.value = null;
        result.value = { ok: true, text: `${rule.rule_name} deleted.` };
      } else {
        tested.value = { rule, run: await api.request<DryRun>(`${RULES}/${rule.id}/test`, { method: "POST" }) };
      }
      if (what !== "test") await load();
    } catch (err) {
      result.value = { ok: false, text: `${rule.rule_name}: ${err instanceof HttpError ? err.message : String(err)}` };
    } finally {
      busy.value = null;
    }
  }

  async function add(template: RuleTemplate) {
    adding.value = template.body.rule_name;
    result.value = null;
    try {
      await api.request(RULES, { method: "POST", body: template.body });
      result.value = {
        ok: true,
        text: `${template.body.rule_name} added. Edit it to change its threshold or channels.`,
      };
      await load();
    } catch (err) {
      result.value = {
        ok: false,
        text: `${template.body.rule_name}: ${err instanceof HttpError ? err.message : String(err)}`,
      };
    } finally {
      adding.value = null;
    }
  }

  const list = rules.value;
  const open = activeAlerts.value ?? [];
  const saved = query.saved ? list?.find((r) => String(r.id) === query.saved) : undefined;
  return (
    <>
      <div class="page-head">
        <h1>Rules</h1>
        {mayEdit && (
          <a class="button primary" href="/rules/new">
            New rule
          </a>
        )}
      </div>
      <LoadError what="the rules" error={error.value} onRetry={() => void load()} />
      <p class="summary" role="status">
        {list === null
          ? error.value
            ? ""
            : "Loading rules\u2026"
          : list.length === 0
            ? "No alert rules yet."
            : `${list.length} rule${list.length === 1 ? "" : "s"}`}
      </p>
      {saved && !result.value && (
        <p class="action-result" role="status">
          {saved.rule_name} saved.
        </p>
      )}
      <ActionResult result={result.value} />
      {list !== null && list.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table>
            <caption class="visually-hidden">Alert rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Severity</th>
                <th scope="col">Condition</th>
                <th scope="col">Channels</th>
                <th scope="col">State</th>
                {mayEdit && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {list.map((r) => {
                const state = stateOf(r, open);
                return (
                  <tr key={r.id}>
                    <th scope="row">{r.rule_name}</th>
                    <td data-label="Severity">
                      <span class={`severity severity-${r.severity}`}>{r.severity}</span>
                    </td>
                    <td data-label="Condition">{conditionText(r)}</td>
                    <td data-label="Channels">{r.notification_channels.join(", ")}</td>
                    <td data-label="State">
                      <span class={state.cls}>{state.text}</span>
                    </td>
                    {mayEdit && (
                      <td data-label="Actions">
                        <div class="buttons row-actions">
                          <a class="button" href={`/rules/${r.id}`} aria-label={`Edit ${r.rule_name}`}>
                            Edit
                          </a>
                          <button
                            type="button"
                            disabled={busy.value !== null}
                            aria-label={`${r.is_active ? "Disable" : "Enable"} ${r.rule_name}`}
                            onClick={() => void act(r, "toggle")}
                          >
                            {r.is_active ? "Disable" : "Enable"}
                          </button>
                          <button
                            type="button"
                            disabled={busy.value !== null}
                            aria-label={`Test ${r.rule_name}`}
                            onClick={() => void act(r, "test")}
                          >
                            Test
                          </button>
                          {confirming.value === r.id ? (
                            <button
                              type="button"
                              class="danger"
                              disabled={busy.value !== null}
                              onClick={() => void act(r, "delete")}
                            >
                              Confirm delete
                            </button>
                          ) : (
                            <button
                              type="button"
                              aria-label={`Delete ${r.rule_name}`}
                              onClick={() => (confirming.value = r.id)}
                            >
                              Delete
                            </button>
                          )}
                        </div>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {mayEdit && list !== null && (
        <section class="panel" aria-labelledby="ready-made-rules">
          <h2 id="ready-made-rules">Ready-made rules</h2>
          <p class="muted">
            For what the Python integration reports: Celery tasks, beat entries, workers and queues, and the web
            application's endpoints.
          </p>
          <ul class="template-list">
            {RULE_TEMPLATES.map((t) => {
              const added = list.some((r) => r.rule_name === t.body.rule_name);
              return (
                <li key={t.body.rule_name}>
                  <div>
                    <strong>{t.body.rule_name}</strong> <span class="muted">{t.summary}</span>
                  </div>
                  <button
                    type="button"
                    disabled={added || adding.value !== null}
                    aria-label={added ? `${t.body.rule_name} added` : `Add ${t.body.rule_name}`}
                    onClick={() => void add(t)}
                  >
                    {added ? "Added" : "Add"}
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      )}
      {tested.value && (
        <section class="panel" aria-label={`Test of ${tested.value.rule.rule_name}`}>
          <h2>Test of {tested.value.rule.rule_name}</h2>
          <DryRunResult run={tested.value.run} />
        </section>
      )}
    </>
  );
}

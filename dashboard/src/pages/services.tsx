import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { canAct } from "../lib/alerts";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import { knownServices } from "../lib/services";
import { settings } from "../models/config";
import { api, auth } from "../models/session";
import { ActionResult, LoadError } from "../components/feedback";

const DASHBOARD = "/api/admin/monitoring/dashboard";

/**
 * Service display names: each service named once ("ecpay" → "ECPay Integration"), shown
 * everywhere in the dashboard and in notifications. An empty name keeps the service's id.
 */
export function ServicesPage() {
  useTitle("Services");
  const names = useSignal<Record<string, string> | null>(null);
  const services = useSignal<string[]>([]);
  const error = useSignal<string | null>(null);
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<{ ok: boolean; text: string } | null>(null);
  const busy = useSignal(false);
  const session = auth.value;
  const mayEdit = session.kind === "authenticated" && canAct(session.me.role);

  useEffect(() => {
    void (async () => {
      try {
        const [current, health, rules] = await Promise.all([
          api.get<{ service_names: Record<string, string> }>(DASHBOARD),
          api.get<{ services: { service: string }[] }>("/api/admin/monitoring/health/services"),
          api.get<{ rules: { service: string | null }[] }>("/api/admin/monitoring/rules?limit=500"),
        ]);
        services.value = knownServices(
          health.services.map((s) => s.service),
          current.service_names,
          rules.rules.map((r) => r.service),
        );
        names.value = { ...current.service_names };
      } catch (err) {
        if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
      }
    })();
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    if (!names.value) return;
    busy.value = true;
    status.value = null;
    errors.value = {};
    const service_names = Object.fromEntries(
      Object.entries(names.value)
        .map(([k, v]) => [k, v.trim()])
        .filter(([, v]) => v !== ""),
    );
    try {
      const saved = await api.request<{ service_names: Record<string, string> }>(DASHBOARD, {
        method: "PUT",
        body: { service_names },
      });
      names.value = { ...saved.service_names };
      settings.value = { ...settings.value, service_names: saved.service_names };
      status.value = { ok: true, text: "Service names saved." };
    } catch (err) {
      errors.value = fieldErrors(err);
      status.value = { ok: false, text: `Not saved: ${err instanceof HttpError ? err.message : String(err)}` };
    } finally {
      busy.value = false;
    }
  }

  const current = names.value;
  return (
    <>
      <div class="page-head">
        <h1>Services</h1>
        <p class="muted">The name each service goes by on every page and in every notification.</p>
      </div>
      <LoadError what="the services" error={error.value} />
      {!current && !error.value && <p role="status">Loading the services…</p>}
      {current && (
        <form class="form" onSubmit={(e) => void save(e)} noValidate>
          <fieldset disabled={!mayEdit}>
            <legend>Display names</legend>
            <div class="form-grid">
              {services.value.map((s) => (
                <div class="field" key={s}>
                  <label for={`service-${s}`}>{s}</label>
                  <input
                    id={`service-${s}`}
                    value={current[s] ?? ""}
                    placeholder={s}
                    maxLength={100}
                    onInput={(e) => (names.value = { ...current, [s]: e.currentTarget.value })}
                  />
                </div>
              ))}
            </div>
            {errors.value.service_names && <span class="field-error">{errors.value.service_names}</span>}
          </fieldset>
          {mayEdit && (
            <div class="buttons">
              <button type="submit" class="primary" disabled={busy.value}>
                {busy.value ? "Saving…" : "Save"}
              </button>
            </div>
          )}
          <ActionResult result={status.value} />
        </form>
      )}
    </>
  );
}

import { useSignal } from "@preact/signals";
import { HttpError } from "../lib/api";
import { silenceHref } from "../lib/silences";
import type { Alert } from "../lib/types";
import { loadActiveAlerts } from "../models/live";
import { api } from "../models/session";
import { ActionResult } from "./feedback";

type Action = "acknowledge" | "resolve" | "silence";

const DONE: Record<Action, string> = {
  acknowledge: "Acknowledged.",
  resolve: "Resolved.",
  silence: "Silenced for 1 hour.",
};

/**
 * Acknowledge / Resolve / Silence 1 h for one alert, with an optional note. Shown only to
 * roles that may act (the caller decides); every outcome is announced. A resolve the server
 * refuses because the series still breaches (409 still_breaching) shows its message and
 * offers "Resolve anyway", which resolves with force.
 */
export function AlertActions({ alert, onDone }: { alert: Alert; onDone?: (action: Action) => void }) {
  const note = useSignal("");
  const busy = useSignal<Action | null>(null);
  const result = useSignal<{ ok: boolean; text: string } | null>(null);
  /** The server refused the resolve because the series still breaches: "Resolve anyway" is offered. */
  const breaching = useSignal(false);
  const noteId = `note-${alert.id}`;

  async function run(action: Action, force = false) {
    busy.value = action;
    result.value = null;
    breaching.value = false;
    const text = note.value.trim();
    const body =
      action === "silence"
        ? { duration_minutes: 60, ...(text ? { note: text } : {}) }
        : { ...(text ? { note: text } : {}), ...(force ? { force: true } : {}) };
    try {
      await api.request(`/api/admin/monitoring/alerts/${alert.id}/${action}`, { method: "POST", body });
      result.value = { ok: true, text: DONE[action] };
      note.value = "";
      void loadActiveAlerts();
      onDone?.(action);
    } catch (err) {
      const message = err instanceof HttpError ? err.message : String(err);
      breaching.value = action === "resolve" && err instanceof HttpError && err.code === "still_breaching";
      result.value = { ok: false, text: `Could not ${action === "silence" ? "silence" : action}: ${message}` };
    } finally {
      busy.value = null;
    }
  }

  if (alert.status === "resolved") return null;
  return (
    <div class="alert-actions">
      <label class="visually-hidden" for={noteId}>
        Note for alert {alert.id} (optional)
      </label>
      <input
        id={noteId}
        type="text"
        placeholder="Note (optional)"
        maxLength={1000}
        value={note.value}
        onInput={(e) => (note.value = (e.target as HTMLInputElement).value)}
      />
      <div class="buttons">
        {alert.status === "firing" && (
          <button type="button" class="primary" disabled={busy.value !== null} onClick={() => void run("acknowledge")}>
            Acknowledge
          </button>
        )}
        <button type="button" disabled={busy.value !== null} onClick={() => void run("resolve")}>
          Resolve
        </button>
        <button type="button" disabled={busy.value !== null} onClick={() => void run("silence")}>
          Silence 1 h
        </button>
        <a class="button" href={silenceHref(alert)}>
          Silence{"\u2026"}
        </a>
      </div>
      <ActionResult result={result.value} />
      {breaching.value && (
        <div class="buttons">
          <button type="button" disabled={busy.value !== null} onClick={() => void run("resolve", true)}>
            Resolve anyway
          </button>
        </div>
      )}
    </div>
  );
}

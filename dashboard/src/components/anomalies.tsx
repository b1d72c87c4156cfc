/**
 * The Trends page's anomaly list (filtered by service, kept current by the socket
 * by the page) with "Mark expected" / "Undo" for administrators, and the list of
 * patterns marked expected. Viewers see the same lists without the buttons.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  type Anomaly,
  type AnomalyFeedbackRef,
  ANOMALIES_PATH,
  type ExpectedPattern,
  FEEDBACK_PATH,
  patternText,
  scoreText,
} from "../lib/anomalies";
import { HttpError, isUnauthorized } from "../lib/api";
import { formatDateTime, formatValue } from "../lib/format";
import { api } from "../models/session";
import { ActionResult, LoadError, type Outcome } from "./feedback";

const message = (err: unknown) => (err instanceof HttpError || err instanceof Error ? err.message : String(err));

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

/** "Mark expected" with its note, or the note and "Undo" once marked. */
function FeedbackCell({
  anomaly,
  mayAct,
  onChange,
}: {
  anomaly: Anomaly;
  mayAct: boolean;
  onChange: (feedback: AnomalyFeedbackRef | null) => void;
}) {
  const open = useSignal(false);
  const note = useSignal("");
  const busy = useSignal(false);
  const result = useSignal<Outcome | null>(null);
  const noteId = `anomaly-note-${anomaly.id}`;

  async function mark() {
    busy.value = true;
    result.value = null;
    try {
      const { feedback } = await api.request<{ feedback: AnomalyFeedbackRef }>(
        `${ANOMALIES_PATH}/${anomaly.id}/feedback`,
        { method: "POST", body: { note: note.value.trim() } },
      );
      open.value = false;
      note.value = "";
      result.value = { ok: true, text: "Marked expected." };
      onChange(feedback);
    } catch (err) {
      result.value = { ok: false, text: `Could not mark it expected: ${message(err)}` };
    } finally {
      busy.value = false;
    }
  }

  async function undo(feedback: AnomalyFeedbackRef) {
    busy.value = true;
    result.value = null;
    try {
      await api.request(`${FEEDBACK_PATH}/${feedback.id}`, { method: "DELETE" });
      result.value = { ok: true, text: "No longer expected: the pattern counts again." };
      onChange(null);
    } catch (err) {
      result.value = { ok: false, text: `Could not undo: ${message(err)}` };
    } finally {
      busy.value = false;
    }
  }

  const fb = anomaly.feedback;
  return (
    <>
      {fb && (
        <p class="anomaly-expected">
          expected: {fb.note || "(no note)"}{" "}
          {mayAct && (
            <button type="button" class="link-button" disabled={busy.value} onClick={() => void undo(fb)}>
              Undo
            </button>
          )}
        </p>
      )}
      {!fb && mayAct && !open.value && (
        <button type="button" onClick={() => (open.value = true)}>
          Mark expected
        </button>
      )}
      {!fb && mayAct && open.value && (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void mark();
          }}
        >
          <label class="visually-hidden" for={noteId}>
            Why anomaly {anomaly.id} is expected
          </label>
          <input
            id={noteId}
            type="text"
            placeholder="Why is it expected? (e.g. nightly backup)"
            maxLength={500}
            value={note.value}
            onInput={(e) => (note.value = (e.target as HTMLInputElement).value)}
          />
          <button type="submit" class="primary" disabled={busy.value}>
            Save
          </button>
          <button type="button" disabled={busy.value} onClick={() => (open.value = false)}>
            Cancel
          </button>
        </form>
      )}
      <ActionResult result={result.value} />
    </>
  );
}

export interface AnomalySectionProps {
  /** The anomalies of the period, newest first (before the service filter). */
  anomalies: readonly Anomaly[];
  /** Services to filter by. */
  services: readonly string[];
  service: string | null;
  onService: (service: string | null) => void;
  loading: boolean;
  error: string | null;
  onRetry: () => void;
  mayAct: boolean;
  timeZone: string;
  /** An anomaly's feedback changed (marked expected or undone). */
  onFeedback: (anomaly: Anomaly, feedback: AnomalyFeedbackRef | null) => void;
}

export function AnomalySection(props: AnomalySectionProps) {
  const { anomalies, services, service, loading, error, mayAct, timeZone } = props;
  const shown = service === null ? anomalies : anomalies.filter((a) => a.service === service);
  const when = (iso: string) => <time dateTime={iso}>{formatDateTime(iso, timeZone)}</time>;
  return (
    <section class="chart-card anomalies" aria-labelledby="chart-anomalies" data-chart="anomalies">
      <div class="section-head">
        <h2 id="chart-anomalies">Anomalies</h2>
        <label class="inline-field">
          Service{" "}
          <select
            value={service ?? ""}
            onChange={(e) => props.onService((e.target as HTMLSelectElement).value || null)}
          >
            <option value="">All services</option>
            {services.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <LoadError what="the anomalies" error={error} onRetry={props.onRetry} />
      {!error && loading && anomalies.length === 0 && <p role="status">Loading the anomalies{"\u2026"}</p>}
      {!error && !loading && shown.length === 0 && (
        <p class="empty muted" data-empty="anomalies">
          No anomalies detected in this period{service ? ` on ${service}` : ""}.
        </p>
      )}
      {shown.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="anomaly-list">
            <caption class="visually-hidden">Anomalies detected in this period</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col">What happened</th>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
                <th scope="col" class="num">
                  Peak score
                </th>
                <th scope="col">Direction</th>
                <th scope="col">Expected?</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr
                  key={a.id}
                  data-anomaly={a.id}
                  data-state={a.ended_at === null ? "ongoing" : "resolved"}
                  data-expected={a.feedback ? "yes" : "no"}
                >
                  <th scope="row">
                    <code>{a.metric}</code> <span class="muted">on {a.service}</span>
                    {Object.keys(a.labels).length > 0 && <small class="muted"> {labelText(a.labels)}</small>}
                  </th>
                  <td data-label="What happened">
                    {a.summary}
                    <small class="muted">
                      {" "}
                      (observed {formatValue(a.observed)}, expected {formatValue(a.expected)})
                    </small>
                  </td>
                  <td data-label="Started">{when(a.started_at)}</td>
                  <td data-label="Ended">{a.ended_at ? when(a.ended_at) : <strong>ongoing</strong>}</td>
                  <td class="num" data-label="Peak score">
                    {scoreText(a.peak_score)}
                  </td>
                  <td data-label="Direction">{a.direction === "up" ? "\u2191 above normal" : "\u2193 below normal"}</td>
                  <td data-label="Expected?">
                    <FeedbackCell anomaly={a} mayAct={mayAct} onChange={(fb) => props.onFeedback(a, fb)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** The patterns marked expected, with "Undo" for administrators; reloaded when `version` changes. */
export function ExpectedPatterns({
  mayAct,
  timeZone,
  version,
  onUndone,
}: {
  mayAct: boolean;
  timeZone: string;
  version: number;
  onUndone: (pattern: ExpectedPattern) => void;
}) {
  const patterns = useSignal<ExpectedPattern[] | null>(null);
  const error = useSignal<string | null>(null);
  const result = useSignal<Outcome | null>(null);
  const busy = useSignal<number | null>(null);

  async function load(signal?: AbortSignal) {
    error.value = null;
    try {
      const { feedback } = await api.get<{ feedback: ExpectedPattern[] }>(FEEDBACK_PATH, signal);
      if (!signal?.aborted) patterns.value = feedback;
    } catch (err) {
      if (signal?.aborted || (err instanceof DOMException && err.name === "AbortError")) return;
      if (!isUnauthorized(err)) error.value = message(err);
    }
  }

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [version]);

  async function undo(p: ExpectedPattern) {
    busy.value = p.id;
    result.value = null;
    try {
      await api.request(`${FEEDBACK_PATH}/${p.id}`, { method: "DELETE" });
      result.value = { ok: true, text: `Undone: ${p.metric} on ${p.service} counts again.` };
      patterns.value = (patterns.value ?? []).filter((q) => q.id !== p.id);
      onUndone(p);
    } catch (err) {
      result.value = { ok: false, text: `Could not undo: ${message(err)}` };
    } finally {
      busy.value = null;
    }
  }

  const list = patterns.value;
  return (
    <section class="chart-card expected-patterns" aria-labelledby="expected-patterns" data-chart="expected-patterns">
      <h2 id="expected-patterns">Expected patterns</h2>
      <p class="muted">Anomalies like these (same series, direction and time) are no longer counted.</p>
      <LoadError what="the expected patterns" error={error.value} onRetry={() => void load()} />
      <ActionResult result={result.value} />
      {!error.value && list === null && <p role="status">Loading{"\u2026"}</p>}
      {list && list.length === 0 && (
        <p class="empty muted" data-empty="expected-patterns">
          No patterns are marked expected.
        </p>
      )}
      {list && list.length > 0 && (
        <ul class="pattern-list" aria-label="Expected patterns">
          {list.map((p) => (
            <li key={p.id} data-pattern={p.id}>
              <code>{p.metric}</code> <span class="muted">on {p.service}</span>: {patternText(p)}
              {p.note && (
                <>
                  {" "}
                  {"\u2014"} &ldquo;{p.note}&rdquo;
                </>
              )}{" "}
              <small class="muted">
                by {p.created_by ?? "someone"}, {formatDateTime(p.created_at, timeZone)}
              </small>{" "}
              {mayAct && (
                <button type="button" class="link-button" disabled={busy.value === p.id} onClick={() => void undo(p)}>
                  Undo
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * "Mark expected" on an alert of an anomaly rule (the caller checks the rule's kind and the
 * role): a note, then `POST alerts/{id}/expected`; the pattern shows on the Trends page.
 */
export function MarkAlertExpected({ alertId }: { alertId: number }) {
  const note = useSignal("");
  const busy = useSignal(false);
  const done = useSignal(false);
  const result = useSignal<Outcome | null>(null);
  const noteId = `alert-expected-${alertId}`;

  async function mark() {
    busy.value = true;
    result.value = null;
    try {
      await api.request(`/api/admin/monitoring/alerts/${alertId}/expected`, {
        method: "POST",
        body: { note: note.value.trim() },
      });
      done.value = true;
      result.value = {
        ok: true,
        text: "Marked expected: the same pattern no longer counts. Undo it under Expected patterns on the Trends page.",
      };
    } catch (err) {
      result.value = { ok: false, text: `Could not mark it expected: ${message(err)}` };
    } finally {
      busy.value = false;
    }
  }

  return (
    <section class="alert-expected" aria-labelledby={`${noteId}-title`}>
      <h2 id={`${noteId}-title`}>Expected behaviour?</h2>
      {!done.value && (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void mark();
          }}
        >
          <label class="visually-hidden" for={noteId}>
            Why this anomaly is expected
          </label>
          <input
            id={noteId}
            type="text"
            placeholder="Why is it expected? (e.g. nightly backup)"
            maxLength={500}
            value={note.value}
            onInput={(e) => (note.value = (e.target as HTMLInputElement).value)}
          />
          <button type="submit" disabled={busy.value}>
            Mark expected
          </button>
        </form>
      )}
      <ActionResult result={result.value} />
    </section>
  );
}

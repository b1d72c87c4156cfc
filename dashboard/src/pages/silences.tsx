import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useLocation } from "preact-iso";
import { fieldErrorHelpers } from "../components/field-errors";
import { useNow, useTitle } from "../components/hooks";
import { SeverityBadge } from "../components/severity";
import { canAct, labelText } from "../lib/alerts";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import { browserZone, formatDateTime, formatRelative, zones } from "../lib/format";
import {
  MATCH_OPS,
  type MatchOp,
  matchersFromQuery,
  matchersText,
  newSilenceForm,
  recurrenceText,
  type Silence,
  type SilenceForm,
  toSilenceBody,
  WEEKDAYS,
} from "../lib/silences";
import type { Alert } from "../lib/types";
import { loadActiveAlerts } from "../models/live";
import { api, auth } from "../models/session";
import { ActionResult, LoadError } from "../components/feedback";

const SILENCES = "/api/admin/monitoring/silences";

const STATUS_ORDER: Record<Silence["status"], number> = { active: 0, pending: 1, expired: 2 };

function useMe() {
  const session = auth.value;
  return session.kind === "authenticated" ? session.me : null;
}

/** Silences: in effect or coming first, then expired, newest first; admins create and expire them. */
export function SilencesPage() {
  useTitle("Silences");
  const me = useMe();
  const mayEdit = me ? canAct(me.role) : false;
  const timeZone = me?.timezone ?? "UTC";
  const list = useSignal<Silence[] | null>(null);
  const error = useSignal<string | null>(null);
  // Arriving from a saved new silence (`/silences?created=12`): say so.
  const created = typeof location === "undefined" ? null : new URLSearchParams(location.search).get("created");
  const result = useSignal<{ ok: boolean; text: string } | null>(
    created ? { ok: true, text: `Silence #${created} saved.` } : null,
  );
  const busy = useSignal<number | null>(null);
  const now = useNow(15_000);

  async function load() {
    error.value = null;
    try {
      const page = await api.get<{ silences: Silence[] }>(`${SILENCES}?limit=1000`);
      list.value = page.silences.sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.id - a.id);
    } catch (err) {
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => void load(), []);

  async function expire(s: Silence) {
    busy.value = s.id;
    result.value = null;
    try {
      await api.request(`${SILENCES}/${s.id}/expire`, { method: "POST" });
      result.value = { ok: true, text: `Silence #${s.id} expired.` };
      void loadActiveAlerts();
      await load();
    } catch (err) {
      result.value = {
        ok: false,
        text: `Could not expire silence #${s.id}: ${err instanceof Error ? err.message : err}`,
      };
    } finally {
      busy.value = null;
    }
  }

  const rows = list.value;
  return (
    <>
      <div class="page-head">
        <h1>Silences</h1>
        {mayEdit && (
          <a class="button primary" href="/silences/new">
            New silence
          </a>
        )}
      </div>
      <p class="muted">
        Alerts a silence matches still open and show, but notify no one while it is in effect. A weekly silence is in
        effect only during its maintenance window.
      </p>
      <LoadError what="the silences" error={error.value} onRetry={() => void load()} />
      <ActionResult result={result.value} />
      <p class="summary" role="status">
        {rows === null
          ? error.value
            ? ""
            : "Loading silences\u2026"
          : rows.length === 0
            ? "No silences yet."
            : `${rows.length} silence${rows.length === 1 ? "" : "s"}`}
      </p>
      {rows !== null && rows.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="silences">
            <caption class="visually-hidden">Silences</caption>
            <thead>
              <tr>
                <th scope="col">Matchers</th>
                <th scope="col">Status</th>
                <th scope="col">Window</th>
                <th scope="col">Comment</th>
                {mayEdit && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => (
                <tr key={s.id} data-silence={s.id} data-status={s.status}>
                  <th scope="row">
                    <code>{matchersText(s.matchers)}</code>
                  </th>
                  <td data-label="Status">
                    <span class={`badge silence-${s.status}`}>{s.status}</span>
                  </td>
                  <td data-label="Window">
                    {formatDateTime(s.starts_at, timeZone)} to {formatDateTime(s.ends_at, timeZone)}
                    {s.status !== "expired" && <span class="muted"> (ends {formatRelative(s.ends_at, now)})</span>}
                    {s.recurrence && <div>Weekly: {recurrenceText(s.recurrence)}</div>}
                  </td>
                  <td class="message" data-label="Comment">
                    {s.comment}
                  </td>
                  {mayEdit && (
                    <td data-label="Actions">
                      {s.status !== "expired" && (
                        <button
                          type="button"
                          disabled={busy.value !== null}
                          aria-label={`Expire silence #${s.id} now`}
                          onClick={() => void expire(s)}
                        >
                          Expire now
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

interface Preview {
  in_effect_now: boolean;
  next_change: string | null;
  alerts: Alert[];
}

/**
 * A new silence: matchers (prefilled from the address, as an alert's "Silence…" writes it),
 * a time range, optionally a weekly window in a time zone, and why. The open alerts it would
 * match are previewed as the form changes; nothing is stored until it is saved.
 */
export function SilenceNewPage() {
  useTitle("New silence");
  const me = useMe();
  const { route } = useLocation();
  const mayEdit = me ? canAct(me.role) : false;
  const timeZone = me?.timezone ?? "UTC";
  const form = useSignal<SilenceForm>(
    newSilenceForm(
      matchersFromQuery(typeof location === "undefined" ? "" : location.search),
      Date.now(),
      me?.timezone && me.timezone !== "UTC" ? me.timezone : browserZone(),
    ),
  );
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<string | null>(null);
  const saving = useSignal(false);
  const preview = useSignal<Preview | null>(null);
  const previewError = useSignal<string | null>(null);
  const f = form.value;

  // The preview follows the form, a moment after the last change.
  const body = JSON.stringify(toSilenceBody(f));
  useEffect(() => {
    if (!mayEdit) return;
    const ctl = new AbortController();
    const timer = setTimeout(async () => {
      try {
        preview.value = await api.request<Preview>(`${SILENCES}/preview`, {
          method: "POST",
          body: JSON.parse(body),
          signal: ctl.signal,
        });
        previewError.value = null;
      } catch (err) {
        if (err instanceof DOMException && err.name === "AbortError") return;
        preview.value = null;
        const reasons = Object.entries(fieldErrors(err)).map(([k, v]) => (k ? `${k}: ${v}` : v));
        previewError.value = reasons.length ? reasons.join("; ") : err instanceof Error ? err.message : String(err);
      }
    }, 400);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [body, mayEdit]);

  const set = <K extends keyof SilenceForm>(key: K, value: SilenceForm[K]) => {
    form.value = { ...form.value, [key]: value };
  };
  const setMatcher = (i: number, patch: Partial<SilenceForm["matchers"][number]>) =>
    set(
      "matchers",
      form.value.matchers.map((m, j) => (j === i ? { ...m, ...patch } : m)),
    );

  async function save(e: Event) {
    e.preventDefault();
    saving.value = true;
    status.value = null;
    errors.value = {};
    try {
      const created = await api.request<Silence>(SILENCES, { method: "POST", body: toSilenceBody(form.value) });
      void loadActiveAlerts();
      route(`/silences?created=${created.id}`);
    } catch (err) {
      errors.value = fieldErrors(err);
      status.value = `Not saved: ${err instanceof HttpError ? err.message : String(err)}`;
    } finally {
      saving.value = false;
    }
  }

  const { error, described } = fieldErrorHelpers(errors.value);
  const p = preview.value;

  return (
    <>
      <div class="page-head">
        <p class="muted">
          <a href="/silences">Silences</a> / new
        </p>
        <h1>New silence</h1>
      </div>
      {!mayEdit ? (
        <p class="empty">Only admins and owners create silences; you can see them on the Silences page.</p>
      ) : (
        <form class="form" onSubmit={(e) => void save(e)} noValidate>
          <fieldset>
            <legend>Matchers</legend>
            <p class="muted help">
              Every matcher must match. Besides an alert's series labels: <code>alertname</code> (the rule's name),{" "}
              <code>rule_id</code>, <code>service</code>, <code>severity</code>.
            </p>
            {f.matchers.map((m, i) => (
              <div class="matcher-row" key={i} data-matcher={i}>
                <label class="field">
                  <span>Label</span>
                  <input
                    value={m.name}
                    aria-label={`Matcher ${i + 1} label`}
                    onInput={(e) => setMatcher(i, { name: e.currentTarget.value })}
                    {...described(`matchers.${i}.name`)}
                  />
                  {error(`matchers.${i}.name`)}
                </label>
                <label class="field">
                  <span>Match</span>
                  <select
                    value={m.op}
                    aria-label={`Matcher ${i + 1} operator`}
                    onChange={(e) => setMatcher(i, { op: e.currentTarget.value as MatchOp })}
                  >
                    {MATCH_OPS.map((op) => (
                      <option key={op} value={op}>
                        {op}
                      </option>
                    ))}
                  </select>
                </label>
                <label class="field">
                  <span>Value</span>
                  <input
                    value={m.value}
                    aria-label={`Matcher ${i + 1} value`}
                    onInput={(e) => setMatcher(i, { value: e.currentTarget.value })}
                    {...described(`matchers.${i}.value`)}
                  />
                  {error(`matchers.${i}.value`)}
                </label>
                <button
                  type="button"
                  aria-label={`Remove matcher ${i + 1}`}
                  disabled={f.matchers.length === 1}
                  onClick={() =>
                    set(
                      "matchers",
                      f.matchers.filter((_, j) => j !== i),
                    )
                  }
                >
                  Remove
                </button>
              </div>
            ))}
            {error("matchers")}
            <button type="button" onClick={() => set("matchers", [...f.matchers, { name: "", op: "=", value: "" }])}>
              Add matcher
            </button>
          </fieldset>
          <fieldset>
            <legend>When</legend>
            <div class="form-grid">
              <label class="field">
                <span>Starts</span>
                <input
                  type="datetime-local"
                  value={f.starts_at}
                  onInput={(e) => set("starts_at", e.currentTarget.value)}
                  {...described("starts_at")}
                />
                {error("starts_at")}
              </label>
              <label class="field">
                <span>Ends</span>
                <input
                  type="datetime-local"
                  value={f.ends_at}
                  onInput={(e) => set("ends_at", e.currentTarget.value)}
                  {...described("ends_at")}
                />
                {error("ends_at")}
              </label>
            </div>
            <p class="muted help">In your browser's time zone. Leave "Starts" empty to start now.</p>
            <label class="check">
              <input
                type="checkbox"
                checked={f.recurring}
                onChange={(e) => set("recurring", e.currentTarget.checked)}
              />
              Only during a weekly maintenance window
            </label>
            {f.recurring && (
              <>
                <div class="checks" role="group" aria-label="Weekdays">
                  {WEEKDAYS.map((day, d) => (
                    <label class="check" key={day}>
                      <input
                        type="checkbox"
                        checked={f.weekdays.includes(d)}
                        onChange={(e) =>
                          set(
                            "weekdays",
                            e.currentTarget.checked ? [...f.weekdays, d] : f.weekdays.filter((x) => x !== d),
                          )
                        }
                      />
                      {day}
                    </label>
                  ))}
                </div>
                {error("recurrence.weekdays")}
                <div class="form-grid">
                  <label class="field">
                    <span>Window starts at</span>
                    <input
                      type="time"
                      value={f.start}
                      onInput={(e) => set("start", e.currentTarget.value)}
                      {...described("recurrence.start")}
                    />
                    {error("recurrence.start")}
                  </label>
                  <label class="field">
                    <span>Lasting (minutes)</span>
                    <input
                      type="number"
                      min={1}
                      value={f.duration_minutes}
                      onInput={(e) => set("duration_minutes", e.currentTarget.value)}
                      {...described("recurrence.duration_minutes")}
                    />
                    {error("recurrence.duration_minutes")}
                  </label>
                  <label class="field">
                    <span>Window time zone</span>
                    <select
                      value={f.timezone}
                      onChange={(e) => set("timezone", e.currentTarget.value)}
                      {...described("recurrence.timezone")}
                    >
                      {zones(f.timezone).map((z) => (
                        <option key={z} value={z}>
                          {z}
                        </option>
                      ))}
                    </select>
                    {error("recurrence.timezone")}
                  </label>
                </div>
              </>
            )}
          </fieldset>
          <fieldset>
            <legend>Why</legend>
            <label class="field">
              <span>Comment</span>
              <input
                value={f.comment}
                placeholder="Payment gateway maintenance"
                onInput={(e) => set("comment", e.currentTarget.value)}
                {...described("comment")}
              />
              {error("comment")}
            </label>
          </fieldset>
          <section class="preview" aria-labelledby="preview-title" aria-live="polite">
            <h2 id="preview-title">Open alerts it would match</h2>
            {previewError.value ? (
              <p class="muted">Cannot preview yet: {previewError.value}</p>
            ) : !p ? (
              <p class="muted">Checking{"\u2026"}</p>
            ) : (
              <>
                <p data-preview-summary>
                  {p.alerts.length === 0
                    ? "No open alert matches these matchers."
                    : `${p.alerts.length} open alert${p.alerts.length === 1 ? "" : "s"} match.`}{" "}
                  {p.in_effect_now
                    ? "It would silence them now."
                    : p.next_change
                      ? `It would not be in effect now; next from ${formatDateTime(p.next_change, timeZone)}.`
                      : "It would never be in effect."}
                </p>
                {p.alerts.length > 0 && (
                  <ul class="preview-alerts" aria-label="Matching alerts">
                    {p.alerts.map((a) => (
                      <li key={a.id} data-alert={a.id}>
                        <SeverityBadge severity={a.alert_severity} />{" "}
                        <a href={`/alerts/${a.id}`}>
                          #{a.id} {a.rule_name ?? `Rule ${a.alert_rule_id}`}
                        </a>
                        {a.service && <span class="muted"> · {a.service}</span>}
                        {labelText(a.labels) && <code> {labelText(a.labels)}</code>}
                      </li>
                    ))}
                  </ul>
                )}
              </>
            )}
          </section>
          {error("")}
          <div class="buttons">
            <button type="submit" class="primary" disabled={saving.value}>
              {saving.value ? "Saving\u2026" : "Save silence"}
            </button>
          </div>
          {status.value && (
            <p class="action-result error" role="alert">
              {status.value}
            </p>
          )}
        </form>
      )}
    </>
  );
}

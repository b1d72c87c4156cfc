import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import { browserZone, zones } from "../lib/format";
import { api } from "../models/session";
import { ActionResult, LoadError } from "../components/feedback";

const PREFERENCES = "/api/admin/monitoring/preferences";
const TEST = "/api/admin/monitoring/notifications/test";
const SLACK_LINK = "/api/admin/monitoring/preferences/slack-link";
const SEVERITIES = ["critical", "warning", "info"] as const;

/** The preferences as the API sends and takes them. */
interface Preferences {
  email: string | null;
  phone: string | null;
  slack_member_id: string | null;
  email_enabled: boolean;
  sms_enabled: boolean;
  slack_enabled: boolean;
  severities: string[];
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  timezone: string;
  critical_bypasses_quiet_hours: boolean;
  updated_at: string | null;
}

type Form = Omit<Preferences, "updated_at">;

interface TestResult {
  channel: string;
  status: "sent" | "failed" | "skipped" | "not_configured";
  address: string | null;
  error: string | null;
  duration_ms: number | null;
}

const TEST_WORDS: Record<TestResult["status"], string> = {
  sent: "sent",
  failed: "failed",
  skipped: "skipped",
  not_configured: "not configured on the server",
};

const FORM_KEYS = [
  "email",
  "phone",
  "slack_member_id",
  "email_enabled",
  "sms_enabled",
  "slack_enabled",
  "severities",
  "quiet_hours_start",
  "quiet_hours_end",
  "timezone",
  "critical_bypasses_quiet_hours",
] as const satisfies readonly (keyof Form)[];

/** The fields the form edits, from what the API sent (which also carries admin_id and updated_at). */
const toForm = (p: Preferences): Form => Object.fromEntries(FORM_KEYS.map((k) => [k, p[k]])) as unknown as Form;

/** Blank text is null, as the API wants it. */
const text = (v: string | null) => (v && v.trim() ? v.trim() : null);

/** What the form sends. */
function toBody(f: Form): Form {
  return {
    ...f,
    email: text(f.email),
    phone: text(f.phone),
    slack_member_id: text(f.slack_member_id),
    quiet_hours_start: text(f.quiet_hours_start),
    quiet_hours_end: text(f.quiet_hours_end),
  };
}

/**
 * Each admin's own notification preferences: addresses and per-channel switches, the
 * severities they want, quiet hours in a time zone (the browser's until first saved) and
 * whether critical alerts break through; "Send test" reports each channel's outcome. The
 * server validates; its reasons are shown beside their fields and the input is kept.
 */
export function PreferencesPage() {
  useTitle("Preferences");
  const form = useSignal<Form | null>(null);
  const savedAt = useSignal<string | null>(null);
  const loadError = useSignal<string | null>(null);
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<{ ok: boolean; text: string } | null>(null);
  const busy = useSignal<"save" | "test" | null>(null);
  const tests = useSignal<TestResult[] | null>(null);
  const linkCode = useSignal<{ command: string; expires_at: string } | null>(null);

  async function load() {
    loadError.value = null;
    try {
      const prefs = await api.get<Preferences>(PREFERENCES);
      // Never saved: the defaults, in the browser's time zone.
      form.value = prefs.updated_at === null ? { ...toForm(prefs), timezone: browserZone() } : toForm(prefs);
      savedAt.value = prefs.updated_at;
    } catch (err) {
      if (!isUnauthorized(err)) loadError.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => void load(), []);

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    if (form.value) form.value = { ...form.value, [key]: value };
  };

  async function save(e: Event) {
    e.preventDefault();
    if (!form.value) return;
    busy.value = "save";
    status.value = null;
    errors.value = {};
    try {
      const saved = await api.request<Preferences>(PREFERENCES, { method: "PUT", body: toBody(form.value) });
      form.value = toForm(saved);
      savedAt.value = saved.updated_at;
      status.value = { ok: true, text: "Preferences saved." };
    } catch (err) {
      errors.value = fieldErrors(err);
      const message = err instanceof HttpError ? err.message : String(err);
      status.value = { ok: false, text: `Not saved: ${message}` };
    } finally {
      busy.value = null;
    }
  }

  /**
   * A one-time code to send from Slack: the member id is stored once Slack says who sent
   * it (typing one in is for owners only; anyone else's would not be theirs to claim).
   */
  async function linkSlack() {
    status.value = null;
    try {
      linkCode.value = await api.request<{ command: string; expires_at: string }>(SLACK_LINK, {
        method: "POST",
        body: {},
      });
    } catch (err) {
      const message = err instanceof HttpError ? err.message : String(err);
      status.value = { ok: false, text: `No link code: ${message}` };
    }
  }

  async function sendTest() {
    busy.value = "test";
    tests.value = null;
    status.value = null;
    try {
      tests.value = (await api.request<{ results: TestResult[] }>(TEST, { method: "POST", body: {} })).results;
    } catch (err) {
      const message = err instanceof HttpError ? err.message : String(err);
      status.value = { ok: false, text: `Test not sent: ${message}` };
    } finally {
      busy.value = null;
    }
  }

  const f = form.value;
  const err = errors.value;
  const fieldError = (name: string) =>
    err[name] ? (
      <span class="field-error" id={`${name}-error`}>
        {err[name]}
      </span>
    ) : null;
  const described = (name: string) => (err[name] ? { "aria-invalid": true, "aria-describedby": `${name}-error` } : {});

  return (
    <>
      <div class="page-head">
        <h1>Preferences</h1>
        <p class="muted">How and when you are notified. These are yours alone; every role can change its own.</p>
      </div>
      <LoadError what="your preferences" error={loadError.value} onRetry={() => void load()} />
      {!f && !loadError.value && <p role="status">Loading your preferences…</p>}
      {f && (
        <form class="form" onSubmit={(e) => void save(e)} noValidate>
          <fieldset>
            <legend>Channels</legend>
            {(
              [
                ["email", "email_enabled", "Email", "Address", "email", "you@example.com"],
                ["phone", "sms_enabled", "SMS", "Phone (E.164)", "tel", "+886912345678"],
                ["slack_member_id", "slack_enabled", "Slack", "Slack member id", "text", "U024BE7LH"],
              ] as const
            ).map(([field, toggle, channel, label, type, placeholder]) => (
              <div class="form-row" key={field}>
                <label class="check">
                  <input type="checkbox" checked={f[toggle]} onChange={(e) => set(toggle, e.currentTarget.checked)} />
                  {channel}
                </label>
                <label class="field">
                  <span>{label}</span>
                  <input
                    name={field}
                    type={type}
                    value={f[field] ?? ""}
                    placeholder={placeholder}
                    onInput={(e) => set(field, e.currentTarget.value)}
                    {...described(field)}
                  />
                  {fieldError(field)}
                  {fieldError(toggle)}
                </label>
              </div>
            ))}
            <div class="buttons">
              <button type="button" disabled={busy.value !== null} onClick={() => void linkSlack()}>
                Link Slack account
              </button>
            </div>
            {linkCode.value && (
              <p class="muted help" role="status">
                In Slack, send <code>{linkCode.value.command}</code> before{" "}
                {new Date(linkCode.value.expires_at).toLocaleTimeString()}, then reload this page.
              </p>
            )}
          </fieldset>
          <fieldset>
            <legend>Severities</legend>
            <div class="checks">
              {SEVERITIES.map((s) => (
                <label class="check" key={s}>
                  <input
                    type="checkbox"
                    name="severities"
                    value={s}
                    checked={f.severities.includes(s)}
                    onChange={(e) =>
                      set(
                        "severities",
                        e.currentTarget.checked
                          ? SEVERITIES.filter((x) => x === s || f.severities.includes(x))
                          : f.severities.filter((x) => x !== s),
                      )
                    }
                  />
                  {s}
                </label>
              ))}
            </div>
            {fieldError("severities")}
          </fieldset>
          <fieldset>
            <legend>Quiet hours</legend>
            <div class="form-grid">
              <label class="field">
                <span>From</span>
                <input
                  name="quiet_hours_start"
                  type="time"
                  value={f.quiet_hours_start ?? ""}
                  onInput={(e) => set("quiet_hours_start", e.currentTarget.value)}
                  {...described("quiet_hours_start")}
                />
                {fieldError("quiet_hours_start")}
              </label>
              <label class="field">
                <span>Until</span>
                <input
                  name="quiet_hours_end"
                  type="time"
                  value={f.quiet_hours_end ?? ""}
                  onInput={(e) => set("quiet_hours_end", e.currentTarget.value)}
                  {...described("quiet_hours_end")}
                />
                {fieldError("quiet_hours_end")}
              </label>
              <label class="field">
                <span>Time zone</span>
                <select
                  name="timezone"
                  value={f.timezone}
                  onChange={(e) => set("timezone", e.currentTarget.value)}
                  {...described("timezone")}
                >
                  {zones(f.timezone).map((z) => (
                    <option key={z} value={z}>
                      {z}
                    </option>
                  ))}
                </select>
                {fieldError("timezone")}
              </label>
            </div>
            <label class="check">
              <input
                type="checkbox"
                checked={f.critical_bypasses_quiet_hours}
                onChange={(e) => set("critical_bypasses_quiet_hours", e.currentTarget.checked)}
              />
              Critical alerts reach me during quiet hours
            </label>
            <p class="muted help">
              Leave both times empty for no quiet hours. Held notifications go out when they end.
            </p>
          </fieldset>
          {fieldError("")}
          <div class="buttons">
            <button type="submit" class="primary" disabled={busy.value !== null}>
              {busy.value === "save" ? "Saving…" : "Save"}
            </button>
            <button type="button" disabled={busy.value !== null} onClick={() => void sendTest()}>
              {busy.value === "test" ? "Sending…" : "Send test"}
            </button>
          </div>
          <p class="muted help">
            {savedAt.value
              ? `Last saved ${new Date(savedAt.value).toLocaleString()}.`
              : "Not saved yet: these are the defaults."}{" "}
            A test goes through your saved channels.
          </p>
          <ActionResult result={status.value} />
          {tests.value && (
            <ul class="test-results" aria-label="Test results">
              {tests.value.map((t) => (
                <li key={t.channel} class={`test-${t.status}`}>
                  <strong>{t.channel}</strong>: {TEST_WORDS[t.status]}
                  {t.address ? ` to ${t.address}` : ""}
                  {t.duration_ms !== null && t.status === "sent" ? ` in ${t.duration_ms} ms` : ""}
                  {t.error ? ` (${t.error})` : ""}
                </li>
              ))}
            </ul>
          )}
        </form>
      )}
    </>
  );
}

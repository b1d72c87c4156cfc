import { type Signal, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useNow, useTitle } from "../components/hooks";
import { canAct } from "../lib/alerts";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import { formatLatency, formatRelative } from "../lib/format";
import {
  emptyForm,
  formErrors,
  HTTP_METHODS,
  heartbeatSnippets,
  type Monitor,
  type MonitorForm,
  type MonitorKind,
  type MonitorStatus,
  monitorStatus,
  samplesByMonitor,
  sparklinePoints,
  toBody,
  toForm,
} from "../lib/monitors";
import type { HistoryPoint, LatestSample } from "../lib/types";
import { api, auth } from "../models/session";
import { ActionResult, LoadError } from "../components/feedback";

const MONITORS = "/api/admin/monitoring/monitors";
const REALTIME = "/api/admin/monitoring/metrics/realtime";
const HISTORY = "/api/admin/monitoring/metrics/history";
/** The series a monitor's row is made of. */
const RESULT_METRICS = ["probe_up", "probe_latency_ms", "probe_cert_days_left", "heartbeat_ok"];
/** How often the list asks for new results: often enough to see a 5 s monitor's first one arrive. */
const REFRESH_MS = 5_000;
const SPARKLINE_REFRESH_MS = 60_000;

const KIND_LABELS: Record<MonitorKind, string> = {
  http: "HTTP",
  prometheus: "Prometheus scrape",
  heartbeat: "Heartbeat",
};

const STATE_LABELS: Record<MonitorStatus["state"], string> = {
  up: "Up",
  down: "Down",
  paused: "Paused",
  pending: "Waiting for first result",
};
/** The status badge's colours for each state. */
const STATE_BADGE: Record<MonitorStatus["state"], string> = {
  up: "healthy",
  down: "down",
  paused: "unknown",
  pending: "unknown",
};

type View = { kind: "list" } | { kind: "edit"; monitor: Monitor | null } | { kind: "created"; monitor: Monitor };

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Monitors: the list with each one's state, last result, latency over the last hour,
 * certificate days left and next run, refreshed every few seconds; admins create, edit,
 * pause and resume them. A new heartbeat's URL is shown with snippets to paste into the job.
 */
export function MonitorsPage() {
  useTitle("Monitors");
  const me = auth.value.kind === "authenticated" ? auth.value.me : null;
  const mayEdit = me ? canAct(me.role) : false;
  const list = useSignal<Monitor[] | null>(null);
  const samples = useSignal<LatestSample[]>([]);
  const error = useSignal<string | null>(null);
  const view = useSignal<View>({ kind: "list" });
  const actionResult = useSignal<{ ok: boolean; text: string } | null>(null);
  const now = useNow(1_000);

  async function load() {
    try {
      const [monitors, ...latest] = await Promise.all([
        api.get<{ monitors: Monitor[] }>(`${MONITORS}?limit=1000`),
        ...RESULT_METRICS.map((metric) => api.get<{ metrics: LatestSample[] }>(`${REALTIME}?metric=${metric}`)),
      ]);
      list.value = monitors.monitors;
      samples.value = latest.flatMap((l) => l.metrics);
      error.value = null;
    } catch (err) {
      if (!isUnauthorized(err)) error.value = message(err);
    }
  }
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  async function setActive(m: Monitor, active: boolean) {
    actionResult.value = null;
    try {
      await api.request(`${MONITORS}/${m.id}`, { method: "PUT", body: { is_active: active } });
      actionResult.value = { ok: true, text: `${m.name} ${active ? "resumed" : "paused"}.` };
      await load();
    } catch (err) {
      actionResult.value = { ok: false, text: `${m.name} not ${active ? "resumed" : "paused"}: ${message(err)}` };
    }
  }

  const v = view.value;
  if (v.kind === "edit") {
    return (
      <MonitorEditor
        monitor={v.monitor}
        onDone={(saved) => {
          view.value =
            saved && !v.monitor && saved.kind === "heartbeat" ? { kind: "created", monitor: saved } : { kind: "list" };
          void load();
        }}
      />
    );
  }

  const byMonitor = samplesByMonitor(samples.value);
  const monitors = list.value;
  return (
    <>
      <div class="page-head">
        <h1>Monitors</h1>
        <p class="muted">
          HTTP checks and Prometheus scrapes on a schedule, and heartbeats your jobs send.
          {mayEdit ? "" : " Read-only for viewers."}
        </p>
      </div>
      {v.kind === "created" && v.monitor.heartbeat_url && (
        <HeartbeatPanel monitor={v.monitor} onClose={() => (view.value = { kind: "list" })} />
      )}
      {mayEdit && (
        <div class="buttons">
          <button type="button" class="primary" onClick={() => (view.value = { kind: "edit", monitor: null })}>
            New monitor
          </button>
        </div>
      )}
      <LoadError what="the monitors" error={error.value} onRetry={() => void load()} />
      <ActionResult result={actionResult.value} />
      <p class="summary" role="status">
        {monitors === null
          ? error.value
            ? ""
            : "Loading monitors\u2026"
          : monitors.length === 0
            ? "No monitors yet."
            : `${monitors.length} monitor${monitors.length === 1 ? "" : "s"}`}
      </p>
      {monitors !== null && monitors.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="monitors">
            <caption class="visually-hidden">Monitors</caption>
            <thead>
              <tr>
                <th scope="col">Monitor</th>
                <th scope="col">State</th>
                <th scope="col">Last result</th>
                <th scope="col">Latency (1 h)</th>
                <th scope="col">Certificate</th>
                <th scope="col">Next run</th>
                {mayEdit && (
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {monitors.map((m) => {
                const s = monitorStatus(m, byMonitor.get(String(m.id)));
                return (
                  <tr key={m.id} data-monitor={m.id}>
                    <th scope="row">
                      {m.name}
                      <span class="muted monitor-sub">
                        {KIND_LABELS[m.kind]} · {m.service}
                      </span>
                    </th>
                    <td data-label="State">
                      <span class={`badge badge-${STATE_BADGE[s.state]}`} data-state={s.state}>
                        <span class="badge-dot" aria-hidden="true" />
                        {STATE_LABELS[s.state]}
                      </span>
                      {s.reason && <span class="monitor-reason">{s.reason}</span>}
                    </td>
                    <td data-label="Last result">
                      {s.lastAt ? (
                        <time dateTime={s.lastAt} title={s.lastAt}>
                          {formatRelative(s.lastAt, now)}
                        </time>
                      ) : (
                        <span class="muted">none yet</span>
                      )}
                      {s.latencyMs !== null && <span class="muted nowrap"> · {formatLatency(s.latencyMs)}</span>}
                    </td>
                    <td data-label="Latency (1 h)">
                      {m.kind === "heartbeat" ? <span class="muted">{"\u2014"}</span> : <Sparkline monitor={m} />}
                    </td>
                    <td data-label="Certificate">
                      {s.certDaysLeft === null ? (
                        <span class="muted">{"\u2014"}</span>
                      ) : (
                        `${Math.floor(s.certDaysLeft)} days left`
                      )}
                    </td>
                    <td data-label="Next run">{nextRunText(m, s, now)}</td>
                    {mayEdit && (
                      <td class="row-actions">
                        <button
                          type="button"
                          aria-label={`Edit ${m.name}`}
                          onClick={() => (view.value = { kind: "edit", monitor: m })}
                        >
                          Edit
                        </button>
                        <button
                          type="button"
                          aria-label={`${m.is_active ? "Pause" : "Resume"} ${m.name}`}
                          onClick={() => void setActive(m, !m.is_active)}
                        >
                          {m.is_active ? "Pause" : "Resume"}
                        </button>
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function nextRunText(m: Monitor, s: MonitorStatus, now: number): string {
  if (!m.is_active) return "paused";
  if (m.kind === "heartbeat") {
    return m.cron ? `ping on ${m.cron} (${m.timezone ?? "UTC"})` : `ping every ${m.period_seconds ?? "?"} s`;
  }
  if (s.nextAt === null) return "soon";
  // formatRelative says "just now" for the next few seconds, which reads as the past.
  return Date.parse(s.nextAt) - now < 5_000 ? "due now" : formatRelative(s.nextAt, now);
}

const SPARK_W = 120;
const SPARK_H = 28;

/** The last hour's latency as a small line, read once a minute (no chart library: the list stays light). */
function Sparkline({ monitor }: { monitor: Monitor }) {
  const points = useSignal<HistoryPoint[] | null>(null);
  useEffect(() => {
    const labels = encodeURIComponent(JSON.stringify({ monitor: String(monitor.id) }));
    const url = `${HISTORY}?metric=probe_latency_ms&service=${encodeURIComponent(monitor.service)}&period=1h&labels=${labels}`;
    const read = () =>
      api
        .get<{ points: HistoryPoint[] }>(url)
        .then((h) => (points.value = h.points))
        .catch(() => undefined);
    void read();
    const timer = setInterval(read, SPARKLINE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [monitor.id, monitor.service]);
  const line = points.value ? sparklinePoints(points.value, SPARK_W, SPARK_H) : "";
  if (!line) return <span class="muted">{points.value === null ? "" : "not enough data"}</span>;
  const avgs = points.value!.map((p) => p.avg);
  return (
    <svg
      class="sparkline"
      width={SPARK_W}
      height={SPARK_H}
      viewBox={`0 0 ${SPARK_W} ${SPARK_H}`}
      role="img"
      aria-label={`Latency over the last hour: ${formatLatency(Math.min(...avgs))} to ${formatLatency(Math.max(...avgs))}`}
    >
      <polyline points={line} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

/** A heartbeat's URL and the snippets that call it, each with a copy button. */
function HeartbeatPanel({ monitor, onClose }: { monitor: Monitor; onClose?: () => void }) {
  const copied = useSignal<string | null>(null);
  const url = monitor.heartbeat_url ?? "";
  const copy = (id: string, text: string) =>
    void navigator.clipboard?.writeText(text).then(
      () => (copied.value = id),
      () => (copied.value = null),
    );
  return (
    <section class="heartbeat-panel" aria-label="Heartbeat URL">
      <h2>Heartbeat URL of {monitor.name}</h2>
      <p>
        Your job calls this URL when it succeeds (GET or POST; add <code>/fail</code> to report a failure). Keep it
        private: the URL is the credential.
      </p>
      <div class="copy-row">
        <code class="heartbeat-url">{url}</code>
        <button type="button" onClick={() => copy("url", url)}>
          {copied.value === "url" ? "Copied" : "Copy URL"}
        </button>
      </div>
      {heartbeatSnippets(url).map((s) => (
        <div class="snippet" key={s.id}>
          <div class="snippet-head">
            <h3>{s.title}</h3>
            <button type="button" aria-label={`Copy ${s.title}`} onClick={() => copy(s.id, s.text)}>
              {copied.value === s.id ? "Copied" : "Copy"}
            </button>
          </div>
          <pre aria-label={s.title}>
            <code>{s.text}</code>
          </pre>
        </div>
      ))}
      {onClose && (
        <button type="button" onClick={onClose}>
          Done
        </button>
      )}
    </section>
  );
}

/**
 * Creating or editing one monitor. The server validates; its reasons appear beside their
 * fields and what was typed stays. Nothing is saved unless the whole monitor is valid.
 */
function MonitorEditor({ monitor, onDone }: { monitor: Monitor | null; onDone: (saved: Monitor | null) => void }) {
  const form = useSignal<MonitorForm>(monitor ? toForm(monitor) : emptyForm());
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<string | null>(null);
  const busy = useSignal(false);

  async function save(e: Event) {
    e.preventDefault();
    busy.value = true;
    status.value = null;
    errors.value = {};
    try {
      const body = toBody(form.value, monitor ?? undefined);
      const saved = monitor
        ? await api.request<Monitor>(`${MONITORS}/${monitor.id}`, { method: "PUT", body })
        : await api.request<Monitor>(MONITORS, { method: "POST", body });
      onDone(saved);
    } catch (err) {
      errors.value = formErrors(fieldErrors(err));
      status.value = `Not saved: ${err instanceof HttpError ? err.message : String(err)}`;
    } finally {
      busy.value = false;
    }
  }

  const f = form.value;
  return (
    <>
      <div class="page-head">
        <h1>{monitor ? `Edit ${monitor.name}` : "New monitor"}</h1>
      </div>
      <form class="form" onSubmit={(e) => void save(e)} noValidate>
        <fieldset>
          <legend>Monitor</legend>
          <div class="form-grid">
            <TextField form={form} errors={errors} name="name" label="Name" placeholder="Checkout API" />
            <TextField form={form} errors={errors} name="service" label="Service" placeholder="checkout" />
            <label class="field">
              <span>Kind</span>
              <select
                name="kind"
                value={f.kind}
                onChange={(e) => (form.value = { ...f, kind: e.currentTarget.value as MonitorKind })}
              >
                {(Object.keys(KIND_LABELS) as MonitorKind[]).map((k) => (
                  <option key={k} value={k}>
                    {KIND_LABELS[k]}
                  </option>
                ))}
              </select>
              <FieldError errors={errors} name="kind" />
            </label>
            {f.kind !== "heartbeat" && (
              <TextField form={form} errors={errors} name="interval_seconds" label="Interval (s)" inputMode="numeric" />
            )}
          </div>
          <label class="check">
            <input
              type="checkbox"
              checked={f.is_active}
              onChange={(e) => (form.value = { ...f, is_active: e.currentTarget.checked })}
            />
            Active (unchecked: paused)
          </label>
        </fieldset>
        {f.kind !== "heartbeat" && (
          <fieldset>
            <legend>{f.kind === "http" ? "Request" : "Scrape"}</legend>
            <TextField
              form={form}
              errors={errors}
              name="url"
              label="URL"
              type="url"
              placeholder={f.kind === "http" ? "https://api.example.com/healthz" : "https://app.example.com/metrics"}
            />
            <div class="form-grid">
              {f.kind === "http" && (
                <label class="field">
                  <span>Method</span>
                  <select
                    name="method"
                    value={f.method}
                    onChange={(e) => (form.value = { ...f, method: e.currentTarget.value })}
                  >
                    {HTTP_METHODS.map((m) => (
                      <option key={m} value={m}>
                        {m}
                      </option>
                    ))}
                  </select>
                  <FieldError errors={errors} name="method" />
                </label>
              )}
              <TextField
                form={form}
                errors={errors}
                name="timeout_ms"
                label="Timeout (ms)"
                inputMode="numeric"
                placeholder="default"
              />
            </div>
            <TextArea
              form={form}
              errors={errors}
              name="headers"
              label="Headers"
              help="One per line, e.g. Authorization: Bearer …"
            />
            {f.kind === "http" && f.method !== "GET" && f.method !== "HEAD" && (
              <TextArea form={form} errors={errors} name="body" label="Body" />
            )}
            {f.kind === "prometheus" && (
              <TextArea
                form={form}
                errors={errors}
                name="metrics_allowlist"
                label="Metrics to keep"
                help="One metric name per line; empty keeps all."
              />
            )}
            <label class="check">
              <input
                type="checkbox"
                checked={f.follow_redirects}
                onChange={(e) => (form.value = { ...f, follow_redirects: e.currentTarget.checked })}
              />
              Follow redirects
            </label>
          </fieldset>
        )}
        {f.kind === "http" && (
          <fieldset>
            <legend>Healthy answer</legend>
            <div class="form-grid">
              <TextField form={form} errors={errors} name="status" label="Expected status" help="e.g. 200, 204" />
              <TextField form={form} errors={errors} name="keyword_present" label="Body contains" />
              <TextField form={form} errors={errors} name="keyword_absent" label="Body does not contain" />
            </div>
            <div class="form-grid">
              <TextField form={form} errors={errors} name="json_path" label="JSON path" placeholder="$.status" />
              <TextField
                form={form}
                errors={errors}
                name="json_equals"
                label="JSON value equals"
                placeholder='"ok"'
                help="JSON (42, true, null) or plain text"
              />
            </div>
          </fieldset>
        )}
        {f.kind === "heartbeat" && (
          <fieldset>
            <legend>Expected pings</legend>
            <div class="checks radios">
              {(["period", "cron"] as const).map((s) => (
                <label class="check" key={s}>
                  <input
                    type="radio"
                    name="schedule"
                    checked={f.schedule === s}
                    onChange={() => (form.value = { ...f, schedule: s })}
                  />
                  {s === "period" ? "Every N seconds" : "On a cron schedule"}
                </label>
              ))}
            </div>
            <div class="form-grid">
              {f.schedule === "period" ? (
                <TextField form={form} errors={errors} name="period_seconds" label="Period (s)" inputMode="numeric" />
              ) : (
                <>
                  <TextField form={form} errors={errors} name="cron" label="Cron" placeholder="0 3 * * *" />
                  <TextField form={form} errors={errors} name="timezone" label="Time zone" placeholder="UTC" />
                </>
              )}
              <TextField form={form} errors={errors} name="grace_seconds" label="Grace (s)" inputMode="numeric" />
            </div>
          </fieldset>
        )}
        {monitor?.kind === "heartbeat" && f.kind === "heartbeat" && <HeartbeatPanel monitor={monitor} />}
        <FieldError errors={errors} name="" />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy.value}>
            {busy.value ? "Saving…" : monitor ? "Save" : "Create monitor"}
          </button>
          <button type="button" disabled={busy.value} onClick={() => onDone(null)}>
            Cancel
          </button>
        </div>
        {status.value && (
          <p class="action-result error" role="alert">
            {status.value}
          </p>
        )}
      </form>
    </>
  );
}

interface FieldProps {
  form: Signal<MonitorForm>;
  errors: Signal<Record<string, string>>;
  name: keyof MonitorForm & string;
  label: string;
  help?: string;
  placeholder?: string;
}

function FieldError({ errors, name }: { errors: Signal<Record<string, string>>; name: string }) {
  const reason = errors.value[name];
  return reason ? (
    <span class="field-error" id={`${name || "form"}-error`}>
      {reason}
    </span>
  ) : null;
}

const described = (errors: Record<string, string>, name: string) =>
  errors[name] ? { "aria-invalid": true, "aria-describedby": `${name}-error` } : {};

function TextField({
  form,
  errors,
  name,
  label,
  help,
  placeholder,
  type = "text",
  inputMode,
}: FieldProps & { type?: string; inputMode?: "numeric" }) {
  return (
    <label class="field">
      <span>{label}</span>
      <input
        name={name}
        type={type}
        inputMode={inputMode}
        value={String(form.value[name])}
        placeholder={placeholder}
        onInput={(e) => (form.value = { ...form.value, [name]: e.currentTarget.value })}
        {...described(errors.value, name)}
      />
      {help && <span class="help muted">{help}</span>}
      <FieldError errors={errors} name={name} />
    </label>
  );
}

function TextArea({ form, errors, name, label, help, placeholder }: FieldProps) {
  return (
    <label class="field">
      <span>{label}</span>
      <textarea
        name={name}
        rows={3}
        value={String(form.value[name])}
        placeholder={placeholder}
        onInput={(e) => (form.value = { ...form.value, [name]: e.currentTarget.value })}
        {...described(errors.value, name)}
      />
      {help && <span class="help muted">{help}</span>}
      <FieldError errors={errors} name={name} />
    </label>
  );
}

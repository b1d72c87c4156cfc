import { useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { Field, fieldAria } from "../components/field";
import { useTitle } from "../components/hooks";
import { BacktestView, type DryRun, DryRunResult } from "../components/rule-results";
import { canAct } from "../lib/alerts";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import {
  AGGREGATIONS,
  ANOMALY_DIRECTIONS,
  ANOMALY_METHODS,
  type BacktestResult,
  emptyRuleForm,
  formToBody,
  hasThreshold,
  OPERATORS,
  paramFields,
  RULE_CHANNELS,
  RULE_KINDS,
  RULE_SEVERITIES,
  SENSITIVITIES,
  type RuleForm,
  type RuleKind,
  ruleToForm,
  type WireRule,
  ZSCORE_DEFAULT_THRESHOLD,
} from "../lib/rules";
import { api, auth } from "../models/session";
import { ActionResult, LoadError } from "../components/feedback";

const RULES = "/api/admin/monitoring/rules";
const CHANNEL_LABELS: Record<(typeof RULE_CHANNELS)[number], string> = {
  email: "Email",
  sms: "SMS",
  slack: "Slack",
  webhook: "Webhook",
  pagerduty: "PagerDuty",
};

const KIND_HELP: Record<RuleKind, string> = {
  threshold: "A value (or an aggregate over a window) compared with a threshold.",
  ratio: "100 × metric ÷ denominator summed over a window, in percent: e.g. failed payments of all payments.",
  absence: "Fires when a series has sent nothing for a while.",
  heartbeat: "Fires when a heartbeat monitor is late or its job failed.",
  anomaly:
    "Fires when a series does something unusual for it: the series' anomaly detector (which learns its level, noise and daily shape) or a robust z-score over a window.",
};

/** Choices of an anomaly rule, as the form shows them. */
const METHOD_LABELS: Record<(typeof ANOMALY_METHODS)[number], string> = {
  detector: "Detector",
  zscore: "Robust z-score",
};
const SENSITIVITY_LABELS: Record<(typeof SENSITIVITIES)[number], string> = {
  low: "Low",
  medium: "Medium",
  high: "High",
};
const SENSITIVITY_HELP: Record<string, string> = {
  low: "Low: only strong anomalies",
  medium: "Medium: clear anomalies",
  high: "High: also mild anomalies (more alerts)",
};
const DIRECTION_LABELS: Record<(typeof ANOMALY_DIRECTIONS)[number], string> = {
  up: "Up (above normal)",
  down: "Down (below normal)",
  both: "Both",
};

/**
 * Create or edit an alert rule. The kind decides which fields show; the server validates
 * and its reasons appear beside their fields with the input kept. Test dry-runs the rule as
 * written on the latest data; Backtest replays it over the stored last 24 h or 7 days; both
 * work before saving. Saving is one request: it either saves all or nothing.
 */
export function RuleEditPage() {
  const { params } = useRoute();
  const { route } = useLocation();
  const id = params.id === "new" || !params.id ? null : Number(params.id);
  useTitle(id === null ? "New rule" : "Edit rule");
  const form = useSignal<RuleForm | null>(id === null ? emptyRuleForm() : null);
  const loadError = useSignal<string | null>(null);
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<{ ok: boolean; text: string } | null>(null);
  const busy = useSignal<"save" | "test" | "backtest" | null>(null);
  const dryRun = useSignal<DryRun | null>(null);
  const backtest = useSignal<BacktestResult | null>(null);
  const period = useSignal<"24h" | "7d">("7d");
  const policies = useSignal<{ id: number; name: string }[]>([]);
  const session = auth.value;
  const mayEdit = session.kind === "authenticated" && canAct(session.me.role);

  useEffect(() => {
    void (async () => {
      try {
        const list = await api.get<{ "escalation-policies"?: { id: number; name: string }[] }>(
          "/api/admin/monitoring/escalation-policies?limit=100",
        );
        policies.value = list["escalation-policies"] ?? [];
      } catch {
        // The select then offers "none" only; the rule's own id is kept below.
      }
      if (id === null) return;
      try {
        form.value = ruleToForm(await api.get<WireRule>(`${RULES}/${id}`));
      } catch (err) {
        if (!isUnauthorized(err)) loadError.value = err instanceof Error ? err.message : String(err);
      }
    })();
  }, [id]);

  const set = <K extends keyof RuleForm>(key: K, value: RuleForm[K]) => {
    if (form.value) form.value = { ...form.value, [key]: value };
  };

  async function run(what: "save" | "test" | "backtest") {
    const f = form.value;
    if (!f) return;
    busy.value = what;
    status.value = null;
    errors.value = {};
    const body = formToBody(f);
    try {
      if (what === "test") {
        dryRun.value = await api.request<DryRun>(`${RULES}/test`, { method: "POST", body });
      } else if (what === "backtest") {
        backtest.value = await api.request<BacktestResult>(`${RULES}/backtest`, {
          method: "POST",
          body: { ...body, period: period.value },
        });
      } else {
        const saved = await api.request<WireRule>(id === null ? RULES : `${RULES}/${id}`, {
          method: id === null ? "POST" : "PUT",
          body,
        });
        route(`/rules?saved=${saved.id}`);
        return;
      }
    } catch (err) {
      errors.value = fieldErrors(err);
      const message = err instanceof HttpError ? err.message : String(err);
      const verb = what === "save" ? "Not saved" : what === "test" ? "Not tested" : "Not backtested";
      status.value = { ok: false, text: `${verb}: ${message}` };
    } finally {
      busy.value = null;
    }
  }

  const f = form.value;
  const err = errors.value;
  /** A labelled field, its help and the server's reason for it below (the help and reason describe the input). */
  const field = (
    name: string,
    label: string,
    input: (a: Record<string, unknown>) => ComponentChildren,
    help?: string,
  ) => {
    const inputId = `rule-${name.replace(/\./g, "-")}`;
    return (
      <Field key={name} id={inputId} label={label} error={err[name]} help={help}>
        {input({ id: inputId, name, disabled: !mayEdit, ...fieldAria(inputId, err[name], help) })}
      </Field>
    );
  };
  const text = (key: keyof RuleForm, label: string, opts: { type?: string; help?: string; apiName?: string } = {}) =>
    field(
      opts.apiName ?? key,
      label,
      (a) => (
        <input
          {...a}
          type={opts.type ?? "text"}
          inputMode={opts.type === "number" ? "decimal" : undefined}
          value={f ? (f[key] as string) : ""}
          onInput={(e) => set(key, e.currentTarget.value as never)}
        />
      ),
      opts.help,
    );
  const select = (
    key: keyof RuleForm,
    label: string,
    options: readonly string[],
    apiName?: string,
    opts: { labels?: Record<string, string>; help?: string } = {},
  ) =>
    field(
      apiName ?? key,
      label,
      (a) => (
        <select {...a} value={f ? (f[key] as string) : ""} onChange={(e) => set(key, e.currentTarget.value as never)}>
          {options.map((o) => (
            <option key={o} value={o}>
              {opts.labels?.[o] ?? o}
            </option>
          ))}
        </select>
      ),
      opts.help,
    );
  /** One parameter field of the rule's kind (and, for an anomaly rule, of its method). */
  const param = (key: keyof RuleForm) => {
    if (!f) return null;
    switch (key) {
      case "aggregation":
        return select("aggregation", "Aggregation", AGGREGATIONS, "params.aggregation");
      case "method":
        return select("method", "Method", ANOMALY_METHODS, "params.method", {
          labels: METHOD_LABELS,
          help:
            f.method === "zscore"
              ? "The newest value against the window's median and spread"
              : "Scores every sample against what the series usually does",
        });
      case "sensitivity":
        return select("sensitivity", "Sensitivity", SENSITIVITIES, "params.sensitivity", {
          labels: SENSITIVITY_LABELS,
          help: SENSITIVITY_HELP[f.sensitivity],
        });
      case "direction":
        return f.kind === "anomaly"
          ? select("direction", "Direction", ANOMALY_DIRECTIONS, "params.direction", { labels: DIRECTION_LABELS })
          : select("direction", "Direction", ["both", "up", "down"], "params.direction");
      case "denominator_metric":
        return text("denominator_metric", "Denominator metric", { apiName: "params.denominator_metric" });
      default:
        return text(key, PARAM_LABELS[key] ?? key, { type: "number", apiName: `params.${key}`, help: PARAM_HELP[key] });
    }
  };
  const compares = f ? hasThreshold(f.kind, f.method) : false;

  return (
    <>
      <div class="page-head">
        <h1>{id === null ? "New rule" : "Edit rule"}</h1>
        <a href="/rules">Back to rules</a>
      </div>
      <LoadError what="the rule" error={loadError.value} />
      {!f && !loadError.value && <p role="status">Loading the rule…</p>}
      {f && (
        <form
          class="form rule-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void run("save");
          }}
        >
          <fieldset disabled={!mayEdit}>
            <legend>What it watches</legend>
            {text("rule_name", "Name")}
            {field(
              "kind",
              "Kind",
              (a) => (
                <select {...a} value={f.kind} onChange={(e) => set("kind", e.currentTarget.value as RuleKind)}>
                  {RULE_KINDS.map((k) => (
                    <option key={k} value={k}>
                      {k}
                    </option>
                  ))}
                </select>
              ),
              KIND_HELP[f.kind],
            )}
            <div class="form-grid">
              {f.kind !== "heartbeat" && text("metric_name", f.kind === "ratio" ? "Metric (numerator)" : "Metric")}
              {text("service", "Service", { help: "Empty: every service" })}
              {text("labels", "Labels", { help: "name=value, comma separated" })}
            </div>
            <div class="form-grid">{paramFields(f).map(param)}</div>
          </fieldset>
          <fieldset disabled={!mayEdit}>
            <legend>When it fires</legend>
            <div class="form-grid">
              {compares && select("comparison_operator", "Operator", OPERATORS)}
              {compares &&
                text(
                  "threshold_value",
                  f.kind === "ratio" ? "Threshold (%)" : f.kind === "anomaly" ? "z-score" : "Threshold",
                  {
                    type: "number",
                    help:
                      f.kind === "anomaly"
                        ? `On |z| in the rule's direction; empty: ${ZSCORE_DEFAULT_THRESHOLD}`
                        : undefined,
                  },
                )}
              {text("for_seconds", f.kind === "anomaly" ? "Minimum duration (s)" : "For (s)", {
                type: "number",
                help: f.kind === "anomaly" ? "How long the anomaly must last first" : "How long it must hold first",
              })}
              {text("resolve_for_seconds", "Clear for (s)", {
                type: "number",
                help: "How long clear before resolving",
              })}
              {compares &&
                text("resolve_threshold_value", "Resolve across", {
                  type: "number",
                  help: "Hysteresis; empty: the threshold",
                })}
            </div>
            {field(
              "description",
              "Message",
              (a) => (
                <textarea
                  {...a}
                  rows={2}
                  value={f.description}
                  onInput={(e) => set("description", e.currentTarget.value)}
                />
              ),
              "Leads the alert's message; {{value}}, {{duration}} and {{labels.NAME}} are filled in",
            )}
          </fieldset>
          <fieldset disabled={!mayEdit}>
            <legend>Who hears of it</legend>
            <div class="form-grid">
              {select("severity", "Severity", RULE_SEVERITIES)}
              {field("escalation_policy_id", "Escalation policy", (a) => (
                <select
                  {...a}
                  value={f.escalation_policy_id}
                  onChange={(e) => set("escalation_policy_id", e.currentTarget.value)}
                >
                  <option value="">none: every admin and owner</option>
                  {policies.value.map((p) => (
                    <option key={p.id} value={String(p.id)}>
                      {p.name}
                    </option>
                  ))}
                  {f.escalation_policy_id && !policies.value.some((p) => String(p.id) === f.escalation_policy_id) && (
                    <option value={f.escalation_policy_id}>policy {f.escalation_policy_id}</option>
                  )}
                </select>
              ))}
              {text("cooldown_minutes", "Cooldown (min)", { type: "number" })}
              {text("max_alerts_per_hour", "At most per hour", { type: "number" })}
              {text("depends_on", "Depends on services", {
                help: "Comma separated; their outage holds this rule's alerts",
              })}
            </div>
            <div class="checks" role="group" aria-label="Channels">
              {RULE_CHANNELS.map((c) => (
                <label class="check" key={c}>
                  <input
                    type="checkbox"
                    checked={f.notification_channels.includes(c)}
                    onChange={(e) =>
                      set(
                        "notification_channels",
                        e.currentTarget.checked
                          ? RULE_CHANNELS.filter((x) => x === c || f.notification_channels.includes(x))
                          : f.notification_channels.filter((x) => x !== c),
                      )
                    }
                  />
                  {CHANNEL_LABELS[c]}
                </label>
              ))}
            </div>
            {err.notification_channels && (
              <span class="field-error" id="notification_channels-error">
                {err.notification_channels}
              </span>
            )}
            <label class="check">
              <input
                type="checkbox"
                checked={f.is_active}
                onChange={(e) => set("is_active", e.currentTarget.checked)}
              />
              Enabled
            </label>
          </fieldset>
          {err[""] && <span class="field-error">{err[""]}</span>}
          <div class="buttons">
            {mayEdit && (
              <button type="submit" class="primary" disabled={busy.value !== null}>
                {busy.value === "save" ? "Saving…" : "Save"}
              </button>
            )}
            <button type="button" disabled={busy.value !== null} onClick={() => void run("test")}>
              {busy.value === "test" ? "Testing…" : "Test"}
            </button>
            <label class="inline-select">
              <span class="visually-hidden">Backtest period</span>
              <select value={period.value} onChange={(e) => (period.value = e.currentTarget.value as "24h" | "7d")}>
                <option value="7d">7 days</option>
                <option value="24h">24 hours</option>
              </select>
            </label>
            <button type="button" disabled={busy.value !== null} onClick={() => void run("backtest")}>
              {busy.value === "backtest" ? "Backtesting…" : "Backtest"}
            </button>
          </div>
          <ActionResult result={status.value} />
        </form>
      )}
      {dryRun.value && (
        <section class="panel" aria-label="Test result">
          <h2>Test: on the latest data</h2>
          <DryRunResult run={dryRun.value} />
        </section>
      )}
      {backtest.value && (
        <section class="panel" aria-label="Backtest result">
          <h2>Backtest: the last {backtest.value.period === "7d" ? "7 days" : "24 hours"}</h2>
          <BacktestView result={backtest.value} />
        </section>
      )}
    </>
  );
}

const PARAM_LABELS: Partial<Record<keyof RuleForm, string>> = {
  window_seconds: "Window (s)",
  min_denominator: "Least denominator",
  absent_for_seconds: "Absent for (s)",
  monitor_id: "Heartbeat monitor id",
  min_samples: "Least samples",
};

const PARAM_HELP: Partial<Record<keyof RuleForm, string>> = {
  window_seconds: "Empty: the kind's default (z-score: 6 h)",
  min_denominator: "Below it the ratio is not judged",
  monitor_id: "Empty: every heartbeat monitor of the service",
};

import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useLocation } from "preact-iso";
import { CHANNELS } from "../../../worker/core/notify/channels";
import { fieldErrorHelpers } from "../components/field-errors";
import { useTitle } from "../components/hooks";
import { canAct } from "../lib/alerts";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import {
  newPolicyForm,
  newStep,
  type Policy,
  type PolicyForm,
  policyToForm,
  rulesByPolicy,
  type StepForm,
  stepText,
  toPolicyBody,
} from "../lib/silences";
import type { Role } from "../lib/types";
import { api, auth } from "../models/session";
import { LoadError } from "../components/feedback";

const POLICIES = "/api/admin/monitoring/escalation-policies";
const ROLES: readonly Role[] = ["viewer", "admin", "owner"];

interface User {
  id: number;
  name: string;
  email: string;
  role: Role;
}

interface RuleRef {
  id: number;
  rule_name: string;
  escalation_policy_id: number | null;
}

/** `xs` with `x` in it (at the end) or not. */
const toggle = <T,>(xs: readonly T[], x: T, on: boolean) =>
  on ? [...xs.filter((y) => y !== x), x] : xs.filter((y) => y !== x);

function useMe() {
  const session = auth.value;
  return session.kind === "authenticated" ? session.me : null;
}

/** The admins by id, for naming targets; only owners may list them, so for others this stays empty. */
async function loadUsers(): Promise<User[]> {
  try {
    return (await api.get<{ users: User[] }>("/api/admin/users?limit=1000")).users;
  } catch (err) {
    if (err instanceof HttpError && err.status !== 401) return [];
    throw err;
  }
}

const userName = (users: readonly User[]) => (id: number) => {
  const u = users.find((x) => x.id === id);
  return u ? u.name || u.email : `admin #${id}`;
};

/** Escalation policies: their steps in order, repeats, reminders and acknowledgement timeout, and the rules using each. */
export function EscalationPage() {
  useTitle("Escalation policies");
  const me = useMe();
  const mayEdit = me ? canAct(me.role) : false;
  const policies = useSignal<Policy[] | null>(null);
  const usedBy = useSignal<Map<number, string[]>>(new Map());
  const users = useSignal<User[]>([]);
  const error = useSignal<string | null>(null);

  async function load() {
    error.value = null;
    try {
      const [page, rules, admins] = await Promise.all([
        api.get<{ "escalation-policies": Policy[] }>(`${POLICIES}?limit=1000`),
        api.get<{ rules: RuleRef[] }>("/api/admin/monitoring/rules?limit=1000"),
        loadUsers(),
      ]);
      policies.value = page["escalation-policies"];
      usedBy.value = rulesByPolicy(rules.rules);
      users.value = admins;
    } catch (err) {
      if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => void load(), []);

  const list = policies.value;
  const nameOf = userName(users.value);
  return (
    <>
      <div class="page-head">
        <h1>Escalation policies</h1>
        {mayEdit && (
          <a class="button primary" href="/escalation/new">
            New policy
          </a>
        )}
      </div>
      <p class="muted">
        Who is notified, on which channels, as an alert stays unacknowledged. A rule names its policy; a rule without
        one notifies every admin on its own channels.
      </p>
      <LoadError what="the escalation policies" error={error.value} onRetry={() => void load()} />
      <p class="summary" role="status">
        {list === null
          ? error.value
            ? ""
            : "Loading escalation policies\u2026"
          : list.length === 0
            ? "No escalation policies yet."
            : `${list.length} polic${list.length === 1 ? "y" : "ies"}`}
      </p>
      {list !== null && list.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table class="policies">
            <caption class="visually-hidden">Escalation policies</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Steps</th>
                <th scope="col">Repeats</th>
                <th scope="col">Reminders</th>
                <th scope="col">Ack timeout</th>
                <th scope="col">Used by rules</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id} data-policy={p.id}>
                  <th scope="row">
                    <a href={`/escalation/${p.id}`}>{p.name}</a>
                  </th>
                  <td data-label="Steps">
                    <ol class="steps">
                      {p.steps.map((s, i) => (
                        <li key={i}>{stepText(s, nameOf)}</li>
                      ))}
                    </ol>
                  </td>
                  <td data-label="Repeats">{p.repeat_count === 0 ? "none" : `${p.repeat_count}\u00d7`}</td>
                  <td data-label="Reminders">
                    {p.repeat_interval_minutes === null ? "none" : `every ${p.repeat_interval_minutes} min`}
                  </td>
                  <td data-label="Ack timeout">
                    {p.ack_timeout_minutes === null ? "never" : `${p.ack_timeout_minutes} min`}
                  </td>
                  <td data-label="Used by rules" data-used-by>
                    {(usedBy.value.get(p.id) ?? []).join(", ") || <span class="muted">no rule</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/**
 * One policy's form, new (`/escalation/new`) or existing (`/escalation/12`): read-only for
 * viewers. The server validates; its reasons show beside their fields and the input is kept.
 */
export function EscalationFormPage({ id }: { id: string }) {
  const isNew = id === "new";
  useTitle(isNew ? "New escalation policy" : `Escalation policy ${id}`);
  const me = useMe();
  const { route } = useLocation();
  const mayEdit = me ? canAct(me.role) : false;
  const form = useSignal<PolicyForm | null>(isNew ? newPolicyForm() : null);
  const users = useSignal<User[]>([]);
  const usedBy = useSignal<string[]>([]);
  const loadError = useSignal<string | null>(null);
  const errors = useSignal<Record<string, string>>({});
  const status = useSignal<string | null>(null);
  const saving = useSignal(false);

  async function load() {
    loadError.value = null;
    try {
      const [policy, admins, rules] = await Promise.all([
        isNew ? Promise.resolve(null) : api.get<Policy>(`${POLICIES}/${encodeURIComponent(id)}`),
        loadUsers(),
        isNew ? Promise.resolve(null) : api.get<{ rules: RuleRef[] }>("/api/admin/monitoring/rules?limit=1000"),
      ]);
      if (policy) form.value = policyToForm(policy);
      if (rules) usedBy.value = rulesByPolicy(rules.rules).get(Number(id)) ?? [];
      users.value = admins.filter((u) => u.role !== "viewer");
    } catch (err) {
      if (!isUnauthorized(err)) loadError.value = err instanceof Error ? err.message : String(err);
    }
  }
  useEffect(() => void load(), [id]);

  const set = <K extends keyof PolicyForm>(key: K, value: PolicyForm[K]) => {
    if (form.value) form.value = { ...form.value, [key]: value };
  };
  const setStep = (i: number, patch: Partial<StepForm>) =>
    form.value &&
    set(
      "steps",
      form.value.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)),
    );

  async function save(e: Event) {
    e.preventDefault();
    if (!form.value) return;
    saving.value = true;
    status.value = null;
    errors.value = {};
    try {
      const saved = await api.request<Policy>(isNew ? POLICIES : `${POLICIES}/${id}`, {
        method: isNew ? "POST" : "PUT",
        body: toPolicyBody(form.value),
      });
      route(isNew ? `/escalation/${saved.id}` : "/escalation");
    } catch (err) {
      errors.value = fieldErrors(err);
      status.value = `Not saved: ${err instanceof HttpError ? err.message : String(err)}`;
    } finally {
      saving.value = false;
    }
  }

  const { error, described } = fieldErrorHelpers(errors.value);
  const f = form.value;
  return (
    <>
      <div class="page-head">
        <p class="muted">
          <a href="/escalation">Escalation policies</a> / {isNew ? "new" : `#${id}`}
        </p>
        <h1>{isNew ? "New escalation policy" : f ? f.name || `Policy #${id}` : `Policy #${id}`}</h1>
      </div>
      <LoadError what="the policy" error={loadError.value} onRetry={() => void load()} />
      {!f && !loadError.value && <p role="status">Loading{"\u2026"}</p>}
      {!isNew && f && (
        <p data-used-by>
          Used by rules: {usedBy.value.length ? usedBy.value.join(", ") : <span class="muted">none yet</span>}
        </p>
      )}
      {f && (
        <form class="form" onSubmit={(e) => void save(e)} noValidate>
          <fieldset disabled={!mayEdit} class="bare">
            <fieldset>
              <legend>Policy</legend>
              <label class="field">
                <span>Name</span>
                <input value={f.name} onInput={(e) => set("name", e.currentTarget.value)} {...described("name")} />
                {error("name")}
              </label>
              <label class="field">
                <span>Description</span>
                <input
                  value={f.description}
                  onInput={(e) => set("description", e.currentTarget.value)}
                  {...described("description")}
                />
                {error("description")}
              </label>
            </fieldset>
            {f.steps.map((s, i) => (
              <fieldset key={i} data-step={i}>
                <legend>Step {i + 1}</legend>
                <div class="form-grid">
                  <label class="field">
                    <span>After (minutes)</span>
                    <input
                      type="number"
                      min={0}
                      value={s.after_minutes}
                      aria-label={`Step ${i + 1} after (minutes)`}
                      onInput={(e) => setStep(i, { after_minutes: e.currentTarget.value })}
                      {...described(`steps.${i}.after_minutes`)}
                    />
                    {error(`steps.${i}.after_minutes`)}
                  </label>
                </div>
                <div class="checks" role="group" aria-label={`Step ${i + 1} channels`}>
                  {CHANNELS.map((c) => (
                    <label class="check" key={c}>
                      <input
                        type="checkbox"
                        checked={s.channels.includes(c)}
                        onChange={(e) => setStep(i, { channels: toggle(s.channels, c, e.currentTarget.checked) })}
                      />
                      {c}
                    </label>
                  ))}
                </div>
                {error(`steps.${i}.channels`)}
                <div class="checks" role="group" aria-label={`Step ${i + 1} roles`}>
                  {ROLES.map((r) => (
                    <label class="check" key={r}>
                      <input
                        type="checkbox"
                        checked={s.roles.includes(r)}
                        onChange={(e) => setStep(i, { roles: toggle(s.roles, r, e.currentTarget.checked) })}
                      />
                      every {r}
                    </label>
                  ))}
                </div>
                {users.value.length > 0 && (
                  <div class="checks admins" role="group" aria-label={`Step ${i + 1} admins`}>
                    {users.value.map((u) => (
                      <label class="check" key={u.id}>
                        <input
                          type="checkbox"
                          checked={s.admin_ids.includes(u.id)}
                          onChange={(e) =>
                            setStep(i, { admin_ids: toggle(s.admin_ids, u.id, e.currentTarget.checked) })
                          }
                        />
                        {u.name || u.email}
                      </label>
                    ))}
                  </div>
                )}
                {s.admin_ids.length > 0 && users.value.length === 0 && (
                  <p class="muted help">Also admins {s.admin_ids.map((x) => `#${x}`).join(", ")}.</p>
                )}
                {error(`steps.${i}.targets`)}
                {Object.entries(errors.value)
                  .filter(([k]) => k.startsWith(`steps.${i}.targets.admin_ids`))
                  .map(([k, v]) => (
                    <span class="field-error" key={k}>
                      {v}
                    </span>
                  ))}
                <div class="buttons">
                  <button
                    type="button"
                    disabled={f.steps.length === 1}
                    onClick={() =>
                      set(
                        "steps",
                        f.steps.filter((_, j) => j !== i),
                      )
                    }
                  >
                    Remove step {i + 1}
                  </button>
                </div>
              </fieldset>
            ))}
            {error("steps")}
            <div class="buttons">
              <button
                type="button"
                disabled={f.steps.length >= 10}
                onClick={() => {
                  const last = Number(f.steps.at(-1)?.after_minutes);
                  set("steps", [...f.steps, newStep(Number.isFinite(last) ? last + 15 : 0)]);
                }}
              >
                Add step
              </button>
            </div>
            <fieldset>
              <legend>Repeats, reminders and acknowledgement</legend>
              <div class="form-grid">
                <label class="field">
                  <span>Repeat the steps (times)</span>
                  <input
                    type="number"
                    min={0}
                    value={f.repeat_count}
                    onInput={(e) => set("repeat_count", e.currentTarget.value)}
                    {...described("repeat_count")}
                  />
                  {error("repeat_count")}
                </label>
                <label class="field">
                  <span>Remind every (minutes)</span>
                  <input
                    type="number"
                    min={1}
                    value={f.repeat_interval_minutes}
                    placeholder="no reminders"
                    onInput={(e) => set("repeat_interval_minutes", e.currentTarget.value)}
                    {...described("repeat_interval_minutes")}
                  />
                  {error("repeat_interval_minutes")}
                </label>
                <label class="field">
                  <span>Acknowledgement timeout (minutes)</span>
                  <input
                    type="number"
                    min={1}
                    value={f.ack_timeout_minutes}
                    placeholder="never"
                    onInput={(e) => set("ack_timeout_minutes", e.currentTarget.value)}
                    {...described("ack_timeout_minutes")}
                  />
                  {error("ack_timeout_minutes")}
                </label>
              </div>
              <p class="muted help">
                Reminders go out while an alert stays unacknowledged. An acknowledged alert still unresolved after the
                timeout escalates again. Leave either empty for none.
              </p>
            </fieldset>
            {error("")}
            {mayEdit && (
              <div class="buttons">
                <button type="submit" class="primary" disabled={saving.value}>
                  {saving.value ? "Saving\u2026" : "Save policy"}
                </button>
              </div>
            )}
          </fieldset>
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

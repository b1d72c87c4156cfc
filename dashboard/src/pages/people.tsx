import { type Signal, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { ActionResult, type Outcome } from "../components/feedback";
import { Field, fieldAria } from "../components/field";
import { useTitle } from "../components/hooks";
import { fieldErrors, HttpError, isUnauthorized } from "../lib/api";
import { formatRelative } from "../lib/format";
import { api, auth } from "../models/session";

const USERS = "/api/admin/users";
const KEYS = "/api/admin/monitoring/keys";
const ROLES = ["viewer", "admin", "owner"] as const;

interface User {
  id: number;
  email: string;
  name: string;
  role: string;
}

interface Token {
  id: number;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

interface Key {
  id: number;
  name: string;
  scope: string;
  prefix: string;
  rate_limit_per_minute: number | null;
  created_at: string;
  last_used_at: string | null;
}

type OutcomeSignal = Signal<Outcome | null>;

const message = (err: unknown) => (err instanceof HttpError ? err.message : String(err));

/** "2 min ago", or "never" for a key or token not used yet. */
const lastUse = (iso: string | null) => formatRelative(iso, Date.now());

/** A secret the server shows once: with a copy button and a plain warning. */
function ShownOnce({ label, secret }: { label: string; secret: string }) {
  return (
    <div class="shown-once" role="status">
      <p>
        <strong>{label}</strong>: copy it now, it is not shown again.
      </p>
      <code>{secret}</code>{" "}
      <button type="button" onClick={() => void navigator.clipboard?.writeText(secret)}>
        Copy
      </button>
    </div>
  );
}

/** One admin's API tokens: list, issue (shown once), revoke. */
function Tokens({ user }: { user: User }) {
  const tokens = useSignal<Token[] | null>(null);
  const name = useSignal("");
  const secret = useSignal<string | null>(null);
  const outcome: OutcomeSignal = useSignal(null);
  const load = async () => {
    try {
      tokens.value = (await api.get<{ tokens: Token[] }>(`${USERS}/${user.id}/tokens`)).tokens;
    } catch (err) {
      if (!isUnauthorized(err)) outcome.value = { ok: false, text: `Tokens not loaded: ${message(err)}` };
    }
  };
  useEffect(() => void load(), [user.id]);
  async function issue(e: Event) {
    e.preventDefault();
    outcome.value = null;
    try {
      const made = await api.request<{ token: string }>(`${USERS}/${user.id}/tokens`, {
        method: "POST",
        body: { name: name.value.trim() },
      });
      secret.value = made.token;
      name.value = "";
      await load();
    } catch (err) {
      outcome.value = { ok: false, text: `Token not created: ${message(err)}` };
    }
  }
  async function revoke(t: Token) {
    outcome.value = null;
    try {
      await api.request(`${USERS}/${user.id}/tokens/${t.id}`, { method: "DELETE" });
      outcome.value = { ok: true, text: `Token ${t.name} revoked.` };
      await load();
    } catch (err) {
      outcome.value = { ok: false, text: `Not revoked: ${message(err)}` };
    }
  }
  return (
    <div class="tokens">
      {tokens.value && tokens.value.length > 0 && (
        <ul aria-label={`Tokens of ${user.email}`}>
          {tokens.value.map((t) => (
            <li key={t.id}>
              <code>{t.prefix}…</code> {t.name}{" "}
              <span class="muted">
                used {lastUse(t.last_used_at)}
                {t.revoked_at ? ", revoked" : ""}
              </span>{" "}
              {!t.revoked_at && (
                <button
                  type="button"
                  aria-label={`Revoke token ${t.name} of ${user.email}`}
                  onClick={() => void revoke(t)}
                >
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={(e) => void issue(e)}>
        <label>
          <span class="visually-hidden">New token name for {user.email}</span>
          <input
            placeholder="Token name"
            value={name.value}
            onInput={(e) => (name.value = e.currentTarget.value)}
            aria-label={`New token name for ${user.email}`}
          />
        </label>
        <button type="submit">New token</button>
      </form>
      {secret.value && <ShownOnce label={`New token for ${user.email}`} secret={secret.value} />}
      <ActionResult result={outcome.value} />
    </div>
  );
}

/** The admins: role changes, new admins, and each one's tokens. */
function People() {
  const users = useSignal<User[] | null>(null);
  const draft = useSignal({ email: "", name: "", role: "viewer" });
  const errors = useSignal<Record<string, string>>({});
  const outcome: OutcomeSignal = useSignal(null);
  const load = async () => {
    try {
      users.value = (await api.get<{ users: User[] }>(`${USERS}?limit=500`)).users;
    } catch (err) {
      if (!isUnauthorized(err)) outcome.value = { ok: false, text: `Could not load the admins: ${message(err)}` };
    }
  };
  useEffect(() => void load(), []);
  async function setRole(u: User, role: string) {
    outcome.value = null;
    try {
      await api.request(`${USERS}/${u.id}`, { method: "PUT", body: { role } });
      outcome.value = { ok: true, text: `${u.email} is now ${role}.` };
    } catch (err) {
      outcome.value = { ok: false, text: `Role not changed: ${message(err)}` };
    }
    await load();
  }
  async function add(e: Event) {
    e.preventDefault();
    errors.value = {};
    outcome.value = null;
    try {
      const made = await api.request<User>(USERS, { method: "POST", body: draft.value });
      outcome.value = { ok: true, text: `${made.email} added as ${made.role}.` };
      draft.value = { email: "", name: "", role: "viewer" };
      await load();
    } catch (err) {
      errors.value = fieldErrors(err);
      outcome.value = { ok: false, text: `Not added: ${message(err)}` };
    }
  }
  const err = errors.value;
  return (
    <section aria-labelledby="people-heading">
      <h2 id="people-heading">People</h2>
      <ActionResult result={outcome.value} />
      {users.value && (
        <div class="table-wrap stack-on-phone">
          <table>
            <caption class="visually-hidden">Admins</caption>
            <thead>
              <tr>
                <th scope="col">Admin</th>
                <th scope="col">Role</th>
                <th scope="col">API tokens</th>
              </tr>
            </thead>
            <tbody>
              {users.value.map((u) => (
                <tr key={u.id}>
                  <th scope="row">
                    {u.name || u.email}
                    {u.name && <div class="muted">{u.email}</div>}
                  </th>
                  <td data-label="Role">
                    <select
                      aria-label={`Role of ${u.email}`}
                      value={u.role}
                      onChange={(e) => void setRole(u, e.currentTarget.value)}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td data-label="API tokens">
                    <Tokens user={u} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="form" onSubmit={(e) => void add(e)} noValidate>
        <fieldset>
          <legend>Add an admin</legend>
          <div class="form-grid">
            {(["email", "name"] as const).map((f) => (
              <Field key={f} id={`new-admin-${f}`} label={f === "email" ? "Email" : "Name"} error={err[f]}>
                <input
                  id={`new-admin-${f}`}
                  type={f === "email" ? "email" : "text"}
                  value={draft.value[f]}
                  onInput={(e) => (draft.value = { ...draft.value, [f]: e.currentTarget.value })}
                  {...fieldAria(`new-admin-${f}`, err[f])}
                />
              </Field>
            ))}
            <Field id="new-admin-role" label="Role">
              <select
                id="new-admin-role"
                value={draft.value.role}
                onChange={(e) => (draft.value = { ...draft.value, role: e.currentTarget.value })}
              >
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <button type="submit" class="primary">
            Add admin
          </button>
        </fieldset>
      </form>
    </section>
  );
}

/** Ingest and heartbeat keys: scope, last use, new (shown once) and revoke. */
function Keys() {
  const keys = useSignal<Key[] | null>(null);
  const draft = useSignal({ name: "", scope: "ingest", rate: "" });
  const secret = useSignal<string | null>(null);
  const errors = useSignal<Record<string, string>>({});
  const outcome: OutcomeSignal = useSignal(null);
  const load = async () => {
    try {
      keys.value = (await api.get<{ keys: Key[] }>(`${KEYS}?limit=500`)).keys;
    } catch (err) {
      if (!isUnauthorized(err)) outcome.value = { ok: false, text: `Could not load the keys: ${message(err)}` };
    }
  };
  useEffect(() => void load(), []);
  async function add(e: Event) {
    e.preventDefault();
    errors.value = {};
    outcome.value = null;
    const rate = draft.value.rate.trim();
    try {
      const made = await api.request<Key & { key: string }>(KEYS, {
        method: "POST",
        body: {
          name: draft.value.name.trim(),
          scope: draft.value.scope,
          rate_limit_per_minute: rate === "" ? null : Number.isFinite(Number(rate)) ? Number(rate) : rate,
        },
      });
      secret.value = made.key;
      draft.value = { name: "", scope: "ingest", rate: "" };
      await load();
    } catch (err) {
      errors.value = fieldErrors(err);
      outcome.value = { ok: false, text: `Key not created: ${message(err)}` };
    }
  }
  async function revoke(k: Key) {
    outcome.value = null;
    try {
      await api.request(`${KEYS}/${k.id}`, { method: "DELETE" });
      outcome.value = { ok: true, text: `Key ${k.name} revoked.` };
      await load();
    } catch (err) {
      outcome.value = { ok: false, text: `Not revoked: ${message(err)}` };
    }
  }
  const err = errors.value;
  return (
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">Ingest, integration and heartbeat keys</h2>
      <ActionResult result={outcome.value} />
      {secret.value && <ShownOnce label="New key" secret={secret.value} />}
      {keys.value && keys.value.length > 0 && (
        <div class="table-wrap stack-on-phone">
          <table>
            <caption class="visually-hidden">Keys</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Scope</th>
                <th scope="col">Limit</th>
                <th scope="col">Last used</th>
                <th scope="col">Revoke</th>
              </tr>
            </thead>
            <tbody>
              {keys.value.map((k) => (
                <tr key={k.id}>
                  <th scope="row">
                    {k.name} <code class="muted">{k.prefix}…</code>
                  </th>
                  <td data-label="Scope">{k.scope}</td>
                  <td data-label="Limit">
                    {k.rate_limit_per_minute === null ? "default" : `${k.rate_limit_per_minute}/min`}
                  </td>
                  <td data-label="Last used">{lastUse(k.last_used_at)}</td>
                  <td data-label="Revoke">
                    <button type="button" aria-label={`Revoke key ${k.name}`} onClick={() => void revoke(k)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="form" onSubmit={(e) => void add(e)} noValidate>
        <fieldset>
          <legend>New key</legend>
          <div class="form-grid">
            <Field id="new-key-name" label="Key name" error={err.name}>
              <input
                id="new-key-name"
                value={draft.value.name}
                onInput={(e) => (draft.value = { ...draft.value, name: e.currentTarget.value })}
                {...fieldAria("new-key-name", err.name)}
              />
            </Field>
            <Field id="new-key-scope" label="Scope">
              <select
                id="new-key-scope"
                value={draft.value.scope}
                onChange={(e) => (draft.value = { ...draft.value, scope: e.currentTarget.value })}
              >
                <option value="ingest">ingest (push samples)</option>
                <option value="integration">integration (Python package)</option>
                <option value="heartbeat">heartbeat</option>
              </select>
            </Field>
            <Field id="new-key-rate" label="Samples per minute" error={err.rate_limit_per_minute}>
              <input
                id="new-key-rate"
                inputMode="numeric"
                placeholder="default"
                value={draft.value.rate}
                onInput={(e) => (draft.value = { ...draft.value, rate: e.currentTarget.value })}
                {...fieldAria("new-key-rate", err.rate_limit_per_minute)}
              />
            </Field>
          </div>
          <button type="submit" class="primary">
            Create key
          </button>
        </fieldset>
      </form>
    </section>
  );
}

/** People and keys, for owners: admins and roles, their API tokens, ingest and heartbeat keys. */
export function PeoplePage() {
  useTitle("People and keys");
  const session = auth.value;
  const owner = session.kind === "authenticated" && session.me.role === "owner";
  return (
    <>
      <div class="page-head">
        <h1>People and keys</h1>
        <p class="muted">Who may use the console and the API, and the keys your services push with.</p>
      </div>
      {owner ? (
        <>
          <People />
          <Keys />
        </>
      ) : (
        <p role="alert">Only an owner manages people and keys.</p>
      )}
    </>
  );
}

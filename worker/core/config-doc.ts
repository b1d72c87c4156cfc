/**
 * Configuration as code: the document that carries the whole configuration (service
 * display names, escalation policies, monitors, rules, silences) and the diff between
 * two of them. Pure: the routes read the database and validate each object with the
 * resource's own schema; this module only knows the document's shape.
 *
 * Objects are matched by a natural key, never by database id, so a document moves
 * between installations: rules by `rule_name`, monitors by `service/name`, policies by
 * `name`, silences by comment and matchers. Two objects with the same natural key get an
 * explicit `key` on export. References are by key too: a rule's `escalation_policy` is a
 * policy name, a heartbeat rule's `params.monitor` a monitor key, a policy step's
 * `targets.admin_emails` admins' emails (admins are people, not configuration).
 *
 * No secrets: heartbeat URLs are not exported (a created heartbeat monitor gets a new
 * one) and the values of credential-like monitor headers are replaced by REDACTED; an
 * import that sends REDACTED back keeps the stored value.
 */
import { toIso } from "./time";

export const CONFIG_VERSION = 1;

export const SECTIONS = ["service_names", "escalation_policies", "monitors", "rules", "silences"] as const;
export type Section = (typeof SECTIONS)[number];

export type Item = Record<string, unknown>;

export interface ConfigDoc {
  version: typeof CONFIG_VERSION;
  exported_at?: string;
  service_names?: Record<string, string>;
  escalation_policies?: Item[];
  monitors?: Item[];
  rules?: Item[];
  silences?: Item[];
}

/** Stands for a monitor header's value that is not exported (Authorization, API keys, cookies, …). */
export const REDACTED = "<redacted>";

const SECRET_HEADER = /auth|token|key|secret|cookie|session|passw|signature|credential/i;

export const isSecretHeader = (name: string) => SECRET_HEADER.test(name);

export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, isSecretHeader(k) ? REDACTED : v]));
}

// ------------------------------------------------------------------ keys

const text = (v: unknown) => (typeof v === "string" ? v.trim() : JSON.stringify(v ?? null));

/** `{name="value", name=~"regex", name!="value"}`: the matchers as a key reads them. */
function matchersText(matchers: unknown): string {
  if (!Array.isArray(matchers)) return "{}";
  const parts = matchers.map((m: Item) => {
    const op = `${m.is_equal === false ? "!" : "="}${m.is_regex === true ? "~" : m.is_equal === false ? "=" : ""}`;
    return `${String(m.name)}${op}${JSON.stringify(String(m.value))}`;
  });
  return `{${parts.sort().join(", ")}}`;
}

/** The natural key of an object of a section (service_names are keyed by service). */
export function naturalKey(section: Exclude<Section, "service_names">, item: Item): string {
  switch (section) {
    case "rules":
      return text(item.rule_name);
    case "monitors":
      return `${text(item.service)}/${text(item.name)}`;
    case "escalation_policies":
      return text(item.name);
    case "silences":
      return `${text(item.comment)} ${matchersText(item.matchers)}`;
  }
}

/** An object's key: its explicit `key`, else its natural key. */
export const itemKey = (section: Exclude<Section, "service_names">, item: Item) =>
  typeof item.key === "string" && item.key.trim() !== "" ? item.key.trim() : naturalKey(section, item);

/**
 * Gives objects that share a natural key an explicit, distinct `key` ("name #2", …), the
 * first keeping its natural one, so an export of such data imports back onto itself.
 */
export function withKeys(section: Exclude<Section, "service_names">, items: readonly Item[]): Item[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const natural = naturalKey(section, item);
    const n = (seen.get(natural) ?? 0) + 1;
    seen.set(natural, n);
    return n === 1 ? item : { key: `${natural} #${n}`, ...item };
  });
}

export interface DocIssue {
  field: string;
  reason: string;
}

/** Objects by key; a key used twice in one document is an issue at the second object. */
export function indexByKey(
  section: Exclude<Section, "service_names">,
  items: readonly Item[],
): { byKey: Map<string, { item: Item; index: number }>; issues: DocIssue[] } {
  const byKey = new Map<string, { item: Item; index: number }>();
  const issues: DocIssue[] = [];
  items.forEach((item, index) => {
    const key = itemKey(section, item);
    const first = byKey.get(key);
    if (first) {
      issues.push({
        field: `${section}.${index}${typeof item.key === "string" ? ".key" : ""}`,
        reason: `the key "${key}" is already used by ${section}.${first.index}; give one of them a distinct "key"`,
      });
    } else byKey.set(key, { item, index });
  });
  return { byKey, issues };
}

// ------------------------------------------------------------------ mapping ids ↔ keys

type Step = { after_minutes: unknown; channels: unknown; targets: { admin_ids?: number[]; roles?: string[] } };

/** A policy as the API reads it → the document's: admin ids become emails (ids of removed admins are dropped). */
export function policyToDoc(wire: Item, emailOf: (id: number) => string | undefined): Item {
  const steps = (wire.steps as Step[]).map((s) => {
    const emails = (s.targets.admin_ids ?? []).flatMap((id) => emailOf(id) ?? []);
    const targets = {
      ...(emails.length ? { admin_emails: emails } : {}),
      ...(s.targets.roles?.length ? { roles: s.targets.roles } : {}),
    };
    return { ...s, targets };
  });
  return { ...wire, steps };
}

/** A document's policy → the API's body: emails become admin ids; an unknown email is an issue. */
export function policyFromDoc(item: Item, idOf: (email: string) => number | undefined, path: string) {
  const issues: DocIssue[] = [];
  if (!Array.isArray(item.steps)) return { wire: item, issues };
  const steps = item.steps.map((step: unknown, i) => {
    if (typeof step !== "object" || step === null) return step;
    const targets = (step as Item).targets;
    if (typeof targets !== "object" || targets === null || !("admin_emails" in targets)) return step;
    const { admin_emails: emails, ...rest } = targets as Item;
    if (!Array.isArray(emails)) {
      issues.push({ field: `${path}.steps.${i}.targets.admin_emails`, reason: "must be a list of emails" });
      return step;
    }
    const ids = emails.map((email: unknown, j) => {
      const id = typeof email === "string" ? idOf(email.trim().toLowerCase()) : undefined;
      if (id === undefined) {
        issues.push({ field: `${path}.steps.${i}.targets.admin_emails.${j}`, reason: `no admin with email ${email}` });
      }
      return id ?? 0;
    });
    return { ...(step as Item), targets: { ...rest, admin_ids: ids } };
  });
  return { wire: { ...item, steps }, issues };
}

/** A monitor as the API reads it → the document's: unset settings left out, secret header values redacted. */
export function monitorToDoc(wire: Item, { redact = true } = {}): Item {
  const out = Object.fromEntries(Object.entries(wire).filter(([, v]) => v !== null && v !== undefined));
  if (redact && out.headers && typeof out.headers === "object") {
    out.headers = redactHeaders(out.headers as Record<string, string>);
  }
  return out;
}

/**
 * A document's monitor with its REDACTED header values put back from the stored monitor
 * of the same key; a REDACTED value with nothing stored to keep is an issue.
 */
export function restoreSecrets(item: Item, stored: Item | undefined, path: string) {
  const issues: DocIssue[] = [];
  const headers = item.headers;
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) return { item, issues };
  const storedHeaders = (stored?.headers ?? {}) as Record<string, string>;
  const restored = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      if (value !== REDACTED) return [name, value];
      const kept = Object.entries(storedHeaders).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
      if (kept === undefined) {
        issues.push({
          field: `${path}.headers.${name}`,
          reason: `"${REDACTED}" keeps the stored value, but this monitor has none here: put the real value`,
        });
      }
      return [name, kept ?? value];
    }),
  );
  return { item: { ...item, headers: restored }, issues };
}

/** A rule as the API reads it → the document's: the policy by name, a heartbeat rule's monitor by key. */
export function ruleToDoc(
  wire: Item,
  policyName: (id: number) => string | undefined,
  monitorKey: (id: number) => string | undefined,
): Item {
  const { escalation_policy_id: policyId, ...rest } = wire;
  let params = wire.params as Item;
  if ("monitor_id" in params) {
    const { monitor_id: monitorId, ...others } = params;
    params = { ...others, monitor: typeof monitorId === "number" ? (monitorKey(monitorId) ?? null) : null };
  }
  return {
    ...rest,
    params,
    escalation_policy: typeof policyId === "number" ? (policyName(policyId) ?? null) : null,
  };
}

/** What a rule may reference: policies by name and heartbeat monitors by key, with their ids. */
export interface RuleTargets {
  policyId: (name: string) => number | undefined;
  monitor: (key: string) => { id: number; kind: unknown } | undefined;
}

/** A document's rule → the API's body; an unknown policy or monitor is an issue. */
export function ruleFromDoc(item: Item, targets: RuleTargets, path: string) {
  const issues: DocIssue[] = [];
  const { escalation_policy: policy, ...rest } = item;
  let policyId: number | null = null;
  if (policy !== undefined && policy !== null) {
    const id = typeof policy === "string" ? targets.policyId(policy.trim()) : undefined;
    if (id === undefined)
      issues.push({
        field: `${path}.escalation_policy`,
        reason: `no escalation policy named ${JSON.stringify(policy)}`,
      });
    policyId = id ?? null;
  }
  let params = rest.params;
  if (typeof params === "object" && params !== null && !Array.isArray(params) && "monitor" in params) {
    const { monitor, ...others } = params as Item;
    let monitorId: number | null = null;
    if (monitor !== null) {
      const found = typeof monitor === "string" ? targets.monitor(monitor.trim()) : undefined;
      if (!found)
        issues.push({
          field: `${path}.params.monitor`,
          reason: `no monitor with key ${JSON.stringify(monitor)} (service/name)`,
        });
      else if (found.kind !== "heartbeat") {
        issues.push({ field: `${path}.params.monitor`, reason: `monitor ${monitor} is not a heartbeat monitor` });
      } else monitorId = found.id;
    }
    params = { ...others, monitor_id: monitorId };
  }
  return { wire: { ...rest, params, escalation_policy_id: policyId }, issues };
}

/** A silence as the API reads it (epoch ms) → the document's (ISO instants). */
export function silenceToDoc(wire: Item): Item {
  return { ...wire, starts_at: toIso(wire.starts_at as number), ends_at: toIso(wire.ends_at as number) };
}

// ------------------------------------------------------------------ diff

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface SectionDiff {
  create: string[];
  update: { key: string; changes: FieldChange[] }[];
  delete: string[];
  unchanged: string[];
}

export type ConfigDiff = Record<Section, SectionDiff>;

/** JSON with object keys sorted: equal values, equal text, whatever the key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The top-level fields whose values differ (a missing field equals null). */
export function changedFields(current: Item, incoming: Item): FieldChange[] {
  const fields = [...new Set([...Object.keys(current), ...Object.keys(incoming)])].filter((f) => f !== "key").sort();
  return fields.flatMap((field) => {
    const from = current[field] ?? null;
    const to = incoming[field] ?? null;
    return canonical(from) === canonical(to) ? [] : [{ field, from, to }];
  });
}

const emptyDiff = (): SectionDiff => ({ create: [], update: [], delete: [], unchanged: [] });

function sectionItems(doc: ConfigDoc, section: Section): Map<string, Item> | null {
  if (section === "service_names") {
    const names = doc.service_names;
    return names ? new Map(Object.entries(names).map(([service, name]) => [service, { name }])) : null;
  }
  const items = doc[section];
  return items ? new Map(items.map((item) => [itemKey(section, item), item])) : null;
}

/**
 * What importing `incoming` over `current` changes, section by section. A section the
 * document leaves out is untouched; objects missing from a section it has are deleted
 * only with `prune` (by default an import creates and updates, never deletes).
 */
export function diffConfig(current: ConfigDoc, incoming: ConfigDoc, { prune = false } = {}): ConfigDiff {
  const diff = Object.fromEntries(SECTIONS.map((s) => [s, emptyDiff()])) as ConfigDiff;
  for (const section of SECTIONS) {
    const wanted = sectionItems(incoming, section);
    if (!wanted) continue;
    const have = sectionItems(current, section) ?? new Map<string, Item>();
    const out = diff[section];
    for (const [key, item] of wanted) {
      const existing = have.get(key);
      if (!existing) out.create.push(key);
      else {
        const changes = changedFields(existing, item);
        if (changes.length) out.update.push({ key, changes });
        else out.unchanged.push(key);
      }
    }
    if (prune) out.delete.push(...[...have.keys()].filter((key) => !wanted.has(key)));
  }
  return diff;
}

/** Whether applying the diff would change anything. */
export const diffIsEmpty = (diff: ConfigDiff) =>
  SECTIONS.every((s) => !diff[s].create.length && !diff[s].update.length && !diff[s].delete.length);

import { useSignal } from "@preact/signals";
import { useTitle } from "../components/hooks";
import { canAct } from "../lib/alerts";
import { HttpError, isUnauthorized } from "../lib/api";
import { api, auth } from "../models/session";

const CONFIG = "/api/admin/monitoring/config";
const SECTIONS = [
  ["service_names", "Service names"],
  ["escalation_policies", "Escalation policies"],
  ["monitors", "Monitors"],
  ["rules", "Rules"],
  ["silences", "Silences"],
] as const;
type Section = (typeof SECTIONS)[number][0];

interface SectionDiff {
  create: string[];
  update: { key: string; changes: { field: string; from: unknown; to: unknown }[] }[];
  delete: string[];
  unchanged: string[];
}

interface ImportResult {
  dry_run: boolean;
  applied: boolean;
  changes: boolean;
  diff: Record<Section, SectionDiff>;
  notes: string[];
}

const show = (v: unknown) => JSON.stringify(v) ?? "null";

function count(diff: ImportResult["diff"], kind: "create" | "update" | "delete" | "unchanged") {
  return SECTIONS.reduce((n, [s]) => n + (diff[s]?.[kind].length ?? 0), 0);
}

/** What an import changes, section by section: + created, ~ updated (each field), - deleted. */
function DiffView({ result }: { result: ImportResult }) {
  const { diff } = result;
  return (
    <div class="config-diff" data-testid="config-diff">
      <p role="status">
        <strong>
          {result.dry_run ? "Dry run: " : result.applied ? "Applied: " : ""}
          {count(diff, "create")} to create, {count(diff, "update")} to update, {count(diff, "delete")} to delete,{" "}
          {count(diff, "unchanged")} unchanged.
        </strong>{" "}
        {result.dry_run ? "Nothing was changed." : result.applied ? "" : "The configuration already matches."}
      </p>
      {SECTIONS.map(([section, title]) => {
        const d = diff[section];
        if (!d || d.create.length + d.update.length + d.delete.length === 0) return null;
        return (
          <section key={section}>
            <h3>{title}</h3>
            <ul>
              {d.create.map((key) => (
                <li key={`+${key}`} class="diff-create">
                  + create <strong>{key}</strong>
                </li>
              ))}
              {d.update.map((u) => (
                <li key={`~${u.key}`} class="diff-update">
                  ~ update <strong>{u.key}</strong>
                  <ul>
                    {u.changes.map((c) => (
                      <li key={c.field}>
                        <code>{c.field}</code>: {show(c.from)} → {show(c.to)}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
              {d.delete.map((key) => (
                <li key={`-${key}`} class="diff-delete">
                  − delete <strong>{key}</strong>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
      {result.notes.length > 0 && (
        <ul class="muted">
          {result.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * Configuration as code: download the whole configuration as one JSON document, and
 * (admins and owners) import one: a dry run shows what would change, then Apply. The
 * server validates the whole document; each bad field is listed by its path.
 */
export function ConfigPage() {
  useTitle("Configuration");
  const session = auth.value;
  const mayImport = session.kind === "authenticated" && canAct(session.me.role);
  const exportError = useSignal<string | null>(null);
  const exporting = useSignal(false);
  const text = useSignal("");
  const prune = useSignal(false);
  const busy = useSignal<"dry" | "apply" | null>(null);
  const result = useSignal<ImportResult | null>(null);
  /** The text and prune choice the last dry run checked: Apply applies exactly that. */
  const checked = useSignal<string | null>(null);
  const failure = useSignal<{ message: string; details: { field?: string; reason: string }[] } | null>(null);

  async function download() {
    exporting.value = true;
    exportError.value = null;
    try {
      const doc = await api.get<Record<string, unknown>>(CONFIG);
      const blob = new Blob([`${JSON.stringify(doc, null, 2)}\n`], { type: "application/json" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `edge-monitor-config-${new Date().toISOString().slice(0, 10)}.json`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      if (!isUnauthorized(err)) exportError.value = err instanceof Error ? err.message : String(err);
    } finally {
      exporting.value = false;
    }
  }

  const edit = (value: string) => {
    text.value = value;
    result.value = null;
    checked.value = null;
    failure.value = null;
  };

  async function pick(e: Event) {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) edit(await file.text());
  }

  async function run(apply: boolean) {
    failure.value = null;
    let doc: unknown;
    try {
      doc = JSON.parse(text.value);
    } catch (err) {
      failure.value = { message: `Not JSON: ${err instanceof Error ? err.message : String(err)}`, details: [] };
      return;
    }
    busy.value = apply ? "apply" : "dry";
    const query = new URLSearchParams({ ...(apply ? {} : { dry_run: "1" }), ...(prune.value ? { prune: "1" } : {}) });
    try {
      const res = await api.request<ImportResult>(`${CONFIG}/import${query.size ? `?${query}` : ""}`, {
        method: "POST",
        body: doc,
      });
      result.value = res;
      checked.value = apply ? null : `${prune.value}:${text.value}`;
    } catch (err) {
      result.value = null;
      checked.value = null;
      if (!isUnauthorized(err)) {
        failure.value = {
          message: err instanceof Error ? err.message : String(err),
          details: err instanceof HttpError ? [...err.details] : [],
        };
      }
    } finally {
      busy.value = null;
    }
  }

  const readyToApply = checked.value === `${prune.value}:${text.value}` && result.value?.changes === true;

  return (
    <>
      <div class="page-head">
        <h1>Configuration</h1>
        <p class="muted">
          Rules, monitors, escalation policies, silences and service names as one JSON document, without secrets: keep
          it in version control, move it between installations.
        </p>
      </div>
      <div class="panel">
        <h2>Export</h2>
        <div class="buttons">
          <button type="button" class="primary" disabled={exporting.value} onClick={() => void download()}>
            {exporting.value ? "Exporting…" : "Download configuration"}
          </button>
        </div>
        {exportError.value && (
          <p class="field-error" role="alert">
            Export failed: {exportError.value}
          </p>
        )}
      </div>
      {mayImport ? (
        <form class="form panel" onSubmit={(e) => (e.preventDefault(), void run(false))} noValidate>
          <h2>Import</h2>
          <label class="field">
            <span>Configuration file</span>
            <input type="file" name="file" accept="application/json,.json" onChange={(e) => void pick(e)} />
          </label>
          <label class="field">
            <span>Or paste the document</span>
            <textarea
              name="document"
              rows={12}
              spellcheck={false}
              value={text.value}
              onInput={(e) => edit(e.currentTarget.value)}
            />
          </label>
          <label class="check">
            <input
              type="checkbox"
              name="prune"
              checked={prune.value}
              onChange={(e) => {
                prune.value = e.currentTarget.checked;
                result.value = null;
              }}
            />
            Also delete objects of the document's sections that it does not list
          </label>
          <div class="buttons">
            <button type="submit" disabled={busy.value !== null || !text.value.trim()}>
              {busy.value === "dry" ? "Checking…" : "Dry run"}
            </button>
            <button
              type="button"
              class="primary"
              disabled={busy.value !== null || !readyToApply}
              onClick={() => void run(true)}
            >
              {busy.value === "apply" ? "Applying…" : "Apply"}
            </button>
          </div>
          <p class="muted help">Apply is enabled after a dry run of this exact document that finds changes.</p>
          {failure.value && (
            <div class="error-box" role="alert">
              <p>{failure.value.message}</p>
              {failure.value.details.length > 0 && (
                <ul>
                  {failure.value.details.map((d, i) => (
                    <li key={i}>
                      {d.field && <code>{d.field}</code>}
                      {d.field && ": "}
                      {d.reason}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          {result.value && <DiffView result={result.value} />}
        </form>
      ) : (
        <p class="muted">Importing a configuration needs an admin or owner.</p>
      )}
    </>
  );
}

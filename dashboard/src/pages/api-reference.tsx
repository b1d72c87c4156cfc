import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { useTitle } from "../components/hooks";
import { isUnauthorized } from "../lib/api";
import { type FieldDoc, readReference, type TagDoc } from "../lib/openapi";
import { api } from "../models/session";
import { LoadError } from "../components/feedback";

function Fields({ title, fields }: { title: string; fields: FieldDoc[] }) {
  if (!fields.length) return null;
  return (
    <>
      <h4>{title}</h4>
      <ul class="api-fields">
        {fields.map((f) => (
          <li key={f.name}>
            <code>{f.name}</code>: <span class="muted">{f.type}</span>
            {f.required ? <strong> required</strong> : null}
            {f.description ? ` — ${f.description}` : ""}
          </li>
        ))}
      </ul>
    </>
  );
}

/**
 * The API reference, rendered from `/api/openapi.json` (loaded only on this page): every
 * operation by tag with its parameters, body fields and responses, filterable by text.
 */
export function ApiReferencePage() {
  useTitle("API reference");
  const tags = useSignal<TagDoc[] | null>(null);
  const error = useSignal<string | null>(null);
  const filter = useSignal("");
  useEffect(() => {
    void (async () => {
      try {
        tags.value = readReference(await api.get<Record<string, unknown>>("/api/openapi.json"));
      } catch (err) {
        if (!isUnauthorized(err)) error.value = err instanceof Error ? err.message : String(err);
      }
    })();
  }, []);
  const q = filter.value.trim().toLowerCase();
  const shown = (tags.value ?? [])
    .map((t) => ({
      ...t,
      operations: t.operations.filter(
        (o) => !q || `${o.method} ${o.path} ${o.summary} ${t.tag}`.toLowerCase().includes(q),
      ),
    }))
    .filter((t) => t.operations.length > 0);
  return (
    <>
      <div class="page-head">
        <h1>API reference</h1>
        <p class="muted">
          Every endpoint, from <a href="/api/openapi.json">/api/openapi.json</a>. Authenticate with{" "}
          <code>Authorization: Bearer &lt;token&gt;</code>; errors are <code>{"{error, message, details}"}</code>.
        </p>
      </div>
      <LoadError what="the API description" error={error.value} />
      {!tags.value && !error.value && <p role="status">Loading the API description…</p>}
      {tags.value && (
        <>
          <div class="filters">
            <label>
              Filter
              <input
                type="search"
                value={filter.value}
                placeholder="e.g. rules, silence, POST"
                onInput={(e) => (filter.value = e.currentTarget.value)}
              />
            </label>
          </div>
          {shown.map((t) => (
            <section key={t.tag} aria-labelledby={`api-${t.tag}`}>
              <h2 id={`api-${t.tag}`}>{t.tag}</h2>
              {t.operations.map((o) => (
                <details class="api-op" key={`${o.method} ${o.path}`}>
                  <summary>
                    <span class={`method method-${o.method.toLowerCase()}`}>{o.method}</span> <code>{o.path}</code>{" "}
                    <span class="muted">{o.summary}</span>
                  </summary>
                  <Fields title="Parameters" fields={o.parameters} />
                  <Fields title="Body" fields={o.body} />
                  <h4>Responses</h4>
                  <ul class="api-fields">
                    {o.responses.map((r) => (
                      <li key={r.status}>
                        <code>{r.status}</code> {r.description}
                      </li>
                    ))}
                  </ul>
                </details>
              ))}
            </section>
          ))}
        </>
      )}
    </>
  );
}

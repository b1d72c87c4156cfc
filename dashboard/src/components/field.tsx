import type { ComponentChildren } from "preact";

/** The attributes that tie an input to its help and to the server's reason for refusing it. */
export function fieldAria(id: string, error?: string, help?: string): Record<string, unknown> {
  const describedBy = [help ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { ...(error ? { "aria-invalid": true } : {}), ...(describedBy ? { "aria-describedby": describedBy } : {}) };
}

/** A form field: its label above the input (`children`, with id `id`), its help and the server's reason below. */
export function Field(props: {
  id: string;
  label: string;
  error?: string;
  help?: string;
  children: ComponentChildren;
}) {
  const { id, label, error, help, children } = props;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {help && (
        <small class="muted" id={`${id}-help`}>
          {help}
        </small>
      )}
      {error && (
        <span class="field-error" id={`${id}-error`}>
          {error}
        </span>
      )}
    </div>
  );
}

import { fieldId } from "../lib/silences";

/**
 * A form's server reasons by API field path ("steps.1.after_minutes"): `error(path)` is the
 * reason shown below the field, `described(path)` the attributes tying the field to it.
 */
export function fieldErrorHelpers(errors: Record<string, string>) {
  return {
    error: (path: string) =>
      errors[path] ? (
        <span class="field-error" id={`${fieldId(path)}-error`}>
          {errors[path]}
        </span>
      ) : null,
    described: (path: string) =>
      errors[path] ? { "aria-invalid": true, "aria-describedby": `${fieldId(path)}-error` } : {},
  };
}

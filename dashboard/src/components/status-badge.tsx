import { STATUS_LABELS } from "../lib/services";
import type { HealthStatus } from "../lib/types";

/** A status pill: colour plus text, never colour alone. */
export function StatusBadge({ status }: { status: HealthStatus }) {
  return (
    <span class={`badge badge-${status}`} data-status={status}>
      <span class="badge-dot" aria-hidden="true" />
      {STATUS_LABELS[status]}
    </span>
  );
}

import { formatRelative } from "../lib/format";
import type { Alert, Severity } from "../lib/types";

const SEVERITY_TEXT: Record<Severity, string> = { critical: "Critical", warning: "Warning", info: "Info" };

/** A severity label: colour plus text, never colour alone. */
export function SeverityBadge({ severity }: { severity: Severity }) {
  return (
    <span class={`severity severity-${severity}`} data-severity={severity}>
      {SEVERITY_TEXT[severity] ?? severity}
    </span>
  );
}

/** "Active", "Acknowledged" or "Resolved 2 h ago". */
export function alertStateText(alert: Alert, nowMs: number): string {
  if (alert.status === "firing") return "Active";
  if (alert.status === "acknowledged") return "Acknowledged";
  return `Resolved ${formatRelative(alert.resolved_at, nowMs)}`;
}

/** "Silenced" on an open alert a silence is in effect on, linking to the silences; nothing otherwise. */
export function SilencedBadge({ alert }: { alert: Alert }) {
  const ids = alert.silenced_by ?? [];
  if (alert.status === "resolved" || ids.length === 0) return null;
  return (
    <a
      class="badge badge-silenced"
      href="/silences"
      data-silenced={ids.join(",")}
      title={`Silenced by ${ids.map((id) => `#${id}`).join(", ")}`}
    >
      Silenced
    </a>
  );
}

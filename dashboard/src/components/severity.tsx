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

import type { AlertDetail } from "../lib/types";

/** Placeholder until the chart lands. */
export function AlertChart({ alert }: { alert: AlertDetail }) {
  return <p>{alert.metric_name}</p>;
}

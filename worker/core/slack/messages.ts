/** Texts the Slack integration answers with (Slack mrkdwn). */
import { toIso } from "../time";

/** An open alert as the status listing shows it. */
export interface OpenAlert {
  id: number;
  ruleName: string | null;
  service: string | null;
  status: string;
  triggeredAt: number;
}

/** How many alerts `/monitor status` lists; the total is always given. */
export const STATUS_LIMIT = 10;

/** The `/monitor status` answer: the count of open alerts and the first `STATUS_LIMIT` of them. */
export function statusText(total: number, alerts: readonly OpenAlert[]): string {
  if (total === 0) return "No firing or acknowledged alerts.";
  const lines = alerts
    .slice(0, STATUS_LIMIT)
    .map(
      (a) =>
        `• #${a.id} ${a.ruleName ?? "(deleted rule)"} · ${a.service ?? "no service"} · ${a.status} since ${toIso(a.triggeredAt)}`,
    );
  const more = total > lines.length ? [`…and ${total - lines.length} more.`] : [];
  return [`${total} open alert${total === 1 ? "" : "s"}:`, ...lines, ...more].join("\n");
}

/** Alert wording shared by the channels: state words, title and detail lines. */
import type { AlertSnapshot, JobEvent, NotificationJob } from "../alerts/jobs";
import { formatNumber } from "../rules/evaluate";
import { toIso } from "../time";
import { fnv1a64 } from "./encoding";

export const STATE: Record<JobEvent, string> = {
  firing: "FIRING",
  reminder: "STILL FIRING",
  escalation: "ESCALATED",
  acknowledged: "ACKNOWLEDGED",
  resolved: "RESOLVED",
  digest: "DIGEST",
  test: "TEST",
};

export const severityWord = (alert: AlertSnapshot) => alert.severity.toUpperCase();

/** The service as people know it: its display name when one is set, else its id. */
export const serviceText = (alert: AlertSnapshot): string | null => alert.serviceName || alert.service;

/** "ECPay Integration (ecpay)", "ecpay", or "-" for an alert without a service. */
export const serviceDetail = (alert: AlertSnapshot): string =>
  alert.serviceName && alert.service ? `${alert.serviceName} (${alert.service})` : (alert.service ?? "-");
export const valueText = (v: number | null) => (v === null ? "no data" : formatNumber(v));

/** "[CRITICAL] FIRING: High latency on api (#12)"; a notice's own title. */
export function title(job: NotificationJob): string {
  if (job.notice) return job.notice.title;
  const a = job.alert;
  const service = serviceText(a);
  return `[${severityWord(a)}] ${STATE[job.event]}: ${a.ruleName}${service ? ` on ${service}` : ""} (#${a.id})`;
}

/** Labels as `a="1", b="2"`, sorted by name. */
export function labelText(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(", ");
}

/** The facts of the alert, in display order, each as [label, value]. */
export function details(job: NotificationJob): [string, string][] {
  const a = job.alert;
  const rows: [string, string][] = [
    ["State", STATE[job.event]],
    ["Rule", a.ruleName],
    ["Severity", a.severity],
    ["Service", serviceDetail(a)],
    ["Value", valueText(a.value)],
  ];
  if (a.peakValue !== null) rows.push(["Peak", formatNumber(a.peakValue)]);
  rows.push(["Since", toIso(a.triggeredAt) ?? ""]);
  if (a.acknowledgedAt !== null) {
    rows.push(["Acknowledged", `${toIso(a.acknowledgedAt)}${a.acknowledgedBy ? ` by ${a.acknowledgedBy}` : ""}`]);
  }
  if (a.resolvedAt !== null) rows.push(["Resolved", toIso(a.resolvedAt) ?? ""]);
  if (Object.keys(a.labels).length) rows.push(["Labels", labelText(a.labels)]);
  rows.push(["Alert", `#${a.id}`]);
  return rows;
}

/** Plain-text body: the message, then the details; a notice's title and lines. */
export function plainText(job: NotificationJob): string {
  if (job.notice) return [job.notice.title, "", ...job.notice.lines].join("\n");
  const lines = [title(job), "", job.alert.message, "", ...details(job).map(([k, v]) => `${k}: ${v}`)];
  return lines.join("\n");
}

/**
 * A stable identity of the alert's series: rule, service and labels (sorted), hashed to
 * 16 hex digits like an Alertmanager fingerprint. The same series always gets the same one.
 */
export function fingerprint(alert: AlertSnapshot): string {
  return fnv1a64(`rule:${alert.ruleId}|service:${alert.service ?? ""}|${labelText(alert.labels)}`);
}

/** One line without controls: a header, subject or SMS cannot be broken out of. */
export { oneLine } from "./escape";

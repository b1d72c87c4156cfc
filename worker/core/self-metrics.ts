/**
 * The product's own state as a Prometheus text exposition (format 0.0.4), for an outside
 * checker to scrape: alerts, notification deliveries and their backlog, rules, monitors,
 * probe lag, and the counters of samples and rule evaluations. Pure: the numbers come in
 * (read by db/self-metrics.ts and lib/counters.ts), the text goes out.
 */
import { type CountDelta, type CounterName, counterSeries, COUNTERS } from "./counters";

/** Reported as `edge_monitor_build_info{version}`; kept equal to package.json's version by a unit test. */
export const BUILD_VERSION = "0.1.0";

/** Upper bounds, in seconds, of the delivery latency histogram's buckets (+Inf is added). */
export const DELIVERY_LATENCY_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60] as const;

export const ALERT_STATES = ["firing", "acknowledged", "resolved"] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export interface LatencyHistogram {
  /** Observations at or below each bound of `DELIVERY_LATENCY_BUCKETS`, cumulative, in that order. */
  cumulative: readonly number[];
  count: number;
  sumSeconds: number;
}

export interface SelfMetrics {
  /** Open alerts by status; `resolved` counts those resolved in the last 24 hours. */
  alerts: Record<AlertState, number>;
  /** Deliveries enqueued in the last 24 hours, by channel and status. */
  notifications: readonly { channel: string; status: string; count: number }[];
  /** Deliveries still `queued`, and the age of the oldest of them (0 when none). */
  backlog: number;
  oldestUndeliveredSeconds: number;
  /** Sent deliveries of the last hour: enqueue to delivery. */
  deliveryLatency: LatencyHistogram;
  rules: { active: number; inactive: number };
  /** Active monitors by kind. */
  monitors: readonly { kind: string; count: number }[];
  /** Cron-run probes: how far behind their schedule the last run is (`id` keeps equal names apart). */
  probeLag: readonly { id: number; monitor: string; seconds: number }[];
  /** Totals of the counters (core/counters.ts); missing ones are reported as 0. */
  counters: readonly CountDelta[];
  version: string;
}

/** A label value escaped as the format requires: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes only backslash and newline. */
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/** A sample value: Go-style float text, with the spellings the format uses for the specials. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

type Labels = Readonly<Record<string, string>>;

const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

/** Collects families in order: HELP and TYPE once per family, then its samples. */
class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: "gauge" | "histogram" | "counter", help: string): this {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  toString(): string {
    return this.lines.length ? `${this.lines.join("\n")}\n` : "";
  }
}

const COUNTER_HELP: Record<CounterName, string> = {
  samples_accepted:
    "Samples stored new by the series store, by the path that brought them (a duplicate is counted as refused).",
  samples_refused:
    "Samples not stored, by reason; a refused request counts all of its samples. Counts reach this within the flush interval (5 s); an isolate that dies loses at most that much.",
  rule_evaluations:
    "Evaluations of alert rules by kind: by the series store (threshold, heartbeat, anomaly; one per family read) or by the rule itself (ratio, absence).",
  auth_failures:
    "Credentials refused as unknown, expired or revoked, by where they were presented (login, bearer token, ingest key); requests refused while locked out are not counted.",
  auth_lockouts:
    "Lockouts begun by the brute-force guard (a client address or account over its allowance of failures), by where the failure that began one was presented.",
};

/** Seconds are rounded to milliseconds: the source rows hold epoch milliseconds. */
const seconds = (s: number) => Math.round(s * 1000) / 1000;

export function renderSelfMetrics(m: SelfMetrics): string {
  const out = new Exposition();

  out.family(
    "edge_monitor_alerts",
    "gauge",
    "Alerts by state: firing and acknowledged are open now; resolved counts those resolved in the last 24 hours.",
  );
  for (const state of ALERT_STATES) out.sample("edge_monitor_alerts", { state }, m.alerts[state]);

  out.family("edge_monitor_notifications", "gauge", "Notification deliveries enqueued in the last 24 hours.");
  for (const n of m.notifications) {
    out.sample("edge_monitor_notifications", { channel: n.channel, status: n.status }, n.count);
  }

  out
    .family("edge_monitor_notification_backlog", "gauge", "Notification deliveries still queued.")
    .sample("edge_monitor_notification_backlog", {}, m.backlog);
  out
    .family(
      "edge_monitor_notification_oldest_undelivered_seconds",
      "gauge",
      "Age of the oldest queued notification delivery; 0 when none is queued.",
    )
    .sample("edge_monitor_notification_oldest_undelivered_seconds", {}, seconds(m.oldestUndeliveredSeconds));

  const latency = "edge_monitor_delivery_latency_seconds";
  out.family(
    latency,
    "histogram",
    "Enqueue to delivery of the notifications sent in the last hour (of those enqueued in the last 24 hours).",
  );
  DELIVERY_LATENCY_BUCKETS.forEach((le, i) => {
    out.sample(`${latency}_bucket`, { le: formatValue(le) }, m.deliveryLatency.cumulative[i] ?? 0);
  });
  out
    .sample(`${latency}_bucket`, { le: "+Inf" }, m.deliveryLatency.count)
    .sample(`${latency}_sum`, {}, seconds(m.deliveryLatency.sumSeconds))
    .sample(`${latency}_count`, {}, m.deliveryLatency.count);

  out
    .family("edge_monitor_rules", "gauge", "Alert rules by state.")
    .sample("edge_monitor_rules", { state: "active" }, m.rules.active)
    .sample("edge_monitor_rules", { state: "inactive" }, m.rules.inactive);

  out.family("edge_monitor_monitors", "gauge", "Active monitors by kind.");
  for (const { kind, count } of m.monitors) out.sample("edge_monitor_monitors", { kind }, count);

  out.family(
    "edge_monitor_probe_lag_seconds",
    "gauge",
    "Cron-run probes: now minus the last run minus the interval, floored at 0 (probes run by the fast loop are not listed).",
  );
  for (const p of m.probeLag) {
    out.sample(
      "edge_monitor_probe_lag_seconds",
      { monitor: p.monitor, id: String(p.id) },
      seconds(Math.max(0, p.seconds)),
    );
  }

  const counters = counterSeries(m.counters);
  for (const counter of Object.keys(COUNTERS) as CounterName[]) {
    const name = `edge_monitor_${counter}_total`;
    out.family(name, "counter", COUNTER_HELP[counter]);
    for (const c of counters) if (c.counter === counter) out.sample(name, { [COUNTERS[counter].label]: c.label }, c.n);
  }

  out
    .family("edge_monitor_build_info", "gauge", "The running version; always 1.")
    .sample("edge_monitor_build_info", { version: m.version }, 1);

  return out.toString();
}

/** Series identity: a metric name, a service and a label set name one series. */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  metric: string;
  service: string;
  labels: Labels;
  value: number;
  /** Epoch ms when the value was observed. */
  ts: number;
  /** Why, for outcome series (probe_up, heartbeat_ok): "status 503", "keyword missing", … */
  message?: string;
}

/**
 * Canonical key of a series: labels sorted by name so that the same set in a
 * different order names the same series.
 *
 * @example seriesKey("probe_up", "ecpay", { monitor: "3" }) // 'probe_up|ecpay|monitor="3"'
 */
export function seriesKey(metric: string, service: string, labels: Labels = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `${metric}|${service}|${parts.join(",")}`;
}

/** A sample as a table row of its series: key, metric, service, labels (JSON), value, ts and message (or null). */
export type SampleRow = [
  seriesKey: string,
  metric: string,
  service: string,
  labels: string,
  value: number,
  ts: number,
  message: string | null,
];

/** A series' new latest value for an index that holds the series: key, value, ts and message (or null). */
export type LatestValueRow = [seriesKey: string, value: number, ts: number, message: string | null];

/** The columns, in order, `sampleRow` fills. */
export const SAMPLE_ROW_COLUMNS = "series_key, metric, service, labels, value, ts, message";

export function sampleRow(s: Sample): SampleRow {
  return [
    seriesKey(s.metric, s.service, s.labels),
    s.metric,
    s.service,
    JSON.stringify(s.labels),
    s.value,
    s.ts,
    s.message ?? null,
  ];
}

/**
 * Name of a metric family: one metric on one service, with all of its label sets.
 * The series store keeps one Durable Object per family.
 *
 * @example familyKey("probe_up", "ecpay") // 'probe_up|ecpay'
 */
export function familyKey(metric: string, service: string): string {
  return `${metric}|${service}`;
}

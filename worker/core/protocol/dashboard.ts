/**
 * Wire protocol of the dashboard WebSocket (`/ws`). The server sends a
 * `snapshot` first, then `delta`s with a strictly increasing `seq`; a client
 * that sees a gap sends `resync` and receives a new snapshot. An `anomaly` message
 * announces an anomaly that started or ended: an event, not topic state, so it carries
 * no seq (a client that missed one reads the anomalies list).
 */

export const TOPICS = ["services", "metrics", "alerts"] as const;
export type Topic = (typeof TOPICS)[number];

/**
 * Topics whose deltas carry only what changed (for "metrics": the series with a
 * new latest sample); their snapshot is rebuilt from the source of truth. Other
 * topics' deltas carry the topic's whole new state.
 */
export const INCREMENTAL_TOPICS: ReadonlySet<Topic> = new Set<Topic>(["metrics"]);

export type ServerMessage =
  | { type: "snapshot"; seq: number; at: string; state: Partial<Record<Topic, unknown>> }
  | { type: "delta"; seq: number; at: string; topic: Topic; data: unknown }
  | { type: "error"; message: string };

/**
 * An anomaly that started or ended, as `GET performance/anomalies` lists it (the series
 * stores send it through the hub). Not in ServerMessage yet: the dashboard's reducer
 * switches exhaustively over that union and takes it up with its anomaly section.
 */
export interface AnomalyMessage {
  type: "anomaly";
  at: string;
  anomaly: AnomalyWire;
}

/** An anomaly as the API and the socket show it (snake_case, ISO times). */
export interface AnomalyWire {
  id: number;
  series_key: string;
  metric: string;
  service: string;
  labels: Record<string, string>;
  started_at: string;
  /** null: ongoing. */
  ended_at: string | null;
  peak_score: number;
  peak_at: string;
  direction: "up" | "down";
  /** The value at the peak, and the value expected there (null when the detector knew nothing yet). */
  observed: number;
  expected: number | null;
  /** e.g. "db_pool_in_use 3.1× its usual level at 14:30 (ongoing)". */
  summary: string;
  /** The "expected" mark an administrator put on it, if any. */
  feedback: { id: number; note: string; created_by: number | null; created_at: string } | null;
}

export type ClientMessage = { type: "resync" } | { type: "subscribe"; topics: Topic[] };

/** Keep-alive text the runtime answers without waking the hub. */
export const PING = "ping";
export const PONG = "pong";

const isTopic = (t: unknown): t is Topic => typeof t === "string" && (TOPICS as readonly string[]).includes(t);

/** Parses untrusted socket input into a client message, or null when it is not one. */
export function parseClientMessage(raw: string): ClientMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || !("type" in data)) return null;
  if (data.type === "resync") return { type: "resync" };
  if (data.type === "subscribe" && "topics" in data && Array.isArray(data.topics) && data.topics.every(isTopic)) {
    return { type: "subscribe", topics: [...new Set(data.topics)] };
  }
  return null;
}

/** True when `seq` does not directly follow `lastSeq`: the client missed something. */
export function hasGap(lastSeq: number, seq: number): boolean {
  return seq !== lastSeq + 1;
}

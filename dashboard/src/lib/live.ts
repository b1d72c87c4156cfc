/**
 * The dashboard socket's client side, as pure functions: parsing server
 * frames, and folding snapshot/delta messages into state with gap detection.
 * Protocol: worker/core/protocol/dashboard.ts.
 */
import type { ClientMessage, ServerMessage, Topic } from "../../../worker/core/protocol/dashboard";
import { parseAlerts, parseSamples } from "./alerts";
import { type Anomaly, parseAnomaly } from "./anomalies";
import { parseServices } from "./services";
import type { Alert, LatestSample, ServiceHealth } from "./types";

/** Keep-alive: sent as plain text every PING_INTERVAL_MS; the runtime answers "pong". */
export const PING = "ping";
export const PONG = "pong";
export const PING_INTERVAL_MS = 25_000;

export const RESYNC: ClientMessage = { type: "resync" };

/**
 * `anomaly` frames stand outside the snapshot/delta sequence: each carries one anomaly as it
 * starts or ends, and a missed one is caught up by the next list the page loads.
 */
export type Frame =
  | { kind: "pong" }
  | { kind: "message"; message: ServerMessage }
  | { kind: "anomaly"; anomaly: Anomaly }
  | { kind: "invalid"; raw: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
const isSeq = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Classifies one text frame from the server. Never throws. */
export function parseFrame(raw: string): Frame {
  if (raw === PONG) return { kind: "pong" };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { kind: "invalid", raw };
  }
  if (!isObject(data)) return { kind: "invalid", raw };
  const at = typeof data.at === "string" ? data.at : "";
  if (data.type === "snapshot" && isSeq(data.seq) && isObject(data.state)) {
    return {
      kind: "message",
      message: { type: "snapshot", seq: data.seq, at, state: data.state as Partial<Record<Topic, unknown>> },
    };
  }
  if (data.type === "delta" && isSeq(data.seq) && typeof data.topic === "string") {
    return {
      kind: "message",
      message: { type: "delta", seq: data.seq, at, topic: data.topic as Topic, data: data.data },
    };
  }
  if (data.type === "anomaly") {
    const anomaly = parseAnomaly(data.anomaly);
    return anomaly ? { kind: "anomaly", anomaly } : { kind: "invalid", raw };
  }
  if (data.type === "error" && typeof data.message === "string") {
    return { kind: "message", message: { type: "error", message: data.message } };
  }
  return { kind: "invalid", raw };
}

/** True when `seq` does not directly follow `lastSeq`: the client missed something (mirrors the server's `hasGap`). */
export function hasGap(lastSeq: number, seq: number): boolean {
  return seq !== lastSeq + 1;
}

export interface LiveState {
  /** seq of the last snapshot or delta applied; null until this connection's first snapshot. */
  lastSeq: number | null;
  /** A resync was requested: ignore deltas until the new snapshot. */
  resyncing: boolean;
  /** Latest services from the socket; null when the socket has not sent any yet. */
  services: ServiceHealth[] | null;
  /** Active alerts from the socket (the `alerts` topic is the whole list); null until sent. */
  alerts: Alert[] | null;
  /** Server time (`at`) of the last message applied. */
  updatedAt: string | null;
  /** The last `error` message from the server. */
  serverError: string | null;
}

export const initialLiveState = (): LiveState => ({
  lastSeq: null,
  resyncing: false,
  services: null,
  alerts: null,
  updatedAt: null,
  serverError: null,
});

/** State for a fresh connection: sequence tracking restarts, data already shown stays until replaced. */
export const onReconnect = (state: LiveState): LiveState => ({ ...state, lastSeq: null, resyncing: false });

export interface Step {
  state: LiveState;
  /** A message to send back to the server, if any. */
  reply?: ClientMessage;
  /** Services this message brought, if any. */
  services?: ServiceHealth[];
  /** The active alerts this message brought, if any (always the whole list). */
  alerts?: Alert[];
  /**
   * Latest samples this message brought: every series for a snapshot (`metricsReplace`),
   * only the series that changed for a delta.
   */
  metrics?: LatestSample[];
  metricsReplace?: boolean;
  /**
   * True when `services` came from a connection's first snapshot: the hub's last
   * publication, possibly older than what the page fetched over HTTP meanwhile.
   * Deltas and resync snapshots are never stale.
   */
  mayBeStale?: boolean;
}

/** What one message's topic data brings; unknown topics and malformed data bring nothing. */
interface Brought {
  services?: ServiceHealth[];
  alerts?: Alert[];
  metrics?: LatestSample[];
}

function bring(into: Brought, topic: string, data: unknown): void {
  if (topic === "services") {
    const services = parseServices(data);
    if (services) into.services = services;
  } else if (topic === "alerts") {
    const alerts = parseAlerts(data);
    if (alerts) into.alerts = alerts;
  } else if (topic === "metrics") {
    const metrics = parseSamples(data);
    if (metrics) into.metrics = metrics;
  }
}

/** The step to `next`, carrying what the message brought. */
function stepWith(
  next: LiveState,
  brought: Brought,
  { mayBeStale, snapshot }: { mayBeStale: boolean; snapshot: boolean },
): Step {
  const step: Step = { state: next };
  if (brought.services) {
    step.state = { ...step.state, services: brought.services };
    step.services = brought.services;
    step.mayBeStale = mayBeStale;
  }
  if (brought.alerts) {
    step.state = { ...step.state, alerts: brought.alerts };
    step.alerts = brought.alerts;
    step.mayBeStale = mayBeStale;
  }
  if (brought.metrics) {
    step.metrics = brought.metrics;
    step.metricsReplace = snapshot;
  }
  return step;
}

/** Folds one server message into the state; asks for a resync when a delta does not follow on. */
export function reduce(state: LiveState, message: ServerMessage): Step {
  switch (message.type) {
    case "snapshot": {
      const next: LiveState = {
        ...state,
        lastSeq: message.seq,
        resyncing: false,
        updatedAt: message.at || state.updatedAt,
      };
      const brought: Brought = {};
      for (const [topic, data] of Object.entries(message.state)) bring(brought, topic, data);
      return stepWith(next, brought, { mayBeStale: state.lastSeq === null && !state.resyncing, snapshot: true });
    }
    case "delta": {
      // Before this connection's first snapshot (it always comes first) or while a resync is under way, wait.
      if (state.lastSeq === null || state.resyncing) return { state };
      if (hasGap(state.lastSeq, message.seq)) return { state: { ...state, resyncing: true }, reply: RESYNC };
      const next = { ...state, lastSeq: message.seq, updatedAt: message.at || state.updatedAt };
      const brought: Brought = {};
      bring(brought, message.topic, message.data);
      return stepWith(next, brought, { mayBeStale: false, snapshot: false });
    }
    case "error":
      return { state: { ...state, serverError: message.message } };
  }
}

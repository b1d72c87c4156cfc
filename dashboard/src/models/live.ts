/**
 * Live service health: loaded over HTTP, then kept current by the dashboard
 * socket (`/ws`, authenticated by the session cookie). The socket reconnects by
 * itself (partysocket); sequence gaps trigger a resync (see lib/live.ts).
 */
import { signal } from "@preact/signals";
import ReconnectingWebSocket from "partysocket/ws";
import { isUnauthorized } from "../lib/api";
import { initialLiveState, type LiveState, onReconnect, parseFrame, PING, PING_INTERVAL_MS, reduce } from "../lib/live";
import { mergeSamples } from "../lib/alerts";
import { type Anomaly, upsertAnomalies } from "../lib/anomalies";
import type { Alert, LatestSample, ServiceHealth } from "../lib/types";
import { api } from "./session";

export type Connection = "offline" | "connecting" | "connected" | "reconnecting";

export const connection = signal<Connection>("offline");
/** Latest service health (HTTP answers, socket deltas and resyncs; a connection's first snapshot only when nothing is shown yet); null until the first arrives. */
export const services = signal<ServiceHealth[] | null>(null);
/** When `services` last changed (ISO). */
export const servicesUpdatedAt = signal<string | null>(null);
export const servicesError = signal<string | null>(null);
export const servicesLoading = signal(false);
/** Firing and acknowledged alerts (HTTP answers and the socket's `alerts` topic); null until the first arrives. */
export const activeAlerts = signal<Alert[] | null>(null);
/** The latest sample of every series, by series key (socket snapshots and deltas). */
export const latestSamples = signal<ReadonlyMap<string, LatestSample>>(new Map());
/** Anomalies the socket announced (as they started or ended) since login, newest first, by id. */
export const liveAnomalies = signal<readonly Anomaly[]>([]);
/** How many anomaly updates the socket kept at most (older ones are in the page's own list by then). */
const LIVE_ANOMALIES_KEPT = 500;
/** When (client clock, ms) the last frame of any kind came from the server; null before the first. */
export const lastMessageAt = signal<number | null>(null);

let socket: ReconnectingWebSocket | null = null;
let pingTimer: ReturnType<typeof setInterval> | undefined;
let state: LiveState = initialLiveState();
let lastSessionCheck = 0;
let awaitingPong = false;
/** Bumped by stopLive, so an HTTP answer that arrives after logout is dropped. */
let generation = 0;
/**
 * Bumped by every alerts / services update the socket applies. An HTTP answer to a request
 * sent before such an update is dropped: the update is at least as new, and any later change
 * comes over the socket too (otherwise a slow answer would put back a list without the alert
 * that just fired).
 */
let alertsVersion = 0;
let servicesVersion = 0;

const socketUrl = () => `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;

function setServices(list: ServiceHealth[], at: string | null) {
  services.value = list;
  servicesUpdatedAt.value = at ?? new Date().toISOString();
  servicesError.value = null;
}

function onFrame(ws: ReconnectingWebSocket, raw: unknown) {
  awaitingPong = false; // anything from the server proves the connection alive
  lastMessageAt.value = Date.now();
  if (typeof raw !== "string") return;
  const frame = parseFrame(raw);
  if (frame.kind === "anomaly") {
    liveAnomalies.value = upsertAnomalies(liveAnomalies.value, [frame.anomaly]).slice(0, LIVE_ANOMALIES_KEPT);
    return;
  }
  if (frame.kind !== "message") return; // "pong", or something this version does not understand
  const step = reduce(state, frame.message);
  state = step.state;
  if (step.reply) ws.send(JSON.stringify(step.reply));
  // A connection's first snapshot may be older than what is shown (the HTTP answer; see the "open" handler).
  if (step.services && (!step.mayBeStale || services.value === null)) {
    setServices(step.services, state.updatedAt);
    servicesVersion++;
  }
  if (step.alerts && (!step.mayBeStale || activeAlerts.value === null)) {
    activeAlerts.value = step.alerts;
    alertsVersion++;
  }
  if (step.metrics)
    latestSamples.value = mergeSamples(step.metricsReplace ? new Map() : latestSamples.value, step.metrics);
}

/** Every PING_INTERVAL_MS: a ping; when the previous one got no answer, the connection is dead: reconnect. */
function keepAlive(ws: ReconnectingWebSocket) {
  if (ws.readyState !== ws.OPEN) return;
  if (awaitingPong) {
    awaitingPong = false;
    ws.reconnect();
    return;
  }
  awaitingPong = true;
  ws.send(PING);
}

/** A socket that keeps failing may mean the session is gone: ask the API (a 401 there logs out). */
function checkSessionSoon() {
  if (Date.now() - lastSessionCheck < 10_000) return;
  lastSessionCheck = Date.now();
  api.get("/api/admin/me").catch(() => {});
}

/** Opens the live connection (idempotent). */
export function startLive(): void {
  if (socket) return;
  state = initialLiveState();
  connection.value = "connecting";
  let opened = false;
  const ws = new ReconnectingWebSocket(socketUrl, undefined, {
    minReconnectionDelay: 500,
    maxReconnectionDelay: 10_000,
    connectionTimeout: 8_000,
  });
  ws.addEventListener("open", () => {
    if (socket !== ws) return;
    state = onReconnect(state);
    connection.value = "connected";
    awaitingPong = false;
    clearInterval(pingTimer);
    pingTimer = setInterval(() => keepAlive(ws), PING_INTERVAL_MS);
    // Back after a drop: whatever happened meanwhile may not be in the hub's snapshot; read the current state.
    if (opened) void Promise.all([loadServices(), loadActiveAlerts()]);
    opened = true;
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    clearInterval(pingTimer);
    connection.value = "reconnecting";
    checkSessionSoon();
  });
  ws.addEventListener("message", (event) => {
    if (socket === ws) onFrame(ws, event.data);
  });
  socket = ws;
}

/** Closes the live connection and forgets what it showed (on logout). */
export function stopLive(): void {
  generation += 1;
  clearInterval(pingTimer);
  const ws = socket;
  socket = null;
  ws?.close(1000, "logged out");
  state = initialLiveState();
  connection.value = "offline";
  services.value = null;
  servicesUpdatedAt.value = null;
  servicesError.value = null;
  activeAlerts.value = null;
  latestSamples.value = new Map();
  liveAnomalies.value = [];
  lastMessageAt.value = null;
}

/** (Re)loads the active alerts over HTTP (after an action, on reconnect). */
export async function loadActiveAlerts(): Promise<void> {
  const gen = generation;
  const version = alertsVersion;
  try {
    const { alerts } = await api.get<{ alerts: Alert[] }>("/api/admin/monitoring/alerts/active");
    if (gen === generation && version === alertsVersion) activeAlerts.value = alerts;
  } catch {
    // the socket's next alerts delta or a reload brings them; a 401 logs out by itself
  }
}

/** (Re)loads service health over HTTP. */
export async function loadServices(): Promise<void> {
  const gen = generation;
  const version = servicesVersion;
  servicesLoading.value = true;
  try {
    const { services: list } = await api.get<{ services: ServiceHealth[] }>("/api/admin/monitoring/health/services");
    if (gen === generation && version === servicesVersion) setServices(list, null);
  } catch (err) {
    if (gen === generation && !isUnauthorized(err))
      servicesError.value = err instanceof Error ? err.message : String(err);
  } finally {
    servicesLoading.value = false;
  }
}

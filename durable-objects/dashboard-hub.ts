/**
 * DashboardHub: the live dashboard's fan-out. Accepts hibernating WebSockets,
 * sends each a snapshot, then `delta`s with a strictly increasing `seq`.
 * State per topic and the sequence number live in storage, so a hub woken
 * from hibernation continues where it stopped.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type AnomalyMessage,
  type AnomalyWire,
  INCREMENTAL_TOPICS,
  PING,
  PONG,
  parseClientMessage,
  type ServerMessage,
  type Topic,
} from "../worker/core/protocol/dashboard";
import { publishAt } from "../worker/core/throttle";
import { activeAlerts } from "../worker/lib/alerts";
import { seriesIndex, toSampleWire } from "../worker/lib/series";

/**
 * The alerts topic is published at most once per this interval: a change after a quiet
 * interval goes out at once, changes meanwhile together when the interval ends.
 */
export const ALERTS_DELAY_MS = 250;

/** Reads of a snapshot while deltas keep being published, before one is sent anyway (the client then resyncs). */
const SNAPSHOT_TRIES = 3;

type State = Partial<Record<Topic, unknown>>;

export class DashboardHub extends DurableObject<Env> {
  /** When the last alerts publish started; undefined when not known (a change then goes at once). */
  private alertsReadAt: number | undefined;
  /** An alerts publish is running; `alertsDirty`: alerts changed since it read them. */
  private alertsPublishing = false;
  private alertsDirty = false;
  /** The last seq published, as stored (loaded before any event is delivered). */
  private seq = 0;
  /** Sockets being opened (their snapshot is being read): they listen already. */
  private opening = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.seq = (await ctx.storage.get<number>("seq")) ?? 0;
    });
    // Answered by the runtime without waking the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Upgrades an (already authenticated) request to a dashboard socket. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    // Snapshot first, then join the broadcast at once: the snapshot is as new as the last
    // delta (else a delta published meanwhile shows up as a seq gap and the client resyncs).
    this.opening++;
    try {
      const snapshot = JSON.stringify(await this.snapshot());
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, ["dashboard"]);
      server.send(snapshot);
      return new Response(null, { status: 101, webSocket: client });
    } finally {
      this.opening--;
    }
  }

  /**
   * Whether a socket listens, or is being opened: a publisher may skip an incremental
   * topic's delta while none does (a new socket's snapshot reads that topic's source).
   */
  listening(): boolean {
    return this.opening > 0 || this.ctx.getWebSockets("dashboard").length > 0;
  }

  /**
   * Broadcasts `data` as the next delta of `topic` and returns its seq. The whole
   * state of a topic is stored for snapshots; incremental topics are not (see INCREMENTAL_TOPICS).
   */
  async publish(topic: Topic, data: unknown): Promise<number> {
    // Numbered and sent without awaiting anything, so publishes running concurrently (an
    // RPC and the alerts publish) can neither share a seq nor send out of order. The
    // runtime's output gate holds the messages until the write below is durable.
    const seq = ++this.seq;
    const written = this.ctx.storage.put(INCREMENTAL_TOPICS.has(topic) ? { seq } : { seq, [`topic:${topic}`]: data });
    const message: ServerMessage = { type: "delta", seq, at: new Date().toISOString(), topic, data };
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets("dashboard")) {
      try {
        ws.send(text);
      } catch {
        // A socket closing concurrently; its close handler cleans up.
      }
    }
    await written;
    return seq;
  }

  /**
   * Sends an anomaly that started or ended to every socket: an event without a seq (it is
   * not part of any topic's state, so a snapshot never carries it).
   */
  announceAnomaly(anomaly: AnomalyWire): void {
    const message: AnomalyMessage = { type: "anomaly", at: new Date().toISOString(), anomaly };
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets("dashboard")) {
      try {
        ws.send(text);
      } catch {
        // A socket closing concurrently; its close handler cleans up.
      }
    }
  }

  /**
   * The active alerts changed: they are read and published at once when the last publish
   * is ALERTS_DELAY_MS old, else once when that interval ends (on the alarm), however many
   * rules changed meanwhile (a fleet-wide outage resolves hundreds at once). The caller
   * does not wait for the publish.
   */
  async alertsChanged(): Promise<void> {
    if (this.alertsPublishing) {
      // Possibly read before this change: the running publish schedules the next one.
      this.alertsDirty = true;
      return;
    }
    if ((await this.ctx.storage.getAlarm()) !== null) return;
    const now = Date.now();
    const at = publishAt(now, this.alertsReadAt, ALERTS_DELAY_MS);
    if (at > now) await this.ctx.storage.setAlarm(at);
    else this.ctx.waitUntil(this.publishAlerts());
  }

  override async alarm(): Promise<void> {
    await this.publishAlerts();
  }

  /** Reads the active alerts and publishes them; one at a time, a failure is retried on the alarm. */
  private async publishAlerts(): Promise<void> {
    this.alertsPublishing = true;
    this.alertsDirty = false;
    this.alertsReadAt = Date.now();
    try {
      await this.publish("alerts", await activeAlerts(this.env));
      if (this.alertsDirty) await this.ctx.storage.setAlarm(publishAt(Date.now(), this.alertsReadAt, ALERTS_DELAY_MS));
    } catch (err) {
      console.error("alerts publish failed; retrying", err);
      await this.ctx.storage.setAlarm(Date.now() + ALERTS_DELAY_MS);
    } finally {
      this.alertsPublishing = false;
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const parsed = typeof message === "string" ? parseClientMessage(message) : null;
    if (!parsed) {
      ws.send(JSON.stringify({ type: "error", message: "unknown message" } satisfies ServerMessage));
      return;
    }
    if (parsed.type === "resync" || parsed.type === "subscribe") ws.send(JSON.stringify(await this.snapshot()));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Reciprocate, or the client sees 1006 instead of a clean close.
    ws.close(code === 1005 ? 1000 : code, reason);
  }

  /**
   * The state of every topic and the seq it is at least as new as. Taken again (up to
   * SNAPSHOT_TRIES times) when deltas were published while it was read: sent right away, it
   * then follows every delta the socket was sent or missed, and the client sees no gap.
   */
  private async snapshot(): Promise<ServerMessage> {
    for (let tries = 1; ; tries++) {
      // The seq is read first, so the state is at least as new as it says.
      const seq = this.seq;
      const stored = await this.ctx.storage.list<unknown>({ prefix: "topic:" });
      const state: State = {};
      for (const [key, value] of stored) state[key.slice("topic:".length) as Topic] = value;
      // The latest sample of every series comes from the index, the source of truth.
      state.metrics = (await seriesIndex(this.env).list()).map(toSampleWire);
      if (seq === this.seq || tries >= SNAPSHOT_TRIES)
        return { type: "snapshot", seq, at: new Date().toISOString(), state };
    }
  }
}

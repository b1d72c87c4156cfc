/**
 * DashboardHub: the live dashboard's fan-out. Accepts hibernating WebSockets,
 * sends each a snapshot, then `delta`s with a strictly increasing `seq`.
 * State per topic and the sequence number live in storage, so a hub woken
 * from hibernation continues where it stopped.
 */
import { DurableObject } from "cloudflare:workers";
import { PING, PONG, parseClientMessage, type ServerMessage, type Topic } from "../worker/core/protocol/dashboard";

type State = Partial<Record<Topic, unknown>>;

export class DashboardHub extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime without waking the hub.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Upgrades an (already authenticated) request to a dashboard socket. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, ["dashboard"]);
    server.send(JSON.stringify(await this.snapshot()));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Stores the new state of `topic` and broadcasts it as the next delta. Returns its seq. */
  async publish(topic: Topic, data: unknown): Promise<number> {
    const seq = ((await this.ctx.storage.get<number>("seq")) ?? 0) + 1;
    await this.ctx.storage.put({ seq, [`topic:${topic}`]: data });
    const message: ServerMessage = { type: "delta", seq, at: new Date().toISOString(), topic, data };
    const text = JSON.stringify(message);
    for (const ws of this.ctx.getWebSockets("dashboard")) {
      try {
        ws.send(text);
      } catch {
        // A socket closing concurrently; its close handler cleans up.
      }
    }
    return seq;
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

  private async snapshot(): Promise<ServerMessage> {
    const stored = await this.ctx.storage.list<unknown>({ prefix: "topic:" });
    const state: State = {};
    for (const [key, value] of stored) state[key.slice("topic:".length) as Topic] = value;
    return {
      type: "snapshot",
      seq: (await this.ctx.storage.get<number>("seq")) ?? 0,
      at: new Date().toISOString(),
      state,
    };
  }
}

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { call, createAdmin, recordIndexed } from "./helpers";

type Snapshot = {
  type: string;
  state: {
    metrics?: { metric: string; value: number }[];
    services?: { service: string; status: string; message: string }[];
  };
};

async function firstMessage(token: string): Promise<Snapshot> {
  const res = await call("GET", "/ws", { token, headers: { upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error("no socket");
  const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))));
  ws.accept();
  const text = await first;
  ws.close();
  return JSON.parse(text);
}

describe("dashboard snapshot", () => {
  it("holds the latest sample of every series, not only the last metrics delta", async () => {
    const { token } = await createAdmin("viewer");
    const now = Date.now();
    await recordIndexed(
      [
        { metric: "payments_total", service: "ecpay", labels: {}, value: 10, ts: now - 2_000 },
        { metric: "payments_total", service: "ecpay", labels: {}, value: 12, ts: now - 1_000 },
        { metric: "db_pool_in_use", service: "database", labels: {}, value: 4, ts: now - 1_000 },
      ],
      now,
    );
    // A later delta naming one series must not make the snapshot forget the other.
    await env.DASHBOARD_HUB.getByName("main").publish("metrics", [{ metric: "db_pool_in_use", value: 4 }]);
    const snapshot = await firstMessage(token);
    expect(snapshot.type).toBe("snapshot");
    const metrics = snapshot.state.metrics ?? [];
    expect(metrics.map((m) => [m.metric, m.value]).sort()).toEqual([
      ["db_pool_in_use", 4],
      ["payments_total", 12],
    ]);
  });

  it("shows a new probe result's effect on service health within seconds, without waiting for the cron", async () => {
    const { token } = await createAdmin("viewer");
    const monitor = await env.DB.prepare(
      "INSERT INTO monitors (name, service, kind, config, interval_seconds) VALUES ('gateway', 'ecpay', 'http', '{}', 30) RETURNING id",
    ).first<{ id: number }>();
    const labels = { monitor: String(monitor?.id) };
    const now = Date.now();
    await recordIndexed(
      [{ metric: "probe_up", service: "ecpay", labels, value: 0, ts: now, message: "status 503 (expected 200)" }],
      now,
    );
    // The index publishes its pending changes on its (throttled) alarm: run it now, unless
    // the runtime already has (its alarm is due at once when the last publish is a second old).
    await runDurableObjectAlarm(env.SERIES_INDEX.getByName("main"));
    const services = await vi.waitUntil(
      async () => {
        const got = (await firstMessage(token)).state.services ?? [];
        return got.length ? got : null;
      },
      { timeout: 3_000, interval: 50 },
    );
    expect(services).toEqual([
      expect.objectContaining({ service: "ecpay", status: "down", message: "gateway: status 503 (expected 200)" }),
    ]);
  });
});

import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ALERTS_DELAY_MS } from "../../durable-objects/dashboard-hub";
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

describe("seq", () => {
  it("numbers concurrent publishes one by one, in the order each socket receives them", async () => {
    const hub = env.DASHBOARD_HUB.getByName("main");
    const res = await hub.fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const seqs: number[] = [];
    ws.addEventListener("message", (e) => seqs.push((JSON.parse(String(e.data)) as { seq: number }).seq));
    ws.accept();
    // The snapshot, and maybe deltas of other tests sharing the hub right after it.
    await vi.waitUntil(() => seqs.length >= 1, { timeout: 2_000, interval: 5 });
    // RPC publishes racing the hub's own alerts publish (which reads D1 before it publishes).
    const returned = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 5 === 0 ? hub.alertsChanged().then(() => null) : hub.publish("services", []),
      ),
    );
    const published = returned.filter((n): n is number => n !== null);
    expect(new Set(published).size).toBe(published.length);
    await vi.waitUntil(() => seqs.length >= published.length + 2, { timeout: 2_000, interval: 5 });
    await new Promise((r) => setTimeout(r, ALERTS_DELAY_MS + 100));
    const [first = 0, ...rest] = seqs;
    expect(rest).toEqual(rest.map((_, i) => first + i + 1));
    ws.close();
  });
});

describe("joining and resyncing while deltas are published", () => {
  it("sends a snapshot the next delta follows without a gap", async () => {
    const hub = env.DASHBOARD_HUB.getByName("main");
    const seqs: { type: string; seq: number }[] = [];
    // Publishes race the snapshot (it reads the index, so they can run meanwhile).
    const [res] = await Promise.all([
      hub.fetch("http://hub/ws", { headers: { upgrade: "websocket" } }),
      ...Array.from({ length: 3 }, () => hub.publish("services", [])),
    ]);
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    ws.addEventListener("message", (e) => seqs.push(JSON.parse(String(e.data)) as { type: string; seq: number }));
    ws.accept();
    // The snapshot, and maybe deltas of other tests sharing the hub right after it.
    await vi.waitUntil(() => seqs.length >= 1, { timeout: 2_000, interval: 5 });
    // A resync racing publishes too: deltas sent before its snapshot are covered by it.
    ws.send(JSON.stringify({ type: "resync" }));
    await Promise.all(Array.from({ length: 3 }, () => hub.publish("services", [])));
    await vi.waitUntil(() => seqs.some((m, i) => i > 0 && m.type === "snapshot"), { timeout: 2_000, interval: 5 });
    await hub.publish("services", []);
    await vi.waitUntil(() => seqs.at(-1)?.type === "delta" && seqs.length > 2, { timeout: 2_000, interval: 5 });
    // The first snapshot is followed by the next seq; after the resync snapshot, the next delta follows it.
    expect(seqs[0]?.type).toBe("snapshot");
    const resync = seqs.findIndex((m, i) => i > 0 && m.type === "snapshot");
    const beforeResync = seqs.slice(0, resync);
    expect(beforeResync.map((m) => m.seq)).toEqual(beforeResync.map((_, i) => (seqs[0]?.seq ?? 0) + i));
    const after = seqs.slice(resync + 1);
    expect(after.map((m) => m.seq)).toEqual(after.map((_, i) => (seqs[resync]?.seq ?? 0) + i + 1));
    ws.close();
  });
});

describe("the alerts topic", () => {
  const hub = () => env.DASHBOARD_HUB.getByName("main");

  /** A socket on the hub collecting its alerts deltas, with when each arrived. */
  async function alertsDeltas() {
    const res = await hub().fetch("http://hub/ws", { headers: { upgrade: "websocket" } });
    const ws = res.webSocket;
    if (!ws) throw new Error("no socket");
    const deltas: { at: number; seq: number; data: { id: number; status: string }[] }[] = [];
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(String(e.data)) as { type: string; topic?: string; seq: number; data?: never };
      if (msg.type === "delta" && msg.topic === "alerts")
        deltas.push({ at: Date.now(), seq: msg.seq, data: msg.data ?? [] });
    });
    ws.accept();
    return { deltas, close: () => ws.close() };
  }

  async function insertFiringAlert(name: string): Promise<number> {
    const rule = await env.DB.prepare(
      `INSERT INTO alert_rules (rule_name, metric_name, threshold_value, severity, notification_channels)
       VALUES (?, 'hub_alerts', 1, 'warning', '[]') RETURNING id`,
    )
      .bind(name)
      .first<{ id: number }>();
    const now = Date.now();
    const alert = await env.DB.prepare(
      `INSERT INTO alert_history (alert_rule_id, fingerprint, alert_severity, message, observed_at, triggered_at)
       VALUES (?, ?, 'warning', ?, ?, ?) RETURNING id`,
    )
      .bind(rule?.id, name, name, now, now)
      .first<{ id: number }>();
    return alert?.id ?? 0;
  }

  it("publishes a change after a quiet interval at once, and coalesces a burst to one more delta per interval", async () => {
    const { deltas, close } = await alertsDeltas();
    // Quiet: nothing published for longer than the interval.
    await new Promise((r) => setTimeout(r, ALERTS_DELAY_MS + 50));
    const first = await insertFiringAlert("hub first");
    const changedAt = Date.now();
    await hub().alertsChanged();
    await vi.waitUntil(() => deltas.length === 1, { timeout: 2_000, interval: 5 });
    // Not held back for the interval (it used to wait ALERTS_DELAY_MS every time).
    expect((deltas[0]?.at ?? 0) - changedAt).toBeLessThan(ALERTS_DELAY_MS);
    expect(deltas[0]?.data.map((a) => a.id)).toContain(first);

    // A burst right after: ten changes over ~100 ms, the last of them a new alert.
    let last = 0;
    for (let i = 0; i < 10; i++) {
      if (i === 9) last = await insertFiringAlert("hub last");
      await hub().alertsChanged();
      await new Promise((r) => setTimeout(r, 10));
    }
    await vi.waitUntil(() => deltas.some((d) => d.data.some((a) => a.id === last)), { timeout: 2_000, interval: 5 });
    await new Promise((r) => setTimeout(r, ALERTS_DELAY_MS + 100));
    // One delta for the whole burst, an interval after the first, carrying its last change.
    expect(deltas).toHaveLength(2);
    expect((deltas[1]?.at ?? 0) - (deltas[0]?.at ?? 0)).toBeGreaterThanOrEqual(ALERTS_DELAY_MS - 20);
    expect(deltas[1]?.data.map((a) => a.id)).toEqual(expect.arrayContaining([first, last]));
    expect(deltas[1]?.seq).toBe((deltas[0]?.seq ?? 0) + 1);
    close();
  });
});

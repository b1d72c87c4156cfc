import { describe, expect, it } from "vitest";
import type { ServerMessage } from "../../../worker/core/protocol/dashboard";
import {
  hasGap,
  initialLiveState,
  onReconnect,
  parseFrame,
  reduce,
  RESYNC,
  type LiveState,
} from "../../../dashboard/src/lib/live";
import type { ServiceHealth } from "../../../dashboard/src/lib/types";

const svc = (service: string, status: ServiceHealth["status"] = "healthy"): ServiceHealth => ({
  service,
  status,
  last_checked_at: "2026-01-01T00:00:00.000Z",
  latency_ms: 42,
  message: "ok",
});

const snapshot = (seq: number, state: Record<string, unknown> = {}): ServerMessage => ({
  type: "snapshot",
  seq,
  at: "2026-01-01T00:00:00.000Z",
  state,
});
const delta = (seq: number, data: unknown, topic: "services" | "metrics" | "alerts" = "services"): ServerMessage => ({
  type: "delta",
  seq,
  at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`,
  topic,
  data,
});

/** Feeds messages in order; returns the final state and every reply sent. */
function run(messages: ServerMessage[], start: LiveState = initialLiveState()) {
  let state = start;
  const replies: unknown[] = [];
  for (const m of messages) {
    const step = reduce(state, m);
    state = step.state;
    if (step.reply) replies.push(step.reply);
  }
  return { state, replies };
}

describe("parseFrame", () => {
  it("recognises the keep-alive answer", () => {
    expect(parseFrame("pong")).toEqual({ kind: "pong" });
  });

  it("parses snapshots, deltas and errors", () => {
    expect(parseFrame(JSON.stringify(snapshot(3, { services: [] })))).toEqual({
      kind: "message",
      message: snapshot(3, { services: [] }),
    });
    expect(parseFrame(JSON.stringify(delta(4, [svc("api")])))).toEqual({
      kind: "message",
      message: delta(4, [svc("api")]),
    });
    expect(parseFrame('{"type":"error","message":"unknown message"}')).toEqual({
      kind: "message",
      message: { type: "error", message: "unknown message" },
    });
  });

  it("rejects anything else without throwing", () => {
    for (const raw of [
      "",
      "not json",
      "null",
      "[]",
      '{"type":"delta","seq":"1","topic":"services"}',
      '{"type":"snapshot","seq":1}',
      '{"type":"nope"}',
      '{"type":"delta","seq":-1,"topic":"services"}',
    ]) {
      expect(parseFrame(raw).kind).toBe("invalid");
    }
  });
});

describe("hasGap", () => {
  it("is false only for the next sequence number", () => {
    expect(hasGap(4, 5)).toBe(false);
    expect(hasGap(4, 6)).toBe(true);
    expect(hasGap(4, 4)).toBe(true);
    expect(hasGap(4, 3)).toBe(true);
  });
});

describe("reduce", () => {
  it("takes services and seq from a snapshot", () => {
    const { state, replies } = run([snapshot(7, { services: [svc("api")] })]);
    expect(state).toMatchObject({
      lastSeq: 7,
      resyncing: false,
      services: [svc("api")],
      updatedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(replies).toEqual([]);
  });

  it("keeps services unknown when the snapshot has none yet", () => {
    expect(run([snapshot(0)]).state).toMatchObject({ lastSeq: 0, services: null });
  });

  it("applies consecutive deltas", () => {
    const { state, replies } = run([
      snapshot(1, { services: [] }),
      delta(2, [svc("api", "warning")]),
      delta(3, [svc("api", "down"), svc("db")]),
    ]);
    expect(state.lastSeq).toBe(3);
    expect(state.services).toEqual([svc("api", "down"), svc("db")]);
    expect(state.updatedAt).toBe("2026-01-01T00:00:03.000Z");
    expect(replies).toEqual([]);
  });

  it("asks for one resync on a gap, ignores deltas until the new snapshot, then continues", () => {
    const { state, replies } = run([
      snapshot(1, { services: [svc("api")] }),
      delta(3, [svc("api", "down")]), // 2 was missed
      delta(4, [svc("api", "warning")]),
      snapshot(4, { services: [svc("api", "warning")] }),
      delta(5, [svc("api", "healthy")]),
    ]);
    expect(replies).toEqual([RESYNC]);
    expect(state).toMatchObject({ lastSeq: 5, resyncing: false, services: [svc("api", "healthy")] });
  });

  it("treats a repeated or older seq as a gap too", () => {
    const { state, replies } = run([snapshot(5, { services: [] }), delta(5, [svc("api")])]);
    expect(replies).toEqual([RESYNC]);
    expect(state.services).toEqual([]);
  });

  it("ignores deltas before the connection's first snapshot", () => {
    const { state, replies } = run([delta(9, [svc("api")])]);
    expect(replies).toEqual([]);
    expect(state).toEqual(initialLiveState());
  });

  it("advances seq but changes nothing for topics and data it does not show", () => {
    const { state, replies } = run([
      snapshot(1, { services: [svc("api")] }),
      delta(2, { cpu: 1 }, "metrics"),
      delta(3, "garbage"),
    ]);
    expect(replies).toEqual([]);
    expect(state.lastSeq).toBe(3);
    expect(state.services).toEqual([svc("api")]);
  });

  it("reports services, flagging only a connection's first snapshot as possibly stale", () => {
    const first = reduce(initialLiveState(), snapshot(1, { services: [svc("api")] }));
    expect(first).toMatchObject({ services: [svc("api")], mayBeStale: true });
    const next = reduce(first.state, delta(2, [svc("api", "down")]));
    expect(next).toMatchObject({ services: [svc("api", "down")], mayBeStale: false });
    const gap = reduce(next.state, delta(4, []));
    expect(gap.services).toBeUndefined();
    const resync = reduce(gap.state, snapshot(4, { services: [] }));
    expect(resync).toMatchObject({ services: [], mayBeStale: false });
    // No services in the message: nothing to report.
    expect(reduce(initialLiveState(), snapshot(0)).services).toBeUndefined();
    expect(reduce(resync.state, delta(5, { cpu: 1 }, "metrics")).services).toBeUndefined();
  });

  it("records server errors", () => {
    expect(run([{ type: "error", message: "unknown message" }]).state.serverError).toBe("unknown message");
  });

  it("restarts sequence tracking on reconnect but keeps what is shown", () => {
    const before = run([snapshot(1, { services: [svc("api")] }), delta(3, [])]).state;
    expect(before.resyncing).toBe(true);
    const after = onReconnect(before);
    expect(after).toMatchObject({ lastSeq: null, resyncing: false, services: [svc("api")] });
    // The new connection's snapshot may carry any seq (the hub's counter persists).
    expect(run([snapshot(40, { services: [] }), delta(41, [svc("db")])], after).state).toMatchObject({
      lastSeq: 41,
      services: [svc("db")],
    });
  });
});

describe("alerts and metrics topics", () => {
  const firing = {
    id: 5,
    alert_rule_id: 1,
    rule_name: "r",
    metric_name: "m",
    service: "s",
    fingerprint: "f",
    labels: {},
    metric_value: 2,
    peak_value: 2,
    breach_count: 1,
    reopen_count: 0,
    flapping: false,
    alert_severity: "critical",
    status: "firing",
    message: "m > 1",
    observed_at: null,
    triggered_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    resolved_at: null,
    auto_resolved: false,
    resolution_notes: null,
    escalation_step: 0,
    notifications_sent: 0,
    notification_attempts: 0,
    notifications_failed: 0,
  };
  const latest = (value: number) => ({ metric: "m", service: "s", labels: {}, value, ts: "2026-01-01T00:00:00.000Z" });

  it("reports the whole alert list of a snapshot and of each delta", () => {
    const first = reduce(initialLiveState(), snapshot(1, { alerts: [firing] }));
    expect(first.alerts).toEqual([firing]);
    expect(first.mayBeStale).toBe(true);
    const next = reduce(first.state, delta(2, [], "alerts"));
    expect(next.alerts).toEqual([]);
    expect(next.mayBeStale).toBe(false);
    expect(next.state.alerts).toEqual([]);
  });

  it("reports a snapshot's metrics as a replacement and a delta's as changes; malformed data brings nothing", () => {
    const first = reduce(initialLiveState(), snapshot(1, { metrics: [latest(1)] }));
    expect(first).toMatchObject({ metrics: [latest(1)], metricsReplace: true });
    const next = reduce(first.state, delta(2, [latest(2)], "metrics"));
    expect(next).toMatchObject({ metrics: [latest(2)], metricsReplace: false });
    const bad = reduce(next.state, delta(3, [{ metric: 1 }], "metrics"));
    expect(bad.metrics).toBeUndefined();
    expect(bad.state.lastSeq).toBe(3);
  });
});

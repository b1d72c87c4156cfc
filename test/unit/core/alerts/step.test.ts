/**
 * The alert rule's decisions, in Node: what lifecycle events do to a tracked fingerprint and
 * which effects they ask for, how one notification is decided, escalation, held retries,
 * grouped members and the next wake-up.
 */
import { describe, expect, it } from "vitest";
import type { EscalationPolicy } from "../../../../worker/core/alerts/escalation";
import { type FingerprintState, initialState, type OpenAlert } from "../../../../worker/core/alerts/lifecycle";
import {
  behind,
  dueHeld,
  escalate,
  type HeldNotification,
  nextWake,
  planNotification,
  rowValues,
  stepEvents,
  stillTrue,
  track,
  type Tracked,
} from "../../../../worker/core/alerts/step";
import { calm, GROUP_WAIT_MS, STORM_MIN } from "../../../../worker/core/alerts/storm";

const T = 1_800_000_000_000;
const MIN = 60_000;

const alert = (over: Partial<OpenAlert> = {}): OpenAlert => ({
  openedAt: T,
  observedAt: T,
  lastValue: 500,
  peakValue: 500,
  breaches: 1,
  acknowledged: false,
  reopened: 0,
  ...over,
});

const firing = (over: Partial<FingerprintState> = {}): FingerprintState => ({
  ...initialState(),
  phase: "firing",
  alert: alert(),
  condition: "breached",
  ...over,
});

const tracked = (over: Partial<Tracked> = {}): Tracked => ({ ...track("q|shop|", "shop", {}), ...over });

describe("stepEvents", () => {
  it("opens an alert with its timeline from the pending time, then announces and notifies firing", () => {
    const { tracked: t, effects } = stepEvents(
      tracked({ pendingAt: T - 30_000, state: firing() }),
      [{ type: "fired", at: T, value: 500, observedAt: T - 1000 }],
      "q 500 > 300",
    );
    expect(effects).toEqual([
      {
        type: "open",
        value: 500,
        observedAt: T - 1000,
        triggeredAt: T,
        message: "q 500 > 300",
        timeline: [
          { type: "pending", at: T - 30_000, value: null },
          { type: "fired", at: T, value: 500, note: "q 500 > 300" },
        ],
      },
      { type: "announce" },
      { type: "notify", event: "firing", occurrence: "firing", step: 0 },
    ]);
    expect(t).toMatchObject({ pendingAt: null, message: "q 500 > 300", held: [] });
    expect(t.escalation).toEqual({ firedAt: T, acknowledgedAt: null, resolved: false, done: [] });
  });

  it("pages an alert that replaces one resolved by force as a correction (never merged or limited)", () => {
    const { effects } = stepEvents(tracked({ state: firing() }), [
      { type: "fired", at: T, value: 500, observedAt: T, afterForcedResolve: true },
    ]);
    expect(effects.at(-1)).toEqual({
      type: "notify",
      event: "firing",
      occurrence: "firing",
      step: 0,
      correctsResolved: true,
    });
  });

  it("tells people an alert is back only when they were told it resolved", () => {
    const reopen = (resolveNoticeSent: boolean) =>
      stepEvents(tracked({ alertId: 7, state: firing({ alert: alert({ reopened: 1 }) }) }), [
        { type: "reopened", at: T, value: 510, observedAt: T, resolveNoticeSent },
      ]).effects;
    expect(reopen(false).filter((e) => e.type === "notify")).toEqual([]);
    expect(reopen(true).filter((e) => e.type === "notify")).toEqual([
      { type: "notify", event: "firing", occurrence: `firing@${T}`, step: 0, correctsResolved: true },
    ]);
    expect(reopen(true)[0]).toMatchObject({
      type: "write",
      changes: { status: "firing", reopen_count: 1, metric_value: 510 },
    });
  });

  it("keeps only held resolve notices once the alert resolves, and stops escalation", () => {
    const held: HeldNotification[] = [
      { event: "firing", occurrence: "firing", step: 0, retryAt: T + MIN },
      { event: "resolved", occurrence: "resolved:1", step: 0, retryAt: null },
    ];
    const { tracked: t, effects } = stepEvents(
      tracked({
        alertId: 7,
        held,
        message: "q 500 > 300",
        escalation: { firedAt: T, acknowledgedAt: null, resolved: false, done: [] },
      }),
      [{ type: "resolved", at: T + MIN, value: null, auto: false, by: "admin:3", note: "fixed", forced: true }],
    );
    expect(t.held.map((h) => h.event)).toEqual(["resolved"]);
    expect(t.escalation?.resolved).toBe(true);
    expect(effects[0]).toEqual({
      type: "write",
      changes: {
        status: "resolved",
        resolved_at: T + MIN,
        auto_resolved: 0,
        resolution_notes: "fixed",
        metric_value: null,
        message: "q 500 > 300",
      },
      timeline: [
        { type: "resolved", at: T + MIN, value: null, actor: "admin:3", note: "fixed", details: { forced: true } },
      ],
    });
    // No notice yet: it waits for resolve_notice.
    expect(effects.some((e) => e.type === "notify")).toBe(false);
  });

  it("keys the resolved notice by the occurrence's resolve time: one notice per occurrence", () => {
    const state = { ...firing(), phase: "ok" as const, resolvedAt: T + 5 * MIN };
    const a = stepEvents(tracked({ alertId: 7, state }), [{ type: "resolve_notice", at: T + 6 * MIN }]).effects;
    const b = stepEvents(tracked({ alertId: 7, state }), [{ type: "resolve_notice", at: T + 9 * MIN }]).effects;
    expect(a).toEqual([{ type: "notify", event: "resolved", occurrence: `resolved:${T + 5 * MIN}`, step: 0 }]);
    expect(b).toEqual(a);
  });

  it("records who acknowledged, and notifies it", () => {
    const { tracked: t, effects } = stepEvents(
      tracked({
        alertId: 7,
        state: firing(),
        escalation: { firedAt: T, acknowledgedAt: null, resolved: false, done: [] },
      }),
      [{ type: "acknowledged", at: T + MIN, by: "admin:4", note: "on it" }],
    );
    expect(t.escalation?.acknowledgedAt).toBe(T + MIN);
    expect(effects).toEqual([
      {
        type: "write",
        changes: { status: "acknowledged", acknowledged_at: T + MIN, acknowledged_by: 4 },
        timeline: [{ type: "acknowledged", at: T + MIN, actor: "admin:4", note: "on it" }],
      },
      { type: "announce" },
      { type: "notify", event: "acknowledged", occurrence: `acknowledged:${T + MIN}`, step: 0 },
    ]);
  });

  it("does not change the fingerprint it is given", () => {
    const before = tracked({
      state: firing(),
      held: [{ event: "firing", occurrence: "firing", step: 0, retryAt: null }],
    });
    const copy = structuredClone(before);
    stepEvents(before, [{ type: "resolved", at: T, value: null, auto: true }]);
    expect(before).toEqual(copy);
  });
});

describe("planNotification", () => {
  const base = {
    occurrence: "firing",
    step: 0,
    now: T,
    retry: false,
    correctsResolved: false,
    firingWasNotified: false,
    silence: { ids: [], until: null },
    inhibitedBy: [],
    log: [] as number[],
    maxPerHour: 2,
    storm: calm(),
    held: [] as HeldNotification[],
  };

  it("sends a firing alone and records it against the hourly limit", () => {
    expect(planNotification({ ...base, event: "firing" })).toEqual({
      action: "send",
      log: [T],
      firingNotified: true,
      storm: { key: "firing:0", state: { recent: [T], group: null } },
    });
  });

  it("holds a silenced notification until the silence ends, once", () => {
    const silence = { ids: [9], until: T + 10 * MIN };
    const first = planNotification({ ...base, event: "firing", silence });
    expect(first).toEqual({
      action: "withheld",
      timeline: {
        type: "silenced",
        at: T,
        note: "silenced by 9",
        details: { event: "firing", occurrence: "firing", step: 0 },
      },
      hold: { event: "firing", occurrence: "firing", step: 0, retryAt: T + 10 * MIN },
    });
    // Tried again while still silenced: nothing new on the timeline, not held twice.
    const held = first.action === "withheld" && first.hold ? [first.hold] : [];
    expect(planNotification({ ...base, event: "firing", silence, retry: true, held })).toEqual({
      action: "withheld",
      timeline: null,
      hold: null,
    });
  });

  it("keeps a held correction exempt from the hourly limit when it is released", () => {
    const silence = { ids: [9], until: T + MIN };
    const held = planNotification({ ...base, event: "firing", correctsResolved: true, silence });
    expect(held).toMatchObject({ action: "withheld", hold: { correctsResolved: true } });
    const h = held.action === "withheld" ? held.hold : null;
    expect(
      planNotification({
        ...base,
        event: "firing",
        now: T + MIN,
        retry: true,
        correctsResolved: h?.correctsResolved === true,
        log: [T, T + 1],
      }),
    ).toMatchObject({ action: "send" });
  });

  it("holds an inhibited notification with no end, and drops a rate-limited one", () => {
    expect(planNotification({ ...base, event: "firing", inhibitedBy: ["db"] })).toMatchObject({
      action: "withheld",
      hold: { retryAt: null },
    });
    expect(
      planNotification({ ...base, event: "escalation", occurrence: "step:1:r0", step: 1, log: [T - 1, T - 2] }),
    ).toEqual({
      action: "withheld",
      timeline: {
        type: "rate_limited",
        at: T,
        note: "over 2 notifications per hour",
        details: { event: "escalation", occurrence: "step:1:r0", step: 1 },
      },
      hold: null,
    });
  });

  it("never limits a firing that corrects a resolved notice, nor groups it", () => {
    const storm = { recent: [T - 1, T - 2], group: null };
    expect(
      planNotification({ ...base, event: "firing", correctsResolved: true, log: [T - 1, T - 2], storm }),
    ).toMatchObject({
      action: "send",
      storm: null,
    });
  });

  it("sends a notified alert's resolve, skips one nobody was told about", () => {
    expect(planNotification({ ...base, event: "resolved", firingWasNotified: true })).toMatchObject({
      action: "send",
      firingNotified: false,
      log: null,
    });
    expect(planNotification({ ...base, event: "resolved", firingWasNotified: false })).toEqual({ action: "skip" });
  });

  it("joins a storm group rather than count against the limit, from the STORM_MIN-th alert within the window", () => {
    let storm = calm();
    const actions: string[] = [];
    for (let i = 0; i < 10; i++) {
      const plan = planNotification({ ...base, event: "firing", occurrence: "firing", storm, log: [] });
      actions.push(plan.action);
      if (plan.action === "join") storm = plan.storm;
      else if (plan.action === "send" && plan.storm) storm = plan.storm.state;
    }
    expect(actions).toEqual([...Array(STORM_MIN - 1).fill("send"), ...Array(10 - (STORM_MIN - 1)).fill("join")]);
    expect(storm.group?.openedAt).toBe(T);
  });

  it("groups escalation steps and reminders of many alerts by step, never acknowledgements", () => {
    const storm = { recent: [T - 1, T - 2], group: null };
    const escalation = { ...base, firingWasNotified: true, storm, log: [] };
    expect(planNotification({ ...escalation, event: "escalation", occurrence: "step:2:r0", step: 2 })).toMatchObject({
      action: "join",
      key: "escalation:2",
    });
    expect(planNotification({ ...escalation, event: "reminder", occurrence: "reminder:1" })).toMatchObject({
      action: "join",
      key: "reminder:0",
    });
    expect(planNotification({ ...escalation, event: "acknowledged", occurrence: "acknowledged:1" })).toMatchObject({
      action: "send",
      storm: null,
    });
  });

  it("still holds a silenced member of a storm rather than group it", () => {
    const storm = { recent: [T - 1, T - 2], group: null };
    expect(planNotification({ ...base, event: "firing", storm, silence: { ids: [3], until: null } })).toMatchObject({
      action: "withheld",
    });
  });
});

describe("dueHeld", () => {
  const held: HeldNotification[] = [
    { event: "firing", occurrence: "firing", step: 0, retryAt: T - 1 },
    { event: "escalation", occurrence: "step:1:r0", step: 1, retryAt: T + MIN },
    { event: "resolved", occurrence: "resolved:1", step: 0, retryAt: null },
  ];

  it("retries what is due while the alert is open, and keeps the rest", () => {
    const r = dueHeld(tracked({ state: firing(), held }), T);
    expect(r.retry.map((h) => h.occurrence)).toEqual(["firing", "resolved:1"]);
    expect(r.held.map((h) => h.occurrence)).toEqual(["step:1:r0"]);
  });

  it("drops all but the resolve once the alert closed", () => {
    const closed = { ...firing(), phase: "ok" as const, resolvedAt: T - 5 };
    expect(dueHeld(tracked({ state: closed, held }), T).retry.map((h) => h.event)).toEqual(["resolved"]);
  });
});

describe("escalate", () => {
  const policy: EscalationPolicy = {
    steps: [
      { afterMinutes: 0, channels: ["email"], targets: { adminIds: [1] } },
      { afterMinutes: 5, channels: ["sms"], targets: { roles: ["owner"] } },
    ],
    repeatCount: 0,
    repeatIntervalMinutes: null,
    ackTimeoutMinutes: 30,
  };
  const open = tracked({
    alertId: 7,
    state: firing(),
    escalation: { firedAt: T, acknowledgedAt: null, resolved: false, done: [] },
  });

  it("treats the first step at 0 minutes as the firing notification itself", () => {
    const r = escalate(open, policy, T);
    expect(r?.effects).toEqual([]);
    expect(r?.tracked.escalation?.done).toHaveLength(1);
  });

  it("escalates to the next step when it is due", () => {
    const first = escalate(open, policy, T)?.tracked ?? open;
    const r = escalate(first, policy, T + 5 * MIN);
    expect(r?.effects).toEqual([
      {
        type: "write",
        changes: { escalation_step: 1 },
        timeline: [{ type: "escalated", at: T + 5 * MIN, details: { step: 1, round: 0 } }],
      },
      { type: "notify", event: "escalation", occurrence: expect.any(String), step: 1 },
    ]);
  });

  it("starts over when an acknowledgement is left unresolved past its timeout", () => {
    const acked = tracked({
      alertId: 7,
      state: firing({ alert: alert({ acknowledged: true }) }),
      escalation: { firedAt: T, acknowledgedAt: T + MIN, resolved: false, done: [] },
    });
    const r = escalate(acked, policy, T + 31 * MIN);
    expect(r?.tracked.state.alert?.acknowledged).toBe(false);
    expect(r?.tracked.escalation).toEqual({ firedAt: T + 31 * MIN, acknowledgedAt: null, resolved: false, done: [] });
    expect(r?.effects).toEqual([
      {
        type: "write",
        changes: { status: "firing", acknowledged_at: null, acknowledged_by: null },
        timeline: [{ type: "ack_timeout", at: T + 31 * MIN }],
      },
      { type: "announce" },
    ]);
  });

  it("does nothing without a policy, an alert, or once resolved", () => {
    expect(escalate(open, null, T)).toBeNull();
    expect(escalate({ ...open, alertId: null }, policy, T)).toBeNull();
    expect(
      escalate({ ...open, escalation: { firedAt: T, acknowledgedAt: null, resolved: true, done: [] } }, policy, T),
    ).toBeNull();
  });
});

describe("grouped members and row values", () => {
  const open = tracked({ alertId: 7, state: firing() });
  const closed = tracked({ alertId: 7, state: { ...firing(), phase: "ok", resolvedAt: T } });

  it("names a firing member only while that same alert is open", () => {
    expect(stillTrue("firing:0", 7, open)).toBe(true);
    expect(stillTrue("firing:0", 6, open)).toBe(false);
    expect(stillTrue("firing:0", 7, closed)).toBe(false);
    expect(stillTrue("firing:0", 7, undefined)).toBe(false);
  });

  it("names an escalated or reminded member only while it is open and nobody acknowledged it", () => {
    const acked = tracked({ alertId: 7, state: firing({ alert: alert({ acknowledged: true }) }) });
    expect(stillTrue("escalation:1", 7, open)).toBe(true);
    expect(stillTrue("escalation:1", 7, acked)).toBe(false);
    expect(stillTrue("reminder:0", 7, acked)).toBe(false);
    expect(stillTrue("reminder:0", 7, closed)).toBe(false);
  });

  it("names a resolved member only while its series has no open alert", () => {
    expect(stillTrue("resolved:0", 7, closed)).toBe(true);
    expect(stillTrue("resolved:0", 7, undefined)).toBe(true);
    expect(stillTrue("resolved:0", 6, open)).toBe(false);
  });

  it("knows when an open alert's row is behind its values", () => {
    const t = tracked({
      alertId: 7,
      state: firing({ alert: alert({ lastValue: 600, peakValue: 600, breaches: 3 }) }),
      message: "m",
    });
    expect(rowValues(t)).toEqual({ metric_value: 600, peak_value: 600, breach_count: 3, message: "m" });
    expect(behind(t)).toBe(true);
    expect(behind({ ...t, written: JSON.stringify(rowValues(t)) })).toBe(false);
    expect(rowValues(closed)).toBeNull();
  });
});

describe("nextWake", () => {
  const config = { forSeconds: 60, resolveForSeconds: 0, cooldownMinutes: 0 };
  const input = { now: T, backstopMs: 5 * MIN, config, tracked: [], syncMs: 10_000, policy: null, others: [] };

  it("is the backstop when nothing is due sooner", () => {
    expect(nextWake(input)).toBe(T + 5 * MIN);
  });

  it("is the earliest of timers, held retries, row syncs and other deadlines", () => {
    const pending = tracked({
      state: { ...initialState(), phase: "pending", pendingSince: T - 20_000, condition: "breached" },
    });
    expect(nextWake({ ...input, tracked: [pending] })).toBe(T + 40_000);
    const held = tracked({ held: [{ event: "firing", occurrence: "firing", step: 0, retryAt: T + 15_000 }] });
    expect(nextWake({ ...input, tracked: [pending, held] })).toBe(T + 15_000);
    const stale = tracked({ alertId: 1, state: firing(), syncedAt: T - 2_000 });
    expect(nextWake({ ...input, tracked: [stale] })).toBe(T + 8_000);
    expect(nextWake({ ...input, others: [null, T + GROUP_WAIT_MS] })).toBe(T + GROUP_WAIT_MS);
  });

  it("is never in the past", () => {
    expect(nextWake({ ...input, others: [T - 10_000] })).toBe(T + 1);
  });
});

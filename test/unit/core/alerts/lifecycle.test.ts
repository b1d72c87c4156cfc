import { describe, expect, it } from "vitest";
import {
  acknowledge,
  type FingerprintState,
  initialState,
  type LifecycleConfig,
  type LifecycleEvent,
  nextDeadline,
  type Observation,
  observe,
  RESOLVE_NOTICE_DELAY_MS,
  closeForStop,
  RECENT_FLIP_MS,
  resolveManually,
  resolveNoticeDelay,
  STABLE_FIRING_MS,
  stillBreaching,
  tick,
} from "../../../../worker/core/alerts/lifecycle";

const S = 1000;
const DEFAULTS: LifecycleConfig = { forSeconds: 0, resolveForSeconds: 0, cooldownMinutes: 15 };
const cfgWith = (over: Partial<LifecycleConfig>): LifecycleConfig => ({ ...DEFAULTS, ...over });

/**
 * A script step, times in seconds: B breach, C clear, H inside the hysteresis band,
 * N no data, then timer and operator actions.
 */
type Step = ["B" | "C" | "H", number, number?] | ["N" | "tick" | "ack" | "resolve" | "force", number];

function observation(kind: "B" | "C" | "H" | "N", t: number, value?: number): Observation {
  const at = t * S;
  if (kind === "N") return { at, observedAt: null, value: null, breached: false, cleared: false, noData: true };
  const v = value ?? (kind === "B" ? 100 : kind === "H" ? 85 : 50);
  return { at, observedAt: at - 500, value: v, breached: kind === "B", cleared: kind === "C" };
}

function apply(state: FingerprintState, step: Step, cfg: LifecycleConfig, worse?: (a: number, b: number) => boolean) {
  const [kind, t] = step;
  switch (kind) {
    case "tick":
      return tick(state, t * S, cfg, worse);
    case "ack":
      return acknowledge(state, t * S, "alice", "looking");
    case "resolve":
      return resolveManually(state, t * S, "bob", "fixed the pool");
    case "force":
      return resolveManually(state, t * S, "bob", "fixed the pool", { force: true });
    default:
      return observe(state, observation(kind, t, step[2]), cfg, worse);
  }
}

function run(steps: Step[], cfg: LifecycleConfig = DEFAULTS, worse?: (a: number, b: number) => boolean) {
  let state = initialState();
  const events: LifecycleEvent[] = [];
  for (const step of steps) {
    const r = apply(state, step, cfg, worse);
    state = r.state;
    events.push(...r.events);
  }
  return { state, events };
}

const brief = (events: LifecycleEvent[]) => events.map((e) => `${e.type}@${e.at / S}`);

/** Breach at even offsets, clear at odd ones, one per second from `start` through `start + last`. */
const toggles = (last: number, start = 0): Step[] =>
  Array.from({ length: last + 1 }, (_, i) => [i % 2 ? "C" : "B", start + i]);

const FLAP_START = [
  "fired@0",
  "resolved@1",
  "reopened@2",
  "resolved@3",
  "reopened@4",
  "resolved@5",
  "reopened@6",
  "flapping_started@6",
];

describe("observe and tick", () => {
  it.each<[string, LifecycleConfig, Step[], string[], FingerprintState["phase"]]>([
    ["a breach fires at once with forSeconds 0", DEFAULTS, [["B", 0]], ["fired@0"], "firing"],
    [
      "repeated breaches are deduplicated",
      DEFAULTS,
      [
        ["B", 0],
        ["B", 1],
        ["B", 2],
      ],
      ["fired@0"],
      "firing",
    ],
    [
      "a clear resolves at once with resolveForSeconds 0",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
      ],
      ["fired@0", "resolved@10"],
      "ok",
    ],
    [
      "the resolve notice goes out RESOLVE_NOTICE_DELAY_MS after the resolve",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["tick", 69.999],
        ["tick", 70],
      ],
      ["fired@0", "resolved@10", "resolve_notice@70"],
      "ok",
    ],
    [
      "a re-open within the notice delay cancels the notice",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["B", 30],
        ["tick", 70],
        ["tick", 200],
      ],
      ["fired@0", "resolved@10", "reopened@30"],
      "firing",
    ],
    [
      "a breach after the notice but within cooldown re-opens the same alert",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["tick", 70],
        ["B", 909.999],
      ],
      ["fired@0", "resolved@10", "resolve_notice@70", "reopened@909.999"],
      "firing",
    ],
    [
      "a breach once cooldown ended opens a new alert",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["tick", 70],
        ["B", 910],
      ],
      ["fired@0", "resolved@10", "resolve_notice@70", "fired@910"],
      "firing",
    ],
    [
      "with cooldown 0 a new alert fires, announcing the old one's resolve first",
      cfgWith({ cooldownMinutes: 0 }),
      [
        ["B", 0],
        ["C", 10],
        ["B", 20],
      ],
      ["fired@0", "resolved@10", "resolve_notice@20", "fired@20"],
      "firing",
    ],
    [
      "forSeconds: a clear while pending goes back to ok",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["B", 30],
        ["C", 40],
        ["tick", 60],
      ],
      ["pending@0", "pending_cleared@40"],
      "ok",
    ],
    [
      "forSeconds: an observation after the hold fires",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["B", 30],
        ["B", 60],
      ],
      ["pending@0", "fired@60"],
      "firing",
    ],
    [
      "forSeconds: a tick at the deadline fires while still breaching",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["tick", 59.999],
        ["tick", 60],
      ],
      ["pending@0", "fired@60"],
      "firing",
    ],
    [
      "forSeconds: a re-breach restarts the hold",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["C", 30],
        ["B", 40],
        ["tick", 60],
        ["tick", 100],
      ],
      ["pending@0", "pending_cleared@30", "pending@40", "fired@100"],
      "firing",
    ],
    [
      "the hysteresis band keeps an open alert firing",
      DEFAULTS,
      [
        ["B", 0],
        ["H", 10],
        ["H", 500],
      ],
      ["fired@0"],
      "firing",
    ],
    [
      "the hysteresis band keeps a pending breach counting",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["H", 30],
        ["tick", 60],
      ],
      ["pending@0", "fired@60"],
      "firing",
    ],
    [
      "the hysteresis band keeps a clear counting towards resolve_for",
      cfgWith({ resolveForSeconds: 60 }),
      [
        ["B", 0],
        ["C", 10],
        ["H", 30],
        ["tick", 70],
      ],
      ["fired@0", "resolved@70"],
      "ok",
    ],
    [
      "no data keeps firing",
      DEFAULTS,
      [
        ["B", 0],
        ["N", 10],
        ["N", 20],
      ],
      ["fired@0"],
      "firing",
    ],
    [
      "no data drops a pending breach: stale data never fires it",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["N", 30],
        ["tick", 70],
      ],
      ["pending@0", "pending_cleared@30"],
      "ok",
    ],
    [
      "no data stops a resolve: the alert stays open until fresh data clears it",
      cfgWith({ resolveForSeconds: 60 }),
      [
        ["B", 0],
        ["C", 10],
        ["N", 40],
        ["tick", 80],
        ["C", 90],
        ["tick", 149],
      ],
      ["fired@0"],
      "resolving",
    ],
    [
      "the hysteresis band (a value, neither condition) still extends a pending breach",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["H", 30],
        ["tick", 60],
      ],
      ["pending@0", "fired@60"],
      "firing",
    ],
    [
      "no data keeps ok",
      DEFAULTS,
      [
        ["N", 0],
        ["C", 10],
        ["N", 20],
      ],
      [],
      "ok",
    ],
    [
      "resolve_for: a clear waits in resolving",
      cfgWith({ resolveForSeconds: 120 }),
      [
        ["B", 0],
        ["C", 10],
        ["C", 60],
      ],
      ["fired@0"],
      "resolving",
    ],
    [
      "resolve_for: a breach while resolving goes back to firing and restarts the clock",
      cfgWith({ resolveForSeconds: 120 }),
      [
        ["B", 0],
        ["C", 10],
        ["B", 70],
        ["C", 80],
        ["tick", 130],
        ["tick", 199.999],
        ["tick", 200],
      ],
      ["fired@0", "resolved@200"],
      "ok",
    ],
    [
      "resolve_for: an observation after the hold resolves",
      cfgWith({ resolveForSeconds: 120 }),
      [
        ["B", 0],
        ["C", 10],
        ["C", 130],
      ],
      ["fired@0", "resolved@130"],
      "ok",
    ],
    ["flapping: the 6th flip within the window starts flapping", DEFAULTS, toggles(6), FLAP_START, "firing"],
    ["flapping: a clear holds the alert open", DEFAULTS, toggles(9), FLAP_START, "resolving"],
    [
      "flapping: resolves once clear for stableSeconds",
      DEFAULTS,
      [...toggles(7), ["tick", 306.999], ["C", 307]],
      [...FLAP_START, "flapping_stopped@307", "resolved@307"],
      "ok",
    ],
    [
      "flapping: once settled, counting starts afresh (a later blip re-opens without flapping)",
      DEFAULTS,
      [...toggles(7), ["tick", 307], ["B", 400]],
      [...FLAP_START, "flapping_stopped@307", "resolved@307", "resolve_notice@400", "reopened@400"],
      "firing",
    ],
    [
      "flapping: nothing open (held pending by forSeconds) is not flapping",
      cfgWith({ forSeconds: 60 }),
      toggles(9),
      [0, 2, 4, 6, 8].flatMap((t) => [`pending@${t}`, `pending_cleared@${t + 1}`]),
      "ok",
    ],
    [
      "flapping: a breach restarts the stable clock",
      DEFAULTS,
      [...toggles(7), ["B", 100], ["C", 200], ["tick", 307], ["tick", 499.999], ["tick", 500]],
      [...FLAP_START, "flapping_stopped@500", "resolved@500"],
      "ok",
    ],
    [
      "flapping: resolve_for longer than stableSeconds still applies",
      cfgWith({ resolveForSeconds: 400 }),
      // resolve_for 400 s: clear at 1 s only starts resolving, so the flips are all kept.
      [
        ["B", 0],
        ["C", 1],
        ["B", 2],
        ["C", 3],
        ["B", 4],
        ["C", 5],
        ["B", 6],
        ["C", 7],
        ["tick", 307],
        ["tick", 407],
      ],
      ["fired@0", "flapping_started@6", "flapping_stopped@307", "resolved@407"],
      "ok",
    ],
    [
      "flapping: steady breaching ends it once the flips leave the window",
      DEFAULTS,
      [...toggles(6), ["B", 300], ["tick", 600.999], ["tick", 601], ["C", 700]],
      [...FLAP_START, "flapping_stopped@601", "resolved@700"],
      "ok",
    ],
    [
      "flapping: the flip that reaches the minimum may be a clear, and holds at once",
      cfgWith({ flapping: { windowSeconds: 600, minTransitions: 5, stableSeconds: 300 } }),
      toggles(5),
      ["fired@0", "resolved@1", "reopened@2", "resolved@3", "reopened@4", "flapping_started@5"],
      "resolving",
    ],
    [
      "flapping: flips spread wider than the window never count",
      DEFAULTS,
      Array.from({ length: 12 }, (_, i): Step => [i % 2 ? "C" : "B", i * 121]),
      // Each re-open comes after the notice went out (no alarm ticks here: observe sends it).
      ["fired@0", "resolved@121"].concat(
        [242, 484, 726, 968, 1210].flatMap((t) => [`resolve_notice@${t}`, `reopened@${t}`, `resolved@${t + 121}`]),
      ),
      "ok",
    ],
    [
      "ticks with nothing due change nothing",
      cfgWith({ forSeconds: 60 }),
      [
        ["tick", 0],
        ["B", 10],
        ["tick", 20],
        ["tick", 30],
      ],
      ["pending@10"],
      "pending",
    ],
  ])("%s", (_name, cfg, steps, expected, phase) => {
    const { state, events } = run(steps, cfg);
    expect(brief(events)).toEqual(expected);
    expect(state.phase).toBe(phase);
  });

  it("does not mutate the state it is given", () => {
    const { state } = run(toggles(6));
    const before = JSON.stringify(state);
    observe(state, observation("C", 7), DEFAULTS);
    tick(state, 400 * S, DEFAULTS);
    acknowledge(state, 8 * S, "alice");
    resolveManually(state, 9 * S, "bob");
    expect(JSON.stringify(state)).toBe(before);
  });
});

describe("the open alert", () => {
  it("counts breaches and tracks the last and peak value (default direction: higher is worse)", () => {
    const { state, events } = run([
      ["B", 0, 95],
      ["B", 60, 120],
      ["B", 120, 101],
      ["H", 180, 85],
    ]);
    expect(events).toEqual([{ type: "fired", at: 0, value: 95, observedAt: -500 }]);
    expect(state.alert).toEqual({
      openedAt: 0,
      observedAt: -500,
      lastValue: 85,
      peakValue: 120,
      breaches: 3,
      acknowledged: false,
      reopened: 0,
    });
  });

  it("uses the rule's direction for the peak", () => {
    const lower = (a: number, b: number) => a < b;
    const { state } = run(
      [
        ["B", 0, 5],
        ["B", 60, 2],
        ["B", 120, 4],
      ],
      DEFAULTS,
      lower,
    );
    expect(state.alert).toMatchObject({ lastValue: 4, peakValue: 2, breaches: 3 });
  });

  it("a timer-fired alert reports the latest breaching sample", () => {
    const cfg = cfgWith({ forSeconds: 60 });
    const { events } = run(
      [
        ["B", 0, 150],
        ["B", 50, 130],
        ["tick", 60],
      ],
      cfg,
    );
    expect(events.at(-1)).toEqual({ type: "fired", at: 60 * S, value: 130, observedAt: 49_500 });
  });

  it("a re-open keeps openedAt/observedAt, counts the re-open and folds the new value in", () => {
    const lower = (a: number, b: number) => a < b;
    const cfg = cfgWith({ forSeconds: 60 });
    const { state, events } = run(
      [
        ["B", 0, 5],
        ["tick", 60],
        ["C", 100, 50],
        ["B", 120, 1],
        ["tick", 180],
      ],
      cfg,
      lower,
    );
    expect(brief(events)).toEqual([
      "pending@0",
      "fired@60",
      "resolved@100",
      "pending@120",
      "resolve_notice@180",
      "reopened@180",
    ]);
    expect(events.at(-1)).toEqual({
      type: "reopened",
      at: 180 * S,
      value: 1,
      observedAt: 119_500,
      resolveNoticeSent: true,
    });
    expect(state.alert).toEqual({
      openedAt: 60 * S,
      observedAt: -500,
      lastValue: 1,
      peakValue: 1,
      breaches: 2,
      acknowledged: false,
      reopened: 1,
      reopenedAt: 180 * S,
    });
    expect(state.resolvedAt).toBeNull();
    expect(state.resolveNoticeDue).toBeNull();
  });

  it.each<[string, Step[], boolean, boolean]>([
    [
      "before the resolve notice (the blip nobody heard of)",
      [
        ["B", 0],
        ["ack", 5],
        ["C", 10],
        ["B", 20],
      ],
      false,
      true,
    ],
    [
      "after the resolve notice went out",
      [
        ["B", 0],
        ["ack", 5],
        ["C", 10],
        ["tick", 70],
        ["B", 100],
      ],
      true,
      false,
    ],
  ])("a re-open %s: resolveNoticeSent=%s, acknowledged stays %s", (_name, steps, noticeSent, acked) => {
    const { state, events } = run(steps);
    expect(events.at(-1)).toMatchObject({ type: "reopened", resolveNoticeSent: noticeSent });
    expect(state.alert?.acknowledged).toBe(acked);
    expect(state.alert?.reopened).toBe(1);
  });
});

describe("acknowledge and manual resolve", () => {
  it.each<[string, LifecycleConfig, Step[], string[], FingerprintState["phase"]]>([
    [
      "acknowledges an open alert once",
      DEFAULTS,
      [
        ["B", 0],
        ["ack", 5],
        ["ack", 6],
      ],
      ["fired@0", "acknowledged@5"],
      "firing",
    ],
    [
      "acknowledges a resolving alert",
      cfgWith({ resolveForSeconds: 60 }),
      [
        ["B", 0],
        ["C", 5],
        ["ack", 6],
      ],
      ["fired@0", "acknowledged@6"],
      "resolving",
    ],
    [
      "ignores an ack with nothing open, or resolved",
      DEFAULTS,
      [
        ["ack", 0],
        ["B", 10],
        ["C", 20],
        ["ack", 30],
      ],
      ["fired@10", "resolved@20"],
      "ok",
    ],
    [
      "ignores an ack while pending",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["ack", 10],
      ],
      ["pending@0"],
      "pending",
    ],
    [
      "resolves by hand once the series no longer breaches, and announces it at once",
      cfgWith({ resolveForSeconds: 600 }),
      [
        ["B", 0],
        ["C", 3],
        ["resolve", 5],
        ["tick", 5],
      ],
      ["fired@0", "resolved@5", "resolve_notice@5"],
      "ok",
    ],
    [
      "a manual resolve still allows a cooldown re-open, which re-notifies",
      cfgWith({ resolveForSeconds: 600 }),
      [
        ["B", 0],
        ["C", 3],
        ["resolve", 5],
        ["tick", 5],
        ["B", 65],
      ],
      ["fired@0", "resolved@5", "resolve_notice@5", "reopened@65"],
      "firing",
    ],
    [
      "refuses a manual resolve while the series still breaches",
      DEFAULTS,
      [
        ["B", 0],
        ["resolve", 5],
        ["tick", 5],
        ["tick", 500],
      ],
      ["fired@0"],
      "firing",
    ],
    [
      "the hysteresis band after a breach still counts as breaching",
      DEFAULTS,
      [
        ["B", 0],
        ["H", 3],
        ["resolve", 5],
      ],
      ["fired@0"],
      "firing",
    ],
    [
      "forced while breaching: the next breach is a new alert and the notice is never sent",
      DEFAULTS,
      [
        ["B", 0],
        ["force", 5],
        ["tick", 5],
        ["tick", 200],
        ["B", 201],
        ["tick", 900],
      ],
      ["fired@0", "resolved@5", "fired@201"],
      "firing",
    ],
    [
      "forced while breaching: the notice waits for the series to stop breaching",
      DEFAULTS,
      [
        ["B", 0],
        ["force", 5],
        ["N", 60],
        ["H", 70],
        ["tick", 100],
        ["C", 130],
      ],
      ["fired@0", "resolved@5", "resolve_notice@130"],
      "ok",
    ],
    [
      "forced while breaching, with forSeconds: a breach that goes pending and clears lets the notice go",
      cfgWith({ forSeconds: 60 }),
      [
        ["B", 0],
        ["tick", 60],
        ["force", 65],
        ["B", 70],
        ["C", 80],
      ],
      ["pending@0", "fired@60", "resolved@65", "pending@70", "pending_cleared@80", "resolve_notice@80"],
      "ok",
    ],
    [
      "forced when no longer breaching is a plain manual resolve (a breach in cooldown re-opens)",
      cfgWith({ resolveForSeconds: 600 }),
      [
        ["B", 0],
        ["C", 3],
        ["force", 5],
        ["tick", 5],
        ["B", 65],
      ],
      ["fired@0", "resolved@5", "resolve_notice@5", "reopened@65"],
      "firing",
    ],
    [
      "a manual resolve ends flapping",
      DEFAULTS,
      [...toggles(7), ["resolve", 10], ["tick", 10]],
      [...FLAP_START, "flapping_stopped@10", "resolved@10", "resolve_notice@10"],
      "ok",
    ],
    [
      "ignores a manual resolve with nothing open, or resolved",
      DEFAULTS,
      [
        ["resolve", 0],
        ["B", 10],
        ["C", 20],
        ["resolve", 30],
      ],
      ["fired@10", "resolved@20"],
      "ok",
    ],
  ])("%s", (_name, cfg, steps, expected, phase) => {
    const { state, events } = run(steps, cfg);
    expect(brief(events)).toEqual(expected);
    expect(state.phase).toBe(phase);
  });

  it("refuses with the current value while breaching; force resolves and marks the next firing", () => {
    const opened = run([
      ["B", 0, 500],
      ["B", 10, 420],
    ]).state;
    const refused = resolveManually(opened, 20 * S, "bob");
    expect(refused.refused).toEqual({ reason: "still_breaching", value: 420 });
    expect(refused.events).toEqual([]);
    expect(refused.state).toBe(opened);
    expect(stillBreaching(opened)).toEqual({ reason: "still_breaching", value: 420 });

    const forced = resolveManually(opened, 20 * S, "bob", undefined, { force: true });
    expect(forced.refused).toBeUndefined();
    expect(forced.state).toMatchObject({ phase: "ok", resolvedAt: 20 * S, forcedResolve: true });
    expect(forced.events).toEqual([{ type: "resolved", at: 20 * S, value: 420, auto: false, by: "bob", forced: true }]);
    // Held while breaching: no timer for it, new data decides.
    expect(nextDeadline(forced.state, DEFAULTS)).toBeNull();
    const refired = observe(forced.state, observation("B", 21, 450), DEFAULTS);
    expect(refired.events).toEqual([
      { type: "fired", at: 21 * S, value: 450, observedAt: 20_500, afterForcedResolve: true },
    ]);
    expect(refired.state).toMatchObject({ forcedResolve: false, resolveNoticeDue: null });
  });

  it("carries who and why", () => {
    const opened = run(
      [
        ["B", 0],
        ["C", 1],
      ],
      cfgWith({ resolveForSeconds: 600 }),
    ).state;
    const acked = acknowledge(opened, 5 * S, "alice", "on it");
    expect(acked.events).toEqual([{ type: "acknowledged", at: 5 * S, by: "alice", note: "on it" }]);
    expect(acked.state.alert?.acknowledged).toBe(true);
    expect(acknowledge(opened, 5 * S, "alice").events).toEqual([{ type: "acknowledged", at: 5 * S, by: "alice" }]);

    const resolved = resolveManually(acked.state, 9 * S, "bob", "restarted");
    expect(resolved.events).toEqual([
      { type: "resolved", at: 9 * S, value: 50, auto: false, by: "bob", note: "restarted" },
    ]);
    expect(resolved.state).toMatchObject({ phase: "ok", resolvedAt: 9 * S, resolveNoticeDue: 9 * S });
    expect(
      run([
        ["B", 0],
        ["C", 1],
      ]).events.at(-1),
    ).toEqual({ type: "resolved", at: S, value: 50, auto: true });
  });
});

describe("nextDeadline", () => {
  it.each<[string, LifecycleConfig, Step[], number | null]>([
    ["nothing to do initially", DEFAULTS, [], null],
    ["nothing to do while firing steadily", DEFAULTS, [["B", 0]], null],
    ["pending: pendingSince + forSeconds", cfgWith({ forSeconds: 60 }), [["B", 10]], 70],
    [
      "resolving: clearSince + resolveForSeconds",
      cfgWith({ resolveForSeconds: 120 }),
      [
        ["B", 0],
        ["C", 10],
      ],
      130,
    ],
    [
      "resolved: the resolve notice",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
      ],
      10 + RESOLVE_NOTICE_DELAY_MS / S,
    ],
    [
      "resolved, notice sent: the end of cooldown",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["tick", 70],
      ],
      910,
    ],
    [
      "cooldown shorter than the notice delay: the notice first",
      cfgWith({ cooldownMinutes: 0 }),
      [
        ["B", 0],
        ["C", 10],
      ],
      70,
    ],
    [
      "cooldown over: nothing",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["tick", 70],
        ["tick", 910],
      ],
      null,
    ],
    ["flapping and clear: clearSince + stableSeconds", DEFAULTS, toggles(7), 307],
    [
      "flapping and breaching: when the oldest counted flip leaves the window",
      DEFAULTS,
      [...toggles(6), ["B", 7]],
      601,
    ],
    [
      "manual resolve: at once",
      cfgWith({ resolveForSeconds: 600 }),
      [
        ["B", 0],
        ["C", 2],
        ["resolve", 5],
      ],
      5,
    ],
    [
      "the earliest of several",
      cfgWith({ forSeconds: 120 }),
      [
        ["B", 0],
        ["tick", 120],
        ["C", 130],
        ["B", 140],
      ],
      190,
    ],
  ])("%s", (_name, cfg, steps, expected) => {
    const deadline = nextDeadline(run(steps, cfg).state, cfg);
    expect(deadline === null ? null : deadline / S).toBe(expected);
  });

  it("a sustained breach with forSeconds 60 fires at exactly pendingSince + 60 s, via tick", () => {
    const cfg = cfgWith({ forSeconds: 60 });
    const t0 = Date.parse("2026-11-26T10:00:07.250Z");
    let { state, events } = observe(
      initialState(),
      { at: t0, observedAt: t0 - 800, value: 97, breached: true, cleared: false },
      cfg,
    );
    expect(events).toEqual([{ type: "pending", at: t0, value: 97 }]);
    ({ state, events } = observe(
      state,
      { at: t0 + 25 * S, observedAt: t0 + 24 * S, value: 99, breached: true, cleared: false },
      cfg,
    ));
    expect(events).toEqual([]);
    expect(nextDeadline(state, cfg)).toBe(t0 + 60 * S);
    expect(tick(state, t0 + 60 * S - 1, cfg).events).toEqual([]);
    ({ state, events } = tick(state, t0 + 60 * S, cfg));
    expect(events).toEqual([{ type: "fired", at: t0 + 60 * S, value: 99, observedAt: t0 + 24 * S }]);
    expect(state.alert?.openedAt).toBe(t0 + 60 * S);
    expect(nextDeadline(state, cfg)).toBeNull();
  });
});

/** Interleaves observations with ticks at nextDeadline, as the Durable Object's alarm would. */
function drive(observations: Observation[], until: number, cfg: LifecycleConfig) {
  let state = initialState();
  const events: LifecycleEvent[] = [];
  let i = 0;
  let ticks = 0;
  for (;;) {
    const deadline = nextDeadline(state, cfg);
    const next = observations[i];
    let r;
    if (deadline !== null && deadline <= until && (!next || deadline < next.at)) {
      r = tick(state, deadline, cfg);
      ticks += 1;
      if (ticks > 1000) throw new Error("nextDeadline does not advance");
    } else if (next) {
      r = observe(state, next, cfg);
      i += 1;
    } else break;
    state = r.state;
    events.push(...r.events);
  }
  return { state, events, ticks };
}

describe("benchmark: a metric toggling across its threshold every second", () => {
  const flips = Array.from({ length: 26 }, (_, t) => observation(t % 2 ? "C" : "B", t));
  const HOUR = 3600 * S;

  it.each<[string, Observation[]]>([
    [
      "then evaluated clear every 10 s for an hour",
      Array.from({ length: 360 }, (_, k) => observation("C", 26 + 10 * k)),
    ],
    ["then no evaluations, only the alarm", []],
  ])("%s: one firing notification, at most one resolve notice", (_name, after) => {
    const { state, events, ticks } = drive([...flips, ...after], 26 * S + HOUR, DEFAULTS);
    const count = (type: LifecycleEvent["type"]) => events.filter((e) => e.type === type).length;
    const notifying = events.filter(
      (e) => e.type === "fired" || e.type === "resolve_notice" || (e.type === "reopened" && e.resolveNoticeSent),
    );
    expect(count("fired")).toBe(1);
    expect(brief(notifying)).toEqual(["fired@0", "resolve_notice@385"]);
    // Flapping from the 6th flip until 300 s after the last clear (at 25 s).
    expect(brief(events.filter((e) => e.type.startsWith("flapping")))).toEqual([
      "flapping_started@6",
      "flapping_stopped@325",
    ]);
    expect(brief(events.slice(-2))).toEqual(["resolved@325", "resolve_notice@385"]);
    expect(state).toMatchObject({ phase: "ok", alert: null, flapping: false, resolveNoticeDue: null });
    expect(nextDeadline(state, DEFAULTS)).toBeNull();
    expect(ticks).toBe(3); // stable clear, resolve notice, end of cooldown
  });

  it("keeps the stored state small: only the newest minTransitions flips", () => {
    let state = initialState();
    for (const o of flips) {
      state = observe(state, o, DEFAULTS).state;
      expect(state.transitions.length).toBeLessThanOrEqual(6);
    }
    expect(state.transitions).toEqual([20, 21, 22, 23, 24, 25].map((t) => t * S));
  });
});

describe("persistence", () => {
  it("survives a JSON round-trip after every step with identical results", () => {
    const cfg = cfgWith({ forSeconds: 5, resolveForSeconds: 10, cooldownMinutes: 1 });
    const steps: Step[] = [
      ["B", 0, 120],
      ["tick", 5],
      ["ack", 6],
      ["C", 7],
      ["H", 10],
      ["tick", 17],
      ["B", 20, 130],
      ["tick", 25],
      ...toggles(40, 30),
      ["tick", 400],
      ["resolve", 401],
      ["tick", 401],
      ["tick", 500],
    ];
    let direct = initialState();
    let stored = initialState();
    const directEvents: LifecycleEvent[] = [];
    const storedEvents: LifecycleEvent[] = [];
    for (const step of steps) {
      const a = apply(direct, step, cfg);
      const b = apply(JSON.parse(JSON.stringify(stored)) as FingerprintState, step, cfg);
      direct = a.state;
      stored = b.state;
      directEvents.push(...a.events);
      storedEvents.push(...b.events);
      expect(JSON.parse(JSON.stringify(direct))).toEqual(direct);
    }
    expect(storedEvents).toEqual(directEvents);
    expect(stored).toEqual(direct);
    expect(directEvents.map((e) => e.type)).toContain("flapping_started");
  });
});

describe("resolve notice timing", () => {
  const MIN = 60;
  it.each<[string, LifecycleConfig, Step[], string[]]>([
    [
      "a stable incident (firing 10 min, no flips) is announced as it resolves",
      DEFAULTS,
      [
        ["C", 0],
        ["B", 60],
        ["B", 60 + 10 * MIN],
        ["C", 60 + 10 * MIN + 1],
        ["tick", 60 + 10 * MIN + 1],
      ],
      ["fired@60", "resolved@661", "resolve_notice@661"],
    ],
    [
      "exactly STABLE_FIRING_MS old is stable",
      DEFAULTS,
      [
        ["B", 0],
        ["C", STABLE_FIRING_MS / S],
        ["tick", STABLE_FIRING_MS / S],
      ],
      ["fired@0", "resolved@300", "resolve_notice@300"],
    ],
    [
      "a young alert (just under STABLE_FIRING_MS) keeps the hold",
      DEFAULTS,
      [
        ["B", 0],
        ["C", STABLE_FIRING_MS / S - 1],
        ["tick", STABLE_FIRING_MS / S + 58],
        ["tick", STABLE_FIRING_MS / S + 59],
      ],
      ["fired@0", "resolved@299", "resolve_notice@359"],
    ],
    [
      "re-opened within RECENT_FLIP_MS keeps the hold, even when open long",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["B", 20],
        ["C", 20 + RECENT_FLIP_MS / S - 1],
        ["tick", 20 + RECENT_FLIP_MS / S - 1],
        ["tick", 20 + RECENT_FLIP_MS / S + 59],
      ],
      ["fired@0", "resolved@10", "reopened@20", "resolved@619", "resolve_notice@679"],
    ],
    [
      "a re-open longer than RECENT_FLIP_MS ago no longer holds it",
      DEFAULTS,
      [
        ["B", 0],
        ["C", 10],
        ["B", 20],
        ["C", 20 + RECENT_FLIP_MS / S],
        ["tick", 20 + RECENT_FLIP_MS / S],
      ],
      ["fired@0", "resolved@10", "reopened@20", "resolved@620", "resolve_notice@620"],
    ],
    [
      "a wobble while open (resolving, then breaching again) in the last 10 min keeps the hold",
      cfgWith({ resolveForSeconds: 120 }),
      [
        ["B", 0],
        ["C", 400],
        ["B", 450],
        ["C", 500],
        ["tick", 620],
        ["tick", 679],
        ["tick", 680],
      ],
      ["fired@0", "resolved@620", "resolve_notice@680"],
    ],
    [
      "flapping that ended within the last 10 min keeps the hold",
      DEFAULTS,
      [...toggles(7), ["B", 400], ["C", 700], ["tick", 1000], ["tick", 1059], ["tick", 1060]],
      // Open 1000 s, last re-open 994 s ago, two flips in 10 min: only the flapping just ended holds it.
      [...FLAP_START, "flapping_stopped@1000", "resolved@1000", "resolve_notice@1060"],
    ],
  ])("%s", (_name, cfg, steps, expected) => {
    expect(brief(run(steps, cfg).events)).toEqual(expected);
  });

  it("resolveNoticeDelay: 0 for a stable alert, the hold otherwise, and nothing open holds", () => {
    const stable = run([["B", 0]]).state;
    expect(resolveNoticeDelay(stable, 10 * 60 * S)).toBe(0);
    expect(resolveNoticeDelay(stable, 60 * S)).toBe(RESOLVE_NOTICE_DELAY_MS);
    expect(resolveNoticeDelay(initialState(), 0)).toBe(RESOLVE_NOTICE_DELAY_MS);
  });

  it("the 13-episode flapping replay still yields one alert and at most one resolve notice", () => {
    const steps: Step[] = [...toggles(25), ["C", 26], ["tick", 400], ["tick", 2000]];
    const { events } = run(steps);
    expect(events.filter((e) => e.type === "fired")).toHaveLength(1);
    expect(events.filter((e) => e.type === "reopened" && e.resolveNoticeSent)).toHaveLength(0);
    expect(events.filter((e) => e.type === "resolve_notice").length).toBeLessThanOrEqual(1);
  });
});

describe("closeForStop (rule disabled or deleted)", () => {
  it("resolves an open alert with the note and announces it at once", () => {
    const r = closeForStop(run([["B", 0]]).state, 5 * S, "rule disabled");
    expect(r.events).toEqual([
      { type: "resolved", at: 5 * S, value: 100, auto: false, by: "engine", note: "rule disabled" },
      { type: "resolve_notice", at: 5 * S },
    ]);
    expect(r.state.resolveNoticeDue).toBeNull();
  });

  it("sends a held notice now, once, and nothing when the notice already went", () => {
    const held = run([
      ["B", 0],
      ["C", 10],
    ]).state;
    expect(held.resolveNoticeDue).toBe(70 * S);
    const first = closeForStop(held, 20 * S, "rule disabled");
    expect(brief(first.events)).toEqual(["resolve_notice@20"]);
    expect(closeForStop(first.state, 21 * S, "rule deleted").events).toEqual([]);
  });

  it("after a manual resolve whose notice went: no second notice (resolve, then disable)", () => {
    const { state, events } = run(
      [
        ["B", 0],
        ["C", 3],
        ["resolve", 5],
        ["tick", 5],
      ],
      cfgWith({ resolveForSeconds: 600 }),
    );
    expect(brief(events)).toEqual(["fired@0", "resolved@5", "resolve_notice@5"]);
    expect(closeForStop(state, 6 * S, "rule disabled").events).toEqual([]);
  });

  it("after a forced resolve whose notice waits: one notice, then none", () => {
    const { state } = run([
      ["B", 0],
      ["force", 5],
    ]);
    const closed = closeForStop(state, 6 * S, "rule disabled");
    expect(brief(closed.events)).toEqual(["resolve_notice@6"]);
    expect(closeForStop(closed.state, 7 * S, "rule deleted").events).toEqual([]);
  });
});

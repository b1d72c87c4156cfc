import { describe, expect, it } from "vitest";
import {
  cycleMinutes,
  dueActions,
  type EscalationPolicy,
  type EscalationProgress,
  type EscalationStep,
  toPolicy,
  notifyChannels,
} from "../../../../worker/core/alerts/escalation";

const MIN = 60_000;
const FIRED = Date.parse("2026-03-02T08:00:00Z");
/** Minutes after FIRED. */
const m = (minutes: number) => FIRED + minutes * MIN;

const step = (afterMinutes: number, channel = "email"): EscalationStep => ({
  afterMinutes,
  channels: [channel],
  targets: { roles: ["operator"] },
});

function policy(over: Partial<EscalationPolicy> = {}): EscalationPolicy {
  return {
    steps: [step(0, "email"), { afterMinutes: 15, channels: ["sms", "slack"], targets: { adminIds: [4] } }],
    repeatCount: 0,
    repeatIntervalMinutes: null,
    ackTimeoutMinutes: null,
    ...over,
  };
}

const progress = (over: Partial<EscalationProgress> = {}): EscalationProgress => ({
  firedAt: FIRED,
  acknowledgedAt: null,
  resolved: false,
  done: [],
  ...over,
});

/**
 * Plays the engine: wakes at each `next` until `untilMinute`, issuing what is due.
 * Returns "key@minute" for every action, in order.
 */
function play(pol: EscalationPolicy, untilMinute: number, start: Partial<EscalationProgress> = {}): string[] {
  const p = progress(start);
  const issued: string[] = [];
  let now = p.firedAt;
  for (let i = 0; i < 100 && now <= m(untilMinute); i++) {
    const { due, next } = dueActions(pol, p, now);
    for (const a of due) {
      issued.push(`${a.key.split("@")[0]}@${(a.at - FIRED) / MIN}`);
      p.done.push(a.key);
    }
    if (next === null) break;
    expect(next).toBeGreaterThan(now);
    now = next;
  }
  return issued;
}

describe("cycleMinutes", () => {
  it.each<[string, number[], number | null, number]>([
    ["last step plus itself without an interval", [0, 15], null, 30],
    ["last step plus the interval", [0, 15], 10, 25],
    ["a single later step", [5], null, 10],
    ["at least a minute apart: single step at 0", [0], null, 1],
    ["at least a minute apart: interval 0", [0, 15], 0, 16],
    ["the largest afterMinutes counts as last", [20, 5], null, 40],
  ])("%s", (_, afters, interval, expected) => {
    expect(cycleMinutes(policy({ steps: afters.map((a) => step(a)), repeatIntervalMinutes: interval }))).toBe(expected);
  });
});

describe("dueActions schedule", () => {
  it.each<[string, Partial<EscalationPolicy>, number, string[]]>([
    ["one round", {}, 600, ["step:0:r0@0", "step:1:r0@15"]],
    [
      "two repeats, rounds a cycle (15 + 15) apart",
      { repeatCount: 2 },
      600,
      ["step:0:r0@0", "step:1:r0@15", "step:0:r1@30", "step:1:r1@45", "step:0:r2@60", "step:1:r2@75"],
    ],
    [
      "a repeat with an interval, then reminders after the last round's last step",
      { repeatCount: 1, repeatIntervalMinutes: 10 },
      75,
      [
        "step:0:r0@0",
        "step:1:r0@15",
        "step:0:r1@25",
        "step:1:r1@40",
        "reminder:1@50",
        "reminder:2@60",
        "reminder:3@70",
      ],
    ],
    [
      "reminders without repeats",
      { repeatIntervalMinutes: 30 },
      100,
      ["step:0:r0@0", "step:1:r0@15", "reminder:1@45", "reminder:2@75"],
    ],
    [
      "one step at 0: reminders every interval after firedAt",
      { steps: [step(0)], repeatIntervalMinutes: 5 },
      16,
      ["step:0:r0@0", "reminder:1@5", "reminder:2@10", "reminder:3@15"],
    ],
    [
      "steps sharing a time come out together, in step order",
      { steps: [step(0), step(10, "sms"), step(10, "slack")] },
      600,
      ["step:0:r0@0", "step:1:r0@10", "step:2:r0@10"],
    ],
    ["a first step later than firedAt", { steps: [step(5)], repeatCount: 1 }, 600, ["step:0:r0@5", "step:0:r1@15"]],
  ])("%s", (_, over, until, expected) => {
    expect(play(policy(over), until)).toEqual(expected);
  });

  it("describes a step fully", () => {
    const { due, next } = dueActions(policy(), progress(), m(15));
    expect(due).toEqual([
      {
        kind: "step",
        key: `step:0:r0@${FIRED}`,
        step: 0,
        round: 0,
        at: m(0),
        channels: ["email"],
        targets: { roles: ["operator"] },
      },
      {
        kind: "step",
        key: `step:1:r0@${FIRED}`,
        step: 1,
        round: 0,
        at: m(15),
        channels: ["sms", "slack"],
        targets: { adminIds: [4] },
      },
    ]);
    expect(next).toBeNull();
  });

  it("returns every overdue step after a late wake-up, in time order, but only the latest reminder", () => {
    const pol = policy({ repeatCount: 1, repeatIntervalMinutes: 10 });
    const first = dueActions(pol, progress(), m(62));
    expect(first.due.map((a) => [a.key, (a.at - FIRED) / MIN])).toEqual([
      [`step:0:r0@${FIRED}`, 0],
      [`step:1:r0@${FIRED}`, 15],
      [`step:0:r1@${FIRED}`, 25],
      [`step:1:r1@${FIRED}`, 40],
      [`reminder:2@${FIRED}`, 60],
    ]);
    expect(first.next).toBe(m(70));
    // Issued: nothing again at the same time, and the superseded reminder 1 never comes back.
    const again = dueActions(pol, progress({ done: first.due.map((a) => a.key) }), m(69));
    expect(again).toEqual({ due: [], next: m(70) });
  });

  it("never returns a done action, and skips done ones when naming the next", () => {
    const done = [`step:0:r0@${FIRED}`, `step:1:r0@${FIRED}`];
    expect(dueActions(policy(), progress({ done }), m(20))).toEqual({ due: [], next: null });
    // Step 1 issued early: the next one is step 0 of round 1.
    const pol = policy({ repeatCount: 1 });
    expect(dueActions(pol, progress({ done }), m(1))).toEqual({ due: [], next: m(30) });
  });
});

describe("dueActions after acknowledgement and resolution", () => {
  const pol = policy({ repeatCount: 3, repeatIntervalMinutes: 10 });

  it("stops steps and reminders once acknowledged, overdue ones included", () => {
    expect(dueActions(pol, progress({ acknowledgedAt: m(5) }), m(500))).toEqual({ due: [], next: null });
  });

  it.each<[string, number, { keys: string[]; next: number | null }]>([
    ["before the timeout", 39, { keys: [], next: m(40) }],
    ["at the timeout", 40, { keys: [`ack_timeout:${m(10)}`], next: null }],
    ["long after", 400, { keys: [`ack_timeout:${m(10)}`], next: null }],
  ])("yields one ack_timeout 30 min after an acknowledgement, %s", (_, now, expected) => {
    const { due, next } = dueActions({ ...pol, ackTimeoutMinutes: 30 }, progress({ acknowledgedAt: m(10) }), m(now));
    expect({ keys: due.map((a) => a.key), next }).toEqual(expected);
    for (const a of due) expect(a).toEqual({ kind: "ack_timeout", key: a.key, at: m(40) });
  });

  it("yields the ack_timeout only once", () => {
    const p = progress({ acknowledgedAt: m(10), done: [`ack_timeout:${m(10)}`] });
    expect(dueActions({ ...pol, ackTimeoutMinutes: 30 }, p, m(100))).toEqual({ due: [], next: null });
  });

  it("escalates afresh after the caller re-triggers with a new firedAt, despite the old keys", () => {
    const withTimeout = { ...policy({ repeatIntervalMinutes: 10 }), ackTimeoutMinutes: 30 };
    const doneBefore = [`step:0:r0@${FIRED}`, `step:1:r0@${FIRED}`, `reminder:1@${FIRED}`, `ack_timeout:${m(20)}`];
    // Acknowledged at 20, timed out at 50: firedAt becomes 50 and the acknowledgement is cleared.
    const again = dueActions(withTimeout, progress({ firedAt: m(50), done: doneBefore }), m(50));
    expect(again).toMatchObject({ due: [{ kind: "step", key: `step:0:r0@${m(50)}`, at: m(50) }], next: m(65) });
  });

  it("has nothing due for a resolved alert", () => {
    const withTimeout = { ...pol, ackTimeoutMinutes: 30 };
    expect(dueActions(withTimeout, progress({ resolved: true }), m(300))).toEqual({ due: [], next: null });
    expect(dueActions(withTimeout, progress({ resolved: true, acknowledgedAt: m(1) }), m(300))).toEqual({
      due: [],
      next: null,
    });
  });
});

describe("toPolicy", () => {
  it("converts the stored shape, copying arrays", () => {
    const row = {
      steps: [
        { after_minutes: 0, channels: ["email"], targets: { roles: ["operator"] } },
        { after_minutes: 30, channels: ["sms", "slack"], targets: { admin_ids: [1, 2], roles: ["admin"] } },
      ],
      repeat_count: 2,
      repeat_interval_minutes: 20,
      ack_timeout_minutes: 60,
    };
    const pol = toPolicy(row);
    expect(pol).toEqual({
      steps: [
        { afterMinutes: 0, channels: ["email"], targets: { roles: ["operator"] } },
        { afterMinutes: 30, channels: ["sms", "slack"], targets: { adminIds: [1, 2], roles: ["admin"] } },
      ],
      repeatCount: 2,
      repeatIntervalMinutes: 20,
      ackTimeoutMinutes: 60,
    });
    expect(pol.steps[1]?.targets.adminIds).not.toBe(row.steps[1]?.targets.admin_ids);
  });

  it.each<[string, { repeat_interval_minutes?: number | null; ack_timeout_minutes?: number | null }]>([
    ["absent", {}],
    ["null", { repeat_interval_minutes: null, ack_timeout_minutes: null }],
  ])("reads %s reminder and timeout settings as none", (_, extra) => {
    const pol = toPolicy({
      steps: [{ after_minutes: 5, channels: ["email"], targets: { admin_ids: [3] } }],
      repeat_count: 0,
      ...extra,
    });
    expect(pol).toEqual({
      steps: [{ afterMinutes: 5, channels: ["email"], targets: { adminIds: [3] } }],
      repeatCount: 0,
      repeatIntervalMinutes: null,
      ackTimeoutMinutes: null,
    });
  });
});

describe("notifyChannels", () => {
  it.each<[string[], string[] | null, string[]]>([
    // No step: the rule's channels.
    [["email", "slack"], null, ["email", "slack"]],
    // A step: its channels, in its order, as far as the rule allows them.
    [
      ["email", "slack", "sms"],
      ["sms", "email"],
      ["sms", "email"],
    ],
    [["email"], ["sms", "email"], ["email"]],
    // A step the rule allows none of notifies nobody (the policy cannot widen the rule).
    [["email"], ["sms", "pagerduty"], []],
    [["webhook", "email"], ["webhook"], ["webhook"]],
  ])("rule %j, step %j → %j", (rule, stepChannels, expected) => {
    expect(notifyChannels(rule, stepChannels)).toEqual(expected);
  });
});

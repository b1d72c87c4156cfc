import { describe, expect, it } from "vitest";
import {
  calm,
  flushDue,
  flushed,
  GROUP_IDLE_MS,
  GROUP_INTERVAL_MS,
  GROUP_LINES,
  GROUP_WAIT_MS,
  type GroupKey,
  groupKeyOf,
  groupNotice,
  joined,
  parseGroupKey,
  planGroup,
  routeOf,
  sentAlone,
  settle,
  STORM_MIN,
  STORM_WINDOW_MS,
  type StormState,
} from "../../../../worker/core/alerts/storm";

const T = 1_800_000_000_000;

/** Routes `n` notifications at `at`, as the rule does: each goes alone or joins, and state follows. */
function route(state: StormState, n: number, at: number): { state: StormState; alone: number; grouped: number } {
  let alone = 0;
  let grouped = 0;
  for (let i = 0; i < n; i++) {
    if (routeOf(state, at) === "alone") {
      state = sentAlone(state, at);
      alone++;
    } else {
      state = joined(state, at);
      grouped++;
    }
  }
  return { state, alone, grouped };
}

describe("storm routing", () => {
  it("sends one or two alerts at a time alone, as before", () => {
    const first = route(calm(), STORM_MIN - 1, T);
    expect(first).toMatchObject({ alone: STORM_MIN - 1, grouped: 0 });
    // Once the window has passed, the next ones go alone again.
    expect(route(first.state, STORM_MIN - 1, T + STORM_WINDOW_MS)).toMatchObject({ alone: STORM_MIN - 1, grouped: 0 });
  });

  it("groups the rest of a burst of 1,000", () => {
    const burst = route(calm(), 1_000, T);
    expect(burst.alone).toBe(STORM_MIN - 1);
    expect(burst.grouped).toBe(1_000 - (STORM_MIN - 1));
    expect(flushDue(burst.state, burst.grouped)).toBe(T + GROUP_WAIT_MS);
  });

  it("counts alerts told alone within the window towards a storm", () => {
    let state = route(calm(), STORM_MIN - 1, T).state;
    expect(routeOf(state, T + STORM_WINDOW_MS - 1)).toBe("group");
    state = route(state, 1, T + STORM_WINDOW_MS - 1).state;
    expect(state.group?.openedAt).toBe(T + STORM_WINDOW_MS - 1);
  });

  it("sends updates at most every interval while alerts keep joining, then closes once idle", () => {
    let { state } = route(calm(), 10, T);
    state = flushed(state, T + GROUP_WAIT_MS, 8);
    expect(flushDue(state, 0)).toBeNull();
    state = route(state, 5, T + 5_000).state;
    expect(flushDue(state, 5)).toBe(T + GROUP_WAIT_MS + GROUP_INTERVAL_MS);
    state = flushed(state, T + GROUP_WAIT_MS + GROUP_INTERVAL_MS, 5);
    expect(state.group).toMatchObject({ told: 13, flushes: 2 });
    // Still open shortly after: a straggler joins the group rather than paging alone.
    expect(routeOf(state, T + 60_000)).toBe("group");
    expect(settle(state, T + 5_000 + GROUP_IDLE_MS - 1, 0).group).not.toBeNull();
    const closed = settle(state, T + 5_000 + GROUP_IDLE_MS, 0);
    expect(closed.group).toBeNull();
    expect(routeOf(closed, T + 5_000 + GROUP_IDLE_MS)).toBe("alone");
  });

  it("keeps a group with members waiting, however long", () => {
    const { state } = route(calm(), 10, T);
    expect(settle(state, T + 10 * GROUP_IDLE_MS, 3).group).not.toBeNull();
  });
});

describe("groupNotice", () => {
  const members = Array.from({ length: 12 }, (_, i) => ({
    alertId: 100 + i,
    service: `svc-${i % 3}`,
    labels: { n: String(i) },
    value: i === 4 ? null : 500 + i * 10,
  }));
  const base = {
    ruleName: "Queue depth",
    severity: "critical",
    members,
    worse: (a: number, b: number) => a > b,
    link: "https://monitor.example.com/alerts?rule_id=7&status=firing",
  };

  it("names the count, the worst members first, how many more, and the link", () => {
    const n = groupNotice({ ...base, event: "firing", toldBefore: 0 });
    expect(n.title).toBe("[CRITICAL] FIRING: 12 alerts of Queue depth");
    expect(n.lines.slice(0, GROUP_LINES)).toEqual([
      'svc-2 n="11": 610 (#111)',
      'svc-1 n="10": 600 (#110)',
      'svc-0 n="9": 590 (#109)',
      'svc-2 n="8": 580 (#108)',
      'svc-1 n="7": 570 (#107)',
    ]);
    expect(n.lines).toContain("… and 7 more");
    expect(n.lines.at(-1)).toBe(`All alerts of this rule: ${base.link}`);
  });

  it("follows the rule's direction: the lowest first for a below-threshold rule", () => {
    const n = groupNotice({ ...base, event: "firing", toldBefore: 0, worse: (a, b) => a < b });
    expect(n.lines[0]).toBe('svc-0 n="0": 500 (#100)');
  });

  it("says an update is more of the same group, and a resolve is a resolve", () => {
    expect(groupNotice({ ...base, event: "firing", toldBefore: 988 }).title).toBe(
      "[CRITICAL] FIRING: 12 more alerts of Queue depth (1000 in all)",
    );
    expect(groupNotice({ ...base, event: "resolved", toldBefore: 0 }).title).toBe(
      "[CRITICAL] RESOLVED: 12 alerts of Queue depth",
    );
    expect(groupNotice({ ...base, event: "escalation", toldBefore: 0 }).title).toBe(
      "[CRITICAL] ESCALATED: 12 alerts of Queue depth",
    );
  });
});

describe("groupKeyOf", () => {
  it.each<[string, number, boolean, string | null]>([
    ["firing", 0, false, "firing:0"],
    ["firing", 0, true, null],
    ["resolved", 0, false, "resolved:0"],
    ["reminder", 0, false, "reminder:0"],
    ["escalation", 2, false, "escalation:2"],
    ["acknowledged", 0, false, null],
  ])("%s step %i correcting %s: %s", (event, step, corrects, key) => {
    expect(groupKeyOf(event, step, corrects)).toBe(key);
  });

  it.each<[GroupKey, string, number]>([
    ["firing:0", "firing", 0],
    ["escalation:2", "escalation", 2],
  ])("%s parses back to its event and step", (key, event, step) => {
    expect(parseGroupKey(key)).toEqual({ event, step });
  });
});

describe("planGroup", () => {
  const members = [
    { alertId: 1, service: "a", labels: {}, value: 120 },
    { alertId: 2, service: "b", labels: {}, value: 900 },
    { alertId: 3, service: "c", labels: {}, value: null },
  ];
  const base = {
    ruleId: 7,
    ruleName: "Queue depth",
    severity: "critical",
    now: T,
    members,
    worse: (a: number, b: number) => a > b,
    link: "/alerts?rule_id=7&status=firing",
    channels: ["email", "pagerduty", "webhook"],
    ruleStillOpen: true,
  };
  const open = joined(calm(), T);

  it("names the worst member, keys each of the group's notifications apart, and shares one incident key", () => {
    const first = planGroup({ ...base, key: "firing:0", state: open });
    expect(first.worstAlertId).toBe(2);
    expect(first.occurrence).toBe(`group:firing:0:${T}:0`);
    expect(first.notice.key).toBe("rule:7:storm");
    expect(first.channels).toEqual(base.channels);
    const update = planGroup({ ...base, key: "firing:0", state: flushed(open, T + 2_000, 3) });
    expect(update.occurrence).toBe(`group:firing:0:${T}:1`);
    expect(update.notice.title).toContain("3 more alerts");
  });

  it("closes the PagerDuty incident with a grouped resolve only once nothing of the rule is open", () => {
    expect(planGroup({ ...base, key: "resolved:0", state: open }).channels).toEqual(["email", "webhook"]);
    expect(planGroup({ ...base, key: "resolved:0", state: open, ruleStillOpen: false }).channels).toEqual(
      base.channels,
    );
  });
});

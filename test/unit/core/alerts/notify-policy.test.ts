import { describe, expect, it } from "vitest";
import type { HealthStatus } from "../../../../worker/core/health";
import {
  decideNotification,
  firingNotifiedAfter,
  inhibitedBy,
  type NotifyDecision,
  type NotifyEvent,
  rateLimit,
} from "../../../../worker/core/alerts/notify-policy";

const MIN = 60_000;
const HOUR = 60 * MIN;

describe("rateLimit", () => {
  const at = 10 * HOUR;

  it.each<[string, number[], number, boolean, number[]]>([
    ["no history", [], 4, true, [at]],
    ["under the limit", [at - 50 * MIN, at - 10 * MIN], 4, true, [at - 50 * MIN, at - 10 * MIN, at]],
    [
      "at the limit",
      [at - 40 * MIN, at - 30 * MIN, at - 20 * MIN, at - 10 * MIN],
      4,
      false,
      [at - 40 * MIN, at - 30 * MIN, at - 20 * MIN, at - 10 * MIN],
    ],
    // Exactly an hour ago has left the window.
    [
      "older sends pruned",
      [at - 2 * HOUR, at - HOUR, at - HOUR + 1, at - 5 * MIN],
      2,
      false,
      [at - HOUR + 1, at - 5 * MIN],
    ],
    ["a slot freed by time", [at - HOUR, at - 30 * MIN], 2, true, [at - 30 * MIN, at]],
    ["a limit of 1", [at - 59 * MIN], 1, false, [at - 59 * MIN]],
    ["a limit of 0 allows nothing", [], 0, false, []],
  ])("%s", (_, sent, max, allowed, recent) => {
    expect(rateLimit(sent, max, at)).toEqual({ allowed, recent });
  });

  it("lets exactly `max` through in an hour when fed its own output", () => {
    let sent: number[] = [];
    const outcomes: boolean[] = [];
    for (let t = 0; t < 2 * HOUR; t += 10 * MIN) {
      const r = rateLimit(sent, 3, t);
      outcomes.push(r.allowed);
      sent = r.recent;
    }
    // Sends at 0, 10, 20; refused until 60 (0 has left the window), then 60, 70, 80.
    expect(outcomes).toEqual([true, true, true, false, false, false, true, true, true, false, false, false]);
  });
});

describe("inhibitedBy", () => {
  const health = new Map<string, HealthStatus>([
    ["db", "down"],
    ["cache", "warning"],
    ["queue", "down"],
    ["auth", "healthy"],
    ["dns", "unknown"],
  ]);

  it.each<[string, string[], string | null, string[]]>([
    ["no parents", [], null, []],
    ["healthy, warning and unknown parents do not inhibit", ["cache", "auth", "dns"], null, []],
    ["a parent not known at all does not inhibit", ["billing"], null, []],
    ["the down parents, in the given order, once", ["queue", "cache", "db", "queue"], null, ["queue", "db"]],
    ["the rule's own service never inhibits it", ["db", "queue"], "db", ["queue"]],
  ])("%s", (_, parents, own, expected) => {
    expect(inhibitedBy(parents, health, own)).toEqual(expected);
  });
});

describe("decideNotification", () => {
  const silenced = { ids: [3, 8], until: 5_000 };
  const open = { ids: [], until: null };
  const allowed = { allowed: true, max: 4 };
  const limited = { allowed: false, max: 4 };
  const send: NotifyDecision = { action: "send" };
  const skip: NotifyDecision = { action: "skip", reason: "firing_not_notified" };
  const isSilenced: NotifyDecision = { action: "silenced", silenceIds: [3, 8], until: 5_000 };
  const isInhibited: NotifyDecision = { action: "inhibited", parents: ["db"] };
  const isLimited: NotifyDecision = { action: "rate_limited", limit: 4 };

  // [event, firing notified, silenced, inhibited, rate limit allows] → decision
  it.each<[NotifyEvent, boolean, boolean, boolean, boolean, NotifyDecision]>([
    // Nothing stands in the way.
    ["firing", false, false, false, true, send],
    ["reminder", true, false, false, true, send],
    ["escalation", true, false, false, true, send],
    ["acknowledged", true, false, false, true, send],
    // Silence beats inhibition beats the limit.
    ["firing", false, true, true, false, isSilenced],
    ["firing", false, false, true, false, isInhibited],
    ["firing", false, false, false, false, isLimited],
    ["reminder", true, true, false, true, isSilenced],
    ["reminder", true, false, true, true, isInhibited],
    ["reminder", true, false, false, false, isLimited],
    ["escalation", true, true, true, true, isSilenced],
    ["escalation", true, false, true, false, isInhibited],
    ["escalation", true, false, false, false, isLimited],
    // A resolve of a notified firing always goes out.
    ["resolved", true, false, false, true, send],
    ["resolved", true, true, false, true, send],
    ["resolved", true, false, true, true, send],
    ["resolved", true, false, false, false, send],
    ["resolved", true, true, true, false, send],
    // A resolve nobody needs is skipped, whatever else holds.
    ["resolved", false, false, false, true, skip],
    ["resolved", false, true, true, false, skip],
    // Acknowledgements obey silences and inhibition, not the limit.
    ["acknowledged", true, false, false, false, send],
    ["acknowledged", true, true, false, false, isSilenced],
    ["acknowledged", true, false, true, false, isInhibited],
    ["acknowledged", false, false, false, true, skip],
    ["acknowledged", false, true, true, false, skip],
  ])("%s, firing notified %s, silenced %s, inhibited %s, allowed %s", (event, notified, isSil, isInh, ok, expected) => {
    expect(
      decideNotification({
        event,
        firingWasNotified: notified,
        silence: isSil ? silenced : open,
        inhibitedBy: isInh ? ["db"] : [],
        limit: ok ? allowed : limited,
      }),
    ).toEqual(expected);
  });
});

describe("a firing that corrects a resolved notice", () => {
  const base = { firingWasNotified: false, silence: { ids: [], until: null }, inhibitedBy: [] as string[] };
  const limited = { allowed: false, max: 1 };
  it("is not stopped by the hourly limit, but still by a silence or an inhibition", () => {
    expect(decideNotification({ ...base, event: "firing", limit: limited, correctsResolved: true })).toEqual({
      action: "send",
    });
    expect(decideNotification({ ...base, event: "firing", limit: limited })).toEqual({
      action: "rate_limited",
      limit: 1,
    });
    expect(
      decideNotification({
        ...base,
        event: "firing",
        limit: limited,
        correctsResolved: true,
        silence: { ids: [4], until: null },
      }),
    ).toEqual({ action: "silenced", silenceIds: [4], until: null });
    expect(
      decideNotification({ ...base, event: "firing", limit: limited, correctsResolved: true, inhibitedBy: ["db"] }),
    ).toEqual({ action: "inhibited", parents: ["db"] });
  });

  it("exempts only the firing event", () => {
    for (const event of ["reminder", "escalation"] as const) {
      expect(
        decideNotification({ ...base, firingWasNotified: true, event, limit: limited, correctsResolved: true }),
      ).toEqual({ action: "rate_limited", limit: 1 });
    }
  });
});

describe("firingNotifiedAfter", () => {
  it("a firing sets it, a resolve clears it (one resolve per notified firing), the rest keep it", () => {
    expect(firingNotifiedAfter("firing", false)).toBe(true);
    expect(firingNotifiedAfter("resolved", true)).toBe(false);
    for (const e of ["reminder", "escalation", "acknowledged"] as const) {
      expect(firingNotifiedAfter(e, true)).toBe(true);
      expect(firingNotifiedAfter(e, false)).toBe(false);
    }
    // The sequence firing, resolved, (disable) resolved: the second resolve is skipped.
    let notified = firingNotifiedAfter("firing", false);
    const first = decideNotification({
      event: "resolved",
      firingWasNotified: notified,
      silence: { ids: [], until: null },
      inhibitedBy: [],
      limit: { allowed: true, max: 5 },
    });
    expect(first).toEqual({ action: "send" });
    notified = firingNotifiedAfter("resolved", notified);
    expect(
      decideNotification({
        event: "resolved",
        firingWasNotified: notified,
        silence: { ids: [], until: null },
        inhibitedBy: [],
        limit: { allowed: true, max: 5 },
      }),
    ).toEqual({ action: "skip", reason: "firing_not_notified" });
  });
});

import { describe, expect, it } from "vitest";
import {
  CONFIRM_HINTS,
  CONFIRM_MARGIN_MS,
  confirmerName,
  confirmHints,
  confirmPolicyError,
  decideOutage,
  needsConfirmation,
  readConfirmPolicy,
  runBudgetMs,
  unconfirmedMessage,
} from "../../../worker/core/confirm";

const UP = { up: true };
const DOWN = { up: false };
const GONE = { unreachable: "no answer within 5000 ms" };

describe("readConfirmPolicy", () => {
  it("gives http monitors 2 of 2 unless they set their own", () => {
    expect(readConfirmPolicy("http", {})).toEqual({ locations: 2, quorum: 2 });
    expect(readConfirmPolicy("http", { confirm_locations: 3 })).toEqual({ locations: 3, quorum: 3 });
    expect(readConfirmPolicy("http", { confirm_locations: 3, confirm_quorum: 2 })).toEqual({ locations: 3, quorum: 2 });
    expect(readConfirmPolicy("http", { confirm_locations: 1 })).toEqual({ locations: 1, quorum: 1 });
  });

  it("never confirms a scrape", () => {
    expect(readConfirmPolicy("prometheus", { confirm_locations: 3 })).toEqual({ locations: 1, quorum: 1 });
  });

  it("falls back to the defaults for stored values out of range", () => {
    expect(readConfirmPolicy("http", { confirm_locations: 9, confirm_quorum: 0 })).toEqual({ locations: 2, quorum: 2 });
    expect(readConfirmPolicy("http", { confirm_locations: 2, confirm_quorum: 3 })).toEqual({ locations: 2, quorum: 2 });
    expect(readConfirmPolicy("http", { confirm_locations: "2" })).toEqual({ locations: 2, quorum: 2 });
  });
});

describe("confirmPolicyError", () => {
  it("accepts a quorum up to the locations, or none", () => {
    expect(confirmPolicyError(2, null)).toBeNull();
    expect(confirmPolicyError(3, 2)).toBeNull();
    expect(confirmPolicyError(1, 1)).toBeNull();
  });

  it("refuses a quorum above the locations, and 1 of several", () => {
    expect(confirmPolicyError(2, 3)).toEqual(["confirm_quorum", "must be at most confirm_locations (2)"]);
    expect(confirmPolicyError(3, 1)?.[1]).toMatch(/set confirm_locations to 1/);
  });
});

describe("needsConfirmation", () => {
  it("only for a failure, and only with another location to ask", () => {
    expect(needsConfirmation({ locations: 2, quorum: 2 }, false)).toBe(true);
    expect(needsConfirmation({ locations: 2, quorum: 2 }, true)).toBe(false);
    expect(needsConfirmation({ locations: 1, quorum: 1 }, false)).toBe(false);
  });
});

describe("confirmHints", () => {
  it("picks M-1 distinct hints, rotated by the monitor's id", () => {
    expect(confirmHints(0, { locations: 2, quorum: 2 })).toEqual(["wnam"]);
    expect(confirmHints(4, { locations: 2, quorum: 2 })).toEqual(["weur"]);
    expect(confirmHints(5, { locations: 3, quorum: 2 })).toEqual(["apac", "wnam"]);
    expect(confirmHints(7, { locations: 1, quorum: 1 })).toEqual([]);
    for (let id = 0; id < 6; id++) {
      expect(new Set(confirmHints(id, { locations: 3, quorum: 3 })).size).toBe(2);
    }
  });

  it("names one runner per hint", () => {
    expect(CONFIRM_HINTS.map(confirmerName)).toEqual(["confirm-wnam", "confirm-weur", "confirm-apac"]);
  });
});

describe("decideOutage", () => {
  const twoOfTwo = { locations: 2, quorum: 2 };
  const twoOfThree = { locations: 3, quorum: 2 };
  const threeOfThree = { locations: 3, quorum: 3 };

  it("records the outage when the other location agrees", () => {
    expect(decideOutage(twoOfTwo, [DOWN])).toEqual({ outage: true, failing: 2, up: 0, unreachable: 0 });
  });

  it("dismisses a failure the other location does not see", () => {
    expect(decideOutage(twoOfTwo, [UP])).toEqual({ outage: false, failing: 1, up: 1, unreachable: 0 });
  });

  it("falls back to the first location's verdict when the other cannot be asked", () => {
    expect(decideOutage(twoOfTwo, [GONE])).toEqual({ outage: true, failing: 1, up: 0, unreachable: 1 });
  });

  it("needs N of M", () => {
    expect(decideOutage(twoOfThree, [UP, DOWN]).outage).toBe(true);
    expect(decideOutage(twoOfThree, [UP, UP]).outage).toBe(false);
    expect(decideOutage(threeOfThree, [DOWN, UP]).outage).toBe(false);
    expect(decideOutage(threeOfThree, [DOWN, DOWN]).outage).toBe(true);
  });

  it("dismisses despite an unreachable location only when the answers rule the quorum out", () => {
    // 2 of 3: the unknown one might be failing too.
    expect(decideOutage(twoOfThree, [UP, GONE]).outage).toBe(true);
    // 3 of 3: one location saw it up, so three can never agree.
    expect(decideOutage(threeOfThree, [UP, GONE]).outage).toBe(false);
  });
});

describe("unconfirmedMessage", () => {
  it("says what the first location saw and how the locations split", () => {
    const policy = { locations: 3, quorum: 3 };
    expect(unconfirmedMessage("timeout after 2000 ms", policy, decideOutage(policy, [UP, GONE]))).toBe(
      "timeout after 2000 ms; failing from 1 of 3 locations, 1 unreachable, 3 needed",
    );
  });
});

describe("runBudgetMs", () => {
  it("covers the confirming probes when a failure is confirmed", () => {
    expect(runBudgetMs(5000, { locations: 1, quorum: 1 })).toBe(5000);
    expect(runBudgetMs(5000, { locations: 2, quorum: 2 })).toBe(10_000 + CONFIRM_MARGIN_MS);
  });
});

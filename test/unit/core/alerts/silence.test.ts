import { describe, expect, it } from "vitest";
import {
  activeAt,
  alertLabels,
  type Matcher,
  matches,
  nextChange,
  type Recurrence,
  type Silence,
  silencedBy,
} from "../../../../worker/core/alerts/silence";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const eq = (name: string, value: string): Matcher => ({ name, value, isRegex: false, isEqual: true });
const ne = (name: string, value: string): Matcher => ({ name, value, isRegex: false, isEqual: false });
const re = (name: string, value: string): Matcher => ({ name, value, isRegex: true, isEqual: true });
const nre = (name: string, value: string): Matcher => ({ name, value, isRegex: true, isEqual: false });

function silence(over: Partial<Silence> = {}): Silence {
  return {
    id: 1,
    matchers: [eq("service", "api")],
    startsAt: at("2026-01-01T00:00:00Z"),
    endsAt: at("2027-01-01T00:00:00Z"),
    recurrence: null,
    ...over,
  };
}

const recurring = (r: Recurrence, over: Partial<Silence> = {}) => silence({ recurrence: r, ...over });

/**
 * The silence's effect between two instants as the list of its changes, walked with
 * nextChange and cross-checked with activeAt on both sides of every change.
 */
function changes(s: Silence, from: string, to: string): string[] {
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < 200; i++) {
    const c = nextChange(s, t);
    if (c === null || c >= at(to)) break;
    expect(c).toBeGreaterThan(t);
    expect(activeAt(s, c)).toBe(!activeAt(s, c - 1));
    out.push(`${activeAt(s, c) ? "on" : "off"} ${iso(c)}`);
    t = c;
  }
  return out;
}

describe("alertLabels", () => {
  it("adds the pseudo-labels, which win over alert labels of the same name", () => {
    expect(
      alertLabels({
        ruleId: 7,
        ruleName: "High latency",
        service: "api",
        severity: "critical",
        labels: { region: "tw", alertname: "spoof", service: "other" },
      }),
    ).toEqual({ region: "tw", alertname: "High latency", rule_id: "7", service: "api", severity: "critical" });
  });

  it("leaves service out for a rule without one, even when a label names it", () => {
    const labels = alertLabels({ ruleId: 1, ruleName: "r", service: null, severity: "info", labels: { service: "x" } });
    expect(labels).toEqual({ alertname: "r", rule_id: "1", severity: "info" });
  });
});

describe("matches", () => {
  const labels = { alertname: "High latency", rule_id: "12", service: "api-gw", severity: "warning", region: "tw" };

  it.each<[string, Matcher[], boolean]>([
    ["equal", [eq("service", "api-gw")], true],
    ["equal, other value", [eq("service", "api")], false],
    ["not equal", [ne("service", "api")], true],
    ["not equal, same value", [ne("service", "api-gw")], false],
    ["regex is anchored at both ends", [re("service", "api")], false],
    ["regex matching the whole value", [re("service", "api.*")], true],
    ["regex alternation is anchored as a group", [re("service", "api|web")], false],
    ["regex alternation, whole value", [re("service", "web|api-gw")], true],
    ["negated regex, no match", [nre("severity", "critical|warning")], false],
    ["negated regex, match", [nre("severity", "critical")], true],
    ["missing label reads as empty: equal to empty", [eq("team", "")], true],
    ["missing label reads as empty: regex .*", [re("team", ".*")], true],
    ["missing label reads as empty: not equal to empty", [ne("team", "")], false],
    ["missing label reads as empty: regex .+", [re("team", ".+")], false],
    ["present label not equal to empty", [ne("region", "")], true],
    ["pseudo-label alertname", [eq("alertname", "High latency")], true],
    ["pseudo-label rule_id", [re("rule_id", "1[0-9]")], true],
    ["all must match", [eq("region", "tw"), eq("severity", "critical")], false],
    ["all match", [eq("region", "tw"), nre("severity", "info"), re("alertname", "High.*")], true],
    ["an invalid regex matches nothing", [re("service", "(")], false],
    ["an invalid negated regex matches nothing either", [nre("service", "(")], false],
    ["no matchers silence nothing", [], false],
  ])("%s", (_, matchers, expected) => {
    expect(matches(matchers, labels)).toBe(expected);
  });
});

describe("activeAt / nextChange without a recurrence", () => {
  const s = silence({ startsAt: at("2026-05-01T00:00:00Z"), endsAt: at("2026-05-02T00:00:00Z") });

  it.each<[string, boolean, string | null]>([
    ["2026-04-30T23:59:59.999Z", false, "2026-05-01T00:00:00.000Z"],
    ["2026-05-01T00:00:00.000Z", true, "2026-05-02T00:00:00.000Z"],
    ["2026-05-01T12:00:00.000Z", true, "2026-05-02T00:00:00.000Z"],
    ["2026-05-02T00:00:00.000Z", false, null],
    ["2026-06-01T00:00:00.000Z", false, null],
  ])("at %s: active %s, next change %s", (when, active, next) => {
    expect(activeAt(s, at(when))).toBe(active);
    expect(iso(nextChange(s, at(when)))).toBe(next);
  });
});

describe("recurring windows", () => {
  // Taipei is UTC+8 all year: Tuesday 02:00–04:00 there is Monday 18:00–20:00Z.
  const taipeiTuesday = recurring(
    { weekdays: [2], start: "02:00", durationMinutes: 120, timezone: "Asia/Taipei" },
    { startsAt: at("2026-03-01T00:00:00Z"), endsAt: at("2026-03-20T00:00:00Z") },
  );

  it("opens a Tuesday 02:00–04:00 Asia/Taipei window Monday 18:00–20:00 UTC, every week in range", () => {
    expect(changes(taipeiTuesday, "2026-02-20T00:00:00Z", "2026-04-01T00:00:00Z")).toEqual([
      "on 2026-03-02T18:00:00.000Z",
      "off 2026-03-02T20:00:00.000Z",
      "on 2026-03-09T18:00:00.000Z",
      "off 2026-03-09T20:00:00.000Z",
      "on 2026-03-16T18:00:00.000Z",
      "off 2026-03-16T20:00:00.000Z",
    ]);
  });

  it.each<[string, boolean]>([
    ["2026-03-02T17:59:59.999Z", false],
    ["2026-03-02T18:00:00.000Z", true],
    ["2026-03-02T19:59:59.999Z", true],
    ["2026-03-02T20:00:00.000Z", false],
    // Tuesday 18:00Z is Wednesday 02:00 in Taipei.
    ["2026-03-03T18:30:00.000Z", false],
    // Tuesday 02:00 UTC is Tuesday 10:00 in Taipei.
    ["2026-03-03T02:30:00.000Z", false],
    // The window of 2026-03-23 lies after endsAt.
    ["2026-03-23T18:30:00.000Z", false],
  ])("Taipei window at %s: %s", (when, expected) => {
    expect(activeAt(taipeiTuesday, at(when))).toBe(expected);
  });

  it("keeps a window that crosses midnight, on the weekday it started", () => {
    // Saturday 23:00 Taipei for two hours: Saturday 15:00–17:00Z, i.e. into Sunday locally.
    const s = recurring({ weekdays: [6], start: "23:00", durationMinutes: 120, timezone: "Asia/Taipei" });
    expect(activeAt(s, at("2026-03-07T16:30:00Z"))).toBe(true); // Sunday 00:30 local
    expect(activeAt(s, at("2026-03-07T17:00:00Z"))).toBe(false); // Sunday 01:00 local
    expect(activeAt(s, at("2026-03-08T16:30:00Z"))).toBe(false); // Monday 00:30 local
    expect(iso(nextChange(s, at("2026-03-07T16:30:00Z")))).toBe("2026-03-07T17:00:00.000Z");
  });

  it("ends a window crossing the week's end (Saturday into Sunday) on Sunday", () => {
    const s = recurring({ weekdays: [6], start: "22:00", durationMinutes: 240, timezone: "UTC" });
    expect(changes(s, "2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z")).toEqual([
      "on 2026-03-07T22:00:00.000Z",
      "off 2026-03-08T02:00:00.000Z",
    ]);
  });

  // Europe/Berlin 2026: clocks jump 02:00 CET → 03:00 CEST on Sunday 29 March (01:00Z) and
  // go back 03:00 CEST → 02:00 CET on Sunday 25 October (01:00Z).
  const berlinSunday = recurring({ weekdays: [0], start: "02:00", durationMinutes: 120, timezone: "Europe/Berlin" });

  it("shortens a Sunday 02:00–04:00 Europe/Berlin window to 1 h on the spring-forward day", () => {
    expect(changes(berlinSunday, "2026-03-21T00:00:00Z", "2026-04-06T00:00:00Z")).toEqual([
      "on 2026-03-22T01:00:00.000Z", // 02:00 CET
      "off 2026-03-22T03:00:00.000Z",
      "on 2026-03-29T01:00:00.000Z", // 02:00 does not exist: opens when the clocks jump to 03:00
      "off 2026-03-29T02:00:00.000Z", // 04:00 CEST
      "on 2026-04-05T00:00:00.000Z", // 02:00 CEST
      "off 2026-04-05T02:00:00.000Z",
    ]);
    expect(activeAt(berlinSunday, at("2026-03-29T00:30:00Z"))).toBe(false); // 01:30 CET
  });

  it("lengthens it to 3 h on the fall-back day, from the first 02:00 to 04:00", () => {
    expect(changes(berlinSunday, "2026-10-17T00:00:00Z", "2026-11-02T00:00:00Z")).toEqual([
      "on 2026-10-18T00:00:00.000Z", // 02:00 CEST
      "off 2026-10-18T02:00:00.000Z",
      "on 2026-10-25T00:00:00.000Z", // first 02:00 (CEST)
      "off 2026-10-25T03:00:00.000Z", // 04:00 CET
      "on 2026-11-01T01:00:00.000Z", // 02:00 CET
      "off 2026-11-01T03:00:00.000Z",
    ]);
    expect(activeAt(berlinSunday, at("2026-10-25T01:30:00Z"))).toBe(true); // the second 02:30 (CET)
  });

  it.each<[string, string, string[]]>([
    // Saturday 23:00 CET for 4 h of wall clock ends 03:00 CEST: 3 real hours.
    [
      "into the spring-forward night",
      "2026-03-28T00:00:00Z",
      ["on 2026-03-28T22:00:00.000Z", "off 2026-03-29T01:00:00.000Z"],
    ],
    // Saturday 23:00 CEST for 4 h of wall clock ends 03:00 CET: 5 real hours.
    [
      "into the fall-back night",
      "2026-10-24T00:00:00Z",
      ["on 2026-10-24T21:00:00.000Z", "off 2026-10-25T02:00:00.000Z"],
    ],
  ])("runs a window crossing midnight %s by the wall clock", (_, from, expected) => {
    const s = recurring({ weekdays: [6], start: "23:00", durationMinutes: 240, timezone: "Europe/Berlin" });
    expect(changes(s, from, new Date(at(from) + 2 * 86_400_000).toISOString())).toEqual(expected);
  });

  it("empties a window lying wholly in the skipped hour", () => {
    const s = recurring({ weekdays: [0], start: "02:15", durationMinutes: 30, timezone: "Europe/Berlin" });
    expect(changes(s, "2026-03-28T00:00:00Z", "2026-04-06T00:00:00Z")).toEqual([
      "on 2026-04-05T00:15:00.000Z",
      "off 2026-04-05T00:45:00.000Z",
    ]);
  });

  it("clips windows to startsAt and endsAt", () => {
    const s = recurring(
      { weekdays: [1], start: "10:00", durationMinutes: 120, timezone: "UTC" },
      { startsAt: at("2026-03-02T11:00:00Z"), endsAt: at("2026-03-09T11:30:00Z") },
    );
    expect(activeAt(s, at("2026-03-02T10:30:00Z"))).toBe(false);
    expect(changes(s, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")).toEqual([
      "on 2026-03-02T11:00:00.000Z",
      "off 2026-03-02T12:00:00.000Z",
      "on 2026-03-09T10:00:00.000Z",
      "off 2026-03-09T11:30:00.000Z",
    ]);
    expect(nextChange(s, at("2026-03-09T11:30:00Z"))).toBeNull();
  });

  it("joins overlapping windows into one stretch", () => {
    // Monday and Tuesday 00:00 for 25 h: Monday 00:00 to Wednesday 01:00 without a break.
    const s = recurring({ weekdays: [1, 2], start: "00:00", durationMinutes: 1500, timezone: "UTC" });
    expect(changes(s, "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z")).toEqual([
      "on 2026-03-02T00:00:00.000Z",
      "off 2026-03-04T01:00:00.000Z",
    ]);
  });

  it.each<[string, Recurrence]>([
    [
      "every day for 24 h",
      { weekdays: [0, 1, 2, 3, 4, 5, 6], start: "09:00", durationMinutes: 1440, timezone: "Europe/Berlin" },
    ],
    [
      "one day a week for 7 days",
      { weekdays: [3], start: "00:00", durationMinutes: 7 * 1440, timezone: "Asia/Taipei" },
    ],
    [
      "Monday and Thursday, each until the next",
      { weekdays: [4, 1], start: "06:00", durationMinutes: 4 * 1440, timezone: "UTC" },
    ],
  ])("treats windows that always reach the next one (%s) as in effect throughout", (_, r) => {
    const s = recurring(r, { startsAt: at("2026-01-01T00:00:00Z"), endsAt: at("2036-01-01T00:00:00Z") });
    expect(activeAt(s, at("2026-01-01T00:00:00Z"))).toBe(true);
    expect(activeAt(s, at("2026-10-25T01:30:00Z"))).toBe(true);
    expect(iso(nextChange(s, at("2026-06-01T00:00:00Z")))).toBe("2036-01-01T00:00:00.000Z");
  });

  it("breaks Monday and Thursday windows one hour short of the next", () => {
    const s = recurring({ weekdays: [1, 4], start: "06:00", durationMinutes: 3 * 1440 - 60, timezone: "UTC" });
    // Sunday 03-01 is still inside the window opened Thursday 02-26.
    expect(changes(s, "2026-03-01T00:00:00Z", "2026-03-08T00:00:00Z")).toEqual([
      "off 2026-03-01T05:00:00.000Z",
      "on 2026-03-02T06:00:00.000Z",
      "off 2026-03-05T05:00:00.000Z",
      "on 2026-03-05T06:00:00.000Z",
    ]);
  });

  it.each<[string, Recurrence]>([
    ["an unknown time zone", { weekdays: [1], start: "02:00", durationMinutes: 60, timezone: "Mars/Olympus" }],
    ["a start that is no time", { weekdays: [1], start: "24:00", durationMinutes: 60, timezone: "UTC" }],
    ["no weekdays", { weekdays: [], start: "02:00", durationMinutes: 60, timezone: "UTC" }],
    ["weekdays out of range only", { weekdays: [7, -1], start: "02:00", durationMinutes: 60, timezone: "UTC" }],
    ["no duration", { weekdays: [1], start: "02:00", durationMinutes: 0, timezone: "UTC" }],
  ])("is never in effect with %s", (_, r) => {
    const s = recurring(r);
    for (let t = at("2026-03-01T00:00:00Z"); t < at("2026-03-09T00:00:00Z"); t += 3_600_000) {
      expect(activeAt(s, t)).toBe(false);
    }
    expect(nextChange(s, at("2026-03-01T00:00:00Z"))).toBeNull();
  });
});

describe("silencedBy", () => {
  const labels = alertLabels({
    ruleId: 3,
    ruleName: "Checkout errors",
    service: "shop",
    severity: "critical",
    labels: { region: "tw" },
  });
  const now = at("2026-03-02T19:00:00Z");
  const silences: Silence[] = [
    silence({ id: 9, matchers: [eq("alertname", "Checkout errors")], endsAt: at("2026-03-03T00:00:00Z") }),
    silence({ id: 4, matchers: [eq("service", "shop"), re("severity", "critical|warning")] }),
    // In effect but matches another service.
    silence({ id: 5, matchers: [eq("service", "api")] }),
    // Matches, expired.
    silence({ id: 6, matchers: [eq("rule_id", "3")], endsAt: at("2026-03-01T00:00:00Z") }),
    // Matches, recurring window open now (Tuesday 02:00–04:00 Taipei): ends first.
    recurring(
      { weekdays: [2], start: "02:00", durationMinutes: 120, timezone: "Asia/Taipei" },
      { id: 7, matchers: [ne("region", "us")] },
    ),
    // Matches, recurring window closed now.
    recurring(
      { weekdays: [3], start: "02:00", durationMinutes: 120, timezone: "Asia/Taipei" },
      { id: 8, matchers: [eq("region", "tw")] },
    ),
  ];

  it("lists the silences in effect that match, and when the first of them stops", () => {
    expect(silencedBy(silences, labels, now)).toEqual({ ids: [4, 7, 9], until: at("2026-03-02T20:00:00Z") });
  });

  it("moves `until` on once the earliest has stopped", () => {
    expect(silencedBy(silences, labels, at("2026-03-02T20:00:00Z"))).toEqual({
      ids: [4, 9],
      until: at("2026-03-03T00:00:00Z"),
    });
  });

  it("drops the silences whose matchers stop matching", () => {
    expect(silencedBy(silences, { ...labels, service: "web" }, at("2026-03-02T21:00:00Z"))).toEqual({
      ids: [9],
      until: at("2026-03-03T00:00:00Z"),
    });
  });

  it("returns no ids and no until when nothing applies", () => {
    expect(silencedBy(silences, { alertname: "other", service: "web", region: "us" }, now)).toEqual({
      ids: [],
      until: null,
    });
    expect(silencedBy([], labels, now)).toEqual({ ids: [], until: null });
  });
});

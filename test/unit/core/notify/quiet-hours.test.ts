import { describe, expect, it } from "vitest";
import { buildDigest, type HeldItem, quietUntil } from "../../../../worker/core/notify/quiet-hours";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("quietUntil", () => {
  it.each<[string, string, string, string, string, string | null]>([
    // Asia/Taipei: UTC+8 all year.
    ["Taipei, before the window", "Asia/Taipei", "22:00", "07:00", "2026-11-26T13:59:00Z", null],
    ["Taipei, at the start", "Asia/Taipei", "22:00", "07:00", "2026-11-26T14:00:00Z", "2026-11-26T23:00:00.000Z"],
    ["Taipei, after midnight", "Asia/Taipei", "22:00", "07:00", "2026-11-26T20:00:00Z", "2026-11-26T23:00:00.000Z"],
    ["Taipei, last minute", "Asia/Taipei", "22:00", "07:00", "2026-11-26T22:59:00Z", "2026-11-26T23:00:00.000Z"],
    ["Taipei, at the end (exclusive)", "Asia/Taipei", "22:00", "07:00", "2026-11-26T23:00:00Z", null],
    ["Taipei, midday window", "Asia/Taipei", "09:00", "17:00", "2026-11-26T01:00:00Z", "2026-11-26T09:00:00.000Z"],
    ["Taipei, midday window over", "Asia/Taipei", "09:00", "17:00", "2026-11-26T09:00:00Z", null],
    ["Taipei, midday window not begun", "Asia/Taipei", "09:00", "17:00", "2026-11-26T00:59:00Z", null],
    // New York: an ordinary night is 9 h; the March night is 8 h, the November night 10 h.
    [
      "New York, ordinary night",
      "America/New_York",
      "22:00",
      "07:00",
      "2026-03-07T05:00:00Z",
      "2026-03-07T12:00:00.000Z",
    ],
    ["New York, March start", "America/New_York", "22:00", "07:00", "2026-03-08T03:00:00Z", "2026-03-08T11:00:00.000Z"],
    [
      "New York, March before jump",
      "America/New_York",
      "22:00",
      "07:00",
      "2026-03-08T06:59:00Z",
      "2026-03-08T11:00:00.000Z",
    ],
    [
      "New York, March after jump",
      "America/New_York",
      "22:00",
      "07:00",
      "2026-03-08T10:59:00Z",
      "2026-03-08T11:00:00.000Z",
    ],
    ["New York, March end", "America/New_York", "22:00", "07:00", "2026-03-08T11:00:00Z", null],
    [
      "New York, November start",
      "America/New_York",
      "22:00",
      "07:00",
      "2026-11-01T02:00:00Z",
      "2026-11-01T12:00:00.000Z",
    ],
    ["New York, November before", "America/New_York", "22:00", "07:00", "2026-11-01T01:59:00Z", null],
    [
      "New York, November repeated hour",
      "America/New_York",
      "22:00",
      "07:00",
      "2026-11-01T06:30:00Z",
      "2026-11-01T12:00:00.000Z",
    ],
    // Starting in the skipped hour (02:00–03:00 does not exist on 8 March): begins at the jump.
    ["New York, skipped start: before", "America/New_York", "02:30", "05:00", "2026-03-08T06:59:00Z", null],
    [
      "New York, skipped start: at jump",
      "America/New_York",
      "02:30",
      "05:00",
      "2026-03-08T07:00:00Z",
      "2026-03-08T09:00:00.000Z",
    ],
    // Berlin: clocks forward at 01:00Z on 29 March, back at 01:00Z on 25 October.
    ["Berlin, March night", "Europe/Berlin", "22:00", "07:00", "2026-03-28T21:00:00Z", "2026-03-29T05:00:00.000Z"],
    ["Berlin, skipped start: before", "Europe/Berlin", "02:30", "06:00", "2026-03-29T00:59:00Z", null],
    [
      "Berlin, skipped start: at jump",
      "Europe/Berlin",
      "02:30",
      "06:00",
      "2026-03-29T01:00:00Z",
      "2026-03-29T04:00:00.000Z",
    ],
    ["Berlin, skipped start: end", "Europe/Berlin", "02:30", "06:00", "2026-03-29T04:00:00Z", null],
    [
      "Berlin, same window next day",
      "Europe/Berlin",
      "02:30",
      "06:00",
      "2026-03-30T00:30:00Z",
      "2026-03-30T04:00:00.000Z",
    ],
    ["Berlin, skipped end", "Europe/Berlin", "22:00", "02:30", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00.000Z"],
    ["Berlin, skipped end: over at jump", "Europe/Berlin", "22:00", "02:30", "2026-03-29T01:00:00Z", null],
    ["Berlin, October night", "Europe/Berlin", "22:00", "07:00", "2026-10-24T20:00:00Z", "2026-10-25T06:00:00.000Z"],
    // Ending in the repeated hour: its first occurrence; the second does not reopen it.
    ["Berlin, repeated end", "Europe/Berlin", "22:00", "02:30", "2026-10-25T00:29:00Z", "2026-10-25T00:30:00.000Z"],
    ["Berlin, repeated end: second pass", "Europe/Berlin", "22:00", "02:30", "2026-10-25T01:15:00Z", null],
    ["Berlin, repeated start", "Europe/Berlin", "02:30", "06:00", "2026-10-25T00:30:00Z", "2026-10-25T05:00:00.000Z"],
    [
      "Berlin, repeated start: second pass",
      "Europe/Berlin",
      "02:30",
      "06:00",
      "2026-10-25T01:30:00Z",
      "2026-10-25T05:00:00.000Z",
    ],
    ["Berlin, repeated start: before", "Europe/Berlin", "02:30", "06:00", "2026-10-25T00:29:00Z", null],
    // Not windows: no hold.
    ["empty window", "UTC", "07:00", "07:00", "2026-11-26T07:00:00Z", null],
    ["unreadable time", "UTC", "7:00", "08:00", "2026-11-26T07:30:00Z", null],
  ])("%s", (_, zone, start, end, now, expected) => {
    expect(iso(quietUntil({ start, end }, zone, at(now)))).toBe(expected);
  });
});

describe("buildDigest", () => {
  const t = (hhmm: string) => at(`2026-11-26T${hhmm}:00Z`);
  const item = (
    adminId: number,
    channel: string,
    alertId: number,
    event: string,
    time: string,
    severity = "warning",
  ): HeldItem => ({
    adminId,
    channel,
    job: {
      alertId,
      event,
      enqueuedAt: t(time),
      alert: {
        ruleName: `Rule ${alertId}`,
        severity,
        service: alertId === 11 ? null : "api",
        status: event === "resolved" ? "resolved" : "firing",
        value: alertId === 11 ? null : 120,
      },
    },
  });

  it("sends one digest per admin and channel, each alert once as its latest event", () => {
    const held = [
      item(1, "email", 10, "resolved", "18:30", "critical"), // 0
      item(2, "email", 12, "firing", "17:00", "info"), // 1
      item(1, "email", 11, "firing", "17:30"), // 2
      item(1, "slack", 10, "firing", "16:00", "critical"), // 3
      item(1, "email", 10, "firing", "16:00", "critical"), // 4
      item(1, "email", 10, "acknowledged", "17:00", "critical"), // 5
    ];
    expect(buildDigest(held)).toEqual([
      {
        adminId: 1,
        channel: "email",
        title: "Quiet hours digest: 2 alerts",
        lines: [
          "By severity: 1 critical, 1 warning",
          "By event: 1 firing, 1 resolved",
          "2026-11-26T17:30:00.000Z FIRING [warning] Rule 11",
          "2026-11-26T18:30:00.000Z RESOLVED [critical] Rule 10 (api), value 120",
        ],
        alertIds: [11, 10],
        superseded: [4, 5],
      },
      {
        adminId: 1,
        channel: "slack",
        title: "Quiet hours digest: 1 alert",
        lines: [
          "By severity: 1 critical",
          "By event: 1 firing",
          "2026-11-26T16:00:00.000Z FIRING [critical] Rule 10 (api), value 120",
        ],
        alertIds: [10],
        superseded: [],
      },
      {
        adminId: 2,
        channel: "email",
        title: "Quiet hours digest: 1 alert",
        lines: [
          "By severity: 1 info",
          "By event: 1 firing",
          "2026-11-26T17:00:00.000Z FIRING [info] Rule 12 (api), value 120",
        ],
        alertIds: [12],
        superseded: [],
      },
    ]);
  });

  it("orders alert lines by time, equal times in the order held, and counts every event kind", () => {
    const [digest] = buildDigest([
      item(1, "sms", 21, "reminder", "20:00", "critical"),
      item(1, "sms", 20, "escalation", "19:00"),
      item(1, "sms", 22, "firing", "19:00", "info"),
      item(1, "sms", 23, "acknowledged", "21:00", "critical"),
    ]);
    expect(digest?.alertIds).toEqual([20, 22, 21, 23]);
    expect(digest?.lines.slice(0, 2)).toEqual([
      "By severity: 2 critical, 1 warning, 1 info",
      "By event: 1 firing, 1 reminder, 1 escalation, 1 acknowledged",
    ]);
  });

  it("a resolve held before a later re-fire of the same alert shows the re-fire", () => {
    const [digest] = buildDigest([
      item(3, "email", 30, "firing", "22:00"),
      item(3, "email", 30, "resolved", "22:10"),
      item(3, "email", 30, "firing", "23:00"),
    ]);
    expect(digest?.lines.slice(1)).toEqual([
      "By event: 1 firing",
      "2026-11-26T23:00:00.000Z FIRING [warning] Rule 30 (api), value 120",
    ]);
    expect(digest?.superseded).toEqual([0, 1]);
  });

  it("nothing held, no digest", () => {
    expect(buildDigest([])).toEqual([]);
  });
});

/**
 * A whole quiet night in pure code: jobs planned through the night for admins in three
 * time zones (two of them changing clocks), held by planDelivery, then released by the
 * per-minute cron as one digest job per admin and channel once each admin's quiet hours end.
 */
import { fnv1a64 } from "../../../../worker/core/notify/encoding";
import { describe, expect, it } from "vitest";
import {
  type AlertSnapshot,
  type NotificationJob,
  type NotifyEvent,
  planJobs,
} from "../../../../worker/core/alerts/jobs";
import { digestJobs, type HeldRow } from "../../../../worker/core/notify/quiet-hours";
import { type DeliveryPlan, planDelivery, type Preferences } from "../../../../worker/core/notify/recipients";
import { alert, preferences } from "./fixtures";

const at = (iso: string) => Date.parse(iso);
const QUIET = { start: "22:00", end: "07:00" };

// Berlin: 22:00 CEST on 24 Oct is 20:00Z; clocks go back at 03:00 CEST (01:00Z), so 07:00 CET is 06:00Z.
const berlin = preferences({
  adminId: 1,
  email: "berlin@example.com",
  phone: "+4915100000001",
  timezone: "Europe/Berlin",
  quietHours: QUIET,
  criticalBypassesQuietHours: false,
});
const BERLIN_END = at("2026-10-25T06:00:00Z");
// New York: 22:00 EST on 7 Mar is 03:00Z; clocks go forward at 02:00 EST (07:00Z), so 07:00 EDT is 11:00Z.
const newYork = preferences({
  adminId: 2,
  slackMemberId: "U0NEWYORK",
  timezone: "America/New_York",
  quietHours: QUIET,
  severities: ["critical", "warning"],
  criticalBypassesQuietHours: true,
});
const NEW_YORK_END = at("2026-03-08T11:00:00Z");
// Taipei: UTC+8 all year, 22:00–07:00 is 14:00Z–23:00Z.
const taipei = preferences({
  adminId: 3,
  email: "taipei@example.com",
  timezone: "Asia/Taipei",
  quietHours: QUIET,
  criticalBypassesQuietHours: false,
});
const TAIPEI_END = at("2026-10-24T23:00:00Z");

const ADMINS = new Map([berlin, newYork, taipei].map((p) => [p.adminId, p]));

/** The alert as it stands at `event` (fired at `since`), for the admin's channels. */
function jobs(
  prefs: Preferences,
  channels: string[],
  event: NotifyEvent,
  iso: string,
  over: Partial<AlertSnapshot> & { id: number },
): NotificationJob[] {
  const now = at(iso);
  const state: Partial<AlertSnapshot> =
    event === "resolved"
      ? { status: "resolved", resolvedAt: now }
      : event === "acknowledged"
        ? { status: "acknowledged", acknowledgedAt: now, acknowledgedBy: "Grace" }
        : {};
  return planJobs({
    alert: alert({ ruleId: over.id, triggeredAt: now, observedAt: now, ...state, ...over }),
    event,
    occurrence: event,
    step: 0,
    adminIds: [prefs.adminId],
    channels,
    now,
  });
}

/** The deliveries table as far as quiet hours go: held rows, released by the cron when due. */
function outbox() {
  const rows: (HeldRow & { until: number; released: boolean })[] = [];
  return {
    rows,
    /** What the consumer decides for each job when it arrives; held ones become rows. */
    deliver(list: NotificationJob[], firingWasSent = false): DeliveryPlan[] {
      return list.map((job) => {
        const prefs = ADMINS.get(job.recipient.adminId) ?? null;
        const plan = planDelivery({
          event: job.event,
          severity: job.alert.severity,
          channel: job.channel,
          prefs,
          accountEmail: "",
          firingWasSent,
          now: job.enqueuedAt,
        });
        if (plan.action === "hold") {
          const { adminId } = job.recipient;
          rows.push({ id: rows.length + 1, adminId, channel: plan.channel, job, until: plan.until, released: false });
        }
        return plan;
      });
    },
    /** The cron at `now`: rows whose quiet hours are over, once each. */
    release(now: number) {
      const due = rows.filter((r) => !r.released && r.until <= now);
      for (const r of due) r.released = true;
      return digestJobs(
        due.map(({ id, adminId, channel, job }) => ({ id, adminId, channel, job })),
        now,
      );
    },
  };
}

const hold = (channel: string, address: string, until: number): DeliveryPlan => ({
  action: "hold",
  channel,
  address,
  until,
});
const send = (channel: string, address: string): DeliveryPlan => ({ action: "send", channel, address });

describe("a quiet night across time zones", () => {
  it("holds each admin's jobs until 07:00 local after the clock change, then sends one digest per admin and channel", () => {
    const box = outbox();

    // New York, 7–8 March: the night is one hour short.
    const errorRate = { id: 201, ruleName: "Error rate", severity: "warning", value: 4.2 };
    expect(
      box.deliver(jobs(newYork, ["slack"], "firing", "2026-03-08T02:59:00Z", { id: 200, severity: "warning" })),
    ).toEqual([send("slack", "U0NEWYORK")]); // 21:59 EST: not yet quiet
    expect(box.deliver(jobs(newYork, ["slack"], "firing", "2026-03-08T03:00:00Z", errorRate))).toEqual([
      hold("slack", "U0NEWYORK", NEW_YORK_END), // 22:00 EST
    ]);
    // 01:59 EST, a minute before the jump: critical goes through for this admin.
    const apiDown = { id: 202, ruleName: "API down", severity: "critical" };
    expect(box.deliver(jobs(newYork, ["slack"], "firing", "2026-03-08T06:59:00Z", apiDown))).toEqual([
      send("slack", "U0NEWYORK"),
    ]);
    // 03:00 EDT, right after the jump.
    expect(box.deliver(jobs(newYork, ["slack"], "acknowledged", "2026-03-08T07:00:00Z", errorRate))).toEqual([
      hold("slack", "U0NEWYORK", NEW_YORK_END),
    ]);
    // 06:59 EDT: a severity this admin did not choose is skipped, not held.
    const cache = { id: 203, ruleName: "Cache misses", severity: "info" };
    expect(box.deliver(jobs(newYork, ["slack"], "firing", "2026-03-08T10:59:00Z", cache))).toEqual([
      { action: "skip", reason: "severity info not in the admin's severities" },
    ]);
    expect(box.release(NEW_YORK_END - 60_000)).toEqual([]);
    const [nyDigest, ...nyRest] = box.release(NEW_YORK_END);
    expect(nyRest).toEqual([]);
    expect(nyDigest?.rowIds).toEqual([1, 2]);
    expect(nyDigest?.job).toMatchObject({
      idempotencyKey: `digest|rows:1-2:2:${fnv1a64("1,2")}|admin:2|slack`,
      alertId: 0,
      event: "digest",
      recipient: { adminId: 2 },
      channel: "slack",
      enqueuedAt: NEW_YORK_END,
      notice: {
        title: "Quiet hours digest: 1 alert",
        lines: [
          "By severity: 1 warning",
          "By event: 1 acknowledged",
          "2026-03-08T07:00:00.000Z ACKNOWLEDGED [warning] Error rate (api), value 4.2",
        ],
      },
    });
    expect(nyDigest?.job.alert).toMatchObject({ id: 201, severity: "warning" });
    // 07:00 EDT: the quiet hours are over.
    expect(
      box.deliver(jobs(newYork, ["slack"], "firing", "2026-03-08T11:00:00Z", { id: 204, severity: "warning" })),
    ).toEqual([send("slack", "U0NEWYORK")]);

    // Taipei and Berlin, 24–25 October: Taipei's night (no clock change) ends first.
    const disk = { id: 101, ruleName: "Disk full", severity: "warning", service: "db", value: 91 };
    const latency = { id: 102, ruleName: "High latency", severity: "critical", value: 812.5 };
    const queue = { id: 103, ruleName: "Queue depth", severity: "info", service: "worker", value: 1200 };
    expect(box.deliver(jobs(taipei, ["email"], "firing", "2026-10-24T13:59:00Z", { id: 300 }))).toEqual([
      send("email", "taipei@example.com"), // 21:59 in Taipei
    ]);
    expect(
      box.deliver(jobs(taipei, ["email"], "firing", "2026-10-24T14:00:00Z", { id: 301, severity: "warning" })),
    ).toEqual([hold("email", "taipei@example.com", TAIPEI_END)]); // row 3
    expect(box.deliver(jobs(berlin, ["email", "sms"], "firing", "2026-10-24T19:59:00Z", { id: 100 }))).toEqual([
      send("email", "berlin@example.com"), // 21:59 CEST
      send("sms", "+4915100000001"),
    ]);
    const berlinHeld = [hold("email", "berlin@example.com", BERLIN_END), hold("sms", "+4915100000001", BERLIN_END)];
    // 22:00 CEST: rows 4 and 5.
    expect(box.deliver(jobs(berlin, ["email", "sms"], "firing", "2026-10-24T20:00:00Z", disk))).toEqual(berlinHeld);
    // 06:59 in Taipei, critical but this admin holds critical too: row 6.
    expect(
      box.deliver(jobs(taipei, ["email"], "firing", "2026-10-24T22:59:00Z", { id: 302, severity: "critical" })),
    ).toEqual([hold("email", "taipei@example.com", TAIPEI_END)]);
    expect(box.release(TAIPEI_END - 60_000)).toEqual([]);
    const taipeiDigests = box.release(TAIPEI_END);
    expect(taipeiDigests.map((d) => [d.job.idempotencyKey, d.rowIds])).toEqual([
      [`digest|rows:3-6:2:${fnv1a64("3,6")}|admin:3|email`, [3, 6]],
    ]);
    expect(taipeiDigests[0]?.job.notice?.lines.slice(0, 2)).toEqual([
      "By severity: 1 critical, 1 warning",
      "By event: 2 firing",
    ]);
    expect(taipeiDigests[0]?.job.alert).toMatchObject({ id: 302, severity: "critical" });
    expect(box.deliver(jobs(taipei, ["email"], "firing", "2026-10-24T23:00:00Z", { id: 303 }))).toEqual([
      send("email", "taipei@example.com"),
    ]);

    // Berlin goes on: 02:30 CEST (first pass of the repeated hour), rows 7 and 8.
    expect(box.deliver(jobs(berlin, ["email", "sms"], "firing", "2026-10-25T00:30:00Z", latency))).toEqual(berlinHeld);
    // 02:30 CET (second pass): the disk alert resolves, rows 9 and 10.
    expect(box.deliver(jobs(berlin, ["email", "sms"], "resolved", "2026-10-25T01:30:00Z", disk))).toEqual(berlinHeld);
    // 06:59 CET: rows 11 and 12.
    expect(box.deliver(jobs(berlin, ["email", "sms"], "firing", "2026-10-25T05:59:00Z", queue))).toEqual(berlinHeld);
    expect(box.release(BERLIN_END - 60_000)).toEqual([]);

    // Every held row of an admin waits for the same instant.
    const untils = (adminId: number) => [...new Set(box.rows.filter((r) => r.adminId === adminId).map((r) => r.until))];
    expect(untils(1).map((u) => new Date(u).toISOString())).toEqual(["2026-10-25T06:00:00.000Z"]);
    expect(untils(2).map((u) => new Date(u).toISOString())).toEqual(["2026-03-08T11:00:00.000Z"]);
    expect(untils(3).map((u) => new Date(u).toISOString())).toEqual(["2026-10-24T23:00:00.000Z"]);

    const berlinDigests = box.release(BERLIN_END);
    const lines = [
      "By severity: 1 critical, 1 warning, 1 info",
      "By event: 2 firing, 1 resolved",
      "2026-10-25T00:30:00.000Z FIRING [critical] High latency (api), value 812.5",
      "2026-10-25T01:30:00.000Z RESOLVED [warning] Disk full (db), value 91",
      "2026-10-25T05:59:00.000Z FIRING [info] Queue depth (worker), value 1200",
    ];
    const latencyAlert = box.rows.find((r) => r.id === 7)?.job.alert;
    expect(latencyAlert).toMatchObject({ id: 102, severity: "critical" });
    expect(berlinDigests).toEqual([
      {
        rowIds: [4, 7, 9, 11],
        job: {
          idempotencyKey: `digest|rows:4-11:4:${fnv1a64("4,7,9,11")}|admin:1|email`,
          alertId: 0,
          event: "digest",
          occurrence: `digest:4-11:4:${fnv1a64("4,7,9,11")}`,
          step: 0,
          recipient: { adminId: 1 },
          channel: "email",
          alert: latencyAlert,
          notice: { title: "Quiet hours digest: 3 alerts", lines },
          enqueuedAt: BERLIN_END,
        },
      },
      {
        rowIds: [5, 8, 10, 12],
        job: {
          idempotencyKey: `digest|rows:5-12:4:${fnv1a64("5,8,10,12")}|admin:1|sms`,
          alertId: 0,
          event: "digest",
          occurrence: `digest:5-12:4:${fnv1a64("5,8,10,12")}`,
          step: 0,
          recipient: { adminId: 1 },
          channel: "sms",
          alert: latencyAlert,
          notice: { title: "Quiet hours digest: 3 alerts", lines },
          enqueuedAt: BERLIN_END,
        },
      },
    ]);
    // Every row was released exactly once.
    expect(box.rows.every((r) => r.released)).toBe(true);
    expect(box.release(BERLIN_END + 60_000)).toEqual([]);

    // The digests themselves go out at once, on the channel they were held for.
    const digests = [nyDigest, ...taipeiDigests, ...berlinDigests].map((d) => d?.job as NotificationJob);
    expect(box.deliver(digests)).toEqual([
      send("slack", "U0NEWYORK"),
      send("email", "taipei@example.com"),
      send("email", "berlin@example.com"),
      send("sms", "+4915100000001"),
    ]);
    expect(box.rows).toHaveLength(12);
  });
});

describe("digestJobs", () => {
  const NIGHT = at("2026-10-24T21:00:00Z");
  const row = (id: number, adminId: number, channel: string, alertId: number, severity: string): HeldRow => ({
    id,
    adminId,
    channel,
    job: jobs(berlin, [channel], "firing", "2026-10-24T21:00:00Z", { id: alertId, severity })[0] as NotificationJob,
  });
  const rows = [
    row(10, 1, "email", 1, "info"),
    row(11, 1, "email", 2, "warning"),
    row(12, 1, "email", 3, "critical"),
    row(13, 1, "email", 4, "critical"),
  ];

  it("plans the same rows into the same job, whenever and in whatever order they are read", () => {
    const [first] = digestJobs(rows, NIGHT);
    const [again] = digestJobs(
      [3, 1, 0, 2].map((i) => rows[i] as HeldRow),
      NIGHT + 60_000,
    );
    expect(again?.job.idempotencyKey).toBe(first?.job.idempotencyKey);
    expect(again?.rowIds).toEqual([10, 11, 12, 13]);
  });

  it("carries the most severe alert, the first of equals", () => {
    expect(digestJobs(rows, NIGHT)[0]?.job.alert).toMatchObject({ id: 3, severity: "critical" });
    expect(digestJobs(rows.slice(0, 2), NIGHT)[0]?.job.alert).toMatchObject({ id: 2, severity: "warning" });
  });

  it("gives other rows another key", () => {
    const key = (list: HeldRow[]) => digestJobs(list, NIGHT).map((d) => d.job.idempotencyKey);
    const all = key(rows)[0];
    expect(key(rows.slice(1))[0]).not.toBe(all);
    expect(key(rows.slice(0, 3))[0]).not.toBe(all);
    expect(key([rows[0], rows[3]] as HeldRow[])[0]).not.toBe(key(rows.slice(0, 2))[0]);
  });

  // Bounds and count alone would name these two sets alike.
  it("gives rows with the same first, last and count another key", () => {
    const [a, b, c, d] = rows as [HeldRow, HeldRow, HeldRow, HeldRow];
    const [one] = digestJobs([a, b, d], NIGHT);
    const [other] = digestJobs([a, c, d], NIGHT);
    expect(one?.rowIds).not.toEqual(other?.rowIds);
    expect(other?.job.idempotencyKey).not.toBe(one?.job.idempotencyKey);
  });

  it("one job per admin and channel, in admin then channel order", () => {
    const planned = digestJobs(
      [
        row(1, 2, "sms", 1, "info"),
        row(2, 1, "slack", 1, "info"),
        row(3, 1, "email", 1, "info"),
        row(4, 2, "sms", 2, "info"),
      ],
      NIGHT,
    );
    expect(planned.map((p) => [p.job.recipient.adminId, p.job.channel, p.rowIds])).toEqual([
      [1, "email", [3]],
      [1, "slack", [2]],
      [2, "sms", [1, 4]],
    ]);
  });

  it("nothing held, no job", () => {
    expect(digestJobs([], NIGHT)).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { type NotificationJob, type NotifyEvent, planJobs } from "../../../../worker/core/alerts/jobs";
import {
  fallbackChannel,
  fallbackJob,
  isSharedFallbackKey,
  type OnCallAdmin,
  type Preferences,
  sharedFallback,
  sharedFallbackJobs,
} from "../../../../worker/core/notify/recipients";
import { alert, T } from "./fixtures";

const prefs = (adminId: number, over: Partial<Preferences> = {}): Preferences => ({
  adminId,
  email: `a${adminId}@example.com`,
  phone: `+88691234567${adminId}`,
  slackMemberId: `U${adminId}`,
  emailEnabled: true,
  smsEnabled: true,
  slackEnabled: true,
  severities: ["critical", "warning"],
  quietHours: null,
  timezone: "UTC",
  criticalBypassesQuietHours: true,
  ...over,
});

const admin = (adminId: number, over: Partial<Preferences> | null = {}): OnCallAdmin => ({
  adminId,
  prefs: over === null ? null : prefs(adminId, over),
  accountEmail: `account${adminId}@example.com`,
});

/** The engine's shared job on `channel` for an event, notified to `onCall`. */
const shared = (channel: string, event: NotifyEvent = "firing", severity = "critical", onCall = [1, 2, 3]) => {
  const j = planJobs({
    alert: alert({ severity }),
    event,
    occurrence: event,
    step: 0,
    adminIds: onCall,
    channels: [channel],
    now: T,
  })[0] as NotificationJob;
  return j;
};

const summary = (jobs: NotificationJob[]) => jobs.map((j) => `${j.recipient.adminId}:${j.channel}`);

describe("sharedFallbackJobs", () => {
  it("pages each on-call admin once, on their first personal channel", () => {
    const jobs = sharedFallbackJobs({
      job: shared("webhook"),
      onCall: [admin(3, { slackEnabled: false }), admin(1), admin(2, { slackMemberId: null, phone: null })],
      sent: [],
    });
    // Critical: slack → sms → email, passing over what an admin has not set up.
    expect(summary(jobs)).toEqual(["1:slack", "2:email", "3:sms"]);
    expect(jobs.map((j) => j.idempotencyKey)).toEqual([
      "alert:12|firing|step:0|admin:1|shared|fallback:slack",
      "alert:12|firing|step:0|admin:2|shared|fallback:email",
      "alert:12|firing|step:0|admin:3|shared|fallback:sms",
    ]);
    for (const j of jobs) {
      expect(j).toMatchObject({ alertId: 12, event: "firing", occurrence: "firing", step: 0 });
      expect(j.alert).toEqual(shared("webhook").alert);
      expect(j).not.toHaveProperty("onCall");
    }
  });

  it("follows the non-critical order, and an admin without preferences gets email", () => {
    const jobs = sharedFallbackJobs({
      job: shared("pagerduty", "firing", "warning"),
      onCall: [admin(1, { slackEnabled: false }), admin(2, null)],
      sent: [],
    });
    expect(summary(jobs)).toEqual(["1:email", "2:email"]);
  });

  it("derives the same keys however often it runs, and whichever shared channel failed", () => {
    const onCall = [admin(1), admin(2)];
    const fromWebhook = sharedFallbackJobs({ job: shared("webhook"), onCall, sent: [] });
    const again = sharedFallbackJobs({ job: shared("webhook"), onCall, sent: [] });
    const fromPagerDuty = sharedFallbackJobs({ job: shared("pagerduty"), onCall, sent: [] });
    const keys = (jobs: NotificationJob[]) => jobs.map((j) => j.idempotencyKey);
    expect(keys(again)).toEqual(keys(fromWebhook));
    expect(keys(fromPagerDuty)).toEqual(keys(fromWebhook));
    // Another event of the alert is another page.
    expect(keys(sharedFallbackJobs({ job: shared("webhook", "reminder"), onCall, sent: [] }))).not.toEqual(
      keys(fromWebhook),
    );
  });

  it("passes over admins the event already reached on a personal channel", () => {
    const jobs = sharedFallbackJobs({
      job: shared("webhook"),
      onCall: [admin(1), admin(2), admin(3)],
      sent: [
        { key: "alert:12|firing|step:0|admin:1|sms", adminId: 1 },
        // The same alert's other event does not count.
        { key: "alert:12|reminder|step:0|admin:2|slack", adminId: 2 },
        // A fallback of the other shared channel, already sent.
        { key: "alert:12|firing|step:0|admin:3|shared|fallback:slack", adminId: 3 },
      ],
    });
    expect(summary(jobs)).toEqual(["2:slack"]);
  });

  it("sends a follow-up only to admins an earlier shared fallback paged", () => {
    const onCall = [admin(1), admin(2)];
    const sent = [{ key: "alert:12|firing|step:0|admin:2|shared|fallback:slack", adminId: 2 }];
    for (const event of ["acknowledged", "resolved"] as const) {
      const jobs = sharedFallbackJobs({ job: shared("webhook", event), onCall, sent });
      expect(summary(jobs)).toEqual(["2:slack"]);
      expect(jobs[0]?.idempotencyKey).toBe(`alert:12|${event}|step:0|admin:2|shared|fallback:slack`);
      expect(sharedFallbackJobs({ job: shared("webhook", event), onCall, sent: [] })).toEqual([]);
    }
  });

  it("has nothing for personal jobs, notices, admins with no channel left or nobody on call", () => {
    const personal = { ...shared("webhook"), recipient: { adminId: 4 }, channel: "slack" };
    expect(sharedFallbackJobs({ job: personal, onCall: [admin(1)], sent: [] })).toEqual([]);
    const digest = { ...shared("webhook"), event: "digest" as const };
    expect(sharedFallbackJobs({ job: digest, onCall: [admin(1)], sent: [] })).toEqual([]);
    const unreachable = admin(1, { emailEnabled: false, smsEnabled: false, slackEnabled: false });
    expect(sharedFallbackJobs({ job: shared("webhook"), onCall: [unreachable], sent: [] })).toEqual([]);
    expect(sharedFallbackJobs({ job: shared("webhook"), onCall: [], sent: [] })).toEqual([]);
  });

  it("names the on-call admins it cannot reach on any channel, and why, for the delivery log", () => {
    const off = admin(2, { emailEnabled: false, smsEnabled: false, slackEnabled: false });
    const noAddresses = admin(3, { email: null, phone: null, slackMemberId: null });
    const plan = sharedFallback({ job: shared("pagerduty"), onCall: [off, admin(1), noAddresses], sent: [] });
    expect(summary(plan.jobs)).toEqual(["1:slack"]);
    expect(
      plan.unreachable.map((u) => [u.job.recipient.adminId, u.job.channel, u.job.idempotencyKey, u.reason]),
    ).toEqual([
      [
        2,
        "pagerduty",
        "alert:12|firing|step:0|admin:2|shared|fallback:none",
        "pagerduty given up; no personal channel to page this admin on (slack disabled; sms disabled; email disabled)",
      ],
      [
        3,
        "pagerduty",
        "alert:12|firing|step:0|admin:3|shared|fallback:none",
        "pagerduty given up; no personal channel to page this admin on (no Slack member id; no phone number; no email address)",
      ],
    ]);
    // Those already reached, or not paged for the alert's start, are passed over, not unreachable.
    const resolved = sharedFallback({ job: shared("webhook", "resolved"), onCall: [off], sent: [] });
    expect(resolved).toEqual({ jobs: [], unreachable: [] });
  });

  it("pages the on-call admins the Slack channel's job did not reach, passing over those sent a DM", () => {
    const [channelJob] = planJobs({
      alert: alert(),
      event: "firing",
      occurrence: "firing",
      step: 0,
      adminIds: [1, 2],
      channels: ["slack"],
      slack: { shared: true, direct: false },
      now: T,
    });
    expect(channelJob).toMatchObject({ channel: "slack", recipient: { adminId: 0 }, onCall: [1, 2] });
    const jobs = sharedFallbackJobs({
      job: channelJob as NotificationJob,
      onCall: [admin(1), admin(2, { slackMemberId: null })],
      sent: [{ key: "alert:12|firing|step:0|admin:1|slack", adminId: 1 }],
    });
    expect(summary(jobs)).toEqual(["2:sms"]);
    expect(jobs[0]?.idempotencyKey).toBe("alert:12|firing|step:0|admin:2|shared|fallback:sms");
  });

  it("is carried on by fallbackJob to the admin's next channel, never back to the first", () => {
    const [first] = sharedFallbackJobs({ job: shared("webhook"), onCall: [admin(1)], sent: [] });
    expect(first?.channel).toBe("slack");
    const next = fallbackJob(first as NotificationJob, (failed) => {
      expect(failed).toContain("slack");
      return fallbackChannel(failed, "critical", prefs(1), "account1@example.com");
    });
    expect(next).toMatchObject({ channel: "sms", recipient: { adminId: 1 } });
    expect(next?.idempotencyKey).toBe("alert:12|firing|step:0|admin:1|shared|fallback:slack|fallback:sms");
    expect(isSharedFallbackKey(next?.idempotencyKey ?? "")).toBe(true);
    expect(isSharedFallbackKey("alert:12|firing|step:0|admin:1|sms|fallback:slack")).toBe(false);
  });
});

describe("planJobs on shared channels", () => {
  it("carries the admins notified as onCall, on shared jobs only", () => {
    const jobs = planJobs({
      alert: alert(),
      event: "firing",
      occurrence: "firing",
      step: 0,
      adminIds: [3, 1, 3],
      channels: ["slack", "webhook"],
      now: T,
    });
    expect(jobs.find((j) => j.channel === "webhook")?.onCall).toEqual([1, 3]);
    expect(jobs.filter((j) => j.channel === "slack").every((j) => j.onCall === undefined)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { idempotencyKey, type NotificationJob } from "../../../../worker/core/alerts/jobs";
import {
  type DeliveryPlan,
  fallbackChannel,
  fallbackJob,
  planDelivery,
  type Preferences,
} from "../../../../worker/core/notify/recipients";
import { job as fixtureJob } from "./fixtures";

const prefs = (over: Partial<Preferences> = {}): Preferences => ({
  adminId: 7,
  email: "ops@example.com",
  phone: "+886912345678",
  slackMemberId: "U024BE7LH",
  emailEnabled: true,
  smsEnabled: true,
  slackEnabled: true,
  severities: ["critical", "warning"],
  quietHours: null,
  timezone: "Asia/Taipei",
  criticalBypassesQuietHours: true,
  ...over,
});

const ACCOUNT = "account@example.com";
// 23:00 in Taipei; quiet hours 22:00–07:00 there end at 2026-11-26T23:00Z.
const NIGHT = Date.parse("2026-11-26T15:00:00Z");
const QUIET_END = Date.parse("2026-11-26T23:00:00Z");
const DAYTIME = Date.parse("2026-11-26T02:00:00Z");
const quiet = { quietHours: { start: "22:00", end: "07:00" } };

describe("planDelivery", () => {
  it.each<[string, string, string, string, Preferences | null, boolean, number, DeliveryPlan]>([
    // Channels and addresses.
    [
      "email",
      "firing",
      "warning",
      "email",
      prefs(),
      false,
      NIGHT,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
    [
      "sms",
      "firing",
      "warning",
      "sms",
      prefs(),
      false,
      NIGHT,
      { action: "send", channel: "sms", address: "+886912345678" },
    ],
    [
      "slack",
      "firing",
      "warning",
      "slack",
      prefs(),
      false,
      NIGHT,
      { action: "send", channel: "slack", address: "U024BE7LH" },
    ],
    [
      "webhook is not per admin",
      "firing",
      "info",
      "webhook",
      prefs(quiet),
      false,
      NIGHT,
      { action: "send", channel: "webhook", address: "" },
    ],
    [
      "pagerduty without preferences",
      "firing",
      "info",
      "pagerduty",
      null,
      false,
      NIGHT,
      { action: "send", channel: "pagerduty", address: "" },
    ],
    [
      "unknown channel",
      "firing",
      "warning",
      "fax",
      prefs(),
      false,
      NIGHT,
      { action: "skip", reason: "unknown channel fax" },
    ],
    // Toggles and missing addresses.
    [
      "email disabled",
      "firing",
      "warning",
      "email",
      prefs({ emailEnabled: false }),
      false,
      NIGHT,
      { action: "skip", reason: "email disabled" },
    ],
    [
      "sms disabled",
      "firing",
      "critical",
      "sms",
      prefs({ smsEnabled: false }),
      false,
      NIGHT,
      { action: "skip", reason: "sms disabled" },
    ],
    [
      "slack disabled",
      "firing",
      "critical",
      "slack",
      prefs({ slackEnabled: false }),
      false,
      NIGHT,
      { action: "skip", reason: "slack disabled" },
    ],
    [
      "no email address",
      "firing",
      "warning",
      "email",
      prefs({ email: null }),
      false,
      NIGHT,
      { action: "skip", reason: "no email address" },
    ],
    [
      "no phone",
      "firing",
      "warning",
      "sms",
      prefs({ phone: null }),
      false,
      NIGHT,
      { action: "skip", reason: "no phone number" },
    ],
    [
      "no member id",
      "firing",
      "warning",
      "slack",
      prefs({ slackMemberId: "" }),
      false,
      NIGHT,
      { action: "skip", reason: "no Slack member id" },
    ],
    // Severity filter and the follow-up exception.
    [
      "severity not chosen",
      "firing",
      "info",
      "email",
      prefs(),
      false,
      NIGHT,
      { action: "skip", reason: "severity info not in the admin's severities" },
    ],
    [
      "reminder not chosen",
      "reminder",
      "info",
      "email",
      prefs(),
      true,
      NIGHT,
      { action: "skip", reason: "severity info not in the admin's severities" },
    ],
    [
      "resolved after a sent firing",
      "resolved",
      "info",
      "email",
      prefs(),
      true,
      NIGHT,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
    [
      "acknowledged after a sent firing",
      "acknowledged",
      "info",
      "slack",
      prefs(),
      true,
      NIGHT,
      { action: "send", channel: "slack", address: "U024BE7LH" },
    ],
    [
      "resolved, firing never sent",
      "resolved",
      "info",
      "email",
      prefs(),
      false,
      NIGHT,
      { action: "skip", reason: "severity info not in the admin's severities" },
    ],
    [
      "follow-up still needs the channel",
      "resolved",
      "info",
      "sms",
      prefs({ smsEnabled: false }),
      true,
      NIGHT,
      { action: "skip", reason: "sms disabled" },
    ],
    // No preferences stored: email to the account, any severity.
    [
      "defaults: email",
      "firing",
      "info",
      "email",
      null,
      false,
      NIGHT,
      { action: "send", channel: "email", address: ACCOUNT },
    ],
    [
      "defaults: no sms",
      "firing",
      "critical",
      "sms",
      null,
      false,
      NIGHT,
      { action: "skip", reason: "sms not set up (no preferences saved)" },
    ],
    [
      "defaults: no slack",
      "firing",
      "critical",
      "slack",
      null,
      false,
      NIGHT,
      { action: "skip", reason: "slack not set up (no preferences saved)" },
    ],
    // Quiet hours.
    [
      "quiet: warning held",
      "firing",
      "warning",
      "sms",
      prefs(quiet),
      false,
      NIGHT,
      { action: "hold", channel: "sms", address: "+886912345678", until: QUIET_END },
    ],
    [
      "quiet: critical breaks through",
      "firing",
      "critical",
      "sms",
      prefs(quiet),
      false,
      NIGHT,
      { action: "send", channel: "sms", address: "+886912345678" },
    ],
    [
      "quiet: critical held when not allowed through",
      "firing",
      "critical",
      "sms",
      prefs({ ...quiet, criticalBypassesQuietHours: false }),
      false,
      NIGHT,
      { action: "hold", channel: "sms", address: "+886912345678", until: QUIET_END },
    ],
    [
      "quiet: follow-up held",
      "resolved",
      "info",
      "email",
      prefs(quiet),
      true,
      NIGHT,
      { action: "hold", channel: "email", address: "ops@example.com", until: QUIET_END },
    ],
    [
      "quiet: filtered severity skipped, not held",
      "firing",
      "info",
      "email",
      prefs(quiet),
      false,
      NIGHT,
      { action: "skip", reason: "severity info not in the admin's severities" },
    ],
    [
      "quiet: disabled channel skipped",
      "firing",
      "warning",
      "slack",
      prefs({ ...quiet, slackEnabled: false }),
      false,
      NIGHT,
      { action: "skip", reason: "slack disabled" },
    ],
    [
      "quiet: daytime sends",
      "firing",
      "warning",
      "sms",
      prefs(quiet),
      false,
      DAYTIME,
      { action: "send", channel: "sms", address: "+886912345678" },
    ],
    [
      "quiet: read in the admin's zone",
      "firing",
      "warning",
      "email",
      prefs({ ...quiet, timezone: "Europe/Berlin" }),
      false,
      NIGHT,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
  ])("%s", (_, event, severity, channel, p, firingWasSent, now, expected) => {
    expect(planDelivery({ event, severity, channel, prefs: p, accountEmail: ACCOUNT, firingWasSent, now })).toEqual(
      expected,
    );
  });

  it.each<[string, string, Preferences | null, number, DeliveryPlan]>([
    // The digest goes out as its quiet hours end; the next night must not hold it again.
    [
      "digest inside quiet hours",
      "info",
      prefs(quiet),
      NIGHT,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
    [
      "digest not held for critical either",
      "critical",
      prefs({ ...quiet, criticalBypassesQuietHours: false }),
      NIGHT,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
    // Its items were filtered when held; the severity it carries is only its most severe one's.
    [
      "digest outside the severities",
      "info",
      prefs({ severities: ["critical"] }),
      DAYTIME,
      { action: "send", channel: "email", address: "ops@example.com" },
    ],
    [
      "digest still needs the channel",
      "warning",
      prefs({ emailEnabled: false }),
      DAYTIME,
      { action: "skip", reason: "email disabled" },
    ],
    [
      "digest still needs an address",
      "warning",
      prefs({ email: null }),
      DAYTIME,
      { action: "skip", reason: "no email address" },
    ],
  ])("%s", (_, severity, p, now, expected) => {
    expect(
      planDelivery({
        event: "digest",
        severity,
        channel: "email",
        prefs: p,
        accountEmail: ACCOUNT,
        firingWasSent: false,
        now,
      }),
    ).toEqual(expected);
  });

  it("no preferences and no account email: nothing to send to", () => {
    expect(
      planDelivery({
        event: "firing",
        severity: "critical",
        channel: "email",
        prefs: null,
        accountEmail: "",
        firingWasSent: false,
        now: NIGHT,
      }),
    ).toEqual({ action: "skip", reason: "no email address" });
  });
});

describe("fallbackChannel", () => {
  it.each<[string, string[], string, Preferences | null, string, string | null]>([
    ["critical: slack first", [], "critical", prefs(), ACCOUNT, "slack"],
    ["critical: slack failed → sms", ["slack"], "critical", prefs(), ACCOUNT, "sms"],
    ["critical: then email", ["slack", "sms"], "critical", prefs(), ACCOUNT, "email"],
    ["critical: all failed", ["slack", "sms", "email"], "critical", prefs(), ACCOUNT, null],
    ["warning: slack failed → email", ["slack"], "warning", prefs(), ACCOUNT, "email"],
    ["warning: then sms", ["slack", "email"], "warning", prefs(), ACCOUNT, "sms"],
    ["critical: sms disabled skipped", ["slack"], "critical", prefs({ smsEnabled: false }), ACCOUNT, "email"],
    ["warning: email without address skipped", ["slack"], "warning", prefs({ email: null }), ACCOUNT, "sms"],
    ["warning: nothing usable left", ["slack", "email"], "warning", prefs({ phone: null }), ACCOUNT, null],
    ["shared channel failing starts the order", ["webhook"], "critical", prefs(), ACCOUNT, "slack"],
    ["defaults: email only", ["slack"], "critical", null, ACCOUNT, "email"],
    ["defaults: email failed", ["email"], "critical", null, ACCOUNT, null],
    ["defaults: no account email", [], "warning", null, "", null],
  ])("%s", (_, failed, severity, p, account, expected) => {
    expect(fallbackChannel(failed, severity, p, account)).toBe(expected);
  });
});

describe("fallbackJob", () => {
  const base = (channel: string, severity = "critical"): NotificationJob => {
    const j = fixtureJob("firing", { severity });
    return { ...j, channel, recipient: { adminId: 7 }, idempotencyKey: idempotencyKey(12, "firing", 0, 7, channel) };
  };

  /** Follows the fallbacks to the end: the channels each step was told had failed, and the job it made. */
  function chain(start: NotificationJob, p: Preferences | null) {
    const steps: { failed: string[]; channel: string | null; key: string | null }[] = [];
    let current: NotificationJob | null = start;
    while (current) {
      const from: NotificationJob = current;
      let failed: string[] = [];
      current = fallbackJob(from, (f) => {
        failed = f;
        return fallbackChannel(f, from.alert.severity, p, ACCOUNT);
      });
      steps.push({ failed, channel: current?.channel ?? null, key: current?.idempotencyKey ?? null });
    }
    return steps;
  }

  it("critical: slack → sms → email, keys accumulating, then none left", () => {
    const key = "alert:12|firing|step:0|admin:7|slack";
    expect(chain(base("slack"), prefs())).toEqual([
      { channel: "sms", key: `${key}|fallback:sms`, failed: ["slack"] },
      { channel: "email", key: `${key}|fallback:sms|fallback:email`, failed: ["slack", "sms"] },
      { channel: null, key: null, failed: ["slack", "sms", "email"] },
    ]);
  });

  it("warning: slack → email → sms", () => {
    expect(chain(base("slack", "warning"), prefs()).map((s) => s.channel)).toEqual(["email", "sms", null]);
  });

  it("a fallback of a fallback passes over the original channel, wherever it sits in the order", () => {
    // Email failed first for a critical alert: slack, then sms, never email again.
    const key = "alert:12|firing|step:0|admin:7|email";
    expect(chain(base("email"), prefs())).toEqual([
      { channel: "slack", key: `${key}|fallback:slack`, failed: ["email"] },
      { channel: "sms", key: `${key}|fallback:slack|fallback:sms`, failed: ["email", "slack"] },
      { channel: null, key: null, failed: ["email", "slack", "sms"] },
    ]);
  });

  it("passes over unusable channels and ends when none is left", () => {
    expect(chain(base("slack"), prefs({ smsEnabled: false })).map((s) => s.channel)).toEqual(["email", null]);
    expect(fallbackJob(base("email"), (failed) => fallbackChannel(failed, "critical", null, ACCOUNT))).toBeNull();
  });

  it("changes only the channel and the key", () => {
    const job = base("slack");
    const next = fallbackJob(job, () => "sms");
    expect(next).toEqual({ ...job, channel: "sms", idempotencyKey: `${job.idempotencyKey}|fallback:sms` });
  });

  it("a digest falls back the same way", () => {
    const digest: NotificationJob = {
      ...base("slack"),
      alertId: 0,
      event: "digest",
      occurrence: "digest:3-9:4",
      idempotencyKey: "digest|rows:3-9:4|admin:7|slack",
      notice: { title: "Quiet hours digest: 4 alerts", lines: [] },
    };
    expect(chain(digest, prefs()).map((s) => s.key)).toEqual([
      "digest|rows:3-9:4|admin:7|slack|fallback:sms",
      "digest|rows:3-9:4|admin:7|slack|fallback:sms|fallback:email",
      null,
    ]);
  });
});

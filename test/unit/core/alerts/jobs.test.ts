import { describe, expect, it } from "vitest";
import {
  type NotificationJob,
  planJobs,
  readJob,
  SHARED_RECIPIENT,
  slackRouting,
  withCurrentValues,
} from "../../../../worker/core/alerts/jobs";
import { emailContent } from "../../../../worker/core/notify/email";
import { smsText } from "../../../../worker/core/notify/sms";
import { digestJobs } from "../../../../worker/core/notify/quiet-hours";
import { alert, job, T } from "../notify/fixtures";

const plan = (adminIds: number[], channels: string[], over: { step?: number; occurrence?: string } = {}) =>
  planJobs({
    alert: alert(),
    event: "firing",
    occurrence: over.occurrence ?? "firing",
    step: over.step ?? 0,
    adminIds,
    channels,
    now: T,
  });

const pairs = (jobs: NotificationJob[]) => jobs.map((j) => `${j.recipient.adminId}:${j.channel}`);

describe("planJobs", () => {
  it("one job per admin and personal channel, one per shared channel whoever the admins", () => {
    const jobs = plan([3, 1, 2], ["slack", "webhook", "pagerduty", "email"]);
    expect(pairs(jobs)).toEqual([
      "1:slack",
      "1:email",
      "2:slack",
      "2:email",
      "3:slack",
      "3:email",
      "0:webhook",
      "0:pagerduty",
    ]);
    expect(SHARED_RECIPIENT).toBe(0);
    expect(
      jobs.filter((j) => j.channel === "webhook" || j.channel === "pagerduty").map((j) => j.idempotencyKey),
    ).toEqual(["alert:12|firing|step:0|admin:0|webhook", "alert:12|firing|step:0|admin:0|pagerduty"]);
    expect(new Set(jobs.map((j) => j.idempotencyKey)).size).toBe(jobs.length);
    for (const j of jobs) {
      expect(j).toMatchObject({ alertId: 12, event: "firing", occurrence: "firing", step: 0, enqueuedAt: T });
      expect(j.alert).toEqual(alert());
    }
  });

  it("the shared jobs are the same whether one admin or many are notified, or none", () => {
    const shared = (adminIds: number[]) =>
      plan(adminIds, ["webhook", "pagerduty", "sms"])
        .filter((j) => j.recipient.adminId === SHARED_RECIPIENT)
        .map((j) => j.idempotencyKey);
    expect(shared([5])).toEqual(shared([1, 2, 3, 4, 5]));
    expect(shared([])).toEqual(shared([5]));
    expect(pairs(plan([], ["webhook", "pagerduty", "sms"]))).toEqual(["0:webhook", "0:pagerduty"]);
  });

  it("drops duplicated admins and channels", () => {
    expect(pairs(plan([2, 1, 2], ["email", "webhook", "email", "webhook"]))).toEqual([
      "1:email",
      "2:email",
      "0:webhook",
    ]);
  });

  it("keys differ by step and occurrence", () => {
    const keys = [
      ...plan([1], ["email", "webhook"]),
      ...plan([1], ["email", "webhook"], { step: 1, occurrence: "step:1:r0" }),
      ...plan([1], ["email", "webhook"], { occurrence: "reminder:1" }),
    ].map((j) => j.idempotencyKey);
    expect(new Set(keys).size).toBe(6);
  });

  it("no channels, no jobs", () => {
    expect(plan([1, 2], [])).toEqual([]);
  });
});

describe("slackRouting and planJobs with a Slack team channel", () => {
  const slackPlan = (adminIds: number[], channels: string[], slack: Parameters<typeof slackRouting>[0]) =>
    planJobs({
      alert: alert(),
      event: "firing",
      occurrence: "firing",
      step: 0,
      adminIds,
      channels,
      slack: slackRouting(slack),
      now: T,
    });

  it("the incoming webhook alone: one job to the channel per event, no per-admin Slack jobs", () => {
    const jobs = slackPlan([2, 1], ["slack", "email"], { botToken: false, channel: false, webhook: true });
    expect(pairs(jobs)).toEqual(["1:email", "2:email", "0:slack"]);
    const shared = jobs.find((j) => j.channel === "slack");
    expect(shared?.idempotencyKey).toBe("alert:12|firing|step:0|admin:0|slack");
    expect(shared?.onCall).toEqual([1, 2]);
  });

  it("the bot token with SLACK_CHANNEL: the channel job and each admin's DM, under distinct keys", () => {
    const jobs = slackPlan([1, 2], ["slack"], { botToken: true, channel: true, webhook: false });
    expect(pairs(jobs)).toEqual(["1:slack", "2:slack", "0:slack"]);
    expect(new Set(jobs.map((j) => j.idempotencyKey)).size).toBe(3);
    // Nobody to notify: the channel is still told.
    expect(pairs(slackPlan([], ["slack"], { botToken: true, channel: true, webhook: false }))).toEqual(["0:slack"]);
  });

  it("no channel configured: per-admin jobs only, as before (the bot's webhook-less DMs, or nothing set up)", () => {
    const none = { botToken: false, channel: false, webhook: false };
    expect(pairs(slackPlan([1], ["slack"], none))).toEqual(["1:slack"]);
    // The bot token takes a channel only from SLACK_CHANNEL; a webhook beside it is not the channel.
    expect(pairs(slackPlan([1], ["slack"], { botToken: true, channel: false, webhook: true }))).toEqual(["1:slack"]);
    // SLACK_CHANNEL without the bot token cannot post: the webhook is the channel when set.
    expect(pairs(slackPlan([1], ["slack"], { botToken: false, channel: true, webhook: false }))).toEqual(["1:slack"]);
    expect(pairs(plan([1], ["slack"]))).toEqual(["1:slack"]);
  });

  it("a rule without slack gets no Slack job, channel configured or not", () => {
    const jobs = slackPlan([1], ["email", "webhook"], { botToken: true, channel: true, webhook: true });
    expect(pairs(jobs)).toEqual(["1:email", "0:webhook"]);
  });
});

describe("readJob", () => {
  const digest = digestJobs(
    [
      { id: 8, adminId: 4, channel: "email", job: job("firing") },
      { id: 9, adminId: 4, channel: "email", job: job("resolved") },
    ],
    T + 3_600_000,
  )[0]?.job as NotificationJob;
  const test: NotificationJob = {
    ...job("firing"),
    alertId: 0,
    event: "test",
    occurrence: "test",
    idempotencyKey: "test|admin:4|email|1",
    notice: { title: "Test notification", lines: ["Sent to check this channel."] },
  };

  it.each<[string, NotificationJob]>([
    ["an alert event", job("acknowledged")],
    ["a digest", digest],
    ["a test", test],
  ])("reads back %s as queued (JSON)", (_, j) => {
    expect(readJob(JSON.parse(JSON.stringify(j)))).toEqual({ ok: true, job: j });
  });

  it("the digest keeps its notice", () => {
    const read = readJob(JSON.parse(JSON.stringify(digest)));
    expect(read.ok && read.job.notice?.title).toBe("Quiet hours digest: 1 alert");
  });

  it.each<[string, unknown, string]>([
    ["unknown event", { ...job("firing"), event: "digested" }, "unknown event digested"],
    ["missing event", { ...job("firing"), event: undefined }, "unknown event undefined"],
    ["not an object", "alert:12", "not an object"],
    ["null", null, "not an object"],
    ["empty key", { ...job("firing"), idempotencyKey: "" }, "no idempotencyKey"],
    ["alert id as text", { ...job("firing"), alertId: "12" }, "no alertId"],
    ["no recipient", { ...job("firing"), recipient: {} }, "no recipient"],
    ["no channel", { ...job("firing"), channel: 5 }, "no channel"],
    ["no enqueuedAt", { ...job("firing"), enqueuedAt: "now" }, "no enqueuedAt"],
    ["no alert", { ...digest, alert: null }, "no alert snapshot"],
  ])("rejects %s", (_, body, reason) => {
    expect(readJob(body)).toEqual({ ok: false, reason });
  });
});

describe("readJob and onCall", () => {
  it("keeps a shared job's on-call admins, and drops an unreadable list rather than the job", () => {
    const j = { ...job("firing"), recipient: { adminId: 0 }, channel: "webhook", onCall: [1, 2] };
    expect(readJob(JSON.parse(JSON.stringify(j)))).toEqual({ ok: true, job: j });
    const read = readJob({ ...j, onCall: ["1", null] });
    expect(read.ok).toBe(true);
    expect(read.ok && read.job).not.toHaveProperty("onCall");
    expect(read.ok && read.job.channel).toBe("webhook");
  });
});

describe("withCurrentValues", () => {
  // Enqueued at 400; the alert's row has moved on to 500 since.
  const queued = job("reminder", { value: 400, peakValue: 400, message: "latest value 400 > 300" });
  const now = { value: 500, peakValue: 500, message: "latest value 500 > 300" };

  it("renders the alert's current value, peak and message, keeping the event and its key", () => {
    const fresh = withCurrentValues(queued, now);
    expect(fresh.alert).toMatchObject({ value: 500, peakValue: 500, message: "latest value 500 > 300" });
    expect(fresh).toMatchObject({ event: "reminder", idempotencyKey: queued.idempotencyKey });
    expect(fresh.alert.status).toBe(queued.alert.status);
    expect(emailContent(fresh).text).toContain("latest value 500 > 300");
    expect(emailContent(fresh).text).not.toContain("400");
    expect(smsText(fresh)).toContain("500");
    expect(smsText(fresh)).not.toContain("400");
    // The queued job itself is not changed.
    expect(queued.alert.value).toBe(400);
  });

  it("keeps the snapshot's where the row has nothing, and leaves notices and deleted alerts alone", () => {
    expect(withCurrentValues(queued, { value: null, peakValue: null, message: "" }).alert).toEqual(queued.alert);
    expect(withCurrentValues(queued, null)).toBe(queued);
    const notice = { ...queued, notice: { title: "Quiet hours digest: 1 alert", lines: [] } };
    expect(withCurrentValues(notice, now)).toBe(notice);
  });
});

/**
 * Slack as a team channel: a rule's `slack` planned as the engine plans it (planJobs with the
 * environment's Slack routing) and run through the real queue consumer to the provider sink.
 * With the incoming webhook alone, one message per alert event reaches the channel though no
 * admin has a Slack member id; with the bot token and SLACK_CHANNEL, chat.postMessage goes to
 * that channel (then chat.update), and the admins with a member id still get their DMs.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type AlertSnapshot, type NotificationJob, type NotifyEvent, planJobs } from "../../worker/core/alerts/jobs";
import { slackRoutingOf } from "../../worker/lib/alerts";
import { adminWith, alertJobs, consume, received, rowOf } from "./delivery-helpers";

const alerts = alertJobs("Slack channel", "sch");
let counter = 0;

beforeAll(alerts.setup);

/** The jobs the engine makes for one event of the alert, to `adminIds`, with the bindings `over` sets. */
function plan(
  alert: AlertSnapshot,
  event: NotifyEvent,
  adminIds: number[],
  over: Partial<Env>,
  changes: Partial<AlertSnapshot> = {},
): NotificationJob[] {
  return planJobs({
    alert: { ...alert, ...changes },
    event,
    occurrence: event,
    step: 0,
    adminIds,
    channels: ["slack"],
    slack: slackRoutingOf({ ...env, ...over }),
    now: Date.now(),
  });
}

/** Plans and consumes each event's jobs, in order: firing, acknowledged, resolved. */
async function lifeOf(alert: AlertSnapshot, adminIds: number[], over: Partial<Env>): Promise<NotificationJob[]> {
  const events: [NotifyEvent, Partial<AlertSnapshot>][] = [
    ["firing", {}],
    ["acknowledged", { status: "acknowledged", acknowledgedAt: Date.now(), acknowledgedBy: "Ana" }],
    ["resolved", { status: "resolved", acknowledgedAt: Date.now(), resolvedAt: Date.now() }],
  ];
  const all: NotificationJob[] = [];
  for (const [event, changes] of events) {
    for (const job of plan(alert, event, adminIds, over, changes)) {
      expect((await consume(job, "notifications", over)).explicitAcks).toEqual(["m1"]);
      all.push(job);
    }
  }
  return all;
}

describe("Slack as a team channel", () => {
  it("posts one message per alert event to the incoming webhook when no admin has a Slack member id", async () => {
    const viaWebhook: Partial<Env> = { SLACK_BOT_TOKEN: undefined };
    const admins = [await adminWith({ email: "a@example.com" }), await adminWith({})];
    const { job, token } = await alerts.jobFor(null, "slack");
    const jobs = await lifeOf(
      job.alert,
      admins.map((a) => a.id),
      viaWebhook,
    );
    // One shared job per event, no per-admin Slack job (the webhook cannot DM).
    expect(jobs.map((j) => `${j.event}:${j.recipient.adminId}`)).toEqual(["firing:0", "acknowledged:0", "resolved:0"]);

    const posted = await received("slack", token);
    expect(posted.map((r) => r.path)).toEqual(Array(3).fill("/sink/slack/services/T0/B0/hook-secret-xyz"));
    const bodies = posted.map((r) => JSON.stringify(JSON.parse(r.body)));
    expect(bodies[1]).toContain("Acknowledged by Ana");
    expect(bodies[2]).toContain("Resolved at");
    expect(await received("slack-bot", token)).toEqual([]);
    for (const j of jobs) {
      expect(await rowOf(j.idempotencyKey)).toMatchObject({ status: "sent", recipient: "shared:slack" });
    }
  });

  it("posts to SLACK_CHANNEL through the bot, updates it in place, and still DMs admins with a member id", async () => {
    const channel: Partial<Env> = { SLACK_CHANNEL: `C0ALERTS${++counter}` };
    const member = `UCH${counter}${Date.now()}`;
    const linked = await adminWith({ slack: member });
    const unlinked = await adminWith({ email: "b@example.com" });
    const { job, token } = await alerts.jobFor(null, "slack");
    const jobs = await lifeOf(job.alert, [linked.id, unlinked.id], channel);
    // Each admin's DM job (in id order), then the channel's.
    expect(jobs.filter((j) => j.event === "firing").map((j) => j.recipient.adminId)).toEqual([
      linked.id,
      unlinked.id,
      0,
    ]);

    const toBot = (await received("slack-bot", token)).map((r) => ({
      method: r.path.split("/").pop(),
      body: JSON.parse(r.body) as { channel: string; ts?: string },
    }));
    const toChannel = toBot.filter((r) => r.body.channel === channel.SLACK_CHANNEL);
    expect(toChannel.map((r) => r.method)).toEqual(["chat.postMessage"]);
    const toMember = toBot.filter((r) => r.body.channel === member);
    expect(toMember.map((r) => r.method)).toEqual(["chat.postMessage"]);
    // Acknowledged and resolved rewrite each message, the channel's and the DM, in place.
    const firingTs = async (adminId: number) => {
      const firing = jobs.find((j) => j.event === "firing" && j.recipient.adminId === adminId);
      return (await rowOf(firing?.idempotencyKey ?? ""))?.provider_message_id?.split("/")[1];
    };
    const updates = toBot.filter((r) => r.method === "chat.update");
    for (const ts of [await firingTs(0), await firingTs(linked.id)]) {
      expect(ts).toMatch(/^\d+\.\d+$/);
      expect(updates.filter((r) => r.body.ts === ts)).toHaveLength(2);
    }
    expect(await received("slack", token)).toEqual([]);

    const unlinkedFiring = jobs.find((j) => j.event === "firing" && j.recipient.adminId === unlinked.id);
    expect(await rowOf(unlinkedFiring?.idempotencyKey ?? "")).toMatchObject({ status: "skipped" });
  });

  it("without a channel configured, plans per-admin DMs only (the test bindings: token, webhook, no channel)", async () => {
    const { job } = await alerts.jobFor(null, "slack");
    const admin = await adminWith({ slack: `UNC${++counter}` });
    expect(plan(job.alert, "firing", [admin.id], {}).map((j) => j.recipient.adminId)).toEqual([admin.id]);
  });
});

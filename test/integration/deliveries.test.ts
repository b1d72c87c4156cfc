/**
 * The delivery log, `GET /api/admin/monitoring/deliveries`: jobs run through the real queue
 * consumer (sent to the provider sink, skipped by the admin's preferences, left in the
 * outbox), then listed with their reasons, recipients and latencies, filtered and paged.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { NotificationJob } from "../../worker/core/alerts/jobs";
import { callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";
import { adminWith, alertJobs, consume, rowOf, setMode, waitFor } from "./delivery-helpers";

const BASE = "/api/admin/monitoring/deliveries";

interface Delivery {
  id: number;
  alert_id: number | null;
  rule_id: number | null;
  rule_name: string | null;
  service: string | null;
  severity: string | null;
  event: string;
  channel: string;
  recipient: string;
  recipient_name: string | null;
  recipient_email: string | null;
  status: string;
  attempts: number;
  reason: string | null;
  enqueued_at: string;
  delivered_at: string | null;
  latency_from_breach_ms: number | null;
  latency_from_enqueue_ms: number | null;
}
interface Page {
  deliveries: Delivery[];
  next_cursor: string | null;
}

const alerts = alertJobs("Delivery log", "dlog");
const teamAlerts = alertJobs("Delivery log, team channel", "dlogteam");
let viewer: TestAdmin;
let ruleId: number;
/** Jobs run through the consumer, in the order they were enqueued. */
let paged: NotificationJob;
let unset: NotificationJob;
let unchosen: NotificationJob;
let mailed: NotificationJob;
let pagedAdmin: TestAdmin;
let unsetAdmin: TestAdmin;
const BREACH_AGO_MS = 90_000;

/** A job for a fresh alert, enqueued at `enqueuedAt`, whose breach was BREACH_AGO_MS before that. */
async function jobAt(admin: TestAdmin | null, channel: string, enqueuedAt: number, severity = "warning") {
  const { job } = await alerts.jobFor(admin, channel, { severity });
  await env.DB.prepare("UPDATE alert_history SET observed_at = ? WHERE id = ?")
    .bind(enqueuedAt - BREACH_AGO_MS, job.alertId)
    .run();
  return { ...job, enqueuedAt };
}

const list = (query: string, token = viewer.token) => callJson<Page>("GET", `${BASE}?${query}`, { token });

beforeAll(async () => {
  await alerts.setup();
  await teamAlerts.setup();
  viewer = await createAdmin("viewer");
  const t = Date.now();
  pagedAdmin = await adminWith({ phone: `+1555020${String(t % 10_000).padStart(4, "0")}` });
  unsetAdmin = await createAdmin("admin");
  const warningsOff = await adminWith({ email: "quiet@example.com" });
  await env.DB.prepare("UPDATE admin_notification_preferences SET severities = '[\"critical\"]' WHERE admin_id = ?")
    .bind(warningsOff.id)
    .run();

  paged = await jobAt(pagedAdmin, "sms", t - 4_000, "critical");
  unset = await jobAt(unsetAdmin, "sms", t - 3_000);
  unchosen = await jobAt(warningsOff, "email", t - 2_000);
  mailed = await jobAt(warningsOff, "email", t - 1_000, "critical");
  for (const j of [paged, unset, unchosen, mailed]) await consume(j);
  ruleId = paged.alert.ruleId;
});

describe("the delivery log", () => {
  it("lists a rule's deliveries newest first, each with its alert, recipient, status and reason", async () => {
    const res = await list(`rule_id=${ruleId}`);
    expect(res.status).toBe(200);
    const rows = res.body.deliveries;
    expect(rows.map((r) => r.alert_id)).toEqual([mailed, unchosen, unset, paged].map((j) => j.alertId));
    expect(rows.map((r) => [r.channel, r.status])).toEqual([
      ["email", "outbox"],
      ["email", "skipped"],
      ["sms", "skipped"],
      ["sms", "sent"],
    ]);
    const [outbox, severitySkip, smsSkip, sent] = rows;
    // Every row that did not reach anyone says why.
    expect(smsSkip).toMatchObject({
      recipient: `admin:${unsetAdmin.id}`,
      recipient_name: "Test admin",
      recipient_email: unsetAdmin.email,
      reason: "sms not set up (no preferences saved)",
      attempts: 0,
      delivered_at: null,
      latency_from_breach_ms: null,
    });
    expect(severitySkip?.reason).toBe("severity warning not in the admin's severities");
    expect(outbox?.reason).toBe("email is not configured; nothing was sent");
    expect(sent).toMatchObject({
      rule_id: ruleId,
      rule_name: "Delivery log",
      severity: "critical",
      event: "firing",
      recipient: `admin:${pagedAdmin.id}`,
      status: "sent",
      attempts: 1,
      reason: null,
    });
    // Latency: from the breaching sample, and from the enqueue, to the provider's acceptance.
    const row = await rowOf(paged.idempotencyKey);
    expect(row?.delivered_at).toBeGreaterThan(0);
    const deliveredAt = row?.delivered_at ?? 0;
    expect(sent?.delivered_at).toBe(new Date(deliveredAt).toISOString());
    expect(sent?.latency_from_breach_ms).toBe(deliveredAt - (paged.enqueuedAt - BREACH_AGO_MS));
    expect(sent?.latency_from_enqueue_ms).toBe(deliveredAt - paged.enqueuedAt);
    expect(sent?.latency_from_breach_ms).toBeGreaterThanOrEqual(BREACH_AGO_MS);
  });

  it("filters by alert, status, channel, recipient and time", async () => {
    const ids = async (query: string) => {
      const res = await list(`rule_id=${ruleId}&${query}`);
      expect(res.status, query).toBe(200);
      return res.body.deliveries.map((r) => r.alert_id);
    };
    expect(await ids(`alert_id=${unset.alertId}`)).toEqual([unset.alertId]);
    expect(await ids("status=skipped")).toEqual([unchosen.alertId, unset.alertId]);
    expect(await ids("channel=sms")).toEqual([unset.alertId, paged.alertId]);
    expect(await ids(`recipient=admin:${pagedAdmin.id}`)).toEqual([paged.alertId]);
    expect(await ids(`admin_id=${unsetAdmin.id}`)).toEqual([unset.alertId]);
    expect(await ids("status=sent&channel=email")).toEqual([]);
    const since = new Date(unset.enqueuedAt).toISOString();
    const until = new Date(mailed.enqueuedAt).toISOString();
    expect(await ids(`since=${since}&until=${until}`)).toEqual([unchosen.alertId, unset.alertId]);
    // Without the rule filter the alert alone still narrows it down.
    const byAlert = await list(`alert_id=${paged.alertId}`);
    expect(byAlert.body.deliveries.map((r) => r.recipient)).toEqual([`admin:${pagedAdmin.id}`]);
  });

  it("pages with a cursor, and refuses filters it cannot read", async () => {
    const seen: (number | null)[] = [];
    let cursor: string | null = null;
    do {
      const res = await list(`rule_id=${ruleId}&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.deliveries.map((r) => r.alert_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([mailed, unchosen, unset, paged].map((j) => j.alertId));

    for (const query of ["status=lost", "channel=pigeon", "recipient=bob", "cursor=abc", "limit=0"]) {
      const res = await callJson<ErrorBody>("GET", `${BASE}?${query}`, { token: viewer.token });
      expect(res.status, query).toBe(400);
    }
    const backwards = await list("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z");
    expect(backwards.status).toBe(400);
    expect((await callJson("GET", BASE)).status).toBe(401);
  });

  it("records the on-call admins a given-up team channel cannot page, saying why", async () => {
    const reachable = await adminWith({ email: "team-fallback@example.com" });
    const unreachable = await adminWith({});
    const { job: base, token } = await teamAlerts.jobFor(null, "webhook", { severity: "critical" });
    const job: NotificationJob = { ...base, onCall: [reachable.id, unreachable.id] };
    await setMode("webhook", { status: 410, body: "gone", match: token });
    await consume(job);
    expect(await rowOf(job.idempotencyKey)).toMatchObject({ status: "failed", last_error: "HTTP 410: gone" });
    const rows = await waitFor(async () => {
      const page = await list(`alert_id=${job.alertId}`);
      const all = page.body.deliveries;
      // The fallback goes through the real queue: done once it has left `queued`.
      return all.length === 3 && all.every((r) => r.status !== "queued") ? all : null;
    });
    const byRecipient = Object.fromEntries(rows.map((r) => [r.recipient, [r.channel, r.status, r.reason]]));
    expect(byRecipient).toEqual({
      "shared:webhook": ["webhook", "failed", "HTTP 410: gone"],
      // No email provider in the tests: the fallback email waits in the outbox.
      [`admin:${reachable.id}`]: ["email", "outbox", "email is not configured; nothing was sent"],
      [`admin:${unreachable.id}`]: [
        "webhook",
        "skipped",
        "webhook given up; no personal channel to page this admin on (slack disabled; sms disabled; email disabled)",
      ],
    });
  });
});

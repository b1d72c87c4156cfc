/**
 * A storm through the engine in workerd: many series of one rule breaching in one write
 * are told as one grouped notification per channel (after the first alone), while every
 * alert exists and says on its timeline that it was notified.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { GROUP_WAIT_MS, STORM_MIN } from "../../worker/core/alerts/storm";
import { recordSamples } from "../../worker/lib/series";
import { received, waitFor } from "./delivery-helpers";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

let admin: TestAdmin;
beforeAll(async () => {
  admin = await createAdmin("admin");
});

const SERIES = 40;

describe("a storm of one rule", () => {
  it("pages the first alone and the rest as one grouped notification, and notes it on every alert", async () => {
    const run = Date.now().toString(36);
    const ruleName = `Storm ${run}`;
    const metric = `storm_${run}`;
    const res = await callJson<{ id: number }>("POST", "/api/admin/monitoring/rules", {
      token: admin.token,
      body: {
        rule_name: ruleName,
        metric_name: metric,
        comparison_operator: ">",
        threshold_value: 100,
        severity: "critical",
        notification_channels: ["webhook"],
        max_alerts_per_hour: 10,
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const ruleId = res.body.id;
    const ts = Date.now();
    await recordSamples(
      env,
      Array.from({ length: SERIES }, (_, i) => ({
        metric,
        service: "shop",
        labels: { n: String(i) },
        value: 500 + i,
        ts,
      })),
      ts,
      "push",
    );

    const alerts = await waitFor(async () => {
      const rows = (
        await env.DB.prepare("SELECT id, firing_notified FROM alert_history WHERE alert_rule_id = ?")
          .bind(ruleId)
          .all<{ id: number; firing_notified: number }>()
      ).results;
      return rows.length === SERIES && rows.every((r) => r.firing_notified === 1) ? rows : false;
    }, GROUP_WAIT_MS + 8_000);
    expect(alerts).toHaveLength(SERIES);

    const messages = await waitFor(async () => {
      const got = await received("webhook", ruleName);
      return got.length >= STORM_MIN ? got : false;
    });
    // A moment for anything more to arrive.
    await new Promise((r) => setTimeout(r, 500));
    const all = (await received("webhook", ruleName)).map((m) => JSON.parse(m.body) as Record<string, unknown>);
    expect(all).toHaveLength(STORM_MIN);
    expect(messages.length).toBe(STORM_MIN);
    const grouped = all.filter((m) => m.notice);
    expect(grouped).toHaveLength(1);
    const notice = grouped[0]?.notice as { title: string; lines: string[] };
    expect(notice.title).toBe(`[CRITICAL] FIRING: ${SERIES - (STORM_MIN - 1)} alerts of ${ruleName}`);
    // The worst first: the highest value of those grouped.
    expect(notice.lines[0]).toContain(`: ${500 + SERIES - 1} (#`);
    expect(notice.lines.at(-1)).toBe(`All alerts of this rule: /alerts?rule_id=${ruleId}&status=firing`);

    // Every alert's timeline says it was notified, none was only rate-limited.
    const timeline = (
      await env.DB.prepare(
        `SELECT e.type, COUNT(*) AS n FROM alert_events e JOIN alert_history a ON a.id = e.alert_id
         WHERE a.alert_rule_id = ? GROUP BY e.type`,
      )
        .bind(ruleId)
        .all<{ type: string; n: number }>()
    ).results;
    expect(Object.fromEntries(timeline.map((t) => [t.type, t.n]))).toMatchObject({ fired: SERIES, notified: SERIES });
    expect(timeline.find((t) => t.type === "rate_limited")).toBeUndefined();
  });
});

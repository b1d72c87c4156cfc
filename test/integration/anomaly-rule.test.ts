/**
 * An anomaly rule (method "detector") over a demo series in workerd: a week of the demo
 * shop's daily traffic shape imported into the series store (which teaches the series'
 * detector its usual days), shifted so that its daily peak falls now. The rule, at its most
 * sensitive setting, stays quiet on today's normal peak and fires on a spike injected right
 * after it.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { trafficAt } from "../../worker/core/demo-shop";
import { mulberry32 } from "../../worker/core/random";
import { familyStub, recordSamples } from "../../worker/lib/series";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
const METRIC = "db_pool_in_use";
const SERVICE = "anomaly-rule-shop";

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

/** The minute of the demo shop's day when its traffic peaks. */
function peakOffset(): number {
  let best = 0;
  for (let m = 0; m < 1440; m++) if (trafficAt(m * MINUTE) > trafficAt(best)) best = m * MINUTE;
  return best;
}

const alertsOf = async (ruleId: number) =>
  (
    await env.DB.prepare("SELECT id, status, metric_value FROM alert_history WHERE alert_rule_id = ? ORDER BY id")
      .bind(ruleId)
      .all<{ id: number; status: string; metric_value: number | null }>()
  ).results;

describe("anomaly rule over a demo series", () => {
  it("does not fire on the series' normal daily peak, and fires on a spike", async () => {
    const now = Date.now() - (Date.now() % MINUTE);
    const peakAt = now - 2 * MINUTE;
    // The shop's DB pool follows its traffic (2 idle connections, up to 16 at the peak), its
    // day shifted so that the peak falls at `peakAt`.
    const shift = peakOffset() - (peakAt % DAY);
    const random = mulberry32(7);
    const usual = (t: number) => 2 + 14 * trafficAt(t + shift) + (random() - 0.5) * 1.5;
    const ts: number[] = [];
    const values: number[] = [];
    for (let t = peakAt - 7 * DAY; t < peakAt; t += MINUTE) {
      ts.push(t);
      values.push(usual(t));
    }
    await familyStub(env, METRIC, SERVICE).importHistory(METRIC, SERVICE, {}, ts, values);

    const created = await callJson<{ id: number }>("POST", `${BASE}/rules`, {
      token: admin.token,
      body: {
        rule_name: "Unusual DB connections (test)",
        metric_name: METRIC,
        service: SERVICE,
        kind: "anomaly",
        params: { method: "detector", sensitivity: "high", direction: "up" },
        for_seconds: 0,
        severity: "warning",
        notification_channels: ["email"],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const ruleId = created.body.id;

    // Today's peak, as usual: no alert, and the rule's dry run agrees.
    const peak = usual(peakAt);
    await recordSamples(
      env,
      [{ metric: METRIC, service: SERVICE, labels: {}, ts: peakAt, value: peak }],
      peakAt,
      "push",
    );
    const test = await callJson<{ state: string; reason: string; series: { state: string }[] }>(
      "POST",
      `${BASE}/rules/${ruleId}/test`,
      { token: admin.token },
    );
    expect(test.status).toBe(200);
    expect(test.body.series.map((r) => r.state)).toEqual(["ok"]);
    expect(test.body.reason).not.toMatch(/learning/);
    expect(await alertsOf(ruleId)).toEqual([]);

    // A minute later, three times the peak: the rule fires.
    const spikeAt = peakAt + MINUTE;
    await recordSamples(
      env,
      [{ metric: METRIC, service: SERVICE, labels: {}, ts: spikeAt, value: 3 * peak }],
      spikeAt,
      "push",
    );
    const alerts = await vi.waitFor(
      async () => {
        const rows = await alertsOf(ruleId);
        if (!rows.length) throw new Error("no alert yet");
        return rows;
      },
      { timeout: 5000, interval: 100 },
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.status).toBe("firing");
    expect(alerts[0]?.metric_value).toBeCloseTo(3 * peak, 6);
  });
});

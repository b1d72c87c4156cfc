/**
 * The watchdog with teeth, in workerd: the sentinel's alarm loop takes the monitor's samples
 * of itself, and the built-in rules (migrations/0009) page on them through the real engine:
 * a stopped cron, notifications past their deadline, stale collection. Silenced like any alert.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Sentinel } from "../../durable-objects/sentinel";
import {
  BUILTIN_RULES,
  CRON_SILENT_METRIC,
  DELIVERY_OVERDUE_METRIC,
  SELF_SERVICE,
  STALE_MONITORS_METRIC,
} from "../../worker/core/self-watch";
import { readSeries } from "../../worker/lib/series";
import { adminWith, records, waitFor } from "./delivery-helpers";
import { callJson, type TestAdmin } from "./helpers";

const sentinel = () => env.SENTINEL.getByName("main");
let admin: TestAdmin;

beforeAll(async () => {
  // Reached by SMS (the provider sink); email is unconfigured in tests.
  admin = await adminWith({ phone: "+15550101234" });
});

/** One watch now: the loop's next watch is made due, then its alarm runs. */
async function watchNow(): Promise<void> {
  await runInDurableObject(sentinel(), async (_s: Sentinel, state) => {
    await state.storage.delete("watchAt");
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  expect(await runDurableObjectAlarm(sentinel())).toBe(true);
}

async function latest(metric: string): Promise<number | undefined> {
  const samples = await readSeries(env, metric, SELF_SERVICE, {}, Date.now() - 60_000);
  return samples.at(-1)?.value;
}

interface AlertRow {
  id: number;
  status: string;
  message: string;
  alert_severity: string;
}

const alertOf = (ruleName: string) =>
  env.DB.prepare(
    `SELECT h.id, h.status, h.message, h.alert_severity FROM alert_history h
     JOIN alert_rules r ON r.id = h.alert_rule_id WHERE r.rule_name = ? ORDER BY h.id DESC LIMIT 1`,
  )
    .bind(ruleName)
    .first<AlertRow>();

describe("built-in alerts", () => {
  it("are seeded on, critical, to every admin and owner", async () => {
    const rows = await env.DB.prepare(
      "SELECT rule_name, severity, is_active, escalation_policy_id, service FROM alert_rules WHERE service = ?",
    )
      .bind(SELF_SERVICE)
      .all();
    expect(rows.results.map((r) => r.rule_name).sort()).toEqual(Object.values(BUILTIN_RULES).sort());
    for (const r of rows.results) {
      expect(r).toMatchObject({ severity: "critical", is_active: 1, escalation_policy_id: null });
    }
  });

  it("pages when the cron stopped, in words, and resolves once it ticks again", async () => {
    // The service as people know it, in the page.
    const named = await callJson("PUT", "/api/admin/monitoring/dashboard", {
      token: admin.token,
      body: { service_names: { [SELF_SERVICE]: "Monitoring itself" } },
    });
    expect(named.status).toBe(200);
    await sentinel().cronTicked(Date.now() - 150_000);
    await watchNow();
    expect(await latest(CRON_SILENT_METRIC)).toBeGreaterThanOrEqual(150);

    const alert = await waitFor(async () => {
      const a = await alertOf(BUILTIN_RULES.cron);
      return a?.status === "firing" && a;
    });
    expect(alert.alert_severity).toBe("critical");
    expect(alert.message).toMatch(/^Cron Triggers have not run for 2 minutes; probes of 60 s and slower/);
    // The page reached the admin's phone through the real queue and provider path.
    const sms = await waitFor(async () => {
      const row = await env.DB.prepare(
        "SELECT status, channel FROM notification_deliveries WHERE alert_id = ? AND channel = 'sms' AND recipient LIKE ?",
      )
        .bind(alert.id, `%${admin.id}%`)
        .first<{ status: string }>();
      return row?.status === "sent" && row;
    }, 10_000);
    expect(sms).toMatchObject({ channel: "sms" });
    const texts = (await records("twilio")).map((r) => new URLSearchParams(r.body).get("Body") ?? "");
    // The sink is shared by every test file (alert ids repeat across their databases): found by the rule's name.
    expect(texts.find((t) => t.includes(BUILTIN_RULES.cron) && t.includes(`#${alert.id} `))).toContain(
      "Monitoring itself",
    );

    await sentinel().cronTicked(Date.now());
    await watchNow();
    await waitFor(async () => (await alertOf(BUILTIN_RULES.cron))?.status === "resolved");
  });

  it("pages for notifications past their deadline", async () => {
    await sentinel().cronTicked(Date.now());
    const dueAt = Date.now() - 300_000;
    await env.DB.prepare(
      `INSERT INTO notification_deliveries (recipient, channel, event, idempotency_key, status, enqueued_at, payload, due_at)
       VALUES ('admin:0', 'sms', 'firing', 'self-watch-overdue', 'queued', ?, '{}', ?)`,
    )
      .bind(dueAt - 60_000, dueAt)
      .run();
    await watchNow();
    expect(await latest(DELIVERY_OVERDUE_METRIC)).toBeGreaterThanOrEqual(300);
    const alert = await waitFor(async () => {
      const a = await alertOf(BUILTIN_RULES.deliveries);
      return a?.status === "firing" && a;
    });
    expect(alert.message).toMatch(
      /^Notifications are stuck: the oldest undelivered one is 5 minutes past its deadline/,
    );

    await env.DB.prepare(
      "UPDATE notification_deliveries SET status = 'sent' WHERE idempotency_key = 'self-watch-overdue'",
    ).run();
    await watchNow();
    expect(await latest(DELIVERY_OVERDUE_METRIC)).toBe(0);
    await waitFor(async () => (await alertOf(BUILTIN_RULES.deliveries))?.status === "resolved");
  });

  it("pages for a monitor without results for three intervals, not for one just created; silenced like any alert", async () => {
    await sentinel().cronTicked(Date.now());
    const silence = await callJson<{ id: number }>("POST", "/api/admin/monitoring/silences", {
      token: admin.token,
      body: {
        matchers: [{ name: "alertname", value: BUILTIN_RULES.stale }],
        ends_at: new Date(Date.now() + 3_600_000).toISOString(),
        comment: "moving the shop's monitors",
      },
    });
    expect(silence.status).toBe(201);
    const created = await callJson<{ id: number }>("POST", "/api/admin/monitoring/monitors", {
      token: admin.token,
      body: {
        name: "self-watch stale",
        service: "shop",
        kind: "http",
        url: "http://127.0.0.1:9/never",
        interval_seconds: 60,
        timeout_ms: 2000,
      },
    });
    expect(created.status).toBe(201);
    await watchNow();
    expect(await latest(STALE_MONITORS_METRIC)).toBe(0);

    // Ten minutes without a result (as if the monitor were set up then and never ran).
    await env.DB.prepare("UPDATE monitors SET updated_at = ? WHERE id = ?")
      .bind(Date.now() - 600_000, created.body.id)
      .run();
    await watchNow();
    expect(await latest(STALE_MONITORS_METRIC)).toBe(1);
    const alert = await waitFor(async () => {
      const a = await alertOf(BUILTIN_RULES.stale);
      return a?.status === "firing" && a;
    });
    expect(alert.message).toMatch(/^1 monitors have stored no result for over 3 of their intervals/);
    // Silenced: on its timeline, and nothing sent.
    const silenced = await waitFor(() =>
      env.DB.prepare("SELECT note FROM alert_events WHERE alert_id = ? AND type = 'silenced'")
        .bind(alert.id)
        .first<{ note: string }>(),
    );
    expect(silenced.note).toBe(`silenced by ${silence.body.id}`);
    const sent = await env.DB.prepare("SELECT COUNT(*) AS n FROM notification_deliveries WHERE alert_id = ?")
      .bind(alert.id)
      .first<{ n: number }>();
    expect(sent?.n).toBe(0);
  });
});

import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dedupKey, pagerDuty } from "../../../../worker/core/notify/pagerduty";
import { signatureHeader, webhook } from "../../../../worker/core/notify/webhook";
import { ada, type alert, job, NOW } from "./fixtures";

const NATIVE = { url: "http://sink/hook", secret: "whsec-SECRET", format: "native" as const };
const AM = {
  url: "http://sink/am",
  secret: "whsec-SECRET",
  format: "alertmanager" as const,
  receiver: "ops",
  externalUrl: "https://monitor.example",
};
const PD = { baseUrl: "http://sink/pd", routingKey: "R0UTINGKEYSECRET" };

const FP = "5b0ce2d391acb4fc";

describe("webhook signing", () => {
  it("returns the timestamp header and the string to sign; the signature verifies", () => {
    const req = webhook.render(job("firing"), ada, NATIVE, NOW);
    expect(req.headers).toEqual({
      "content-type": "application/json",
      "X-EdgeMonitor-Timestamp": "1795687900",
      "X-EdgeMonitor-Delivery": "alert:12|firing|step:0|admin:4|test",
    });
    expect(req.toSign).toBe(`1795687900.${req.body}`);
    // The deliverer's part, then the receiver's check.
    const hex = createHmac("sha256", NATIVE.secret).update(req.toSign).digest("hex");
    const signed: Record<string, string> = { ...req.headers, "X-EdgeMonitor-Signature": signatureHeader(hex) };
    const [, got] = /^v1=([0-9a-f]{64})$/.exec(signed["X-EdgeMonitor-Signature"] ?? "") ?? [];
    const expected = createHmac("sha256", "whsec-SECRET")
      .update(`${signed["X-EdgeMonitor-Timestamp"]}.${req.body}`)
      .digest("hex");
    expect(got).toBe(expected);
    expect(req.body).not.toContain("whsec-SECRET");
  });

  it("builds the header from a digest", () => {
    expect(signatureHeader("ABCDEF01")).toBe("v1=abcdef01");
  });
});

describe("native payload", () => {
  it.each(["firing", "acknowledged", "resolved"] as const)("%s: the event with the alert snapshot", (event) => {
    const j = job(event);
    expect(JSON.parse(webhook.render(j, ada, NATIVE, NOW).body)).toEqual({
      version: 1,
      delivery: `alert:12|${event}|step:0|admin:4|test`,
      event,
      occurrence: event,
      step: 0,
      sentAt: "2026-11-26T10:11:40.000Z",
      fingerprint: FP,
      alert: j.alert,
    });
  });
});

describe("Alertmanager webhook v4 payload", () => {
  const labels = { alertname: "High latency", severity: "critical", service: "api", region: "eu" };
  const expected = (status: "firing" | "resolved", state: string, endsAt: string) => {
    const annotations = {
      summary: `[CRITICAL] ${state}: High latency on api (#12)`,
      description: "p95 latency 812.5 ms > 500 ms",
    };
    return {
      version: "4",
      groupKey: '{}:{alertname="High latency"}',
      truncatedAlerts: 0,
      status,
      receiver: "ops",
      groupLabels: { alertname: "High latency" },
      commonLabels: labels,
      commonAnnotations: annotations,
      externalURL: "https://monitor.example",
      alerts: [
        {
          status,
          labels,
          annotations,
          startsAt: "2026-11-26T10:00:00.000Z",
          endsAt,
          generatorURL: "https://monitor.example/alerts/12",
          fingerprint: FP,
        },
      ],
    };
  };

  it.each([
    ["firing", expected("firing", "FIRING", "0001-01-01T00:00:00Z")],
    ["acknowledged", expected("firing", "ACKNOWLEDGED", "0001-01-01T00:00:00Z")],
    ["resolved", expected("resolved", "RESOLVED", "2026-11-26T10:10:00.000Z")],
  ] as const)("%s", (event, body) => {
    const req = webhook.render(job(event), ada, AM, NOW);
    expect(req.url).toBe("http://sink/am");
    expect(JSON.parse(req.body)).toEqual(body);
    // The schema stays Alertmanager's: the delivery key travels in the header alone.
    expect(req.headers["X-EdgeMonitor-Delivery"]).toBe(`alert:12|${event}|step:0|admin:4|test`);
  });

  it("keeps one delivery key across retries of a job, and another for every other job", () => {
    const j = job("firing");
    const keyAt = (at: number, jj = j) => webhook.render(jj, ada, NATIVE, at).headers["X-EdgeMonitor-Delivery"];
    expect(keyAt(NOW + 60_000)).toBe(keyAt(NOW));
    expect(keyAt(NOW, job("resolved"))).not.toBe(keyAt(NOW));
    expect(keyAt(NOW, { ...j, idempotencyKey: `${j.idempotencyKey}|fallback:sms` })).not.toBe(keyAt(NOW));
  });

  it("defaults the receiver and leaves out a missing service", () => {
    const body = JSON.parse(
      webhook.render(job("firing", { service: null }), ada, { ...AM, receiver: undefined }, NOW).body,
    );
    expect(body.receiver).toBe("edge-monitor");
    expect(body.alerts[0].labels).toEqual({ alertname: "High latency", severity: "critical", region: "eu" });
  });
});

describe("fingerprint", () => {
  it("is stable for the series and differs for another", () => {
    const fp = (over: Parameters<typeof alert>[0]) =>
      JSON.parse(webhook.render(job("firing", over), ada, NATIVE, NOW).body).fingerprint;
    expect(fp({ id: 99, value: 1, labels: { region: "eu" } })).toBe(FP);
    expect(fp({ labels: { region: "us" } })).not.toBe(FP);
    expect(fp({ service: "web" })).not.toBe(FP);
    expect(fp({ ruleId: 4 })).not.toBe(FP);
    expect(fp({ labels: { b: "2", a: "1" } })).toBe(fp({ labels: { a: "1", b: "2" } }));
  });
});

describe("PagerDuty Events v2", () => {
  const DEDUP = `edge-monitor:12:${FP}`;

  it("firing: trigger with the payload", () => {
    const req = pagerDuty.render(job("firing"), ada, PD, NOW);
    expect(req.url).toBe("http://sink/pd/v2/enqueue");
    expect(req.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(req.body)).toEqual({
      routing_key: "R0UTINGKEYSECRET",
      event_action: "trigger",
      dedup_key: DEDUP,
      payload: {
        summary: "[CRITICAL] FIRING: High latency on api (#12): p95 latency 812.5 ms > 500 ms",
        source: "api",
        severity: "critical",
        timestamp: "2026-11-26T10:01:00.000Z",
        component: "High latency",
        custom_details: {
          alert_id: 12,
          rule_id: 3,
          event: "firing",
          value: 812.5,
          peak_value: 900,
          labels: { region: "eu" },
          triggered_at: "2026-11-26T10:00:00.000Z",
          message: "p95 latency 812.5 ms > 500 ms",
        },
      },
    });
  });

  it.each([
    ["acknowledged", "acknowledge"],
    ["resolved", "resolve"],
  ] as const)("%s: %s with the same dedup key, no payload", (event, action) => {
    expect(JSON.parse(pagerDuty.render(job(event), ada, PD, NOW).body)).toEqual({
      routing_key: "R0UTINGKEYSECRET",
      event_action: action,
      dedup_key: DEDUP,
    });
  });

  it.each([
    ["reminder", "trigger"],
    ["escalation", "trigger"],
  ] as const)("%s: %s", (event, action) => {
    const body = JSON.parse(pagerDuty.render(job(event), ada, PD, NOW).body);
    expect(body.event_action).toBe(action);
    expect(body.dedup_key).toBe(DEDUP);
  });

  it.each([
    ["critical", "critical"],
    ["warning", "warning"],
    ["info", "info"],
    ["unknown", "error"],
  ])("severity %s maps to %s", (severity, pd) => {
    expect(JSON.parse(pagerDuty.render(job("firing", { severity }), ada, PD, NOW).body).payload.severity).toBe(pd);
  });

  it("dedup key differs between alerts of the same series", () => {
    expect(dedupKey(job("firing", { id: 13 }))).not.toBe(dedupKey(job("firing")));
  });

  it("reads the dedup key from the answer", () => {
    const body = `{"status":"success","message":"Event processed","dedup_key":"${DEDUP}"}`;
    expect(pagerDuty.classify(202, {}, body, PD, NOW)).toEqual({ outcome: "delivered", providerId: DEDUP });
  });
});

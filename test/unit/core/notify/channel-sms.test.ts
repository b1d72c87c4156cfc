import { describe, expect, it } from "vitest";
import { isGsm7, SEGMENT_LIMIT, smsLength, smsText, twilio } from "../../../../worker/core/notify/sms";
import { RenderError } from "../../../../worker/core/notify/types";
import { ada, job, NOW } from "./fixtures";

const TWILIO = { baseUrl: "http://sink/twilio", accountSid: "AC0123", authToken: "tw-SECRET", from: "+15550001111" };

describe("Twilio request", () => {
  it.each([
    [
      "firing",
      "To=%2B15551230000&From=%2B15550001111&Body=CRITICAL+FIRING+%2312+api%3A+High+latency+812.5+-+p95+latency+812.5+ms+%3E+500+ms",
    ],
    [
      "acknowledged",
      "To=%2B15551230000&From=%2B15550001111&Body=CRITICAL+ACKNOWLEDGED+%2312+api%3A+High+latency+812.5+-+p95+latency+812.5+ms+%3E+500+ms",
    ],
    [
      "resolved",
      "To=%2B15551230000&From=%2B15550001111&Body=CRITICAL+RESOLVED+%2312+api%3A+High+latency+120+-+p95+latency+812.5+ms+%3E+500+ms",
    ],
  ] as const)("%s: exact form body and headers", (event, body) => {
    const req = twilio.render(job(event), ada, TWILIO, NOW);
    expect(req.url).toBe("http://sink/twilio/2010-04-01/Accounts/AC0123/Messages.json");
    expect(req.method).toBe("POST");
    expect(req.headers).toEqual({
      // base64("AC0123:tw-SECRET")
      authorization: "Basic QUMwMTIzOnR3LVNFQ1JFVA==",
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(req.body).toBe(body);
  });

  it("reads the message sid from the answer", () => {
    expect(twilio.classify(201, {}, '{"sid":"SM123","status":"queued"}', TWILIO, NOW)).toEqual({
      outcome: "delivered",
      providerId: "SM123",
    });
  });

  it("refuses a recipient without a phone number", () => {
    expect(() => twilio.render(job("firing"), { ...ada, phone: null }, TWILIO, NOW)).toThrow(RenderError);
  });
});

describe("GSM-7 check", () => {
  it.each([
    ["plain ASCII text 123 !?", true, 23],
    ["Grüße à Zoë", false, 11], // ë is not in GSM-7
    ["Grüß Gott, ÄÖÜ é", true, 16],
    ["cost {€5} [a|b] ~^\\", true, 19 + 9],
    ["支付服务延迟", false, 6],
    ["emoji 🚨", false, 8], // a surrogate pair counts 2 UTF-16 units
    ["back`tick", false, 9],
  ])("%j: GSM-7 %s, %i units", (text, gsm, units) => {
    expect(isGsm7(text)).toBe(gsm);
    expect(smsLength(text)).toEqual({ encoding: gsm ? "GSM-7" : "UCS-2", units });
  });
});

const segmentOk = (text: string) => {
  const { encoding, units } = smsLength(text);
  return units <= SEGMENT_LIMIT[encoding];
};

describe("SMS text within one segment", () => {
  it("sends short ASCII text whole", () => {
    expect(smsText(job("firing"))).toBe("CRITICAL FIRING #12 api: High latency 812.5 - p95 latency 812.5 ms > 500 ms");
  });

  it("cuts long ASCII details first, keeping severity, state, id, service and rule", () => {
    const text = smsText(job("firing", { message: "upstream timeout ".repeat(20) }));
    // 160, less a space trimmed before the "...".
    expect(smsLength(text).encoding).toBe("GSM-7");
    expect(smsLength(text).units).toBeGreaterThanOrEqual(159);
    expect(smsLength(text).units).toBeLessThanOrEqual(160);
    expect(text).toMatch(/^CRITICAL FIRING #12 api: High latency 812\.5 - upstream timeout .*\.\.\.$/);
  });

  it("counts extension characters as two septets", () => {
    const text = smsText(job("firing", { message: "{€}".repeat(60) }));
    expect(text.length).toBeLessThan(160);
    expect(smsLength(text).units).toBeLessThanOrEqual(160);
    expect(smsLength(text).encoding).toBe("GSM-7");
  });

  it("keeps Chinese text within 70 UCS-2 units", () => {
    const text = smsText(
      job("firing", { message: "支付服务响应时间超过阈值，请立即检查上游依赖与数据库连接池状态。".repeat(3) }),
    );
    expect(smsLength(text).encoding).toBe("UCS-2");
    expect(text.length).toBe(70);
    expect(text.startsWith("CRITICAL FIRING #12 api: High latency 812.5 - 支付服务")).toBe(true);
    expect(text.endsWith("...")).toBe(true);
  });

  it("cuts the rule name, then the service, never the severity, state or id", () => {
    const longRule = smsText(job("resolved", { ruleName: "规则".repeat(50), message: "x" }));
    expect(segmentOk(longRule)).toBe(true);
    expect(longRule).toMatch(/^CRITICAL RESOLVED #12 api: 规则.*\.\.\.$/);

    const longService = smsText(job("firing", { service: "服务".repeat(50), ruleName: "r", message: "x" }));
    expect(segmentOk(longService)).toBe(true);
    expect(longService).toMatch(/^CRITICAL FIRING #12 服务.*\.\.\.$/);
  });

  it("never splits a surrogate pair", () => {
    const text = smsText(job("firing", { message: "🚨".repeat(100) }));
    expect(segmentOk(text)).toBe(true);
    expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it("puts a multi-line message on one line", () => {
    expect(smsText(job("firing", { message: "a\nb\r\nc" }))).toBe(
      "CRITICAL FIRING #12 api: High latency 812.5 - a b c",
    );
  });
});

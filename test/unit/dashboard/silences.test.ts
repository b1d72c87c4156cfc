import { describe, expect, it } from "vitest";
import {
  fieldId,
  matchersFromQuery,
  matchersText,
  newPolicyForm,
  newSilenceForm,
  opOf,
  type Policy,
  policyToForm,
  recurrenceText,
  rulesByPolicy,
  silenceHref,
  stepText,
  toPolicyBody,
  toSilenceBody,
} from "../../../dashboard/src/lib/silences";

describe("silence from an alert", () => {
  it("prefills the rule's name, the service and the series labels, and reads them back as equality matchers", () => {
    const href = silenceHref({
      rule_name: "Checkout errors",
      alert_rule_id: 7,
      service: "shop",
      labels: { region: "tw", az: "a", severity: "ignored" },
    });
    expect(href).toBe("/silences/new?alertname=Checkout+errors&service=shop&az=a&region=tw");
    expect(matchersFromQuery(href.slice(href.indexOf("?")))).toEqual([
      { name: "alertname", op: "=", value: "Checkout errors" },
      { name: "service", op: "=", value: "shop" },
      { name: "az", op: "=", value: "a" },
      { name: "region", op: "=", value: "tw" },
    ]);
  });

  it("falls back to the rule id when the rule is gone, and skips keys that are not label names", () => {
    expect(silenceHref({ rule_name: null, alert_rule_id: 7, service: null, labels: {} })).toBe(
      "/silences/new?rule_id=7",
    );
    expect(matchersFromQuery("?9bad=x&ok=y&a-b=z")).toEqual([{ name: "ok", op: "=", value: "y" }]);
    expect(matchersFromQuery("")).toEqual([]);
  });
});

describe("silence form", () => {
  const NOW = Date.parse("2026-12-04T10:00:00Z");

  it("starts with one blank matcher, from now for two hours", () => {
    const f = newSilenceForm([], NOW, "Asia/Taipei");
    expect(f.matchers).toEqual([{ name: "", op: "=", value: "" }]);
    expect(f.starts_at).toBe("");
    expect(new Date(f.ends_at).getTime()).toBe(NOW + 2 * 3_600_000);
    expect(f.timezone).toBe("Asia/Taipei");
  });

  it("sends operators as is_regex / is_equal, no starts_at when blank, and a weekly window sorted", () => {
    const f = {
      ...newSilenceForm(
        [
          { name: " service ", op: "=~" as const, value: "sh.*" },
          { name: "region", op: "!=" as const, value: "jp" },
        ],
        NOW,
        "Asia/Taipei",
      ),
      recurring: true,
      weekdays: [6, 0],
      start: "02:00",
      duration_minutes: "180",
      comment: "maintenance",
    };
    const body = toSilenceBody(f);
    expect(body.matchers).toEqual([
      { name: "service", value: "sh.*", is_regex: true, is_equal: true },
      { name: "region", value: "jp", is_regex: false, is_equal: false },
    ]);
    expect(body).not.toHaveProperty("starts_at");
    expect(body.ends_at).toBe(new Date(NOW + 2 * 3_600_000).toISOString());
    expect(body.recurrence).toEqual({
      weekdays: [0, 6],
      start: "02:00",
      duration_minutes: 180,
      timezone: "Asia/Taipei",
    });
    expect(toSilenceBody({ ...f, recurring: false }).recurrence).toBeNull();
  });

  it("sends what cannot be read as typed, for the server to name the field", () => {
    const f = { ...newSilenceForm([], NOW, "UTC"), ends_at: "soon", recurring: true, duration_minutes: "1.5h" };
    const body = toSilenceBody(f);
    expect(body.ends_at).toBe("soon");
    expect(body.recurrence?.duration_minutes).toBe("1.5h");
  });

  it("writes matchers and windows short", () => {
    expect(opOf({ is_regex: true, is_equal: false })).toBe("!~");
    expect(
      matchersText([
        { name: "service", value: "shop", is_regex: false, is_equal: true },
        { name: "region", value: "t.*", is_regex: true, is_equal: true },
      ]),
    ).toBe('service="shop", region=~"t.*"');
    expect(recurrenceText({ weekdays: [6, 0], start: "02:00", duration_minutes: 180, timezone: "Asia/Taipei" })).toBe(
      "Sun, Sat 02:00 for 3 h (Asia/Taipei)",
    );
    expect(recurrenceText({ weekdays: [1], start: "22:30", duration_minutes: 90, timezone: "UTC" })).toBe(
      "Mon 22:30 for 1 h 30 min (UTC)",
    );
    expect(recurrenceText({ weekdays: [1], start: "22:30", duration_minutes: 45, timezone: "UTC" })).toBe(
      "Mon 22:30 for 45 min (UTC)",
    );
  });
});

describe("escalation policy form", () => {
  const policy: Policy = {
    id: 3,
    name: "On-call",
    description: "",
    steps: [
      { after_minutes: 0, channels: ["email"], targets: { roles: ["admin"] } },
      { after_minutes: 30, channels: ["sms", "slack"], targets: { admin_ids: [4], roles: ["owner"] } },
    ],
    repeat_count: 2,
    repeat_interval_minutes: null,
    ack_timeout_minutes: 60,
  };

  it("round-trips a policy through the form", () => {
    const { id: _, ...input } = policy;
    expect(toPolicyBody(policyToForm(policy))).toEqual({
      ...input,
      steps: [input.steps[0], { ...input.steps[1], targets: { roles: ["owner"], admin_ids: [4] } }],
    });
  });

  it("sends blank reminders and timeout as none, empty target lists left out, bad numbers as typed", () => {
    const f = newPolicyForm();
    const body = toPolicyBody({ ...f, steps: [{ ...f.steps[0]!, after_minutes: "ten", channels: ["email"] }] });
    expect(body).toMatchObject({ repeat_count: 0, repeat_interval_minutes: null, ack_timeout_minutes: null });
    expect(body.steps).toEqual([{ after_minutes: "ten", channels: ["email"], targets: {} }]);
  });

  it("describes steps and the rules using each policy", () => {
    expect(stepText(policy.steps[1]!, (id) => (id === 4 ? "Mei" : `#${id}`))).toBe(
      "after 30 min: sms, slack to every owner, Mei",
    );
    const by = rulesByPolicy([
      { rule_name: "A", escalation_policy_id: 3 },
      { rule_name: "B", escalation_policy_id: null },
      { rule_name: "C", escalation_policy_id: 3 },
      { rule_name: "D" },
    ]);
    expect([...by]).toEqual([[3, ["A", "C"]]]);
  });

  it("makes page ids of API field paths", () => {
    expect(fieldId("steps.1.after_minutes")).toBe("f-steps-1-after_minutes");
    expect(fieldId("")).toBe("f-");
  });
});

import { describe, expect, it } from "vitest";
import { parseCommand, parseDuration, type SlackCommand } from "../../../../worker/core/slack/commands";
import { statusText } from "../../../../worker/core/slack/messages";
import { linkCode, normalizeLinkCode } from "../../../../worker/core/slack/link";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("parseCommand", () => {
  it.each<[string, SlackCommand]>([
    ["ack 42", { kind: "ack", alertId: 42 }],
    ["  ACK   42 ", { kind: "ack", alertId: 42 }],
    ["resolve 7", { kind: "resolve", alertId: 7, note: null }],
    ["resolve 7 restarted the  workers", { kind: "resolve", alertId: 7, note: "restarted the workers" }],
    ["silence 3 30m", { kind: "silence", ruleId: 3, durationMs: 30 * MIN, duration: "30m" }],
    ["silence 3 1h", { kind: "silence", ruleId: 3, durationMs: HOUR, duration: "1h" }],
    ["silence 3 2h30m", { kind: "silence", ruleId: 3, durationMs: 2 * HOUR + 30 * MIN, duration: "2h30m" }],
    ["silence 3 1D", { kind: "silence", ruleId: 3, durationMs: DAY, duration: "1d" }],
    ["silence 3 7d", { kind: "silence", ruleId: 3, durationMs: 7 * DAY, duration: "7d" }],
    ["status", { kind: "status" }],
    ["help", { kind: "help" }],
    ["", { kind: "help" }],
  ])("reads %j", (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each<[string, string]>([
    ["ack", "Usage: `/monitor ack"],
    ["ack abc", "Usage: `/monitor ack"],
    ["ack 0", "Usage: `/monitor ack"],
    ["ack 4 5", "Usage: `/monitor ack"],
    ["ack -4", "Usage: `/monitor ack"],
    ["resolve", "Usage: `/monitor resolve"],
    ["resolve x note", "Usage: `/monitor resolve"],
    ["silence 3", "Usage: `/monitor silence"],
    ["silence x 1h", "Usage: `/monitor silence"],
    ["silence 3 1h extra", "Usage: `/monitor silence"],
    ["silence 3 soon", '"soon" is not a duration'],
    ["silence 3 0m", '"0m" is not a duration'],
    ["silence 3 30m1h", '"30m1h" is not a duration'],
    ["silence 3 8d", "at most 7 days"],
    ["silence 3 7d1m", "at most 7 days"],
    ["status now", "`status` takes no arguments"],
    ["reboot prod", 'Unknown command "reboot"'],
  ])("refuses %j", (text, message) => {
    const parsed = parseCommand(text);
    expect(parsed.kind).toBe("error");
    expect(parsed.kind === "error" ? parsed.message : "").toContain(message);
  });
});

describe("parseDuration", () => {
  it.each<[string, number | null]>([
    ["45m", 45 * MIN],
    ["1d2h3m", DAY + 2 * HOUR + 3 * MIN],
    ["90m", 90 * MIN],
    ["h", null],
    ["1s", null],
    ["1.5h", null],
    ["", null],
  ])("reads %j as %j", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe("statusText", () => {
  const alert = (id: number) => ({
    id,
    ruleName: "Checkout errors",
    service: "shop",
    status: "firing",
    triggeredAt: Date.UTC(2026, 10, 26, 10),
  });

  it("says when nothing is open", () => {
    expect(statusText(0, [])).toBe("No firing or acknowledged alerts.");
  });

  it("lists at most ten alerts with id, rule, service and since, and counts the rest", () => {
    const text = statusText(
      12,
      Array.from({ length: 12 }, (_, i) => alert(i + 1)),
    );
    const lines = text.split("\n");
    expect(lines[0]).toBe("12 open alerts:");
    expect(lines[1]).toBe("• #1 Checkout errors · shop · firing since 2026-11-26T10:00:00.000Z");
    expect(lines.filter((l) => l.startsWith("•"))).toHaveLength(10);
    expect(lines.at(-1)).toBe("…and 2 more.");
  });

  it("names a deleted rule and a missing service", () => {
    expect(statusText(1, [{ ...alert(5), ruleName: null, service: null }])).toContain("#5 (deleted rule) · no service");
  });
});

describe("link", () => {
  it.each([
    ["link ABCDE-FGH23", "ABCDEFGH23"],
    ["link abcde fgh23", "ABCDEFGH23"],
    ["LINK abcdefgh23", "ABCDEFGH23"],
  ])("%j carries the normalized code", (text, code) => {
    expect(parseCommand(text)).toEqual({ kind: "link", code });
  });

  it.each(["link", "link 123", "link ABCDE-FGH2", "link ABCDE-FGH230", "link ABCDE-FGHI0"])(
    "%j carries no code (answered with the usage)",
    (text) => {
      expect(parseCommand(text)).toEqual({ kind: "link", code: null });
    },
  );
});

describe("linkCode", () => {
  it("makes ten unambiguous characters in two groups, which normalize back", () => {
    const code = linkCode(new Uint8Array([0, 1, 2, 3, 4, 30, 31, 62, 255, 128]));
    expect(code).toMatch(/^[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}$/);
    expect(normalizeLinkCode(code)).toBe(code.replace("-", ""));
  });
});

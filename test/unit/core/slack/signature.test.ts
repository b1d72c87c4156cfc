import { describe, expect, it } from "vitest";
import { baseString, constantTimeEqual, isFresh } from "../../../../worker/core/slack/signature";
import { slackSignature, verifySlackRequest } from "../../../../worker/lib/slack";

// Slack's worked example from "Verifying requests from Slack".
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
const AT = Number(TIMESTAMP) * 1000;

describe("Slack request signatures", () => {
  it("signs Slack's published example as Slack does", async () => {
    expect(baseString(TIMESTAMP, BODY)).toBe(`v0:${TIMESTAMP}:${BODY}`);
    expect(await slackSignature(SECRET, TIMESTAMP, BODY)).toBe(SIGNATURE);
    expect(await verifySlackRequest(SECRET, TIMESTAMP, SIGNATURE, BODY, AT + 1000)).toBe(true);
  });

  it("refuses a changed body, another secret, a stale timestamp or a missing header", async () => {
    expect(await verifySlackRequest(SECRET, TIMESTAMP, SIGNATURE, BODY.replace("text=", "text=ack"), AT)).toBe(false);
    expect(await verifySlackRequest("another-secret", TIMESTAMP, SIGNATURE, BODY, AT)).toBe(false);
    expect(await verifySlackRequest(SECRET, TIMESTAMP, SIGNATURE, BODY, AT + 6 * 60_000)).toBe(false);
    expect(await verifySlackRequest(SECRET, TIMESTAMP, SIGNATURE.toUpperCase(), BODY, AT)).toBe(false);
    expect(await verifySlackRequest(SECRET, null, SIGNATURE, BODY, AT)).toBe(false);
    expect(await verifySlackRequest(SECRET, TIMESTAMP, undefined, BODY, AT)).toBe(false);
  });

  it.each<[string | null, number, boolean]>([
    [TIMESTAMP, AT, true],
    [TIMESTAMP, AT + 300_000, true],
    [TIMESTAMP, AT - 300_000, true],
    [TIMESTAMP, AT + 300_001, false],
    [TIMESTAMP, AT - 300_001, false],
    ["", AT, false],
    ["1531420618.5", AT, false],
    ["-1", AT, false],
    [null, AT, false],
  ])("timestamp %j at %d is fresh: %j", (timestamp, now, fresh) => {
    expect(isFresh(timestamp, now)).toBe(fresh);
  });

  it("compares strings exactly", () => {
    expect(constantTimeEqual("v0=abc", "v0=abc")).toBe(true);
    expect(constantTimeEqual("v0=abc", "v0=abd")).toBe(false);
    expect(constantTimeEqual("v0=abc", "v0=abcd")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { emailFromUsersInfo } from "../../../../worker/core/slack/users";

describe("emailFromUsersInfo", () => {
  it("reads the profile email", () => {
    const body = JSON.stringify({ ok: true, user: { id: "U1", profile: { email: " Ada@Example.com " } } });
    expect(emailFromUsersInfo(200, body)).toEqual({ ok: true, email: "Ada@Example.com" });
  });

  it.each<[string, number, string, string]>([
    ["an HTTP failure", 503, "", "HTTP 503"],
    ["a body that is not JSON", 200, "<html>", "unreadable answer"],
    ["JSON without ok", 200, "[1]", "unreadable answer"],
    ["a Slack error", 200, JSON.stringify({ ok: false, error: "user_not_found" }), "Slack error: user_not_found"],
    ["an odd error value", 200, JSON.stringify({ ok: false, error: "bad stuff <x>" }), "Slack error: unknown"],
    [
      "no email (scope missing)",
      200,
      JSON.stringify({ ok: true, user: { profile: {} } }),
      "no email in the profile (is the users:read.email scope granted?)",
    ],
    [
      "an email that is no address",
      200,
      JSON.stringify({ ok: true, user: { profile: { email: "nobody" } } }),
      "no email in the profile (is the users:read.email scope granted?)",
    ],
  ])("refuses %s", (_, status, body, reason) => {
    expect(emailFromUsersInfo(status, body)).toEqual({ ok: false, reason });
  });
});

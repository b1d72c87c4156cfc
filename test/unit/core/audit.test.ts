import { describe, expect, it } from "vitest";
import { changedFields, isSecretField, REDACTED, redact, redactUrl } from "../../../worker/core/audit";

describe("isSecretField", () => {
  it.each([
    "token",
    "secret",
    "password",
    "key_hash",
    "keyHash",
    "token_hash",
    "tokenHash",
    "api_key",
    "X-Api-Key",
    "Authorization",
    "cookie",
    "link_code",
    "slack_signing_secret",
    "clientSecret",
    "bot_token",
  ])("%s is a secret", (name) => expect(isSecretField(name)).toBe(true));

  it.each([
    "key",
    "name",
    "scope",
    "prefix",
    "series_key",
    "rule_name",
    "email",
    "url",
    "slack_member_id",
    "threshold",
  ])("%s is not", (name) => expect(isSecretField(name)).toBe(false));
});

describe("redactUrl", () => {
  it("drops the password and secret query values, keeps the rest", () => {
    expect(redactUrl("https://bob:hunter2@api.example.com/health?token=abc&region=eu")).toBe(
      `https://bob:${REDACTED}@api.example.com/health?token=${REDACTED}&region=eu`,
    );
  });
  it("keeps only the host of a webhook", () => {
    expect(redactUrl("https://hooks.slack.com/services/T0/B0/xyz", true)).toBe(`https://hooks.slack.com/${REDACTED}`);
  });
  it("keeps a URL without secrets as it was", () => {
    expect(redactUrl("http://example.com:8080/a/b?x=1&y#top")).toBe("http://example.com:8080/a/b?x=1&y#top");
    expect(redactUrl("https://ops@example.com/")).toBe("https://ops@example.com/");
  });
  it("leaves text that is not a URL alone", () => {
    expect(redactUrl("not a url ?token=1")).toBe("not a url ?token=1");
  });
});

describe("redact", () => {
  it("redacts secret fields at any depth and keeps null as null", () => {
    const out = redact({
      name: "shop",
      key: "emk_3q2Vx8yZ0aBcDeFgHiJkLmNoPqRsTuVwXyZ012345678",
      note: "rotated emt_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefg and xoxb-123-456-abc",
      diff: { update: [{ key: "Queue depth", changes: [] }] },
      key_hash: "3f…",
      token: null,
      headers: { Authorization: "Bearer s3cret", Accept: "text/plain" },
      channels: [{ webhook_url: "https://hooks.example.com/T/B/xyz", kind: "slack" }],
      url: "https://u:p@example.com/?api_key=1&q=2",
    });
    expect(out).toEqual({
      name: "shop",
      key: REDACTED,
      note: `rotated ${REDACTED} and ${REDACTED}`,
      diff: { update: [{ key: "Queue depth", changes: [] }] },
      key_hash: REDACTED,
      token: null,
      headers: { Authorization: REDACTED, Accept: "text/plain" },
      channels: [{ webhook_url: `https://hooks.example.com/${REDACTED}`, kind: "slack" }],
      url: `https://u:${REDACTED}@example.com/?api_key=${REDACTED}&q=2`,
    });
    expect(JSON.stringify(out)).not.toMatch(/emk_|emt_|xoxb|s3cret|xyz/);
  });
  it("passes scalars and arrays through", () => {
    expect(redact(3)).toBe(3);
    expect(redact(["a", null])).toEqual(["a", null]);
    expect(redact(undefined)).toBeUndefined();
  });
});

describe("changedFields", () => {
  it("lists the changed paths, descending into objects, arrays whole", () => {
    const before = { name: "cpu", threshold: 80, labels: { env: "prod", dc: "a" }, channels: ["email"] };
    const after = { name: "cpu", threshold: 90, labels: { env: "prod", dc: "b" }, channels: ["email", "slack"] };
    expect(changedFields(before, after)).toEqual(["channels", "labels.dc", "threshold"]);
  });
  it("counts added and removed fields", () => {
    expect(changedFields({ a: 1 }, { b: 1 })).toEqual(["a", "b"]);
  });
  it("lists every field of a create or a delete", () => {
    expect(changedFields(null, { b: 1, a: 2 })).toEqual(["a", "b"]);
    expect(changedFields({ z: 1 }, null)).toEqual(["z"]);
  });
  it("is empty when nothing changed", () => {
    expect(changedFields({ a: [1, 2], b: { c: null } }, { a: [1, 2], b: { c: null } })).toEqual([]);
  });
});

import { readFileSync } from "node:fs";
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CHANNEL_REGISTRY,
  CHANNELS,
  type ChannelName,
  FALLBACK_ORDER,
  isChannel,
  isPersonalChannel,
  isSharedChannel,
  LANES,
  PERSONAL_CHANNELS,
  reachesTeam,
  SHARED_CHANNELS,
} from "../../../../worker/core/notify/channels";
import { laneFor } from "../../../../worker/core/notify/lanes";
import { CHANNELS as RULE_CHANNELS, type Channel } from "../../../../worker/core/rules/types";

const names = (audiences: string[]) =>
  CHANNEL_REGISTRY.filter((c) => audiences.includes(c.audience)).map((c) => c.name);

describe("the channel registry", () => {
  it("lists each channel once, with a lane of its own", () => {
    expect(new Set(CHANNELS).size).toBe(CHANNELS.length);
    expect(new Set(CHANNEL_REGISTRY.map((c) => c.lane)).size).toBe(CHANNEL_REGISTRY.length);
  });

  it("is where the rule types, the personal and shared lists and the lanes come from", () => {
    expect(CHANNELS).toEqual(CHANNEL_REGISTRY.map((c) => c.name));
    expect(RULE_CHANNELS).toBe(CHANNELS);
    expect(PERSONAL_CHANNELS).toEqual(names(["personal", "either"]));
    expect(SHARED_CHANNELS).toEqual(names(["shared"]));
    expect(LANES).toEqual(Object.fromEntries(CHANNEL_REGISTRY.map((c) => [c.name, c.lane])));
    // Every channel is personal, shared or both (Slack), and none is neither.
    expect([...new Set([...PERSONAL_CHANNELS, ...SHARED_CHANNELS])].sort()).toEqual([...CHANNELS].sort());
    expect(CHANNELS.filter((c) => isPersonalChannel(c) && isSharedChannel(c))).toEqual([]);
    expect(CHANNELS.filter(reachesTeam)).toEqual(names(["shared", "either"]));
  });

  it("keeps the channels, and their order, the API has always listed", () => {
    expect(CHANNELS).toEqual(["email", "sms", "slack", "webhook", "pagerduty"]);
    expect(PERSONAL_CHANNELS).toEqual(["email", "sms", "slack"]);
    expect(SHARED_CHANNELS).toEqual(["webhook", "pagerduty"]);
    expectTypeOf(CHANNELS).toEqualTypeOf<readonly ["email", "sms", "slack", "webhook", "pagerduty"]>();
    expectTypeOf(PERSONAL_CHANNELS).toEqualTypeOf<readonly ["email", "sms", "slack"]>();
    expectTypeOf<Channel>().toEqualTypeOf<ChannelName>();
  });

  it("knows only registered names, not the properties every object has", () => {
    for (const name of ["fax", "toString", "constructor", ""]) {
      expect([isChannel(name), isPersonalChannel(name), isSharedChannel(name), reachesTeam(name)]).toEqual([
        false,
        false,
        false,
        false,
      ]);
    }
  });

  it("falls back through every personal channel once, whatever the severity", () => {
    for (const order of [FALLBACK_ORDER.critical, FALLBACK_ORDER.other]) {
      expect([...order].sort()).toEqual([...PERSONAL_CHANNELS].sort());
    }
  });

  it("sends every channel's jobs from its lane when they are read on the notifications queue", () => {
    for (const c of CHANNEL_REGISTRY) expect(laneFor(c.name, "notifications")).toBe(c.lane);
  });
});

/** The `[[queues.<kind>]]` tables of wrangler.toml, each as its `key = "value"` pairs. */
function queueTables(toml: string, kind: "producers" | "consumers"): Record<string, string>[] {
  return toml
    .split(/^(?=\[)/m)
    .filter((section) => section.startsWith(`[[queues.${kind}]]`))
    .map((section) =>
      Object.fromEntries([...section.matchAll(/^(\w+) = "([^"]*)"$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""])),
    );
}

describe("the lanes in wrangler.toml", () => {
  const toml = readFileSync(new URL("../../../../wrangler.toml", import.meta.url), "utf8");
  const producers = queueTables(toml, "producers");
  const consumers = queueTables(toml, "consumers");

  it.each(CHANNEL_REGISTRY.map((c) => [c.name, c.lane]))(
    "%s: its lane %s has a producer binding and a consumer",
    (_name, lane) => {
      const producer = producers.filter((p) => p.queue === lane);
      expect(producer).toHaveLength(1);
      expect(producer[0]?.binding).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(consumers.filter((c) => c.queue === lane)).toHaveLength(1);
    },
  );

  it("declares no lane the registry does not know", () => {
    const lanes = toml.match(/"notifications-[a-z]+"/g)?.map((q) => q.slice(1, -1)) ?? [];
    const known = new Set<string>([...Object.values(LANES), "notifications-dlq"]);
    expect([...new Set(lanes)].filter((q) => !known.has(q))).toEqual([]);
  });
});

/**
 * The channel registry: every notification channel, described once. The lists the rest of
 * the product works with (the channels a rule may name, the personal and the shared ones,
 * each channel's lane) are derived from it, so adding a channel is one entry here plus
 * the places the type checker then points at (its provider config in lib/delivery, its
 * lane's queue binding in handlers/queue and wrangler.toml; test/unit/core/notify/channels
 * checks the last).
 *
 * Data only, with no imports: the schema, the rule types and the dashboard read it too.
 * The channel modules (email, sms, slack, webhook, pagerduty in this folder) each name the
 * registered channel they render for.
 */

/**
 * Who a channel's jobs reach: `personal`, one admin at their own address (one job per
 * admin); `shared`, the team's endpoint (one job per notification, SHARED_RECIPIENT);
 * `either`, both, as the channel's routing decides (Slack: DMs and/or the team channel,
 * see SlackRouting in core/alerts/jobs).
 */
export type Audience = "personal" | "shared" | "either";

export interface ChannelSpec {
  name: string;
  audience: Audience;
  /**
   * The queue its jobs are sent from: the notifications consumer forwards each job to its
   * channel's lane, so a hanging provider holds only its own lane (see core/notify/lanes).
   */
  lane: string;
}

/** In the order the API and the dashboard list them. */
export const CHANNEL_REGISTRY = [
  { name: "email", audience: "personal", lane: "notifications-email" },
  { name: "sms", audience: "personal", lane: "notifications-sms" },
  { name: "slack", audience: "either", lane: "notifications-slack" },
  { name: "webhook", audience: "shared", lane: "notifications-webhook" },
  { name: "pagerduty", audience: "shared", lane: "notifications-pagerduty" },
] as const satisfies readonly ChannelSpec[];

type Registry = typeof CHANNEL_REGISTRY;
type Spec = Registry[number];

/** The names of the specs in `T` whose audience is in `A`, as a tuple in registry order. */
type NamesOf<T extends readonly Spec[], A extends Audience> = T extends readonly [
  infer First extends Spec,
  ...infer Rest extends readonly Spec[],
]
  ? First["audience"] extends A
    ? [First["name"], ...NamesOf<Rest, A>]
    : NamesOf<Rest, A>
  : [];

/** The registered names whose audience is one of `audiences`; the cast is what NamesOf computes. */
const namesOf = <A extends Audience>(audiences: readonly A[]) =>
  CHANNEL_REGISTRY.filter((c) => (audiences as readonly Audience[]).includes(c.audience)).map(
    (c) => c.name,
  ) as readonly string[] as Readonly<NamesOf<Registry, A>>;

/** Every channel, as a tuple (drizzle and zod enums take it as is). */
export const CHANNELS = namesOf(["personal", "shared", "either"]);
export type ChannelName = Spec["name"];

/**
 * Channels addressed to one admin, which their preferences govern (enabled, address,
 * severities, quiet hours). Slack is one of them: its team-channel job is the shared kind.
 */
export const PERSONAL_CHANNELS = namesOf(["personal", "either"]);
export type PersonalChannel = (typeof PERSONAL_CHANNELS)[number];

/** Channels that only reach a shared endpoint (webhook, PagerDuty): the admins' preferences do not apply. */
export const SHARED_CHANNELS = namesOf(["shared"]);
export type SharedChannel = (typeof SHARED_CHANNELS)[number];

/** Each channel's lane queue. */
export const LANES = Object.fromEntries(CHANNEL_REGISTRY.map((c) => [c.name, c.lane])) as {
  readonly [S in Spec as S["name"]]: S["lane"];
};
export type Lane = Spec["lane"];

/** The registered channel's description; undefined for a name that is none (`toString` included). */
export const channelSpec = (name: string): Spec | undefined => CHANNEL_REGISTRY.find((c) => c.name === name);

export const isChannel = (name: string): name is ChannelName => channelSpec(name) !== undefined;

export const isPersonalChannel = (name: string): name is PersonalChannel =>
  (PERSONAL_CHANNELS as readonly string[]).includes(name);

export const isSharedChannel = (name: string): name is SharedChannel =>
  (SHARED_CHANNELS as readonly string[]).includes(name);

/** Whether a channel's jobs can go to the team's endpoint (shared, or either as routed). */
export const reachesTeam = (name: string): boolean => {
  const audience = channelSpec(name)?.audience;
  return audience === "shared" || audience === "either";
};

/**
 * The order an admin's personal channels are tried in when one fails (fallbackChannel):
 * for critical alerts the phone before email (it wakes people, email may wait unread),
 * otherwise email before the phone. Each lists every personal channel once (checked by
 * test/unit/core/notify/channels).
 */
export const FALLBACK_ORDER: {
  readonly critical: readonly PersonalChannel[];
  readonly other: readonly PersonalChannel[];
} = {
  critical: ["slack", "sms", "email"],
  other: ["slack", "email", "sms"],
};

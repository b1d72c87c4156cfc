/**
 * Confirming an HTTP probe's failure from other locations before it counts, the pure
 * part: a monitor's policy (M locations judge a failure, N of them must see it fail),
 * which locations confirm, and the verdict once they have answered.
 */

/**
 * Where confirming probes run: Durable Object location hints, far apart so that one
 * region's network trouble is not seen from the next. A monitor confirms from the
 * first M-1 of them, starting at an offset of its id so the load spreads.
 */
export const CONFIRM_HINTS = ["wnam", "weur", "apac"] as const;
export type ConfirmHint = (typeof CONFIRM_HINTS)[number];

/** At most this many locations judge a failure: the first one and two confirming ones. */
export const MAX_CONFIRM_LOCATIONS = 3;
/**
 * Locations that judge an http monitor's failure unless it sets its own: two, so one
 * location's network blip pages nobody, and only a failing probe costs the second probe.
 */
export const DEFAULT_CONFIRM_LOCATIONS = 2;
/** A confirming probe's answer may take its timeout plus this (the RPC and its placement). */
export const CONFIRM_MARGIN_MS = 3000;

export interface ConfirmPolicy {
  /** M: locations that judge a failure, the first included (1: no confirmation). */
  locations: number;
  /** N: how many of them must see it fail for the outage to count. */
  quorum: number;
}

const NO_CONFIRMATION: ConfirmPolicy = { locations: 1, quorum: 1 };

const isCount = (v: unknown, max: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max;

/**
 * The policy of a monitor from its stored config (`confirm_locations`, `confirm_quorum`):
 * http monitors default to DEFAULT_CONFIRM_LOCATIONS and a quorum of all of them;
 * scrapes are never confirmed (their samples are the exporter's, not a verdict).
 *
 * @example readConfirmPolicy("http", {}) // { locations: 2, quorum: 2 }
 * @example readConfirmPolicy("http", { confirm_locations: 3, confirm_quorum: 2 }) // { locations: 3, quorum: 2 }
 */
export function readConfirmPolicy(kind: string, config: Record<string, unknown>): ConfirmPolicy {
  if (kind !== "http") return NO_CONFIRMATION;
  const locations = isCount(config.confirm_locations, MAX_CONFIRM_LOCATIONS)
    ? config.confirm_locations
    : DEFAULT_CONFIRM_LOCATIONS;
  const quorum = isCount(config.confirm_quorum, locations) ? config.confirm_quorum : locations;
  return { locations, quorum };
}

/**
 * Why a policy the API was sent is invalid, as [field, reason], or null when it is valid.
 * A quorum of 1 with several locations is refused: the first location would decide alone
 * and the others would be asked for nothing.
 */
export function confirmPolicyError(locations: number, quorum: number | null): [string, string] | null {
  if (quorum === null) return null;
  if (quorum > locations) return ["confirm_quorum", `must be at most confirm_locations (${locations})`];
  if (quorum === 1 && locations > 1) {
    return ["confirm_quorum", "1 lets the first location decide alone: set confirm_locations to 1 instead"];
  }
  return null;
}

/** Whether a probe's result needs other locations' answers before it is recorded. */
export function needsConfirmation(policy: ConfirmPolicy, firstUp: boolean): boolean {
  return !firstUp && policy.locations > 1 && policy.quorum > 1;
}

/**
 * The location hints that confirm a monitor's failure: M-1 of CONFIRM_HINTS, rotated
 * by the monitor's id.
 *
 * @example confirmHints(4, { locations: 2, quorum: 2 }) // ["weur"]
 */
export function confirmHints(monitorId: number, policy: ConfirmPolicy): ConfirmHint[] {
  const n = CONFIRM_HINTS.length;
  const start = ((monitorId % n) + n) % n;
  return Array.from(
    { length: Math.min(policy.locations - 1, n) },
    (_, i) => CONFIRM_HINTS[(start + i) % n] as ConfirmHint,
  );
}

/** The name of the runner that confirms from a hint (one per hint; a hint places it when first created). */
export const confirmerName = (hint: ConfirmHint): string => `confirm-${hint}`;

/** What one confirming location said: its probe's verdict, or that it could not be asked. */
export type LocationAnswer = { up: boolean } | { unreachable: string };

export interface ConfirmDecision {
  /** Whether the failure counts as an outage. */
  outage: boolean;
  /** Locations that saw it fail, the first included. */
  failing: number;
  /** Locations that saw it up. */
  up: number;
  /** Locations that could not be asked (an error or no answer in time). */
  unreachable: number;
}

/**
 * The verdict on a failure seen from the first location, once the others have answered.
 * A location that cannot be asked counts as unknown, and unknowns count towards the
 * outage: the failure is dismissed only when the answers that came in prove the quorum
 * cannot be met, so a broken confirmation path never hides a real outage (it falls back
 * to the first location's verdict).
 *
 * @example decideOutage({ locations: 2, quorum: 2 }, [{ up: true }]) // { outage: false, failing: 1, up: 1, unreachable: 0 }
 * @example decideOutage({ locations: 2, quorum: 2 }, [{ unreachable: "timeout" }]) // { outage: true, … }
 */
export function decideOutage(policy: ConfirmPolicy, answers: readonly LocationAnswer[]): ConfirmDecision {
  let failing = 1;
  let up = 0;
  let unreachable = 0;
  for (const a of answers) {
    if ("unreachable" in a) unreachable++;
    else if (a.up) up++;
    else failing++;
  }
  return { outage: failing + unreachable >= policy.quorum, failing, up, unreachable };
}

/**
 * The message of a dismissed failure: what the first location saw and how the
 * locations split, e.g. "status 503 (expected 200); failing from 1 of 2 locations, 2 needed".
 */
export function unconfirmedMessage(firstReason: string, policy: ConfirmPolicy, d: ConfirmDecision): string {
  const asked = d.failing + d.up + d.unreachable;
  const unknown = d.unreachable > 0 ? `, ${d.unreachable} unreachable` : "";
  return `${firstReason}; failing from ${d.failing} of ${asked} locations${unknown}, ${policy.quorum} needed`;
}

/**
 * How long a run may take: the probe's timeout, and when its failure is confirmed, the
 * confirming probes' (asked at once, side by side) plus CONFIRM_MARGIN_MS. Leases cover it.
 */
export function runBudgetMs(timeoutMs: number, policy: ConfirmPolicy): number {
  return policy.locations > 1 && policy.quorum > 1 ? 2 * timeoutMs + CONFIRM_MARGIN_MS : timeoutMs;
}

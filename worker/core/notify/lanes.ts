/**
 * Lanes: a queue of its own per channel. The notifications consumer forwards a job to its
 * channel's lane rather than sending it, so a provider that hangs holds only its lane's
 * consumer (a batch waits for its slowest request, up to the provider timeout, and the next
 * batch of a queue waits for it) and never a page on another channel. A job on a channel
 * without a lane (none today) is handled on the notifications queue itself. Each channel's
 * lane is in the channel registry (core/notify/channels).
 */
import { channelSpec, type Lane } from "./channels";

export { LANES, type Lane } from "./channels";

/** The lane a job on `channel` is sent from, when it is read on `queue`; null to send it here. */
export function laneFor(channel: string, queue: string): Lane | null {
  if (queue !== "notifications") return null;
  return channelSpec(channel)?.lane ?? null;
}

/**
 * The outbound dead-man's switch: with DEADMAN_URL set, the monitor POSTs its own health
 * there every minute from two independent paths, the cron ("cron") and the sentinel's
 * alarm loop ("alarm"), so an outside service (healthchecks.io, another Edge Monitor's
 * heartbeat URL) pages when the monitor dies, its account stops or the platform stops
 * its cron. A failed ping is logged; the outside service notices the silence.
 */
import { checkSelf } from "./self-health";

const TIMEOUT_MS = 5_000;

export type DeadmanSource = "cron" | "alarm";

export async function pingDeadman(env: Env, source: DeadmanSource, now: number): Promise<void> {
  const url = env.DEADMAN_URL;
  if (!url) return;
  const self = await checkSelf(env, now);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ source, ok: self.ok, problems: self.problems, at: new Date(now).toISOString() }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) console.error(`dead-man ping (${source}) answered ${res.status}`);
  } catch (err) {
    console.error(`dead-man ping (${source}) failed`, err);
  }
}

/**
 * The per-minute cron. Each job is independent glue owned by its module; one
 * failing job is logged and does not stop the others.
 */
import { pushDemoMetrics } from "../demo/push";
import { pingDeadman } from "../lib/deadman";
import { readMonitorHealth, toServiceHealthWire } from "../lib/health";
import { releaseDigests } from "./digests";
import { checkHeartbeatsEveryMinute } from "./heartbeats";
import { redriveOverdue } from "./outbox";
import { runScheduledProbes, watchProbeRunners } from "./probes";
import { recordDerivedMetrics, runRetention } from "./series-jobs";

type Job = [name: string, run: (env: Env, now: number) => Promise<void>];

const publishHealth = async (env: Env, now: number) => {
  const services = await readMonitorHealth(env, now);
  await env.DASHBOARD_HUB.getByName("main").publish("services", services.map(toServiceHealthWire));
};

const demoOnly =
  (run: Job[1]): Job[1] =>
  (env, now) =>
    env.DEMO_MODE === "1" ? run(env, now) : Promise.resolve();

/** The sentinel hears of every tick: a cron that stops shows on /healthz. */
const tickSentinel = (env: Env, now: number) => env.SENTINEL.getByName("main").cronTicked(now);

export const JOBS: Job[] = [
  ["sentinel", tickSentinel],
  ["deadman", (env, now) => pingDeadman(env, "cron", now)],
  ["demo", demoOnly(pushDemoMetrics)],
  ["probes", runScheduledProbes],
  ["watchdog", watchProbeRunners],
  ["heartbeats", checkHeartbeatsEveryMinute],
  ["derived", recordDerivedMetrics],
  ["retention", runRetention],
  ["health", publishHealth],
  ["digests", releaseDigests],
  ["outbox", redriveOverdue],
];

export async function handleScheduled(
  controller: ScheduledController,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  const now = controller.scheduledTime;
  const results = await Promise.allSettled(JOBS.map(([, run]) => run(env, now)));
  results.forEach((result, i) => {
    if (result.status === "rejected") console.error(`cron job ${JOBS[i]?.[0]} failed`, result.reason);
  });
}

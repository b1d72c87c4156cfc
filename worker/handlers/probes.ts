/**
 * Probe glue: running one monitor and storing its samples, the cron path for monitors
 * of a minute or slower, the ProbeRunner watchdog, and keeping runners in step with writes.
 */
import {
  certCheckDue,
  defaultTimeoutMs,
  type ProbeMonitor,
  probeSamples,
  readHttpConfig,
  readScrapeConfig,
  type RunSlot,
} from "../core/probe";
import {
  cronLagSeconds,
  leaseUntil,
  MAX_CONCURRENT_PROBES,
  nextSlot,
  runBounded,
  runnerLagSeconds,
  runnerName,
  runsOnCron,
  runsOnRunner,
} from "../core/schedule";
import type { Labels, Sample } from "../core/series";
import {
  claimMonitorRun,
  finishMonitorRun,
  resetMonitorSchedule,
  rowToProbeMonitor,
  selectDueCronMonitors,
  selectLoopMonitors,
} from "../db/monitors";
import type { monitors } from "../db/schema";
import { recordSamples } from "../lib/series";
import { probeHttp } from "../probes/http";
import { scrape, scrapeSamples } from "../probes/scrape";

/** The service of the collector's own metrics. */
export const SELF_SERVICE = "edge-monitor";

/**
 * The samples of one run of a monitor; empty when its stored config cannot be probed.
 * `slot` (absent for a one-off run) decides whether an https monitor's certificate is read.
 */
export async function probeMonitor(monitor: ProbeMonitor, slot: RunSlot | null = null): Promise<Sample[]> {
  if (monitor.kind === "http") {
    const config = readHttpConfig(monitor.config, monitor.intervalSeconds);
    if (!config.ok) return skipped(monitor, config.error);
    const result = await probeHttp(config.config, certCheckDue(config.config.url, slot));
    if (result.cert && "error" in result.cert) {
      console.warn(`monitor ${monitor.id}: certificate not read: ${result.cert.error}`);
    }
    return probeSamples(monitor, result);
  }
  const config = readScrapeConfig(monitor.config, monitor.intervalSeconds);
  if (!config.ok) return skipped(monitor, config.error);
  return scrapeSamples(monitor, await scrape(monitor, config.config));
}

function skipped(monitor: ProbeMonitor, why: string): Sample[] {
  console.warn(`monitor ${monitor.id} not probed: ${why}`);
  return [];
}

/** Runs a monitor once and stores its samples. */
export async function runMonitor(env: Env, monitor: ProbeMonitor, slot: RunSlot | null = null): Promise<void> {
  const samples = await probeMonitor(monitor, slot);
  if (samples.length > 0) {
    await recordSamples(env, samples, Date.now(), monitor.kind === "prometheus" ? "scrape" : "probe");
  }
}

/** `collector_lag_seconds` of one collector (the cron path or a runner). */
export function lagSample(labels: Labels, seconds: number, ts: number): Sample {
  return { metric: "collector_lag_seconds", service: SELF_SERVICE, labels, value: seconds, ts };
}

/**
 * The cron path: every due monitor of interval ≥ 60 s whose lease this call wins runs
 * once (≤ MAX_CONCURRENT_PROBES at a time), then moves to its next slot. Overlapping
 * calls never run a monitor twice: a run needs the lease, and a finished run is no
 * longer due.
 */
export async function runScheduledProbes(env: Env, now: number): Promise<void> {
  const due = await selectDueCronMonitors(env, now);
  const lag = lagSample(
    { collector: "cron" },
    cronLagSeconds(
      due.map((m) => m.nextDueAt ?? now),
      now,
    ),
    now,
  );
  await recordSamples(env, [lag], now, "self").catch((err: unknown) =>
    console.error("collector lag not recorded", err),
  );
  const results = await runBounded(due, MAX_CONCURRENT_PROBES, async (monitor) => {
    const clock = Date.now();
    const timeoutMs =
      typeof monitor.config.timeout_ms === "number"
        ? monitor.config.timeout_ms
        : defaultTimeoutMs(monitor.intervalSeconds);
    if (!(await claimMonitorRun(env, monitor.id, { now, clock, leaseUntil: leaseUntil(clock, timeoutMs) }))) return;
    try {
      const intervalMs = monitor.intervalSeconds * 1000;
      await runMonitor(env, monitor, { at: monitor.nextDueAt ?? now, intervalMs, first: monitor.nextDueAt === null });
    } finally {
      const next = nextSlot(monitor.nextDueAt ?? now, monitor.intervalSeconds * 1000, now);
      await finishMonitorRun(env, monitor.id, Date.now(), next);
    }
  });
  results.forEach((r, i) => {
    if (r.status === "rejected") console.error(`monitor ${due[i]?.id} run failed`, r.reason);
  });
}

/**
 * The watchdog: gives every runner that should hold monitors exactly those, re-arms
 * an alarm that is missing or stuck, and records each runner's lag, so a dead loop
 * shows up in `collector_lag_seconds{runner}`.
 */
export async function watchProbeRunners(env: Env, now: number): Promise<void> {
  const byRunner = new Map<string, ProbeMonitor[]>();
  for (const m of await selectLoopMonitors(env)) {
    const name = runnerName(m.id);
    byRunner.set(name, [...(byRunner.get(name) ?? []), m]);
  }
  const lags: Sample[] = [];
  const results = await runBounded([...byRunner], MAX_CONCURRENT_PROBES, async ([name, list]) => {
    const status = await env.PROBE_RUNNER.getByName(name).sync(list);
    lags.push(lagSample({ runner: name }, runnerLagSeconds(status.nextRunAt, now), now));
    if (status.rearmed)
      console.warn(`probe runner ${name}: alarm missing, stuck or late; re-armed for ${status.alarmAt}`);
  });
  results.forEach((r, i) => {
    if (r.status === "rejected") console.error(`probe runner ${[...byRunner.keys()][i]} unreachable`, r.reason);
  });
  if (lags.length > 0) await recordSamples(env, lags, now, "self");
}

type MonitorRow = typeof monitors.$inferSelect;

/**
 * After a monitor write (row null: deleted): a fast monitor goes to its runner, anything
 * else leaves it; a cron-path monitor runs at the next tick with its new settings. A
 * failure is logged, not thrown (the write is committed; the watchdog catches up within
 * a minute).
 */
export async function syncMonitorSchedule(env: Env, id: number, row: MonitorRow | null): Promise<void> {
  try {
    const runner = env.PROBE_RUNNER.getByName(runnerName(id));
    const monitor = row ? rowToProbeMonitor(row) : null;
    if (row && monitor && runsOnRunner(row)) {
      await runner.assign(monitor);
      return;
    }
    await runner.unassign(id);
    if (row && runsOnCron(row)) await resetMonitorSchedule(env, id);
  } catch (err) {
    console.error(`monitor ${id}: schedule not updated`, err);
  }
}

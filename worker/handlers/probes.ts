/**
 * Probe glue: running one monitor and storing its samples (a failure confirmed from other
 * locations first), the cron path for monitors of a minute or slower, the ProbeRunner
 * watchdog, and keeping runners in step with writes.
 */
import {
  type ConfirmHint,
  confirmerName,
  confirmHints,
  CONFIRM_MARGIN_MS,
  decideOutage,
  needsConfirmation,
  readConfirmPolicy,
  runBudgetMs,
  unconfirmedMessage,
} from "../core/confirm";
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
import { SELF_SERVICE } from "../core/self-watch";
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
import { targetPolicyOf } from "../lib/targets";
import { probeHttp } from "../probes/http";
import { scrape, scrapeSamples } from "../probes/scrape";

/**
 * The samples of one run of a monitor; empty when its stored config cannot be probed.
 * `slot` (absent for a one-off run) decides whether an https monitor's certificate is read.
 * Its target and each redirect's are checked against the deployment's safe-target policy.
 */
export async function probeMonitor(env: Env, monitor: ProbeMonitor, slot: RunSlot | null = null): Promise<Sample[]> {
  const targets = targetPolicyOf(env);
  if (monitor.kind === "http") {
    const config = readHttpConfig(monitor.config, monitor.intervalSeconds);
    if (!config.ok) return skipped(monitor, config.error);
    const result = await probeHttp(config.config, targets, certCheckDue(config.config.url, slot));
    if (result.cert && "error" in result.cert) {
      console.warn(`monitor ${monitor.id}: certificate not read: ${result.cert.error}`);
    }
    return probeSamples(monitor, result);
  }
  const config = readScrapeConfig(monitor.config, monitor.intervalSeconds);
  if (!config.ok) return skipped(monitor, config.error);
  return scrapeSamples(monitor, await scrape(monitor, config.config, targets));
}

function skipped(monitor: ProbeMonitor, why: string): Sample[] {
  console.warn(`monitor ${monitor.id} not probed: ${why}`);
  return [];
}

/** The timeout a monitor's probe runs with: its own, or the one its interval gives. */
const timeoutOf = (monitor: ProbeMonitor): number =>
  typeof monitor.config.timeout_ms === "number" ? monitor.config.timeout_ms : defaultTimeoutMs(monitor.intervalSeconds);

/**
 * Runs a monitor once and stores its samples; a failure its policy wants confirmed is
 * first probed again from other locations (`ask`: the confirming runners; tests pass their own).
 */
export async function runMonitor(
  env: Env,
  monitor: ProbeMonitor,
  slot: RunSlot | null = null,
  ask: AskLocation = askRunners(env),
): Promise<void> {
  const samples = await confirmFailure(monitor, await probeMonitor(env, monitor, slot), ask);
  if (samples.length > 0) {
    await recordSamples(env, samples, Date.now(), monitor.kind === "prometheus" ? "scrape" : "probe");
  }
}

/** What a confirming location saw: its verdict and its probe's samples, which it does not record. */
export interface ConfirmAnswer {
  up: boolean;
  message: string | null;
  samples: Sample[];
}

/** Asks the location of `hint` to probe the monitor once. */
export type AskLocation = (hint: ConfirmHint, monitor: ProbeMonitor) => Promise<ConfirmAnswer>;

/**
 * One probe of an http monitor from wherever this runs, for another location's
 * confirmation: no certificate read (the first location's run reads it) and nothing recorded.
 */
export async function confirmProbe(env: Env, monitor: ProbeMonitor): Promise<ConfirmAnswer> {
  const config = readHttpConfig(monitor.config, monitor.intervalSeconds);
  if (!config.ok) throw new Error(`monitor ${monitor.id} not probed: ${config.error}`);
  const result = await probeHttp(config.config, targetPolicyOf(env), false);
  return { up: result.verdict.up, message: result.verdict.message, samples: probeSamples(monitor, result) };
}

/**
 * The confirming locations in production: one ProbeRunner per hint, placed by its
 * location hint when first created, each given the probe's timeout plus CONFIRM_MARGIN_MS
 * to answer. (workerd and Miniflare ignore hints: locally it is just another runner.)
 */
export function askRunners(env: Env): AskLocation {
  return async (hint, monitor) => {
    const runner = env.PROBE_RUNNER.getByName(confirmerName(hint), { locationHint: hint });
    const waitMs = timeoutOf(monitor) + CONFIRM_MARGIN_MS;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${waitMs} ms`)), waitMs);
    });
    try {
      return await Promise.race([runner.confirm(monitor), late]);
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  };
}

/**
 * The samples to record for a run: as probed, unless the first location saw a failure
 * its policy wants confirmed and too few other locations agree. Then the failure is
 * dismissed: the samples of a location that saw the target up are recorded instead (so
 * probe_up stays truthful for alerting, from a real observation), with the first run's
 * certificate reading and a `probe_unconfirmed_failures` sample of 1 whose message says
 * what the first location saw and how the locations split.
 */
export async function confirmFailure(monitor: ProbeMonitor, samples: Sample[], ask: AskLocation): Promise<Sample[]> {
  const policy = readConfirmPolicy(monitor.kind, monitor.config);
  const first = samples.find((s) => s.metric === "probe_up");
  if (!first || !needsConfirmation(policy, first.value === 1)) return samples;
  const hints = confirmHints(monitor.id, policy);
  const answers = await Promise.all(
    hints.map((hint) =>
      ask(hint, monitor).catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        console.warn(`monitor ${monitor.id}: confirming location ${hint} unreachable: ${reason}`);
        return { unreachable: reason };
      }),
    ),
  );
  const decision = decideOutage(
    policy,
    answers.map((a) => ("unreachable" in a ? a : { up: a.up })),
  );
  if (decision.outage) return samples;
  const seenUp = answers.find((a): a is ConfirmAnswer => "up" in a && a.up);
  const message = unconfirmedMessage(first.message ?? "down", policy, decision);
  console.warn(`monitor ${monitor.id}: failure not confirmed: ${message}`);
  return [
    ...(seenUp?.samples ?? []),
    ...samples.filter((s) => s.metric === "probe_cert_days_left"),
    {
      metric: "probe_unconfirmed_failures",
      service: monitor.service,
      labels: first.labels,
      value: 1,
      ts: first.ts,
      message,
    },
  ];
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
    // The lease covers the confirming probes a failure may need.
    const budgetMs = runBudgetMs(timeoutOf(monitor), readConfirmPolicy(monitor.kind, monitor.config));
    if (!(await claimMonitorRun(env, monitor.id, { now, clock, leaseUntil: leaseUntil(clock, budgetMs) }))) return;
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

/**
 * Heartbeat monitors (Celery beat tasks, cron jobs): what a ping, or the passing of
 * time, means for a job's state, and which samples that produces. Time is passed in.
 */
import { nextFireAfter, parseCron, previousFireAtOrBefore, type CronSchedule } from "./cron";
import type { Sample } from "./series";
import { toIso } from "./time";

export type HeartbeatSchedule =
  | { kind: "period"; periodSeconds: number; graceSeconds: number }
  | { kind: "cron"; cron: string; timeZone: string; graceSeconds: number };

export const HEARTBEAT_STATUSES = ["new", "ok", "running", "late", "failed"] as const;
export type HeartbeatStatus = (typeof HEARTBEAT_STATUSES)[number];

export interface HeartbeatMonitor {
  id: number;
  service: string;
  schedule: HeartbeatSchedule;
  /** Since when the monitor exists (epoch ms): a monitor that never pinged is new until its first expected time. */
  since: number;
}

/** What is known about a job; instants are epoch ms. */
export interface HeartbeatState {
  status: HeartbeatStatus;
  /** Last success. */
  lastPingAt: number | null;
  lastStartAt: number | null;
  lastFailAt: number | null;
  lastExitCode: number | null;
  lastRuntimeMs: number | null;
  /** Runtimes of recent successful runs, newest last, at most RECENT_RUNTIMES. */
  recentRuntimesMs: number[];
  message: string | null;
}

export type HeartbeatEvent =
  | { type: "start"; at: number }
  /** `exitCode`: 0 when the job reported it (`/0`, `?exit_code=0`). */
  | { type: "success"; at: number; exitCode?: number }
  /** `detail`: what the job said about its failure (e.g. the first line of a POSTed log), if anything. */
  | { type: "fail"; at: number; exitCode: number | null; detail?: string }
  | { type: "tick"; at: number };

export interface HeartbeatTransition {
  state: HeartbeatState;
  /** False when the event changed nothing worth storing (a tick that found the job on time). */
  changed: boolean;
  samples: Sample[];
  message: string | null;
}

export const RECENT_RUNTIMES = 20;
/**
 * Lateness is decided at the deadline itself (an alarm, core/heartbeat lateAt), with the
 * per-minute cron as the safety net; a job's own clock and start-up still add a moment, so
 * a grace is at least a second.
 */
export const MIN_GRACE_MS = 1_000;
/** Runtime anomalies are judged once this many earlier runtimes are known. */
export const ANOMALY_MIN_RUNS = 5;
/** A run is suspicious when it takes less than median/4 or more than median×4 … */
export const ANOMALY_FACTOR = 4;
/** … and differs from the median by at least this much: sub-second jitter is not a signal. */
export const ANOMALY_MIN_DIFF_MS = 1000;

export const initialHeartbeatState = (): HeartbeatState => ({
  status: "new",
  lastPingAt: null,
  lastStartAt: null,
  lastFailAt: null,
  lastExitCode: null,
  lastRuntimeMs: null,
  recentRuntimesMs: [],
  message: null,
});

const graceMs = (s: HeartbeatSchedule) => Math.max(s.graceSeconds * 1000, MIN_GRACE_MS);
const maxOrNull = (...xs: (number | null)[]) =>
  xs.reduce<number | null>((m, x) => (x === null ? m : m === null ? x : Math.max(m, x)), null);

/** When the job last finished a run, successfully or not. */
const lastCompletedAt = (s: HeartbeatState) => maxOrNull(s.lastPingAt, s.lastFailAt);

/** The start of the run in progress: a start after the last completed run. */
function runningSince(s: HeartbeatState): number | null {
  const done = lastCompletedAt(s);
  return s.lastStartAt !== null && (done === null || s.lastStartAt > done) ? s.lastStartAt : null;
}

/** True when the last completed run failed. */
function lastRunFailed(s: HeartbeatState): boolean {
  return s.lastFailAt !== null && (s.lastPingAt === null || s.lastFailAt > s.lastPingAt);
}

/** The heartbeat_ok value of a state: 0 when late, failed, or re-running after a failure. */
export function heartbeatOkValue(s: HeartbeatState): 0 | 1 {
  if (s.status === "late" || s.status === "failed") return 0;
  return s.status === "running" && lastRunFailed(s) ? 0 : 1;
}

function sample(m: HeartbeatMonitor, metric: string, value: number, ts: number, message?: string | null): Sample {
  const base: Sample = { metric, service: m.service, labels: { monitor: String(m.id) }, value, ts };
  return message ? { ...base, message } : base;
}

/** The heartbeat_ok sample of a state at `at`, with the state's message when it is 0. */
export function heartbeatOkSample(m: HeartbeatMonitor, s: HeartbeatState, at: number): Sample {
  const ok = heartbeatOkValue(s);
  return sample(m, "heartbeat_ok", ok, at, ok === 0 ? s.message : null);
}

/**
 * How early a ping may arrive and still count for cron fire `fire`: up to the grace,
 * but never more than half the gap to the previous fire, so the previous run's ping
 * cannot stand in for this one.
 */
function earlySlackMs(cron: CronSchedule, timeZone: string, grace: number, fire: number): number {
  const before = previousFireAtOrBefore(cron, timeZone, fire - 1);
  return before === null ? grace : Math.min(grace, (fire - before) / 2);
}

/**
 * The time a success was expected by and not seen (the job is late), or null when the
 * job is on time at `now`.
 *
 * - Period: a success is expected `period` after the latest of the monitor's creation,
 *   the last completed run (success or failure: a failed run is not a missed one), and the
 *   start of a run in progress (a run may take up to a period); late after that + grace.
 * - Cron: the latest fire time F before now − grace must be covered by a run completed
 *   (or started, if still running) at or after F minus a small early slack; a fire before
 *   the monitor existed is not expected. A run in progress is thus on time until the next
 *   fire + grace. DST: a fire in a skipped hour is due when the clocks jump, a fire in a
 *   repeated hour once, at its first occurrence (see core/cron.ts).
 */
export function lateSince(m: HeartbeatMonitor, s: HeartbeatState, now: number): number | null {
  const sched = m.schedule;
  const grace = graceMs(sched);
  const done = lastCompletedAt(s);
  const running = runningSince(s);
  if (sched.kind === "period") {
    const expected = (maxOrNull(m.since, done, running) ?? m.since) + sched.periodSeconds * 1000;
    return now > expected + grace ? expected : null;
  }
  const cron = parseCron(sched.cron);
  const fire = previousFireAtOrBefore(cron, sched.timeZone, now - grace - 1);
  if (fire === null || fire < m.since) return null;
  const from = fire - earlySlackMs(cron, sched.timeZone, grace, fire);
  const covered = (done !== null && done >= from) || (running !== null && running >= from);
  return covered ? null : fire;
}

/**
 * When the job next becomes late if nothing arrives (the first instant `lateSince` is not
 * null), for an alarm at that deadline; null when it is late already or never expected.
 * For a cron schedule, the next fire's deadline (fire + grace): a fire already covered is
 * checked and found on time, which costs one look.
 */
export function lateAt(m: HeartbeatMonitor, s: HeartbeatState, now: number): number | null {
  if (lateSince(m, s, now) !== null) return null;
  const sched = m.schedule;
  const grace = graceMs(sched);
  if (sched.kind === "period") {
    const expected = (maxOrNull(m.since, lastCompletedAt(s), runningSince(s)) ?? m.since) + sched.periodSeconds * 1000;
    return expected + grace + 1;
  }
  const fire = nextFireAfter(parseCron(sched.cron), sched.timeZone, now - grace - 1);
  return fire === null ? null : fire + grace + 1;
}

/**
 * The longest plausible runtime for a run started at `start`: a period (or the cron
 * interval around the start) plus grace. A start older than that belongs to a run that
 * never reported, not to the success at hand.
 */
function maxRuntimeMs(sched: HeartbeatSchedule, start: number): number {
  const grace = graceMs(sched);
  if (sched.kind === "period") return sched.periodSeconds * 1000 + grace;
  const cron = parseCron(sched.cron);
  const next = nextFireAfter(cron, sched.timeZone, start);
  if (next === null) return Number.POSITIVE_INFINITY;
  const prev = previousFireAtOrBefore(cron, sched.timeZone, start) ?? start;
  return next - prev + grace;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? 0;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] ?? hi) + hi) / 2;
}

export const formatDuration = (ms: number) =>
  ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 120_000
      ? `${Number((ms / 1000).toFixed(1))} s`
      : ms < 7_200_000
        ? `${Number((ms / 60_000).toFixed(1))} min`
        : `${Number((ms / 3_600_000).toFixed(1))} h`;

/**
 * Why a runtime is suspicious compared to the earlier ones, or null. Median-based, so a
 * few outliers among the recent runs do not move the band; the factor-4 band tolerates
 * the usual variation of batch jobs (data volume, load) while catching a job that did
 * nothing (too fast) or hung on a lock (too slow).
 */
export function runtimeAnomaly(runtimeMs: number, earlierMs: readonly number[]): string | null {
  if (earlierMs.length < ANOMALY_MIN_RUNS) return null;
  const med = median(earlierMs);
  const context = `median of the last ${earlierMs.length} runs: ${formatDuration(med)}`;
  if (runtimeMs > med * ANOMALY_FACTOR && runtimeMs - med >= ANOMALY_MIN_DIFF_MS) {
    return `run took ${formatDuration(runtimeMs)}, suspiciously slow (${context})`;
  }
  if (runtimeMs < med / ANOMALY_FACTOR && med - runtimeMs >= ANOMALY_MIN_DIFF_MS) {
    return `run took ${formatDuration(runtimeMs)}, suspiciously fast (${context})`;
  }
  return null;
}

function lateMessage(s: HeartbeatState, expected: number): string {
  const last = maxOrNull(s.lastPingAt, s.lastStartAt, s.lastFailAt);
  return `late: expected by ${toIso(expected) ?? ""}, last ping ${toIso(last) ?? "never"}`;
}

function failMessage(exitCode: number | null, detail?: string): string {
  const what = exitCode === null ? "failed" : `failed: exit code ${exitCode}`;
  return detail ? `${what}: ${detail}` : what;
}

/**
 * Applies one event to a heartbeat's state.
 *
 * - start → running (heartbeat_ok stays 0 while re-running after a failed run);
 * - success → ok, heartbeat_ok 1; with a start in the same run, the runtime is recorded
 *   and compared with recent runs (heartbeat_runtime_anomaly 1 or 0; never a failure);
 * - fail → failed, heartbeat_ok 0 with the exit code;
 * - tick → late (heartbeat_ok 0) once `lateSince` says so; otherwise unchanged.
 */
export function applyHeartbeatEvent(
  m: HeartbeatMonitor,
  s: HeartbeatState,
  event: HeartbeatEvent,
): HeartbeatTransition {
  const at = event.at;
  const done = (state: HeartbeatState, extra: Sample[] = []): HeartbeatTransition => ({
    state,
    changed: true,
    samples: [heartbeatOkSample(m, state, at), ...extra],
    message: state.message,
  });
  switch (event.type) {
    case "start": {
      const message = lastRunFailed(s) ? `running; the previous run ${s.message ?? "failed"}` : null;
      return done({ ...s, status: "running", lastStartAt: at, message });
    }
    case "fail":
      return done({
        ...s,
        status: "failed",
        lastFailAt: at,
        lastExitCode: event.exitCode,
        message: failMessage(event.exitCode, event.detail),
      });
    case "success": {
      const start = runningSince(s);
      const runtime = start !== null && at - start <= maxRuntimeMs(m.schedule, start) ? at - start : null;
      const next: HeartbeatState = {
        ...s,
        status: "ok",
        lastPingAt: at,
        lastExitCode: event.exitCode ?? null,
        message: null,
      };
      if (runtime === null) return done(next);
      const anomaly = runtimeAnomaly(runtime, s.recentRuntimesMs);
      return done(
        {
          ...next,
          lastRuntimeMs: runtime,
          recentRuntimesMs: [...s.recentRuntimesMs, runtime].slice(-RECENT_RUNTIMES),
          message: anomaly,
        },
        [
          sample(m, "heartbeat_runtime_ms", runtime, at),
          sample(m, "heartbeat_runtime_anomaly", anomaly ? 1 : 0, at, anomaly),
        ],
      );
    }
    case "tick": {
      const expected = s.status === "late" ? null : lateSince(m, s, at);
      if (expected === null) return { state: s, changed: false, samples: [], message: s.message };
      return done({ ...s, status: "late", message: lateMessage(s, expected) });
    }
  }
}

/**
 * Counting for `GET /metrics`: each isolate (the Worker's, each Durable Object's) keeps its
 * counts in memory (core/counters.ts) and sends them to the Sentinel, which sums them in its
 * storage, at most once per flush interval (SELF_METRICS_FLUSH_MS, default 5 s). The flush
 * rides on the request or Durable Object call that counted, through `waitUntil`: nothing is
 * awaited on the counting path. Counts of an isolate that dies before its scheduled flush
 * (at most one interval's worth) are lost; a failed flush keeps them for the next.
 */
import { waitUntil } from "cloudflare:workers";
import type { GuardKind } from "../core/auth-guard";
import {
  type CounterName,
  type CountDelta,
  flushIntervalMs,
  type RefusalReason,
  type SampleSource,
  Tally,
} from "../core/counters";
import type { RuleKind } from "../core/rules/types";

/** This isolate's counts; created on first use with the environment's interval. */
let tally: Tally | null = null;

const tallyOf = (env: Env) => (tally ??= new Tally(flushIntervalMs(env.SELF_METRICS_FLUSH_MS)));

const sentinel = (env: Env) => env.SENTINEL.getByName("main");

function count(env: Env, counter: CounterName, label: string, n: number): void {
  const t = tallyOf(env);
  const delay = t.add(counter, label, n, Date.now());
  if (delay === null) return;
  try {
    waitUntil(flushAfter(env, t, delay));
  } catch (err) {
    // Outside any request (module scope): the counts wait for the next flush.
    console.error("self-metrics: no request to flush counts with", err);
  }
}

async function flushAfter(env: Env, t: Tally, delayMs: number): Promise<void> {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const deltas = t.take(Date.now());
  if (!deltas.length) return;
  try {
    await sentinel(env).addCounts(deltas);
  } catch (err) {
    t.putBack(deltas);
    console.error("self-metrics: flushing counts failed; they go with the next flush", err);
  }
}

export const countAccepted = (env: Env, source: SampleSource, n: number) => count(env, "samples_accepted", source, n);
export const countRefused = (env: Env, reason: RefusalReason, n: number) => count(env, "samples_refused", reason, n);
export const countEvaluation = (env: Env, kind: RuleKind) => count(env, "rule_evaluations", kind, 1);
export const countAuthFailure = (env: Env, kind: GuardKind) => count(env, "auth_failures", kind, 1);
export const countLockout = (env: Env, kind: GuardKind, n: number) => count(env, "auth_lockouts", kind, n);

/**
 * The totals of every counter, for `GET /metrics`: this isolate's pending counts go with the
 * read (one call), so what it counted itself is never behind. Counts other isolates have
 * not flushed yet are not in them (within one flush interval).
 */
export async function readCounterTotals(env: Env): Promise<CountDelta[]> {
  const t = tallyOf(env);
  const deltas = t.take(Date.now());
  try {
    return await sentinel(env).addCounts(deltas);
  } catch (err) {
    t.putBack(deltas);
    throw err;
  }
}

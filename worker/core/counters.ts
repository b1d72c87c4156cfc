/**
 * The product's own counters (samples accepted and refused, rule evaluations) as one
 * isolate or Durable Object keeps them between flushes: counting is a map update, and the
 * sums go to the Sentinel (which keeps the totals `GET /metrics` reports) at most once per
 * flush interval, so no request waits on a round trip for them. Pure: the clock is passed in.
 */
import { GUARD_KINDS } from "./auth-guard";
import { RULE_KINDS } from "./rules/types";
import { publishAt } from "./throttle";

/** Where accepted samples came from: the path that stored them. */
export const SAMPLE_SOURCES = ["push", "probe", "scrape", "heartbeat", "derived", "self", "demo"] as const;
export type SampleSource = (typeof SAMPLE_SOURCES)[number];

/**
 * Why samples were not stored. A refused request counts all of its samples under the reason
 * it was refused for (a batch is stored whole or refused whole).
 */
export const REFUSAL_REASONS = [
  /** A field, label or value the product cannot hold, or a malformed exposition line (400, or dropped from an exposition). */
  "invalid",
  /** Stamped outside the accepted range: older than the raw window or more than 5 minutes ahead. */
  "timestamp",
  /** More samples than one request may carry, or than the key's per-minute limit (413). */
  "too_large",
  /** The key's per-minute allowance is spent (429). */
  "rate_limited",
  /** Held already at that instant (answered as accepted; ingest is idempotent, the first value stays). */
  "duplicate",
  /** The series store failed to take them (503 to a push). */
  "unavailable",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Each counter and its one label, with the values it takes (all reported, 0 until counted). */
export const COUNTERS = {
  samples_accepted: { label: "source", values: SAMPLE_SOURCES },
  samples_refused: { label: "reason", values: REFUSAL_REASONS },
  rule_evaluations: { label: "kind", values: RULE_KINDS },
  /** Credentials refused (unknown, expired or revoked), by where they were presented. */
  auth_failures: { label: "kind", values: GUARD_KINDS },
  /** Lockouts begun by the brute-force guard (core/auth-guard.ts), by where the failure that began one came. */
  auth_lockouts: { label: "kind", values: GUARD_KINDS },
} as const;
export type CounterName = keyof typeof COUNTERS;

/** Counts of one counter's label value: added since the last flush, or the total. */
export interface CountDelta {
  counter: CounterName;
  label: string;
  n: number;
}

/** How often an isolate flushes its counts unless FLUSH_INTERVAL_MS says otherwise. */
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
/**
 * A flush scheduled this long ago and not started is taken as lost (the request that waited
 * for it was ended: the platform keeps a `waitUntil` 30 s at most), and another is scheduled.
 */
export const LOST_FLUSH_MS = 30_000;

/** The flush interval from the environment's SELF_METRICS_FLUSH_MS (0 in tests: every count goes at once). */
export function flushIntervalMs(setting: string | undefined): number {
  const ms = setting === undefined || setting.trim() === "" ? NaN : Number(setting);
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_FLUSH_INTERVAL_MS;
}

/**
 * Counts not flushed yet, and when to flush them: at once when the last flush started at
 * least an interval ago, else when the interval ends; one flush is scheduled at a time, and
 * every count until it starts goes with it. So an isolate costs the Sentinel one call per
 * interval at most, and loses at most the counts of its last interval if it dies.
 */
export class Tally {
  private readonly pending = new Map<string, CountDelta>();
  private lastFlushAt: number | null = null;
  private scheduledAt: number | null = null;

  constructor(readonly intervalMs: number) {}

  /**
   * Adds `n` (ignored unless a positive integer). Returns the delay in ms after which the
   * caller should flush, or null when a flush is scheduled already (or nothing was added).
   */
  add(counter: CounterName, label: string, n: number, now: number): number | null {
    if (!Number.isInteger(n) || n <= 0) return null;
    const key = `${counter}\u0000${label}`;
    const entry = this.pending.get(key);
    if (entry) entry.n += n;
    else this.pending.set(key, { counter, label, n });
    if (this.scheduledAt !== null && now - this.scheduledAt < LOST_FLUSH_MS) return null;
    this.scheduledAt = publishAt(now, this.lastFlushAt, this.intervalMs);
    return this.scheduledAt - now;
  }

  /** Counts waiting for a flush. */
  get size(): number {
    return this.pending.size;
  }

  /** Everything pending, for a flush starting at `now`; the tally starts again from empty. */
  take(now: number): CountDelta[] {
    const deltas = [...this.pending.values()];
    this.pending.clear();
    this.lastFlushAt = now;
    this.scheduledAt = null;
    return deltas;
  }

  /** A flush failed: its counts wait for the next one (scheduled by the next count). */
  putBack(deltas: readonly CountDelta[]): void {
    for (const d of deltas) {
      const key = `${d.counter}\u0000${d.label}`;
      const entry = this.pending.get(key);
      if (entry) entry.n += d.n;
      else this.pending.set(key, { ...d });
    }
  }
}

/**
 * Every series of every counter, in `COUNTERS` order: the known label values first (0 when
 * never counted, so a scraper sees each series from the start), then any other value stored.
 */
export function counterSeries(totals: readonly CountDelta[]): CountDelta[] {
  const out: CountDelta[] = [];
  for (const [counter, { values }] of Object.entries(COUNTERS) as [CounterName, (typeof COUNTERS)[CounterName]][]) {
    const mine = totals.filter((t) => t.counter === counter);
    const known = new Set<string>(values);
    for (const label of values) {
      out.push({ counter, label, n: mine.find((t) => t.label === label)?.n ?? 0 });
    }
    for (const t of mine) if (!known.has(t.label)) out.push({ counter, label: t.label, n: t.n });
  }
  return out;
}

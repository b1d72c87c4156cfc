/**
 * Sentinel: one Durable Object (named "main") whose alarm lands on the next heartbeat
 * deadline, so a silent job is marked late within a second of its period + grace rather
 * than at the next per-minute cron (which stays as the safety net). Pings and the cron tell
 * it the deadlines they see; each alarm checks the heartbeats and sets the next one. It
 * also keeps when the cron last ran, which /healthz judges (core/self-health); every
 * WATCH_EVERY_MS it takes the monitor's samples of itself (handlers/self-watch.ts) that the
 * built-in rules alert on (the cron starts the loop and restarts it should it stop; the
 * loop, in turn, notices a cron that stopped); and it keeps the totals of the product's own
 * counters, which every isolate adds its counts to now and then (lib/counters.ts) and
 * `GET /metrics` reports.
 */
import { DurableObject } from "cloudflare:workers";
import type { CountDelta } from "../worker/core/counters";
import { WATCH_EVERY_MS } from "../worker/core/self-watch";
import { checkHeartbeats } from "../worker/handlers/heartbeats";
import { watchSelf } from "../worker/handlers/self-watch";
import { pingDeadman } from "../worker/lib/deadman";

/** After a failed check the alarm tries again this much later. */
const RETRY_MS = 5_000;
/** The alarm loop's own dead-man ping, with DEADMAN_URL set. */
const DEADMAN_EVERY_MS = 60_000;

export class Sentinel extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS counters (counter TEXT NOT NULL, label TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (counter, label))",
    );
  }

  /** Adds an isolate's counts to the totals (in one transaction) and returns every total. */
  async addCounts(deltas: readonly CountDelta[]): Promise<CountDelta[]> {
    const sql = this.ctx.storage.sql;
    if (deltas.length) {
      this.ctx.storage.transactionSync(() => {
        for (const d of deltas) {
          sql.exec(
            "INSERT INTO counters (counter, label, n) VALUES (?, ?, ?) ON CONFLICT (counter, label) DO UPDATE SET n = n + excluded.n",
            d.counter,
            d.label,
            d.n,
          );
        }
      });
    }
    return sql
      .exec<{ counter: CountDelta["counter"]; label: string; n: number }>("SELECT counter, label, n FROM counters")
      .toArray()
      .map(({ counter, label, n }) => ({ counter, label, n }));
  }

  /** A heartbeat deadline seen elsewhere: the alarm comes then, unless it comes sooner already. */
  async heartbeatDue(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
  }

  /** The per-minute cron ran at `at`. */
  async cronTicked(at: number): Promise<void> {
    await this.ctx.storage.put("cronAt", at);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + WATCH_EVERY_MS);
  }

  /** What the sentinel knows: the cron's last tick and its next alarm. */
  async status(): Promise<{ cronAt: number | null; nextCheck: number | null }> {
    const cronAt = (await this.ctx.storage.get<number>("cronAt")) ?? null;
    return { cronAt, nextCheck: await this.ctx.storage.getAlarm() };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    let next: number | null;
    try {
      // Only the monitors due change: the cron keeps every series continuous.
      next = await checkHeartbeats(this.env, now, { continuity: false });
    } catch (err) {
      console.error("sentinel: heartbeat check failed", err);
      next = now + RETRY_MS;
    }
    next = Math.min(next ?? Infinity, await this.every("watchAt", WATCH_EVERY_MS, now, () => this.watch(now)));
    if (this.env.DEADMAN_URL) {
      next = Math.min(
        next,
        await this.every("deadmanAt", DEADMAN_EVERY_MS, now, () => pingDeadman(this.env, "alarm", now)),
      );
    }
    await this.ctx.storage.setAlarm(Math.max(next, now + 1));
  }

  /** Runs `task` when its time (kept under `key`) has come; returns when it is next due. */
  private async every(key: string, periodMs: number, now: number, task: () => Promise<void>): Promise<number> {
    const due = (await this.ctx.storage.get<number>(key)) ?? 0;
    if (due > now) return due;
    await task();
    await this.ctx.storage.put(key, now + periodMs);
    return now + periodMs;
  }

  /** The monitor's samples of itself; a failed watch is logged and tried again at the next one. */
  private async watch(now: number): Promise<void> {
    const cronAt = (await this.ctx.storage.get<number>("cronAt")) ?? null;
    await watchSelf(this.env, now, cronAt).catch((err: unknown) => console.error("sentinel: self-watch failed", err));
  }
}

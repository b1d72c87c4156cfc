/**
 * ProbeRunner: the alarm loop of up to six monitors faster than the per-minute cron
 * (grouping in core/schedule.ts). Their config and slots live in its SQLite storage.
 * Runners named after a location hint (core/confirm.ts) hold no monitors: they only
 * answer `confirm`, probing once from their location when another one saw a failure.
 */
import { DurableObject } from "cloudflare:workers";
import type { ProbeMonitor, RunSlot } from "../worker/core/probe";
import {
  MAX_CONCURRENT_PROBES,
  RUNNER_SELF_CHECK_MS,
  firstSlot,
  nextSlot,
  rearmAt,
  runBounded,
} from "../worker/core/schedule";
import { selectLoopMonitors } from "../worker/db/monitors";
import { type ConfirmAnswer, confirmProbe, runMonitor } from "../worker/handlers/probes";

export interface RunnerStatus {
  /** Monitors this runner holds. */
  monitors: number;
  alarmAt: number | null;
  /** When the last alarm run finished. */
  lastRunAt: number | null;
  /** The earliest pending run of its monitors, null when it has none. */
  nextRunAt: number | null;
}

export interface SyncResult extends RunnerStatus {
  /** The watchdog found the alarm missing or stuck and set it again. */
  rearmed: boolean;
}

interface MonitorRow extends Record<string, SqlStorageValue> {
  id: number;
  monitor: string;
  interval_ms: number;
  next_run_at: number;
  last_run_at: number | null;
}

export class ProbeRunner extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS monitors (
        id INTEGER PRIMARY KEY, monitor TEXT NOT NULL, interval_ms INTEGER NOT NULL,
        next_run_at INTEGER NOT NULL, last_run_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
  }

  /** Takes (or updates) a monitor; a changed interval starts a new schedule. */
  async assign(monitor: ProbeMonitor): Promise<RunnerStatus> {
    this.upsert(monitor, Date.now());
    await this.arm();
    return this.status();
  }

  /** Drops a monitor (deleted, paused, or now on the cron path); no-op when absent. */
  async unassign(id: number): Promise<RunnerStatus> {
    const removed = this.ctx.storage.sql.exec("DELETE FROM monitors WHERE id = ?", id).rowsWritten;
    if (removed > 0) await this.arm();
    return this.status();
  }

  /**
   * The watchdog's call: holds exactly `monitors` from now on, keeping the slots of
   * unchanged ones, and re-arms an alarm that is missing, stuck in the past or late.
   */
  async sync(monitors: ProbeMonitor[]): Promise<SyncResult> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    this.hold(monitors, now);
    const state = sql
      .exec<{ earliest: number | null; shortest: number | null }>(
        "SELECT MIN(next_run_at) AS earliest, MIN(interval_ms) AS shortest FROM monitors",
      )
      .one();
    const when = rearmAt(
      { alarmAt: await this.ctx.storage.getAlarm(), earliestDue: state.earliest, minIntervalMs: state.shortest ?? 0 },
      now,
    );
    if (when !== null) await this.setAlarm(when);
    else if (state.earliest === null) await this.arm();
    return { ...(await this.status()), rearmed: when !== null };
  }

  async status(): Promise<RunnerStatus> {
    const row = this.ctx.storage.sql
      .exec<{ n: number; earliest: number | null }>("SELECT COUNT(*) AS n, MIN(next_run_at) AS earliest FROM monitors")
      .one();
    return {
      monitors: row.n,
      alarmAt: await this.ctx.storage.getAlarm(),
      lastRunAt: this.meta("last_run_at"),
      nextRunAt: row.earliest,
    };
  }

  /**
   * Runs the due monitors. Slots advance and the alarm is re-armed before any probe
   * starts, from the scheduled times (no drift, missed slots skipped), and nothing is
   * thrown: a throwing alarm() is retried with backoff and can end the loop.
   */
  override async alarm(): Promise<void> {
    try {
      await this.runDue();
    } catch (err) {
      console.error("probe runner: alarm failed", err);
      await this.arm().catch((e: unknown) => console.error("probe runner: re-arm failed", e));
    }
  }

  /** Probes a monitor once from this runner's location and answers what it saw, recording nothing. */
  async confirm(monitor: ProbeMonitor): Promise<ConfirmAnswer> {
    return confirmProbe(this.env, monitor);
  }

  /** One monitor's run; a seam the tests replace to make a probe throw. */
  async runOne(monitor: ProbeMonitor, slot?: RunSlot): Promise<void> {
    await runMonitor(this.env, monitor, slot);
  }

  private async runDue(): Promise<void> {
    const sql = this.ctx.storage.sql;
    await this.checkAgainstD1(Date.now());
    // Alarms never fire early; one run ahead of time (a test's runDurableObjectAlarm) counts as on time.
    const now = Math.max(Date.now(), this.meta("armed_at") ?? 0);
    const due = sql.exec<MonitorRow>("SELECT * FROM monitors WHERE next_run_at <= ? ORDER BY id", now).toArray();
    for (const row of due) {
      sql.exec(
        "UPDATE monitors SET next_run_at = ? WHERE id = ?",
        nextSlot(row.next_run_at, row.interval_ms, now),
        row.id,
      );
    }
    await this.arm();
    const results = await runBounded(due, MAX_CONCURRENT_PROBES, async (row) => {
      const slot = { at: row.next_run_at, intervalMs: row.interval_ms, first: row.last_run_at === null };
      await this.runOne(JSON.parse(row.monitor) as ProbeMonitor, slot);
      sql.exec("UPDATE monitors SET last_run_at = ? WHERE id = ?", Date.now(), row.id);
    });
    results.forEach((r, i) => {
      if (r.status === "rejected") console.error(`probe runner: monitor ${due[i]?.id} failed`, r.reason);
    });
    this.setMeta("last_run_at", Date.now());
  }

  /** Holds exactly `monitors` from now on, keeping the slots of those whose interval is unchanged. */
  private hold(monitors: readonly ProbeMonitor[], now: number): void {
    const sql = this.ctx.storage.sql;
    const keep = new Set(monitors.map((m) => m.id));
    for (const { id } of sql.exec<{ id: number }>("SELECT id FROM monitors").toArray()) {
      if (!keep.has(id)) sql.exec("DELETE FROM monitors WHERE id = ?", id);
    }
    for (const m of monitors) this.upsert(m, now);
    this.setMeta("synced_at", now);
  }

  /** When the watchdog has not synced this runner lately, asks D1 which of its monitors it should still run. */
  private async checkAgainstD1(now: number): Promise<void> {
    if (now - (this.meta("synced_at") ?? 0) < RUNNER_SELF_CHECK_MS) return;
    const ids = this.ctx.storage.sql
      .exec<{ id: number }>("SELECT id FROM monitors")
      .toArray()
      .map((r) => r.id);
    try {
      this.hold(ids.length > 0 ? await selectLoopMonitors(this.env, ids) : [], now);
    } catch (err) {
      console.error("probe runner: D1 check failed, running the monitors held", err);
    }
  }

  private upsert(monitor: ProbeMonitor, now: number): void {
    const intervalMs = monitor.intervalSeconds * 1000;
    const existing = this.ctx.storage.sql
      .exec<{ interval_ms: number; next_run_at: number }>(
        "SELECT interval_ms, next_run_at FROM monitors WHERE id = ?",
        monitor.id,
      )
      .toArray()[0];
    const nextRunAt =
      existing && existing.interval_ms === intervalMs ? existing.next_run_at : firstSlot(now, intervalMs);
    this.ctx.storage.sql.exec(
      `INSERT INTO monitors (id, monitor, interval_ms, next_run_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET monitor = excluded.monitor, interval_ms = excluded.interval_ms,
         next_run_at = excluded.next_run_at`,
      monitor.id,
      JSON.stringify(monitor),
      intervalMs,
      nextRunAt,
    );
  }

  /** Sets the alarm to the earliest pending run, or clears it when there is none. */
  private async arm(): Promise<void> {
    const earliest = this.ctx.storage.sql
      .exec<{ earliest: number | null }>("SELECT MIN(next_run_at) AS earliest FROM monitors")
      .one().earliest;
    if (earliest === null) {
      await this.ctx.storage.deleteAlarm();
      this.ctx.storage.sql.exec("DELETE FROM meta WHERE key = 'armed_at'");
    } else {
      await this.setAlarm(earliest);
    }
  }

  private async setAlarm(at: number): Promise<void> {
    await this.ctx.storage.setAlarm(at);
    this.setMeta("armed_at", at);
  }

  private meta(key: string): number | null {
    return (
      this.ctx.storage.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ??
      null
    );
  }

  private setMeta(key: string, value: number): void {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value);
  }
}

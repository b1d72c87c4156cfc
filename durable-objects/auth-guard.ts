/**
 * AuthGuard: keeps credential failure records (core/auth-guard.ts) and ingest keys' token
 * buckets in SQLite, so brute-force lockouts and per-key rate limits hold across isolates,
 * locations and restarts. Failure records are spread over a few named shards by subject
 * (lib/auth-guard.ts); each ingest key's bucket has its own instance, so one busy key does
 * not queue behind another.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type FailureRecord,
  forgetAt,
  type GuardLimits,
  limitOf,
  live,
  lockedFor,
  recordFailure,
} from "../worker/core/auth-guard";
import { createBucket, giveBack, reserve, resize, type TokenBucket } from "../worker/core/rate-limit";

interface FailureRow extends Record<string, SqlStorageValue> {
  subject: string;
  failures: number;
  window_start: number;
  lockouts: number;
  locked_until: number;
}

/** What the guard knows of one subject. */
export interface SubjectState {
  subject: string;
  /** Milliseconds until its lockout ends (0: not locked). */
  lockedMs: number;
}

/** One subject after a failure. */
export interface SubjectFailure extends SubjectState {
  /** It was locked before this failure (which came through an isolate that had not heard). */
  wasLocked: boolean;
  /** This failure locked it. */
  lockedNow: boolean;
}

const toRecord = (r: FailureRow): FailureRecord => ({
  failures: r.failures,
  windowStart: r.window_start,
  lockouts: r.lockouts,
  lockedUntil: r.locked_until,
});

export class AuthGuard extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS failures (
        subject TEXT PRIMARY KEY, failures INTEGER NOT NULL, window_start INTEGER NOT NULL,
        lockouts INTEGER NOT NULL, locked_until INTEGER NOT NULL, forget_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS failures_forget ON failures (forget_at);
      CREATE TABLE IF NOT EXISTS bucket (
        id INTEGER PRIMARY KEY CHECK (id = 1), capacity REAL NOT NULL, tokens REAL NOT NULL,
        refill_per_ms REAL NOT NULL, updated_at INTEGER NOT NULL);`);
  }

  private records(subjects: readonly string[], limits: GuardLimits, now: number): Map<string, FailureRecord> {
    const out = new Map<string, FailureRecord>();
    for (const subject of subjects) {
      const row = this.ctx.storage.sql
        .exec<FailureRow>(
          "SELECT subject, failures, window_start, lockouts, locked_until FROM failures WHERE subject = ?",
          subject,
        )
        .toArray()[0];
      const record = live(row ? toRecord(row) : null, limits, now);
      if (record) out.set(subject, record);
    }
    return out;
  }

  /** The subjects among `subjects` with a live record (failures counted, or a past lockout), and their lockouts. */
  async check(subjects: readonly string[], limits: GuardLimits): Promise<SubjectState[]> {
    const now = Date.now();
    return [...this.records(subjects, limits, now)].map(([subject, record]) => ({
      subject,
      lockedMs: lockedFor(record, now),
    }));
  }

  /** Counts one failure against each of `subjects` (in one transaction). */
  async fail(subjects: readonly string[], limits: GuardLimits): Promise<SubjectFailure[]> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      sql.exec("DELETE FROM failures WHERE forget_at <= ?", now);
      const records = this.records(subjects, limits, now);
      return subjects.map((subject) => {
        const before = records.get(subject) ?? null;
        const { record, lockedNow } = recordFailure(before, limitOf(subject, limits), limits, now);
        sql.exec(
          `INSERT INTO failures (subject, failures, window_start, lockouts, locked_until, forget_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
             lockouts = excluded.lockouts, locked_until = excluded.locked_until, forget_at = excluded.forget_at`,
          subject,
          record.failures,
          record.windowStart,
          record.lockouts,
          record.lockedUntil,
          forgetAt(record, limits),
        );
        return { subject, lockedMs: lockedFor(record, now), wasLocked: lockedFor(before, now) > 0, lockedNow };
      });
    });
  }

  /** A success for these accounts: their failures are forgotten (unless locked: a lockout runs its course). */
  async succeed(accounts: readonly string[]): Promise<void> {
    const now = Date.now();
    for (const subject of accounts) {
      this.ctx.storage.sql.exec("DELETE FROM failures WHERE subject = ? AND locked_until <= ?", subject, now);
    }
  }

  /**
   * The ingest key's bucket (this instance is the key's): takes `need` samples of its
   * `perMinute` allowance and hands out up to `want`, after taking back `returned` that an
   * isolate's expired lease did not use (core/rate-limit.ts leases).
   */
  async reserve(
    perMinute: number,
    need: number,
    want: number,
    returned: number,
  ): Promise<{ granted: number; retryAfterSeconds: number }> {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const row = sql
      .exec<{ capacity: number; tokens: number; refill_per_ms: number; updated_at: number }>(
        "SELECT capacity, tokens, refill_per_ms, updated_at FROM bucket WHERE id = 1",
      )
      .toArray()[0];
    let bucket: TokenBucket = row
      ? { capacity: row.capacity, tokens: row.tokens, refillPerMs: row.refill_per_ms, updatedAt: row.updated_at }
      : createBucket(perMinute, now);
    if (bucket.capacity !== perMinute) bucket = resize(bucket, perMinute, now);
    if (returned > 0) bucket = giveBack(bucket, returned);
    const result = reserve(bucket, need, want, now);
    const b = result.bucket;
    sql.exec(
      `INSERT INTO bucket (id, capacity, tokens, refill_per_ms, updated_at) VALUES (1, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET capacity = excluded.capacity, tokens = excluded.tokens,
         refill_per_ms = excluded.refill_per_ms, updated_at = excluded.updated_at`,
      b.capacity,
      b.tokens,
      b.refillPerMs,
      b.updatedAt,
    );
    return { granted: result.granted, retryAfterSeconds: result.retryAfterSeconds };
  }
}

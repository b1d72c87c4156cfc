/**
 * MetricSeries: one Durable Object per metric family (a metric on a service, named by
 * `familyKey`), holding the state of each of its series (label sets) in its SQLite: the
 * raw window, the latest sample and the minute and hour rollups. A batch touching many
 * label sets of a metric is one call and one transaction, not one per series.
 *
 * Changed latest values go to the SeriesIndex from the write when the family's last update
 * is INDEX_DELAY_MS old (give or take INDEX_EARLY_MS), else on an alarm (coalesced: one
 * update per INDEX_DELAY_MS however busy the family is). The alarm also rolls closed
 * minutes up from the raw samples and merges minutes into hours, writes them to D1
 * `system_metrics`, and prunes.
 * Every new sample also goes to Analytics Engine.
 *
 * A series holds one raw sample per instant (a unique index on `samples (series_id, ts)`):
 * a sample at an instant already held is a duplicate, counted and otherwise ignored, so a
 * retried batch changes nothing (core/duplicates.ts decides; the first value stays).
 *
 * Anomaly detection (on unless ANOMALY_DETECTION is "off"): every new sample is judged by
 * its series' detector, in timestamp order, in the transaction that stores it (a late
 * sample, older than the detector's last, is stored but not judged). Each series' detector
 * state, anomaly episode and newest judgement are kept in memory and checkpointed to the
 * `detectors` table by the alarm (a few KB per series, once a minute rather than on every
 * write); after eviction or restart a detector is its checkpoint with the raw samples stored
 * since replayed through it, so it survives both. Administrators'
 * "expected" feedback damps matching judgements (read from D1, cached FEEDBACK_TTL_MS,
 * cleared by `feedbackChanged`). Episodes that start, grow or end are queued in
 * `anomaly_writes` and upserted into D1 `anomalies` after the call (the alarm retries a
 * failure); starts and ends are announced on the dashboard socket. Anomaly rules read the
 * newest judgement (SeriesWindow.anomaly). The decisions are in core/anomaly/.
 */
import { DurableObject } from "cloudflare:workers";
import { planDataPoints } from "../worker/core/analytics";
import {
  type DuplicateCounts,
  firstPerInstant,
  instantKey,
  NO_DUPLICATES,
  settleAgainstStored,
} from "../worker/core/duplicates";
import {
  HOUR_MS,
  MINUTE_MS,
  ROW_COLUMNS,
  type Resolution,
  type Retention,
  type Rollup,
  type SeriesIdentity,
  type StoredRollup,
  addToRollup,
  bucketStart,
  chunkRows,
  emptyRollup,
  flushOffset,
  heldMinuteMs,
  INDEX_RETRY_MS,
  checkpointAt,
  indexFromWrite,
  isClosed,
  loadRollup,
  mergeRollups,
  nextWakeAt,
  parseRetention,
  planHistoryImport,
  rawPruneBefore,
  rowValues,
  storeRollup,
  withinRawWindow,
} from "../worker/core/rollup";
import { and, eq, isNull, or, sql as sqlExpr } from "drizzle-orm";
import { createDetector, restoreDetector } from "../worker/core/anomaly";
import {
  currentEpisode,
  initialEpisodes,
  restoreEpisodes,
  type Episode,
  type EpisodeEvent,
} from "../worker/core/anomaly/episodes";
import type { FeedbackPattern } from "../worker/core/anomaly/feedback";
import { type LatestJudgement, scoreSamples, type SeriesScorer } from "../worker/core/anomaly/scoring";
import { type AnomalyWrite, familyFeedback, upsertAnomalies } from "../worker/db/anomalies";
import { announceAnomalies } from "../worker/lib/anomalies";
import {
  evaluateFingerprints,
  FRESHNESS_FLOOR_SECONDS,
  FRESHNESS_SAMPLES,
  type FingerprintEvaluation,
  type SeriesWindow,
} from "../worker/core/rules/evaluate";
import { evaluatedBySeries, lookbackSeconds, matchesRule, type Rule } from "../worker/core/rules/types";
import {
  familyKey,
  type Labels,
  type LatestValueRow,
  type Sample,
  type SampleRow,
  seriesKey,
} from "../worker/core/series";
import { getDb } from "../worker/db/client";
import { rowToRule } from "../worker/db/rules";
import { alertRules } from "../worker/db/schema";
import { countEvaluation } from "../worker/lib/counters";
import { seriesIndex } from "../worker/lib/series";

/** A tell of the rules that failed is tried again this much later. */
const RETELL_RETRY_MS = 15_000;
/** Buckets written per alarm; a larger backlog drains on the following alarms. */
const MAX_ROWS_PER_FLUSH = 700;
/** Instants per lookup of the values already held (one more bound parameter for the series). */
const TS_PER_LOOKUP = 99;
/** The index that makes a raw sample unique per series and instant (ingest is idempotent). */
const UNIQUE_SAMPLES_INDEX = "samples_series_ts_unique";
/** Flush rounds an import runs at most (each rolls up to MAX_ROWS_PER_FLUSH buckets); the alarm takes any rest. */
const MAX_IMPORT_FLUSHES = 200;
/**
 * Raw rows per INSERT statement, bound as values (3 each, within the 100 bound parameters a
 * statement takes): cheaper for SQLite than rows decoded from one bound JSON text.
 */
const ROWS_PER_INSERT = 33;
const INSERT_STATEMENTS: string[] = [];
/** The INSERT of `n` raw rows (made once per size, as is its prepared statement). */
function insertSamples(n: number): string {
  return (INSERT_STATEMENTS[n] ??= `INSERT INTO samples (series_id, ts, value) VALUES ${Array.from(
    { length: n },
    () => "(?, ?, ?)",
  ).join(", ")} ON CONFLICT DO NOTHING`);
}
/** Latest values per SeriesIndex update call. */
const INDEX_CHUNK = 1_000;
/** How long the list of rules reading this family is trusted; rule writes also clear it. */
const RULES_TTL_MS = 60_000;
/** How long the family's "expected" feedback is trusted; feedback writes also clear it. */
const FEEDBACK_TTL_MS = 60_000;
/** Detector rows per lookup (one bound parameter each). */
const DETECTORS_PER_LOOKUP = 99;
/** Anomaly rows per D1 batch. */
const ANOMALY_WRITES_PER_BATCH = 50;

const UPSERT_PREFIX = `INSERT INTO system_metrics (${ROW_COLUMNS.join(", ")}) VALUES `;
const UPSERT_SUFFIX = ` ON CONFLICT (series_key, resolution_seconds, bucket_start) DO UPDATE SET ${ROW_COLUMNS.filter(
  (c) => !["series_key", "resolution_seconds", "bucket_start"].includes(c),
)
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")}`;
const ROW_PLACEHOLDERS = `(${ROW_COLUMNS.map(() => "?").join(", ")})`;
/** The same upsert of many rows bound as one JSON array of rows (an import's thousands of rows, in few statements). */
const BULK_UPSERT = `INSERT INTO system_metrics (${ROW_COLUMNS.join(", ")}) SELECT ${ROW_COLUMNS.map(
  (_, i) => `value ->> ${i}`,
).join(", ")} FROM json_each(?) WHERE true${UPSERT_SUFFIX}`;
/** Characters of row values per bulk statement (D1 takes bound values of up to 2 MB). */
const BULK_CHARS = 500_000;

/** What `record` did with a call's samples. */
export interface RecordResult extends DuplicateCounts {
  /** Samples the store holds after the call (new ones and duplicates); the others were too old. */
  held: number;
}

/**
 * Makes the raw samples unique per series and instant, once per object: objects created
 * before ingest was idempotent may hold repeats, of which the first stays. The minutes
 * that held a repeat are marked to be rolled up again (their rows are rewritten without
 * it). Returns how many repeats were deleted.
 */
export function migrateUniqueSamples(sql: SqlStorage): number {
  const done = sql
    .exec("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", UNIQUE_SAMPLES_INDEX)
    .toArray().length;
  if (done) return 0;
  const repeats = "rowid NOT IN (SELECT min(rowid) FROM samples GROUP BY series_id, ts)";
  const removed = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM samples WHERE ${repeats}`).one().n;
  if (removed > 0) {
    sql.exec(
      `INSERT INTO minutes (series_id, bucket_start, rev)
       SELECT DISTINCT series_id, ts - ts % ${MINUTE_MS}, 1 FROM samples WHERE ${repeats}
       ON CONFLICT (series_id, bucket_start) DO UPDATE SET rev = minutes.rev + 1`,
    );
    sql.exec(`DELETE FROM samples WHERE ${repeats}`);
  }
  sql.exec(`CREATE UNIQUE INDEX ${UNIQUE_SAMPLES_INDEX} ON samples (series_id, ts)`);
  // The unique index serves every lookup the plain one did.
  sql.exec("DROP INDEX IF EXISTS samples_series_ts");
  return removed;
}

/** Raw samples held for one series. */
export interface SeriesStats {
  count: number;
  oldest: number | null;
  newest: number | null;
}

interface PendingBucket {
  seriesId: number;
  resolution: Resolution;
  start: number;
  rev: number;
  rollup: Rollup;
}

/**
 * A series' newest sample. Its value and instant are in the raw samples (stored by the same
 * transaction), so a write does not also update the series row: the row's `latest_*` is
 * written only for a newest sample with a message (raw samples have no message column), and
 * from the raw samples before a prune deletes them. A series' newest sample is the newer of
 * its row's and its newest raw sample (the row's on a tie: it has the message).
 */
interface LatestValue {
  ts: number;
  value: number;
  message: string | null;
}

interface SeriesRow extends Record<string, SqlStorageValue> {
  id: number;
  key: string;
  labels: string;
  latest_ts: number | null;
  latest_value: number | null;
  latest_message: string | null;
  raw_ts: number | null;
  raw_value: number | null;
}

/** Each series with its newest sample as `LatestValue` tells, one index lookup for its raw part. */
const SERIES_WITH_LATEST = `SELECT id, key, labels, latest_ts, latest_value, latest_message, raw.ts AS raw_ts, raw.value AS raw_value
  FROM series LEFT JOIN samples AS raw ON raw.series_id = series.id
    AND raw.ts = (SELECT max(ts) FROM samples WHERE series_id = series.id)`;

function latestOf(row: SeriesRow): LatestValue | null {
  const stored =
    row.latest_ts === null || row.latest_value === null
      ? null
      : { ts: row.latest_ts, value: row.latest_value, message: row.latest_message };
  if (row.raw_ts === null || row.raw_value === null || (stored && stored.ts >= row.raw_ts)) return stored;
  return { ts: row.raw_ts, value: row.raw_value, message: null };
}

export class MetricSeries extends DurableObject<Env> {
  private readonly retention: Retention;
  private family: { metric: string; service: string } | null = null;
  /** Series key → row id, and back to the identity. */
  private readonly ids = new Map<string, number>();
  private readonly identities = new Map<number, SeriesIdentity>();
  /** Series this instance has sent to the SeriesIndex whole: later changes go as their latest value only. */
  private readonly inIndex = new Set<number>();
  /**
   * Per series row id, its newest sample (loaded with the series, then kept by each committed
   * write): see `LatestValue` for where it is stored.
   */
  private readonly latestValues = new Map<number, LatestValue>();
  /** The alarm as last set by this instance; undefined until read (saves a storage call per record). */
  private alarmAt: number | null | undefined;
  /** When this instance last started an index update; undefined before its first (it goes at once). */
  private indexedAt: number | undefined;
  /** Per open minute, the series ("id,minute") whose minute row this instance has marked pending. */
  private readonly openMinutes = new Map<number, Set<string>>();
  /** Series whose latest value changed since it was last sent to the SeriesIndex. */
  private readonly unindexed = new Set<number>();
  /** Whether this instance has sent every series' latest value once (its first push does). */
  private indexedAll = false;
  /** When raw samples or held minutes next expire; undefined until the first prune of this instance. */
  private pruneAt: number | null | undefined;
  /** The active rules reading this family, and when they were looked up. */
  private watchers: { rules: Rule[]; at: number } | null = null;
  /** Per rule and fingerprint, the condition last sent to the rule (pushes go on change). */
  private readonly sent = new Map<number, Map<string, { breached: boolean; cleared: boolean; at: number }>>();
  /** Stored samples not yet known to have reached the rules: bumped by each record, so a tell clears only its own. */
  private untoldSeq = 0;
  /** Anomaly detection is on (ANOMALY_DETECTION is not "off"). */
  private readonly detection: boolean;
  /** Per series row id, its detector, anomaly episode and newest judgement, loaded on first use. */
  private readonly scorers = new Map<number, SeriesScorer>();
  /** Series whose scorer moved since its row in `detectors` was written (checkpointScorers). */
  private readonly uncheckpointed = new Set<number>();
  /** When the alarm last checkpointed them (undefined: not yet in this instance). */
  private checkpointedAt: number | undefined;
  /** The family's "expected" feedback by series key, and when it was read. */
  private feedback: { bySeries: Map<string, FeedbackPattern[]>; at: number } | null = null;
  private feedbackRefreshing = false;
  /** Anomaly writes to D1 run one at a time, in order. */
  private anomalyFlush: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.retention = parseRetention(env);
    this.detection = env.ANOMALY_DETECTION?.trim().toLowerCase() !== "off";
    const sql = ctx.storage.sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS family (id INTEGER PRIMARY KEY CHECK (id = 1), metric TEXT NOT NULL, service TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS untold (id INTEGER PRIMARY KEY CHECK (id = 1), since INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS series (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, labels TEXT NOT NULL,
        -- the newest sample where the raw samples do not tell it (LatestValue)
        latest_ts INTEGER, latest_value REAL, latest_message TEXT,
        -- no longer written (what the index has seen is kept in memory, see pushLatest)
        indexed_ts INTEGER);
      CREATE TABLE IF NOT EXISTS samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS minutes (
        series_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, rev INTEGER NOT NULL,
        flushed_rev INTEGER NOT NULL DEFAULT 0, count INTEGER, sum REAL, min REAL, max REAL, sketch TEXT,
        PRIMARY KEY (series_id, bucket_start));
      CREATE INDEX IF NOT EXISTS minutes_pending ON minutes (bucket_start) WHERE rev > flushed_rev;
      CREATE TABLE IF NOT EXISTS hours (
        series_id INTEGER NOT NULL, bucket_start INTEGER NOT NULL, rev INTEGER NOT NULL,
        flushed_rev INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (series_id, bucket_start));
      CREATE INDEX IF NOT EXISTS hours_pending ON hours (bucket_start) WHERE rev > flushed_rev;
      CREATE TABLE IF NOT EXISTS detectors (
        series_id INTEGER PRIMARY KEY, state TEXT NOT NULL, last_ts INTEGER, episodes TEXT NOT NULL, latest TEXT);
      CREATE TABLE IF NOT EXISTS anomaly_writes (
        series_id INTEGER NOT NULL, started_at INTEGER NOT NULL, episode TEXT NOT NULL,
        announce INTEGER NOT NULL, rev INTEGER NOT NULL, PRIMARY KEY (series_id, started_at));
    `);
    const repeats = ctx.storage.transactionSync(() => migrateUniqueSamples(sql));
    if (repeats > 0) {
      // Their minutes are pending again: make sure an alarm rolls them up.
      void ctx.blockConcurrencyWhile(async () => {
        if ((await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
      });
    }
    this.family =
      sql.exec<{ metric: string; service: string }>("SELECT metric, service FROM family").toArray()[0] ?? null;
    for (const row of sql.exec<SeriesRow>(SERIES_WITH_LATEST)) {
      this.remember(row.id, row.key, JSON.parse(row.labels) as Labels);
      const latest = latestOf(row);
      if (latest) this.latestValues.set(row.id, latest);
    }
  }

  /**
   * Stores samples of this family (any of its label sets) and returns how many it holds:
   * samples older than the raw window are refused. A sample at an instant its series
   * already has (stored, or earlier in the call) is not stored again and counted as a
   * duplicate (core/duplicates.ts). New samples mark their minutes for the next rollup,
   * go to Analytics Engine and to the rules reading this family; duplicates go nowhere.
   */
  async record(samples: Sample[]): Promise<RecordResult> {
    const now = Date.now();
    const fresh = samples.filter((s) => withinRawWindow(s.ts, now, this.retention));
    if (!fresh.length) return { held: 0, ...NO_DUPLICATES };
    const patterns = this.detection ? await this.feedbackPatterns(now) : null;
    // Looked up (mostly cached) before the write: with no rule reading this family there is
    // nobody to tell, so no untold mark to write and clear again (a commit of its own). A
    // family's first write (its name not stored yet) marks, and looks them up after.
    const rules = this.family ? await this.rulesReadingThis(now) : null;
    // Stored together with a mark that the rules have not heard of them yet, cleared once they
    // have: a crash before the tell (it runs after the caller's answer) leaves the mark for the
    // alarm, which tells the rules again (retell), so a breach answered 202 still reaches them.
    // Scored in the same transaction: the anomaly episodes they start, grow or end are queued
    // with them (the detectors' own state is checkpointed by the alarm, see checkpointScorers).
    const { earliest, latest, newLatest, added, duplicates, conflicts, anomalyEvents, minuteMarks } =
      this.ctx.storage.transactionSync(() => {
        const stored = this.store(fresh, now);
        if (stored.added.length && rules?.length !== 0) {
          this.ctx.storage.sql.exec("INSERT OR IGNORE INTO untold (id, since) VALUES (1, ?)", now);
        }
        return { ...stored, anomalyEvents: patterns ? this.score(stored.added, stored.addedIds, patterns, true) : 0 };
      });
    this.keepLatest(newLatest);
    this.noteOpenMinutes(minuteMarks, now);
    if (anomalyEvents) this.ctx.waitUntil(this.writeAnomaliesSoon());
    const result = { held: fresh.length, duplicates, conflicts };
    if (!added.length) return result;
    // Nothing was left to prune at the last prune: these samples expire some day.
    if (this.pruneAt === null) this.pruneAt = undefined;
    // New latest values go to the index from this write, without holding up the caller, when
    // the last update is (about) INDEX_DELAY_MS old; else on the alarm at the interval's end,
    // which also retries a failed update. A family written every second needs no alarm for it.
    const indexNow = indexFromWrite(now, this.indexedAt);
    if (indexNow) this.ctx.waitUntil(this.pushLatestOrRetry());
    const wake = nextWakeAt({
      now,
      pendingMinutes: [earliest],
      pendingHours: [],
      oldestRaw: null,
      oldestFlushedMinute: null,
      retention: this.retention,
      offsetMs: this.offsetMs(),
      unindexed: !indexNow,
      indexedAt: this.indexedAt,
    });
    if (this.alarmAt === undefined) {
      const stored = await this.ctx.storage.getAlarm();
      if (this.alarmAt === undefined) this.alarmAt = stored;
    }
    if (wake !== null && (this.alarmAt === null || wake < this.alarmAt)) {
      this.alarmAt = wake;
      await this.ctx.storage.setAlarm(wake);
    }
    try {
      for (const point of planDataPoints(added)) this.env.METRICS_AE.writeDataPoint(point);
    } catch (err) {
      // The samples are stored; the long-range copy is best effort.
      console.error("analytics engine write failed", err);
    }
    await this.tellRules(added, latest, now, rules ?? (await this.rulesReadingThis(now)));
    return result;
  }

  /**
   * Tells the rules reading this family about stored samples, without holding up the
   * caller. Rules on this metric alone (threshold, heartbeat, anomaly) are evaluated here,
   * with the same core code their AlertRule uses: a breach reaches its rule as soon as it
   * is stored, and a healthy busy series does not call its rules on every write (a steady
   * clear condition is sent when it changes). Ratio and absence
   * rules get the samples. A rule that misses a push repairs itself from this store.
   */
  private async tellRules(
    samples: Sample[],
    latest: ReadonlyMap<string, Sample>,
    now: number,
    rules: readonly Rule[],
  ): Promise<void> {
    const seq = ++this.untoldSeq;
    if (!rules.length) {
      this.toldUpTo(seq);
      return;
    }
    const calls: Promise<unknown>[] = [];
    for (const rule of rules) {
      const mine = samples.filter((s) => matchesRule(rule, s));
      if (!mine.length) continue;
      const stub = this.env.ALERT_RULE.getByName(String(rule.id));
      if (!evaluatedBySeries(rule)) {
        calls.push(stub.observe(mine));
        continue;
      }
      const keys = new Set(mine.map((s) => seriesKey(s.metric, s.service, s.labels)));
      const changed = this.evaluateRule(rule, now, keys, latest).filter((e) => this.changedSinceSent(rule.id, e, now));
      if (changed.length) calls.push(stub.evaluated(changed));
    }
    if (!calls.length) {
      this.toldUpTo(seq);
      return;
    }
    this.ctx.waitUntil(
      Promise.allSettled(calls).then((results) => {
        let failed = false;
        for (const r of results) {
          if (r.status === "rejected") {
            failed = true;
            console.error("telling a rule failed", r.reason);
          }
        }
        // A failed tell keeps the mark: the alarm tells the rules again.
        if (failed) this.retellSoon();
        else this.toldUpTo(seq);
      }),
    );
  }

  /** The rules have heard of every sample up to record `seq`: the mark goes, unless a later record set it. */
  private toldUpTo(seq: number): void {
    // Read first: a mark is written only where a rule reads the family, and a delete is a write.
    if (seq === this.untoldSeq && this.untold()) this.ctx.storage.sql.exec("DELETE FROM untold");
  }

  private untold(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM untold").toArray().length > 0;
  }

  /** Brings the alarm forward to the retell's retry. */
  private retellSoon(): void {
    this.wakeBy(Date.now() + RETELL_RETRY_MS);
  }

  /** Brings the alarm forward to `at` (when it is later, or not known). */
  private wakeBy(at: number): void {
    if (this.alarmAt === null || this.alarmAt === undefined || at < this.alarmAt) {
      this.alarmAt = at;
      this.ctx.waitUntil(this.ctx.storage.setAlarm(at));
    }
  }

  /**
   * Tells every rule reading this family where its series stand now, whatever was sent
   * before: series-evaluated rules get the evaluation of all their series, the others the
   * newest sample of each. Run by the alarm while samples are marked untold; true when
   * every rule heard it.
   */
  private async retell(now: number): Promise<boolean> {
    const seq = ++this.untoldSeq;
    const rules = await this.rulesReadingThis(now);
    const calls: Promise<unknown>[] = [];
    // The newest sample of every series, read once for all the rules that take samples.
    let newest: Sample[] | null = null;
    for (const rule of rules) {
      const stub = this.env.ALERT_RULE.getByName(String(rule.id));
      if (evaluatedBySeries(rule)) {
        const evaluations = this.evaluateRule(rule, now);
        if (evaluations.length) calls.push(stub.evaluated(evaluations));
        continue;
      }
      newest ??= [...this.ids.keys()].map((key) => this.latest(key)).filter((s): s is Sample => s !== null);
      const mine = newest.filter((s) => matchesRule(rule, s));
      if (mine.length) calls.push(stub.observe(mine));
    }
    const results = await Promise.allSettled(calls);
    const failed = results.filter((r) => r.status === "rejected");
    for (const r of failed) console.error(`series ${this.name()}: telling a rule again failed`, r.reason);
    if (failed.length) return false;
    console.warn(`series ${this.name()}: ${calls.length} rule(s) told again after an interrupted tell`);
    this.toldUpTo(seq);
    return true;
  }

  /**
   * A rule's evaluation over this family's series it selects (or only those in `keys`):
   * the window it looks back over, and always the newest sample, with its message.
   * `latest` holds the series whose newest sample just changed: a rule reading only the
   * newest sample has nothing new to judge in the others, and needs no read for these.
   */
  evaluateRule(
    rule: Rule,
    now: number,
    keys?: ReadonlySet<string>,
    latest?: ReadonlyMap<string, Sample>,
  ): FingerprintEvaluation[] {
    const lookbackMs = lookbackSeconds(rule) * 1000;
    const windows: SeriesWindow[] = [];
    for (const key of keys ?? this.ids.keys()) {
      const id = this.ids.get(key);
      const identity = id === undefined ? undefined : this.identities.get(id);
      if (!identity || !matchesRule(rule, identity)) continue;
      if (lookbackMs === 0 && latest && !latest.has(key)) continue;
      const newest = latest?.get(key) ?? this.latest(key);
      if (!newest) continue;
      // A rule on the newest sample also gets the few before it, which give its freshness
      // bound; needed only once the newest is older than the bound's floor (not on a fresh push).
      const floorMs = FRESHNESS_FLOOR_SECONDS * 1000;
      const samples =
        lookbackMs > 0
          ? this.since(key, now - lookbackMs)
          : now - newest.ts > floorMs
            ? this.newest(key, FRESHNESS_SAMPLES)
            : [];
      if (samples.at(-1)?.ts === newest.ts) samples[samples.length - 1] = newest;
      else samples.push(newest);
      const window: SeriesWindow = { service: identity.service, labels: identity.labels, samples };
      if (rule.kind === "anomaly" && this.detection && id !== undefined) {
        const judged = this.latestJudgement(id);
        if (judged) window.anomaly = judged;
      }
      windows.push(window);
    }
    countEvaluation(this.env, rule.kind);
    return evaluateFingerprints(rule, { series: windows }, now);
  }

  /** Forgets the family's "expected" feedback (one was written or deleted); the next record reads it again. */
  feedbackChanged(): void {
    this.feedback = null;
  }

  /**
   * The family's feedback patterns by series key. Read from D1 when unknown (awaited); when
   * only older than FEEDBACK_TTL_MS, the held ones serve while a re-read runs. A failed read
   * keeps what was held (none at first: judgements are then undamped).
   */
  private async feedbackPatterns(now: number): Promise<Map<string, FeedbackPattern[]>> {
    const family = this.family;
    const held = this.feedback;
    if (held && now - held.at < FEEDBACK_TTL_MS) return held.bySeries;
    const read = async () => {
      try {
        const bySeries = family ? await familyFeedback(this.env.DB, family.metric, family.service) : new Map();
        this.feedback = { bySeries, at: Date.now() };
      } catch (err) {
        console.error(`series ${this.name()}: reading anomaly feedback failed`, err);
        if (this.feedback) this.feedback.at = Date.now();
      }
    };
    if (!held || !family) {
      await read();
      return this.feedback?.bySeries ?? new Map();
    }
    if (!this.feedbackRefreshing) {
      this.feedbackRefreshing = true;
      this.ctx.waitUntil(read().finally(() => (this.feedbackRefreshing = false)));
    }
    return held.bySeries;
  }

  /**
   * Scorers of these series where not in memory yet: one lookup per chunk of their last
   * checkpoint (or new), then the raw samples stored since it replayed through them, so a
   * scorer stands where it stood before eviction or restart. The replay's episode events are
   * not queued again: they were queued with the samples that made them.
   */
  private loadScorers(ids: readonly number[]): void {
    const missing = ids.filter((id) => !this.scorers.has(id));
    for (let i = 0; i < missing.length; i += DETECTORS_PER_LOOKUP) {
      const chunk = missing.slice(i, i + DETECTORS_PER_LOOKUP);
      const rows = this.ctx.storage.sql.exec<{
        series_id: number;
        state: string;
        last_ts: number | null;
        episodes: string;
        latest: string | null;
      }>(
        `SELECT series_id, state, last_ts, episodes, latest FROM detectors WHERE series_id IN (${chunk.map(() => "?").join(", ")})`,
        ...chunk,
      );
      for (const r of rows) {
        this.scorers.set(r.series_id, {
          detector: restoreDetector(JSON.parse(r.state)),
          episodes: restoreEpisodes(JSON.parse(r.episodes)),
          lastTs: r.last_ts,
          latest: r.latest === null ? null : (JSON.parse(r.latest) as LatestJudgement),
        });
      }
      for (const id of chunk) {
        let scorer = this.scorers.get(id);
        if (!scorer) {
          scorer = { detector: createDetector(), episodes: initialEpisodes(), lastTs: null, latest: null };
          this.scorers.set(id, scorer);
        }
        this.replaySinceCheckpoint(id, scorer);
      }
    }
  }

  /** Judges the raw samples a series stored after its scorer's checkpoint (see loadScorers). */
  private replaySinceCheckpoint(id: number, scorer: SeriesScorer): void {
    const samples = this.ctx.storage.sql
      .exec<{ ts: number; value: number }>(
        "SELECT ts, value FROM samples WHERE series_id = ? AND ts > ? ORDER BY ts",
        id,
        scorer.lastTs ?? Number.MIN_SAFE_INTEGER,
      )
      .toArray();
    if (!samples.length) return;
    const key = this.identities.get(id)?.seriesKey;
    const patterns = (key === undefined ? undefined : this.feedback?.bySeries.get(key)) ?? [];
    try {
      scoreSamples(scorer, samples, patterns);
    } catch (err) {
      // Never stuck on a sample it cannot judge: it goes on from the newest one.
      console.error(`series ${this.name()}: replaying series ${id} since its checkpoint failed`, err);
      scorer.lastTs = samples.at(-1)?.ts ?? scorer.lastTs;
    }
    this.uncheckpointed.add(id);
  }

  /**
   * Writes the scorers changed since their last checkpoint to the `detectors` table (a few
   * KB each). Run by the alarm, at most once per CHECKPOINT_INTERVAL_MS (the alarm may come
   * every second, for the index) and not on every record: a scorer lost with the
   * instance is rebuilt from its checkpoint and the raw samples since (loadScorers).
   */
  private checkpointScorers(ids: Iterable<number> = this.uncheckpointed): void {
    const sql = this.ctx.storage.sql;
    // Deleting the element being visited does not disturb a Set's iteration.
    for (const id of ids) {
      const scorer = this.scorers.get(id);
      this.uncheckpointed.delete(id);
      if (!scorer) continue;
      sql.exec(
        `INSERT INTO detectors (series_id, state, last_ts, episodes, latest) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (series_id) DO UPDATE SET state = excluded.state, last_ts = excluded.last_ts,
             episodes = excluded.episodes, latest = excluded.latest`,
        id,
        JSON.stringify(scorer.detector.toJSON()),
        scorer.lastTs,
        JSON.stringify(scorer.episodes),
        scorer.latest === null ? null : JSON.stringify(scorer.latest),
      );
    }
  }

  /**
   * Scores new samples with their series' detectors (core/anomaly/scoring.ts) and writes
   * each touched series' detector back, and the anomaly episodes that started, grew or ended
   * to the `anomaly_writes` outbox for D1 (`announce`: starts and ends go to the dashboard).
   * Runs inside the caller's transaction. Returns the number of episode events.
   */
  private score(
    added: readonly Sample[],
    ids: readonly number[],
    patterns: Map<string, FeedbackPattern[]>,
    announce: boolean,
  ): number {
    if (!added.length) return 0;
    const bySeries = new Map<number, Sample[]>();
    added.forEach((s, i) => {
      const id = ids[i] as number;
      const list = bySeries.get(id);
      if (list) list.push(s);
      else bySeries.set(id, [s]);
    });
    this.loadScorers([...bySeries.keys()]);
    let events = 0;
    for (const [id, samples] of bySeries) {
      const scorer = this.scorers.get(id);
      const key = this.identities.get(id)?.seriesKey;
      const mine = (key === undefined ? undefined : patterns.get(key)) ?? [];
      if (scorer) events += this.scoreSeries(id, scorer, samples, mine, announce);
    }
    return events;
  }

  /** Scores one series' samples with `scorer` and writes its row and episode events (in the caller's transaction). */
  private scoreSeries(
    id: number,
    scorer: SeriesScorer,
    samples: readonly { ts: number; value: number }[],
    patterns: readonly FeedbackPattern[],
    announce: boolean,
  ): number {
    let result: ReturnType<typeof scoreSamples>;
    try {
      result = scoreSamples(scorer, samples, patterns);
    } catch (err) {
      // Scoring never fails a write: the samples are stored unjudged, and the series' scorer is
      // rebuilt from its checkpoint (the one in memory may be half-way through the call).
      console.error(`series ${this.name()}: scoring failed`, err);
      this.scorers.delete(id);
      return 0;
    }
    if (!result.scored) return 0;
    this.uncheckpointed.add(id);
    for (const event of result.events) this.queueAnomalyWrite(id, event, announce);
    return result.events.length;
  }

  /**
   * Replays every raw sample a series holds through a fresh detector (after an import: the
   * imported past is older than samples stored live meanwhile, which a running detector would
   * skip as late). Its anomalies are rewritten (upserts: the same ones change nothing); an
   * episode the old detector had open and the replay does not reproduce is closed.
   */
  private rescore(
    id: number,
    patterns: readonly FeedbackPattern[],
    past?: { ts: readonly number[]; values: readonly number[] },
  ): void {
    this.loadScorers([id]);
    const old = this.scorers.get(id);
    const scorer: SeriesScorer = {
      detector: createDetector(),
      episodes: initialEpisodes(),
      lastTs: null,
      latest: null,
    };
    this.scorers.set(id, scorer);
    const samples = this.ctx.storage.sql
      .exec<{ ts: number; value: number }>("SELECT ts, value FROM samples WHERE series_id = ? ORDER BY ts", id)
      .toArray();
    // An imported past older than the raw window teaches the detector the series' usual days
    // and weeks first (judged, not listed: only the raw window's anomalies are).
    const first = samples[0]?.ts ?? Number.POSITIVE_INFINITY;
    if (past) {
      for (let i = 0; i < past.ts.length && (past.ts[i] as number) < first; i++) {
        scorer.detector.judge(past.ts[i] as number, past.values[i] as number);
      }
    }
    this.scoreSeries(id, scorer, samples, patterns, false);
    this.checkpointScorers([id]);
    const open = old?.episodes.open;
    const stale = old ? currentEpisode(old.episodes) : null;
    if (open && stale && scorer.episodes.open?.startedAt !== stale.startedAt) {
      const endedAt = open.quietSince ?? old?.lastTs ?? open.lastHighAt;
      this.queueAnomalyWrite(id, { kind: "end", episode: { ...stale, endedAt } }, false);
    }
  }

  private queueAnomalyWrite(seriesId: number, event: EpisodeEvent, announce: boolean): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO anomaly_writes (series_id, started_at, episode, announce, rev) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (series_id, started_at) DO UPDATE SET episode = excluded.episode,
         announce = max(announce, excluded.announce), rev = rev + 1`,
      seriesId,
      event.episode.startedAt,
      JSON.stringify(event.episode),
      announce && event.kind !== "update" ? 1 : 0,
    );
  }

  /** What a series' detector expects at an instant as it stands now (null: unknown series, detection off, or still learning). */
  expectationAt(key: string, ts: number): number | null {
    const id = this.ids.get(key);
    if (id === undefined || !this.detection) return null;
    this.loadScorers([id]);
    return this.scorers.get(id)?.detector.expectationAt(ts)?.expected ?? null;
  }

  /**
   * The newest post-feedback judgement of every series of the family that has one, by series
   * key: what `evaluateRule` gives anomaly rules as `SeriesWindow.anomaly`, for callers that
   * build windows themselves (a rule's dry run). Empty when detection is off.
   */
  latestJudgements(): Record<string, LatestJudgement> {
    if (!this.detection) return {};
    this.loadScorers([...this.identities.keys()]);
    const out: Record<string, LatestJudgement> = {};
    for (const [id, identity] of this.identities) {
      const latest = this.scorers.get(id)?.latest;
      if (latest) out[identity.seriesKey] = latest;
    }
    return out;
  }

  /** The newest post-feedback judgement of a series (for anomaly rules), or null before its first. */
  private latestJudgement(id: number): LatestJudgement | null {
    this.loadScorers([id]);
    return this.scorers.get(id)?.latest ?? null;
  }

  /** Writes the queued anomaly episodes to D1, after any write already running; false when one failed (retried soon). */
  private writeAnomaliesSoon(): Promise<boolean> {
    const run = this.anomalyFlush.then(() => this.writeAnomalies());
    this.anomalyFlush = run.catch(() => undefined);
    return run.then((ok) => {
      if (!ok) this.retellSoon();
      return ok;
    });
  }

  private hasAnomalyWrites(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM anomaly_writes LIMIT 1").toArray().length > 0;
  }

  /**
   * Upserts the queued episodes into D1 `anomalies`, clears those not changed meanwhile,
   * and announces starts and ends on the dashboard socket. False when D1 failed (they stay queued).
   */
  private async writeAnomalies(): Promise<boolean> {
    const sql = this.ctx.storage.sql;
    for (;;) {
      const queued = sql
        .exec<{ series_id: number; started_at: number; episode: string; announce: number; rev: number }>(
          "SELECT series_id, started_at, episode, announce, rev FROM anomaly_writes ORDER BY started_at LIMIT ?",
          ANOMALY_WRITES_PER_BATCH,
        )
        .toArray();
      if (!queued.length) return true;
      const writes: AnomalyWrite[] = [];
      for (const q of queued) {
        const identity = this.identities.get(q.series_id);
        if (!identity) continue;
        writes.push({ ...identity, episode: JSON.parse(q.episode) as Episode });
      }
      let written;
      try {
        written = await upsertAnomalies(this.env.DB, writes);
      } catch (err) {
        console.error(`series ${this.name()}: writing anomalies failed`, err);
        return false;
      }
      this.ctx.storage.transactionSync(() => {
        for (const q of queued) {
          sql.exec(
            "DELETE FROM anomaly_writes WHERE series_id = ? AND started_at = ? AND rev = ?",
            q.series_id,
            q.started_at,
            q.rev,
          );
        }
      });
      const announced = new Set(
        queued.filter((q) => q.announce).map((q) => `${this.identities.get(q.series_id)?.seriesKey}|${q.started_at}`),
      );
      await announceAnomalies(
        this.env,
        written.filter((r) => announced.has(`${r.series_key}|${r.started_at}`)),
      );
    }
  }

  /** Forgets which rules read this family (a rule was written); the next record looks them up again. */
  rulesChanged(): void {
    this.watchers = null;
    this.sent.clear();
  }

  private changedSinceSent(ruleId: number, e: FingerprintEvaluation, now: number): boolean {
    let byFingerprint = this.sent.get(ruleId);
    if (!byFingerprint) this.sent.set(ruleId, (byFingerprint = new Map()));
    const last = byFingerprint.get(e.fingerprint);
    // Breaching evaluations always go (the open alert counts them and tracks its peak); a
    // steady clear condition is news only when it changes (the rule also pulls every minute).
    if (last && !e.breached && last.breached === e.breached && last.cleared === e.cleared) return false;
    byFingerprint.set(e.fingerprint, { breached: e.breached, cleared: e.cleared, at: now });
    return true;
  }

  private async rulesReadingThis(now: number): Promise<Rule[]> {
    const family = this.family;
    if (!family) return [];
    if (this.watchers && now - this.watchers.at < RULES_TTL_MS) return this.watchers.rules;
    try {
      const rows = await getDb(this.env.DB)
        .select()
        .from(alertRules)
        .where(
          and(
            eq(alertRules.isActive, true),
            or(isNull(alertRules.service), eq(alertRules.service, family.service)),
            or(
              eq(alertRules.metricName, family.metric),
              sqlExpr`json_extract(${alertRules.params}, '$.denominator_metric') = ${family.metric}`,
            ),
          ),
        );
      this.watchers = { rules: rows.map(rowToRule), at: now };
    } catch (err) {
      console.error(`series ${this.name()}: looking up rules failed`, err);
      return this.watchers?.rules ?? [];
    }
    return this.watchers.rules;
  }

  /** Samples of one series (by `seriesKey`) with `ts >= since`, oldest first. */
  since(key: string, since: number): Sample[] {
    const id = this.ids.get(key);
    const identity = id === undefined ? undefined : this.identities.get(id);
    if (id === undefined || !identity) return [];
    return this.ctx.storage.sql
      .exec<{ ts: number; value: number }>(
        "SELECT ts, value FROM samples WHERE series_id = ? AND ts >= ? ORDER BY ts",
        id,
        since,
      )
      .toArray()
      .map((r) => this.sample(identity, r.ts, r.value));
  }

  /** The newest `n` stored samples of one series (by `seriesKey`), oldest first. */
  private newest(key: string, n: number): Sample[] {
    const id = this.ids.get(key);
    const identity = id === undefined ? undefined : this.identities.get(id);
    if (id === undefined || !identity) return [];
    return this.ctx.storage.sql
      .exec<{ ts: number; value: number }>(
        "SELECT ts, value FROM (SELECT ts, value FROM samples WHERE series_id = ? ORDER BY ts DESC LIMIT ?) ORDER BY ts",
        id,
        n,
      )
      .toArray()
      .map((r) => this.sample(identity, r.ts, r.value));
  }

  /** Samples of every series of the family with `ts >= since`, by series, oldest first. */
  sinceAll(since: number): Sample[] {
    return [...this.identities.keys()].flatMap((id) => this.since(this.identities.get(id)?.seriesKey ?? "", since));
  }

  /** The newest sample of a series (with its message, when it had one), or null before the first one. */
  latest(key: string): Sample | null {
    const id = this.ids.get(key);
    const identity = id === undefined ? undefined : this.identities.get(id);
    const latest = id === undefined ? undefined : this.latestValues.get(id);
    if (!identity || !latest) return null;
    return this.latestSample(identity, latest);
  }

  /**
   * Imports the past of one series of this family (`ts` oldest first, `values` alike)
   * as if it had been ingested live all along: raw samples from the first whole minute of
   * the raw window on, rolled up and written to D1 by this store's own flush; before that,
   * minute and hour rollups planned by `planHistoryImport` with the same core functions,
   * written as the same `system_metrics` rows. Rules are not told (the past raises no live
   * alert) and nothing goes to Analytics Engine. Idempotent: raw samples at the imported
   * instants are replaced and rows upserted, so a repeated import changes nothing.
   */
  async importHistory(
    metric: string,
    service: string,
    labels: Labels,
    ts: readonly number[],
    values: readonly number[],
  ): Promise<{ raw: number; rows: number }> {
    const now = Date.now();
    const plan = planHistoryImport(ts, values, now, this.retention);
    const sql = this.ctx.storage.sql;
    const patterns = this.detection ? await this.feedbackPatterns(now) : null;
    let newLatest: [number, LatestValue][] = [];
    const id = this.ctx.storage.transactionSync(() => {
      const seriesId = this.idFor({ metric, service, labels, ts: 0, value: 0 });
      const [first, last] = [plan.raw[0], plan.raw.at(-1)];
      if (first && last) {
        sql.exec("DELETE FROM samples WHERE series_id = ? AND ts >= ? AND ts <= ?", seriesId, first.ts, last.ts);
      }
      for (const [start, rollup] of plan.heldMinutes) {
        const r = storeRollup(rollup);
        sql.exec(
          `INSERT INTO minutes (series_id, bucket_start, rev, flushed_rev, count, sum, min, max, sketch)
           VALUES (?, ?, 1, 1, ?, ?, ?, ?, ?)
           ON CONFLICT (series_id, bucket_start) DO UPDATE SET
             count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, sketch = excluded.sketch`,
          seriesId,
          start,
          r.count,
          r.sum,
          r.min,
          r.max,
          r.sketch,
        );
      }
      if (plan.raw.length) {
        const stored = this.store(plan.raw.map((p) => ({ metric, service, labels, ts: p.ts, value: p.value })));
        newLatest = stored.newLatest;
        // The detector learns the imported past; its anomalies are listed, not announced.
        if (patterns && stored.added.length)
          this.rescore(seriesId, patterns.get(this.identities.get(seriesId)?.seriesKey ?? "") ?? [], { ts, values });
      }
      // The series' newest sample may be among the raw samples replaced: its row keeps it.
      const held = newLatest.find(([changed]) => changed === seriesId)?.[1] ?? this.latestValues.get(seriesId);
      if (held) {
        sql.exec(
          "UPDATE series SET latest_ts = ?, latest_value = ?, latest_message = ? WHERE id = ?",
          held.ts,
          held.value,
          held.message,
          seriesId,
        );
      }
      return seriesId;
    });
    this.keepLatest(newLatest);
    if (this.pruneAt === null) this.pruneAt = undefined;
    let rows = 0;
    const identity = this.identities.get(id);
    if (identity) {
      const planned = plan.rows.map((b) => rowValues(identity, b.resolution, b.start, b.rollup));
      const statements = chunkRows(planned, Number.POSITIVE_INFINITY, BULK_CHARS).map((chunk) =>
        this.env.DB.prepare(BULK_UPSERT).bind(JSON.stringify(chunk)),
      );
      if (statements.length) await this.env.DB.batch(statements);
      rows += planned.length;
    }
    // The raw window's minutes and the hours they touch: the alarm's own roll-up and flush, run to the end now.
    for (let round = 0; round < MAX_IMPORT_FLUSHES; round++) {
      const pending = this.ctx.storage.transactionSync(() => this.rollUpClosed(now));
      if (!pending.length) break;
      await this.writeRows(pending);
      this.markFlushed(pending);
      rows += pending.length;
    }
    const anomaliesFailed = this.hasAnomalyWrites() && !(await this.writeAnomaliesSoon());
    await this.rearm(Date.now(), false, false, anomaliesFailed);
    return { raw: plan.raw.length, rows };
  }

  /** Raw samples currently held, per series key asked (zero counts for unknown series). */
  stats(keys: string[]): SeriesStats[] {
    return keys.map((key) => {
      const id = this.ids.get(key);
      if (id === undefined) return { count: 0, oldest: null, newest: null };
      return this.ctx.storage.sql
        .exec<{ count: number; oldest: number | null; newest: number | null }>(
          "SELECT count(*) AS count, min(ts) AS oldest, max(ts) AS newest FROM samples WHERE series_id = ?",
          id,
        )
        .one();
    });
  }

  /** Updates the SeriesIndex, writes closed buckets to D1, prunes expired rows, and sets the next wake-up. */
  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const indexFailed = !(await this.pushLatest());
    const retellFailed = this.untold() && !(await this.retell(Date.now()));
    const anomaliesFailed = this.hasAnomalyWrites() && !(await this.writeAnomaliesSoon());
    const now = Date.now();
    let flushFailed = false;
    const pending = this.ctx.storage.transactionSync(() => {
      if (this.uncheckpointed.size && checkpointAt(now, this.checkpointedAt) <= now) {
        this.checkpointScorers();
        this.checkpointedAt = now;
      }
      return this.rollUpClosed(now);
    });
    if (pending.length) {
      try {
        await this.writeRows(pending);
        this.markFlushed(pending);
      } catch (err) {
        // Kept as pending: the next wake-up rolls them up and writes them again.
        flushFailed = true;
        console.error(`series ${this.name()}: rollup flush failed`, err);
      }
    }
    if (this.pruneAt === undefined || (this.pruneAt !== null && this.pruneAt <= now)) this.prune(now);
    await this.rearm(Date.now(), flushFailed, indexFailed, retellFailed || anomaliesFailed);
  }

  private remember(id: number, key: string, labels: Labels): SeriesIdentity {
    const identity = { seriesKey: key, metric: this.family?.metric ?? "", service: this.family?.service ?? "", labels };
    this.ids.set(key, id);
    this.identities.set(id, identity);
    return identity;
  }

  private name(): string {
    return this.family ? familyKey(this.family.metric, this.family.service) : "(empty)";
  }

  private offsetMs(): number {
    return flushOffset(this.name());
  }

  private sample(id: SeriesIdentity, ts: number, value: number): Sample {
    return { metric: id.metric, service: id.service, labels: id.labels, ts, value };
  }

  private latestSample(id: SeriesIdentity, latest: LatestValue): Sample {
    const sample = this.sample(id, latest.ts, latest.value);
    if (latest.message !== null) sample.message = latest.message;
    return sample;
  }

  /** The row id of a sample's series, created (with the family, on its first sample) when new. */
  private idFor(s: Sample): number {
    const sql = this.ctx.storage.sql;
    if (!this.family) {
      sql.exec("INSERT OR REPLACE INTO family (id, metric, service) VALUES (1, ?, ?)", s.metric, s.service);
      this.family = { metric: s.metric, service: s.service };
    }
    const key = seriesKey(s.metric, s.service, s.labels);
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const id = sql
      .exec<{ id: number }>(
        "INSERT INTO series (key, labels) VALUES (?, ?) RETURNING id",
        key,
        JSON.stringify(s.labels),
      )
      .one().id;
    this.remember(id, key, s.labels);
    return id;
  }

  /**
   * Whether a series' minute ("id,minute") is open at `now` and its row already known to be
   * pending (written by this instance), so a sample in it needs no write. Closed minutes
   * are forgotten as they close.
   */
  private openMinuteMarked(mark: string, now: number): boolean {
    for (const start of this.openMinutes.keys()) {
      if (start + MINUTE_MS <= now) this.openMinutes.delete(start);
    }
    const minute = Number(mark.slice(mark.indexOf(",") + 1));
    return minute + MINUTE_MS > now && this.openMinutes.get(minute)?.has(mark) === true;
  }

  /** Notes minute rows written pending (once their transaction committed: a rolled-back one is not there). */
  private noteOpenMinutes(marks: readonly string[], now: number): void {
    for (const mark of marks) {
      const minute = Number(mark.slice(mark.indexOf(",") + 1));
      if (minute + MINUTE_MS <= now) continue;
      let marked = this.openMinutes.get(minute);
      if (!marked) this.openMinutes.set(minute, (marked = new Set()));
      marked.add(mark);
    }
  }

  /**
   * Inserts the raw rows of instants not held yet (the first sample of each), finds the new
   * latest values (kept by the caller once committed) and marks the minutes touched, from the
   * new samples only; returns the earliest minute touched, the new latest sample of each series
   * whose latest changed, the new samples, and what the others repeated.
   */
  private store(
    samples: Sample[],
    now = Date.now(),
  ): {
    earliest: number;
    latest: Map<string, Sample>;
    /** The new latest values, kept in memory by the caller once the transaction committed (keepLatest). */
    newLatest: [number, LatestValue][];
    added: Sample[];
    addedIds: number[];
    minuteMarks: string[];
  } & DuplicateCounts {
    const sql = this.ctx.storage.sql;
    const rows = samples.map((s) => ({ id: this.idFor(s), ts: s.ts, value: s.value, sample: s }));
    type Row = (typeof rows)[number];
    // Scorers not in memory catch up on what their series stored before this call (loadScorers).
    if (this.detection) this.loadScorers([...new Set(rows.map((r) => r.id))]);
    const once = firstPerInstant(rows, (r) => r.id);
    // Inserted ROWS_PER_INSERT rows a statement, bound as values. Rows get rowids above the
    // largest before them: when fewer went in than were offered (some instants are held
    // already), those rowids tell which did, without a row handed back per sample otherwise.
    const before = sql.exec<{ r: number | null }>("SELECT max(rowid) AS r FROM samples").one().r ?? 0;
    for (let i = 0; i < once.kept.length; i += ROWS_PER_INSERT) {
      const part = once.kept.slice(i, i + ROWS_PER_INSERT);
      const values: number[] = [];
      for (const r of part) values.push(r.id, r.ts, r.value);
      sql.exec(insertSamples(part.length), ...values);
    }
    const count = sql.exec<{ n: number }>("SELECT count(*) AS n FROM samples WHERE rowid > ?", before).one().n;
    let settled: { added: Row[] } & DuplicateCounts = { added: once.kept, ...NO_DUPLICATES };
    if (count < once.kept.length) {
      const inserted = new Set<string>();
      for (const row of sql.exec<{ series_id: number; ts: number }>(
        "SELECT series_id, ts FROM samples WHERE rowid > ?",
        before,
      )) {
        inserted.add(instantKey(row.series_id, row.ts));
      }
      const keyOf = (r: Row) => instantKey(r.id, r.ts);
      const held = this.heldValues(once.kept.filter((r) => !inserted.has(keyOf(r))));
      settled = settleAgainstStored(once.kept, keyOf, inserted, held);
    }
    // Per series its newest new sample, and the minutes its new samples touched.
    const newest = new Map<number, Sample>();
    const minutes = new Set<string>();
    let earliest = Number.POSITIVE_INFINITY;
    for (const { id, sample } of settled.added) {
      const current = newest.get(id);
      if (!current || sample.ts >= current.ts) newest.set(id, sample);
      const minute = bucketStart(sample.ts, 60);
      minutes.add(`${id},${minute}`);
      earliest = Math.min(earliest, minute);
    }
    const latest = new Map<string, Sample>();
    const newLatest: [number, LatestValue][] = [];
    let minuteMarks: string[] = [];
    if (newest.size) {
      // Newer than (or as new as) what the series holds: its new latest sample. The raw row just
      // inserted holds it, so the series row is written only to keep a message (LatestValue).
      const withMessage: [number, number, number, string][] = [];
      for (const [id, sample] of newest) {
        const held = this.latestValues.get(id);
        if (held && held.ts > sample.ts) continue;
        const message = sample.message ?? null;
        newLatest.push([id, { ts: sample.ts, value: sample.value, message }]);
        if (message !== null) withMessage.push([id, sample.ts, sample.value, message]);
        this.unindexed.add(id);
        const identity = this.identities.get(id);
        if (identity) latest.set(identity.seriesKey, { ...sample, labels: identity.labels });
      }
      if (withMessage.length) {
        sql.exec(
          `UPDATE series SET latest_ts = n.value ->> 1, latest_value = n.value ->> 2, latest_message = n.value ->> 3
           FROM json_each(?) AS n WHERE series.id = n.value ->> 0`,
          JSON.stringify(withMessage),
        );
      }
      // A minute still open is pending already (only closed minutes are rolled up and marked
      // flushed), so only its first sample this instance sees writes its row; a closed
      // minute's late sample bumps the rev, which keeps it pending past a roll-up meanwhile.
      const marks = [...minutes].filter((m) => !this.openMinuteMarked(m, now));
      minuteMarks = marks;
      if (marks.length) {
        sql.exec(
          `INSERT INTO minutes (series_id, bucket_start, rev)
           SELECT value ->> 0, value ->> 1, 1 FROM json_each(?) WHERE true
           ON CONFLICT (series_id, bucket_start) DO UPDATE SET rev = minutes.rev + 1`,
          `[${marks.map((m) => `[${m}]`).join(",")}]`,
        );
      }
    }
    return {
      earliest,
      latest,
      newLatest,
      added: settled.added.map((r) => r.sample),
      addedIds: settled.added.map((r) => r.id),
      minuteMarks,
      duplicates: once.duplicates + settled.duplicates,
      conflicts: once.conflicts + settled.conflicts,
    };
  }

  /** The values already held at these instants, by `instantKey`: one lookup per series and chunk. */
  private heldValues(instants: readonly { id: number; ts: number }[]): Map<string, number> {
    const values = new Map<string, number>();
    const bySeries = new Map<number, number[]>();
    for (const { id, ts } of instants) {
      const list = bySeries.get(id);
      if (list) list.push(ts);
      else bySeries.set(id, [ts]);
    }
    for (const [id, list] of bySeries) {
      for (let i = 0; i < list.length; i += TS_PER_LOOKUP) {
        const chunk = list.slice(i, i + TS_PER_LOOKUP);
        for (const row of this.ctx.storage.sql.exec<{ ts: number; value: number }>(
          `SELECT ts, value FROM samples WHERE series_id = ? AND ts IN (${chunk.map(() => "?").join(", ")})`,
          id,
          ...chunk,
        )) {
          values.set(instantKey(id, row.ts), row.value);
        }
      }
    }
    return values;
  }

  /** Keeps the new latest values of a committed write. */
  private keepLatest(changes: readonly [number, LatestValue][]): void {
    for (const [id, latest] of changes) this.latestValues.set(id, latest);
  }

  /** pushLatest from a write: a failed update is retried by the alarm, brought forward for it. */
  private async pushLatestOrRetry(): Promise<void> {
    if (!(await this.pushLatest())) this.wakeBy(Date.now() + INDEX_RETRY_MS);
  }

  /**
   * Sends the latest values the SeriesIndex has not seen; false when that failed (they
   * stay unsent and go with the alarm's retry). The index is a view, so a failure is logged.
   * What was sent is kept in memory, not written per series: an instance's first push sends
   * every series (the index keeps only what is newer than it holds), later ones the series
   * whose latest changed since. A series this instance has sent whole goes as its key and
   * latest value only (`SeriesIndex.updateRows`).
   */
  private async pushLatest(): Promise<boolean> {
    const changed = this.indexedAll ? [...this.unindexed] : [...this.latestValues.keys()];
    if (changed.length === 0) {
      this.indexedAll = true;
      return true;
    }
    const family = this.family;
    if (!family) return true;
    // Each series whole, as a `SampleRow` in JSON text, or for a series the index has, its
    // `LatestValueRow`.
    const rows: { id: number; whole: string | null; value: LatestValueRow | null }[] = [];
    for (const id of changed) {
      const latest = this.latestValues.get(id);
      if (!latest) continue;
      const identity = this.identities.get(id);
      if (!identity) continue;
      const key = identity.seriesKey;
      if (this.inIndex.has(id)) {
        rows.push({ id, whole: null, value: [key, latest.value, latest.ts, latest.message] });
      } else {
        const labels = JSON.stringify(identity.labels);
        const whole: SampleRow = [key, family.metric, family.service, labels, latest.value, latest.ts, latest.message];
        rows.push({ id, whole: JSON.stringify(whole), value: null });
      }
    }
    // Marked sent before the call (a change meanwhile marks its series again), unmarked should it fail.
    for (const row of rows) this.unindexed.delete(row.id);
    if (rows.length) this.indexedAt = Date.now();
    try {
      for (let i = 0; i < rows.length; i += INDEX_CHUNK) {
        const chunk = rows.slice(i, i + INDEX_CHUNK);
        const whole = chunk.flatMap((r) => (r.whole === null ? [] : [r.whole]));
        const values = chunk.flatMap((r) => (r.value === null ? [] : [r.value]));
        await seriesIndex(this.env).updateRows(`[${whole.join(",")}]`, values);
        for (const r of chunk) if (r.whole !== null) this.inIndex.add(r.id);
      }
    } catch (err) {
      console.error(`series ${this.name()}: index update failed`, err);
      for (const row of rows) this.unindexed.add(row.id);
      return false;
    }
    this.indexedAll = true;
    return true;
  }

  /**
   * Rolls closed minutes with new samples up from the raw samples, marks their hours,
   * and merges closed changed hours from their minutes: at most MAX_ROWS_PER_FLUSH, oldest first.
   */
  private rollUpClosed(now: number): PendingBucket[] {
    const sql = this.ctx.storage.sql;
    const minutes = sql
      .exec<{ series_id: number; bucket_start: number; rev: number }>(
        `SELECT series_id, bucket_start, rev FROM minutes
         WHERE rev > flushed_rev AND bucket_start <= ? ORDER BY bucket_start LIMIT ?`,
        now - MINUTE_MS,
        MAX_ROWS_PER_FLUSH,
      )
      .toArray()
      .map((m): PendingBucket => {
        const rollup = emptyRollup();
        for (const r of sql.exec<{ value: number }>(
          "SELECT value FROM samples WHERE series_id = ? AND ts >= ? AND ts < ?",
          m.series_id,
          m.bucket_start,
          m.bucket_start + MINUTE_MS,
        )) {
          addToRollup(rollup, r.value);
        }
        if (rollup.count > 0) {
          const s = storeRollup(rollup);
          sql.exec(
            "UPDATE minutes SET count = ?, sum = ?, min = ?, max = ?, sketch = ? WHERE series_id = ? AND bucket_start = ?",
            s.count,
            s.sum,
            s.min,
            s.max,
            s.sketch,
            m.series_id,
            m.bucket_start,
          );
        }
        sql.exec(
          `INSERT INTO hours (series_id, bucket_start, rev) VALUES (?, ?, 1)
           ON CONFLICT (series_id, bucket_start) DO UPDATE SET rev = hours.rev + 1`,
          m.series_id,
          bucketStart(m.bucket_start, 3600),
        );
        return { seriesId: m.series_id, resolution: 60, start: m.bucket_start, rev: m.rev, rollup };
      });
    const hours = sql
      .exec<{ series_id: number; bucket_start: number; rev: number }>(
        `SELECT series_id, bucket_start, rev FROM hours
         WHERE rev > flushed_rev AND bucket_start <= ? ORDER BY bucket_start LIMIT ?`,
        now - HOUR_MS,
        Math.max(MAX_ROWS_PER_FLUSH - minutes.length, 0),
      )
      .toArray()
      .map((h): PendingBucket => {
        const rollup = emptyRollup();
        for (const part of sql.exec<StoredRollup>(
          `SELECT count, sum, min, max, sketch FROM minutes
           WHERE series_id = ? AND bucket_start >= ? AND bucket_start < ? AND count IS NOT NULL`,
          h.series_id,
          h.bucket_start,
          h.bucket_start + HOUR_MS,
        )) {
          mergeRollups(rollup, loadRollup(part));
        }
        return { seriesId: h.series_id, resolution: 3600, start: h.bucket_start, rev: h.rev, rollup };
      });
    return [...minutes, ...hours].filter((b) => isClosed(b.start, b.resolution, now));
  }

  /** One D1 batch of multi-row upserts: a re-flushed or amended bucket replaces its row. */
  private async writeRows(pending: PendingBucket[]): Promise<void> {
    const rows = pending.flatMap((b) => {
      const identity = this.identities.get(b.seriesId);
      return identity && b.rollup.count > 0 ? [rowValues(identity, b.resolution, b.start, b.rollup)] : [];
    });
    const statements = chunkRows(rows).map((chunk) =>
      this.env.DB.prepare(`${UPSERT_PREFIX}${chunk.map(() => ROW_PLACEHOLDERS).join(", ")}${UPSERT_SUFFIX}`).bind(
        ...chunk.flat(),
      ),
    );
    if (statements.length) await this.env.DB.batch(statements);
  }

  /** Marks what was written; a bucket changed meanwhile keeps a newer rev and stays pending. */
  private markFlushed(pending: PendingBucket[]): void {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      for (const b of pending) {
        const table = b.resolution === 60 ? "minutes" : "hours";
        sql.exec(
          `UPDATE ${table} SET flushed_rev = ? WHERE series_id = ? AND bucket_start = ? AND flushed_rev < ?`,
          b.rev,
          b.seriesId,
          b.start,
          b.rev,
        );
      }
    });
  }

  /** Deletes expired raw samples, minutes and hours, then notes when the next ones expire. */
  private prune(now: number): void {
    const sql = this.ctx.storage.sql;
    const value = (query: string) => sql.exec<{ v: number | null }>(query).one().v;
    const held = now - heldMinuteMs(this.retention);
    this.ctx.storage.transactionSync(() => {
      const pendingMinute = value("SELECT min(bucket_start) AS v FROM minutes WHERE rev > flushed_rev");
      const before = rawPruneBefore(now, this.retention, pendingMinute);
      // A series whose newest sample is about to go keeps it in its row (LatestValue).
      sql.exec(
        `UPDATE series SET latest_ts = raw.ts, latest_value = raw.value, latest_message = NULL
         FROM samples AS raw
         WHERE raw.series_id = series.id AND raw.ts = (SELECT max(ts) FROM samples WHERE series_id = series.id)
           AND raw.ts < ? AND (series.latest_ts IS NULL OR series.latest_ts < raw.ts)`,
        before,
      );
      sql.exec("DELETE FROM samples WHERE series_id IN (SELECT id FROM series) AND ts < ?", before);
      sql.exec("DELETE FROM minutes WHERE bucket_start < ? AND rev = flushed_rev", held);
      // No sample older than the raw window is accepted, so these hours can no longer change.
      sql.exec("DELETE FROM hours WHERE bucket_start < ? AND rev = flushed_rev", held);
    });
    this.pruneAt = nextWakeAt({
      now,
      pendingMinutes: [],
      pendingHours: [],
      // The oldest raw sample by series, each an index lookup.
      oldestRaw: value("SELECT min((SELECT min(ts) FROM samples WHERE series_id = series.id)) AS v FROM series"),
      oldestFlushedMinute: value("SELECT min(bucket_start) AS v FROM minutes WHERE rev = flushed_rev"),
      retention: this.retention,
    });
  }

  private async rearm(now: number, flushFailed: boolean, indexFailed: boolean, retellFailed = false): Promise<void> {
    const sql = this.ctx.storage.sql;
    const value = (query: string) => sql.exec<{ v: number | null }>(query).one().v;
    const pendingMinute = value("SELECT min(bucket_start) AS v FROM minutes WHERE rev > flushed_rev");
    const pendingHour = value("SELECT min(bucket_start) AS v FROM hours WHERE rev > flushed_rev");
    const unindexed = this.unindexed.size > 0 || (!this.indexedAll && this.ids.size > 0);
    const wake = nextWakeAt({
      now,
      pendingMinutes: pendingMinute === null ? [] : [pendingMinute],
      pendingHours: pendingHour === null ? [] : [pendingHour],
      oldestRaw: null,
      oldestFlushedMinute: null,
      retention: this.retention,
      failed: flushFailed,
      offsetMs: this.offsetMs(),
      unindexed: unindexed && (indexFailed ? "failed" : true),
      indexedAt: this.indexedAt,
      uncheckpointed: this.uncheckpointed.size > 0,
      checkpointedAt: this.checkpointedAt,
    });
    const retell = retellFailed ? now + RETELL_RETRY_MS : null;
    const at = [wake, this.pruneAt ?? null, retell].filter((t): t is number => t !== null);
    const next = at.length ? Math.min(...at) : null;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    this.alarmAt = next;
  }
}

/**
 * AlertRule: one Durable Object per rule, named by the rule id. It holds the rule, a
 * buffer of the samples its evaluation needs (pushed by the MetricSeries families as
 * they store them, and loaded from the series store when configured), and the lifecycle
 * state of each series fingerprint. Decisions are core's (evaluation, lifecycle,
 * silences, limits, escalation); this object loads state, calls them, persists the
 * result, writes alerts and their timeline to D1, enqueues notification jobs and sets
 * its alarm to the next deadline, so timers fire without new samples.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { type NotifyEvent, planJobs } from "../worker/core/alerts/jobs";
import {
  acknowledge,
  closeForStop,
  earliestPending,
  type FingerprintState,
  type LifecycleConfig,
  type LifecycleEvent,
  observe,
  resolveManually,
  type StillBreaching,
  stillBreaching,
  tick,
} from "../worker/core/alerts/lifecycle";
import { inhibitedBy } from "../worker/core/alerts/notify-policy";
import { alertLabels, type Silence, silencedBy } from "../worker/core/alerts/silence";
import {
  BACKSTOP_MS,
  behind,
  dueHeld,
  type Effect,
  escalate,
  nextWake,
  openingOf,
  planNotification,
  rowValues,
  SERIES_BACKSTOP_MS,
  stepEvents,
  stillTrue,
  track,
  type HeldNotification,
  type Tracked,
} from "../worker/core/alerts/step";
import {
  calm,
  flushDue,
  flushed,
  type GroupedEvent,
  type GroupKey,
  groupKeyOf,
  idleAt,
  parseGroupKey,
  planGroup,
  settle,
  type StormState,
} from "../worker/core/alerts/storm";
import {
  type EscalationPolicy,
  type EscalationProgress,
  notifyChannels,
  toPolicy,
} from "../worker/core/alerts/escalation";
import {
  evaluateFingerprints,
  type FingerprintEvaluation,
  type KnownSeries,
  type SeriesWindow,
  worseFor,
} from "../worker/core/rules/evaluate";
import { alertMessage } from "../worker/core/rules/render";
import {
  evaluatedBySeries,
  lookbackSeconds,
  matchesRule,
  ruleMetrics,
  type Rule,
  selectsSeries,
} from "../worker/core/rules/types";
import { type Labels, SAMPLE_ROW_COLUMNS, type Sample, sampleRow } from "../worker/core/series";
import {
  type AlertChanges,
  type AlertRow,
  alertsByIds,
  alertStatements,
  type AlertToOpen,
  getAlert,
  groupNotifiedStatements,
  type OpenedAlert,
  openAlerts,
  type TimelineEntry,
} from "../worker/db/alerts";
import { loadPolicy, recipientIds } from "../worker/db/escalation";
import { loadSilences } from "../worker/db/silences";
import { publishAlerts, serviceHealth, slackRoutingOf, snapshotOf } from "../worker/lib/alerts";
import { getDb } from "../worker/db/client";
import { enqueueDurably } from "../worker/db/deliveries";
import { rowToRule, setPendingSince } from "../worker/db/rules";
import { alertRules } from "../worker/db/schema";
import { countEvaluation } from "../worker/lib/counters";
import { familyStub, seriesIndex } from "../worker/lib/series";

/** The buffer is reloaded from the series store this often, repairing any missed push. */
export const REFRESH_MS = 10 * 60_000;
/** Alerts opened per statement when many fire at once (one JSON parameter holds them). */
const OPEN_CHUNK = 200;
/** Dedup updates (last and peak value, count) reach D1 at most this often per alert. */
const SYNC_MS = 10_000;

interface FingerprintRow extends Record<string, SqlStorageValue> {
  fingerprint: string;
  service: string;
  labels: string;
  state: string;
  alert_id: number | null;
  escalation: string | null;
  held: string | null;
  synced_at: number;
  pending_at: number | null;
  message: string | null;
  written: string | null;
}

/** Reads shared by one entry point's alerts (see AlertRule.pass). */
interface Pass {
  silences?: Promise<Silence[]>;
  health?: ReturnType<typeof serviceHealth>;
  recipients: Map<string, Promise<number[]>>;
  /** Rows as inserted in this pass, until something changes them. */
  rows: Map<number, AlertRow>;
  /** Alerts opened ahead for this pass's "fired" events, by fingerprint (openFired). */
  opened: Map<string, OpenedAlert>;
  announced: boolean;
  announceAgain: boolean;
}

/** A fingerprint as the rule tracks it (core/alerts/step). */
type Fingerprint = Tracked;

/** The outcome of a manual resolve: done, not open here, or refused while the series breaches. */
export type ResolveOutcome =
  | { ok: true }
  /** Not tracked here (the rule was reset). */
  | { ok: false; reason: "not_open" }
  /** It resolved on its own just before (its series cleared). */
  | { ok: false; reason: "already_resolved" }
  | ({ ok: false } & StillBreaching);

/** Where the dashboard lists a rule's alerts (absolute with DASHBOARD_URL set). */
function alertsLink(env: Env, ruleId: number, event: GroupedEvent): string {
  const path = `/alerts?rule_id=${ruleId}&status=${event === "resolved" ? "resolved" : "firing"}`;
  const base = env.DASHBOARD_URL?.replace(/\/+$/, "");
  return base ? `${base}${path}` : path;
}

/** What configure is told when a rule stops being evaluated. */
export type StopReason = "disabled" | "deleted";

export class AlertRule extends DurableObject<Env> {
  private rule: Rule | null = null;
  private refreshedAt = 0;
  /** Since when the rule has watched its metrics as they are: an absence counts from here at the earliest. */
  private watchingSince = 0;
  private policy: EscalationPolicy | null | undefined;
  /**
   * Every entry point runs alone: an evaluation awaits D1 between reading a fingerprint
   * and saving it, and a second one interleaved there would open a duplicate alert.
   */
  private queue: Promise<unknown> = Promise.resolve();

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const once = async () => {
      this.pass = { rows: new Map(), opened: new Map(), recipients: new Map(), announced: false, announceAgain: false };
      try {
        return await fn();
      } finally {
        const pass = this.pass;
        this.pass = null;
        // Changes after the pass's first announcement are announced once, at its end.
        if (pass?.announceAgain) await publishAlerts(this.env);
      }
    };
    const run = this.queue.then(once, once);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * What one entry point (an evaluation, an alarm, a manual action) reads from D1 once,
   * however many alerts it touches: 1,000 alerts firing together cost one read of the
   * silences and the recipients, not 1,000.
   */
  private pass: Pass | null = null;

  private passSilences(now: number): Promise<Silence[]> {
    if (!this.pass) return loadSilences(this.env, now);
    return (this.pass.silences ??= loadSilences(this.env, now));
  }

  private passHealth(now: number): ReturnType<typeof serviceHealth> {
    if (!this.pass) return serviceHealth(this.env, now);
    return (this.pass.health ??= serviceHealth(this.env, now));
  }

  private passRecipients(targets: { adminIds?: number[]; roles?: string[] } | null): Promise<number[]> {
    if (!this.pass) return recipientIds(this.env, targets);
    const key = JSON.stringify(targets);
    let ids = this.pass.recipients.get(key);
    if (!ids) this.pass.recipients.set(key, (ids = recipientIds(this.env, targets)));
    return ids;
  }

  /** The alert's row: as this pass last wrote it whole (just inserted), else read. */
  private async alertRow(alertId: number): Promise<AlertRow | null> {
    return this.pass?.rows.get(alertId) ?? getAlert(this.env, alertId);
  }

  /** The live dashboard hears of the first change of a pass at once, of the rest at its end. */
  private async announce(): Promise<void> {
    if (this.pass?.announced) {
      this.pass.announceAgain = true;
      return;
    }
    if (this.pass) this.pass.announced = true;
    await publishAlerts(this.env);
  }

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS config (
        id INTEGER PRIMARY KEY CHECK (id = 1), rule TEXT, refreshed_at INTEGER NOT NULL DEFAULT 0,
        watching_since INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS buffer (
        series_key TEXT NOT NULL, metric TEXT NOT NULL, service TEXT NOT NULL, labels TEXT NOT NULL,
        ts INTEGER NOT NULL, value REAL NOT NULL, message TEXT, PRIMARY KEY (series_key, ts)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS fingerprints (
        fingerprint TEXT PRIMARY KEY, service TEXT NOT NULL, labels TEXT NOT NULL, state TEXT NOT NULL,
        alert_id INTEGER, escalation TEXT, held TEXT, synced_at INTEGER NOT NULL DEFAULT 0, pending_at INTEGER);
      CREATE TABLE IF NOT EXISTS notify_log (at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS storms (event TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS storm_members (
        event TEXT NOT NULL, fingerprint TEXT NOT NULL, alert_id INTEGER NOT NULL, joined_at INTEGER NOT NULL,
        PRIMARY KEY (event, fingerprint));
    `);
    // Columns added after the table: objects created before them gain them here.
    const columns = new Set(
      sql
        .exec<{ name: string }>("PRAGMA table_info(fingerprints)")
        .toArray()
        .map((c) => c.name),
    );
    if (!columns.has("message")) sql.exec("ALTER TABLE fingerprints ADD COLUMN message TEXT");
    if (!columns.has("written")) sql.exec("ALTER TABLE fingerprints ADD COLUMN written TEXT");
    const configColumns = new Set(
      sql
        .exec<{ name: string }>("PRAGMA table_info(config)")
        .toArray()
        .map((c) => c.name),
    );
    // What alert_rules.pending_since was last set to: -1 unknown, 0 none, else since when.
    if (!configColumns.has("pending_written")) {
      sql.exec("ALTER TABLE config ADD COLUMN pending_written INTEGER NOT NULL DEFAULT -1");
    }
    const row = sql
      .exec<{ rule: string | null; refreshed_at: number; watching_since: number }>(
        "SELECT rule, refreshed_at, watching_since FROM config",
      )
      .toArray()[0];
    this.rule = row?.rule ? (JSON.parse(row.rule) as Rule) : null;
    this.refreshedAt = row?.refreshed_at ?? 0;
    this.watchingSince = row?.watching_since ?? 0;
  }

  // ------------------------------------------------------------------ API

  /**
   * Replaces the rule's definition and evaluates it at once. With null the rule stops
   * being evaluated: its open alerts are resolved with a note saying why.
   */
  configure(rule: Rule | null, reason: StopReason = "disabled"): Promise<void> {
    return this.exclusive(() => this.doConfigure(rule, reason, Date.now()));
  }

  private async doConfigure(rule: Rule | null, reason: StopReason, now: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    if (!rule) {
      await this.closeAll(now, reason === "deleted" ? "rule deleted" : "rule disabled");
      this.rule = null;
      sql.exec("DELETE FROM buffer");
      sql.exec("INSERT OR REPLACE INTO config (id, rule, refreshed_at, watching_since) VALUES (1, NULL, 0, 0)");
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const previous = this.rule;
    this.rule = rule;
    this.policy = undefined;
    // What the rule reads may have changed: reload it from the series store.
    if (!previous || JSON.stringify(ruleMetrics(previous)) !== JSON.stringify(ruleMetrics(rule))) {
      sql.exec("DELETE FROM buffer");
      this.watchingSince = now;
    }
    sql.exec(
      "INSERT OR REPLACE INTO config (id, rule, refreshed_at, watching_since) VALUES (1, ?, 0, ?)",
      JSON.stringify(rule),
      this.watchingSince,
    );
    await this.refresh(now);
    await this.evaluate(now);
  }

  async definition(): Promise<Rule | null> {
    return this.rule;
  }

  /** Samples just stored by a family; those the rule reads are buffered and evaluated at once. */
  observe(samples: Sample[]): Promise<void> {
    return this.exclusive(async () => {
      if (!this.rule) await this.resync(Date.now());
      const rule = this.rule;
      if (!rule || evaluatedBySeries(rule)) return;
      const mine = samples.filter((s) => matchesRule(rule, s));
      if (!mine.length) return;
      this.buffer(mine);
      await this.evaluate(Date.now());
    });
  }

  /**
   * Brings the definition in line with D1 (the source of truth), e.g. when the API's
   * configure call after a write failed. Returns whether the rule is active.
   */
  private async resync(now: number): Promise<boolean> {
    const id = Number(this.ctx.id.name ?? this.rule?.id);
    if (!Number.isInteger(id) || id <= 0) return this.rule !== null;
    const [row] = await getDb(this.env.DB).select().from(alertRules).where(eq(alertRules.id, id));
    const current = row && row.isActive ? rowToRule(row) : null;
    if (JSON.stringify(current) === JSON.stringify(this.rule)) return current !== null;
    console.warn(`rule ${id}: definition re-read from D1`);
    await this.doConfigure(current, row ? "disabled" : "deleted", now);
    return current !== null;
  }

  /** Acknowledges an open alert of this rule; false when it is not open here. */
  acknowledgeAlert(alertId: number, by: string, note?: string): Promise<boolean> {
    return this.exclusive(() => this.doAcknowledge(alertId, by, note));
  }

  private async doAcknowledge(alertId: number, by: string, note?: string): Promise<boolean> {
    const fp = this.byAlert(alertId);
    if (!fp || !fp.state.alert || fp.state.resolvedAt !== null) return false;
    const now = Date.now();
    const result = acknowledge(fp.state, now, by, note);
    fp.state = result.state;
    await this.apply(fp, result.events, now);
    this.save(fp);
    await this.rearm(now);
    return true;
  }

  /**
   * Resolves an open alert of this rule by hand; refused while its series still breaches
   * unless `force` (see resolveManually).
   */
  resolveAlert(alertId: number, by: string, note?: string, force = false): Promise<ResolveOutcome> {
    return this.exclusive(() => this.doResolve(alertId, by, note, force));
  }

  private async doResolve(
    alertId: number,
    by: string,
    note: string | undefined,
    force: boolean,
  ): Promise<ResolveOutcome> {
    let fp = this.byAlert(alertId);
    if (!fp || !fp.state.alert || fp.state.resolvedAt !== null) return { ok: false, reason: "not_open" };
    let now = Date.now();
    // "Still breaching" is the rule's latest evaluation: a series-evaluated rule asks its
    // families now, so a clear sample stored a moment ago (its push still on the way) counts.
    if (!force && this.rule && evaluatedBySeries(this.rule) && stillBreaching(fp.state)) {
      await this.evaluate(now);
      now = Date.now();
      fp = this.byAlert(alertId);
      if (!fp || !fp.state.alert) return { ok: false, reason: "not_open" };
      if (fp.state.resolvedAt !== null) return { ok: false, reason: "already_resolved" };
    }
    const result = resolveManually(fp.state, now, by, note, { force });
    if (result.refused) return { ok: false, ...result.refused };
    // A notice due now goes with the resolve, not with the next alarm.
    const noticed = this.rule ? tick(result.state, now, this.config(this.rule), worseFor(this.rule)) : null;
    fp.state = noticed?.state ?? result.state;
    await this.apply(fp, [...result.events, ...(noticed?.events ?? [])], now);
    this.save(fp);
    // Forced while breaching: the data decides at once; a breach still there fires a new alert.
    if (result.state.forcedResolve) await this.evaluate(Date.now());
    else {
      await this.flushGroups(now);
      await this.rearm(now);
    }
    return { ok: true };
  }

  /** The fingerprints and their states (for the API and tests). */
  fingerprints(): {
    fingerprint: string;
    service: string;
    labels: Labels;
    state: FingerprintState;
    alertId: number | null;
  }[] {
    return this.loadAll().map(({ fingerprint, service, labels, state, alertId }) => ({
      fingerprint,
      service,
      labels,
      state,
      alertId,
    }));
  }

  override alarm(): Promise<void> {
    return this.exclusive(() => this.runAlarm());
  }

  private async runAlarm(): Promise<void> {
    const now = Date.now();
    if (!this.rule) return;
    try {
      if (now - this.refreshedAt >= REFRESH_MS) {
        // The definition is re-read too: a write whose configure call failed is caught up here.
        if (!(await this.resync(now))) return;
        await this.refresh(now);
      }
      await this.evaluate(now);
    } catch (err) {
      // Never throw out of alarm(): log, and try again at the backstop.
      console.error(`rule ${this.rule.id}: evaluation failed`, err);
      await this.ctx.storage.setAlarm(now + BACKSTOP_MS);
    }
  }

  // ------------------------------------------------------------------ evaluation

  private config(rule: Rule): LifecycleConfig {
    return {
      forSeconds: rule.forSeconds,
      resolveForSeconds: rule.resolveForSeconds,
      cooldownMinutes: rule.cooldownMinutes,
    };
  }

  /** Evaluates every fingerprint at `now`, applies timers, escalation and held notifications. */
  private async evaluate(now: number): Promise<void> {
    const rule = this.rule;
    if (!rule) return;
    this.prune(now);
    const known = new Map(this.loadAll().map((fp) => [fp.fingerprint, fp]));
    const evaluations = evaluatedBySeries(rule) ? await this.pull(rule, now) : this.evaluateBuffer(rule, known, now);
    await this.applyEvaluations(rule, evaluations, known, now, true);
  }

  /** Evaluations a family pushed (its series' condition changed): applied at once. */
  evaluated(evaluations: FingerprintEvaluation[]): Promise<void> {
    return this.exclusive(async () => {
      if (!this.rule) await this.resync(Date.now());
      const rule = this.rule;
      if (!rule || !evaluatedBySeries(rule)) return;
      const mine = evaluations.filter((e) => selectsSeries(rule, e.service, e.labels));
      if (!mine.length) return;
      const known = new Map(this.loadAll().map((fp) => [fp.fingerprint, fp]));
      await this.applyEvaluations(rule, mine, known, Date.now(), false);
    });
  }

  /** A series-evaluated rule asks the families it reads, which evaluate it where the samples are. */
  private async pull(rule: Rule, now: number): Promise<FingerprintEvaluation[]> {
    const services =
      rule.service !== null
        ? [rule.service]
        : [...new Set((await seriesIndex(this.env).list({ metric: rule.metricName })).map((s) => s.service))];
    const results = await Promise.all(
      services.map((service) => familyStub(this.env, rule.metricName, service).evaluateRule(rule, now)),
    );
    return results.flat();
  }

  /** Ratio and absence rules are evaluated from the samples buffered here. */
  private evaluateBuffer(rule: Rule, known: ReadonlyMap<string, Fingerprint>, now: number): FingerprintEvaluation[] {
    const { series, denominator } = this.windows(rule);
    const knownSeries: KnownSeries[] = [...known.values()].map((fp) => ({ service: fp.service, labels: fp.labels }));
    // A series the rule has never seen is absent since the rule started watching, not forever.
    if (rule.kind === "absence" && rule.service !== null && !series.length && !knownSeries.length) {
      knownSeries.push({ service: rule.service, labels: rule.labels, lastSeenAt: this.watchingSince });
    }
    countEvaluation(this.env, rule.kind);
    return evaluateFingerprints(rule, { series, denominator, known: knownSeries }, now);
  }

  /**
   * Applies evaluations to their fingerprints' lifecycles. `complete`: they cover every
   * series the rule reads, so fingerprints without one only run their timers (and are
   * forgotten once idle).
   */
  private async applyEvaluations(
    rule: Rule,
    evaluations: readonly FingerprintEvaluation[],
    known: Map<string, Fingerprint>,
    now: number,
    complete: boolean,
  ): Promise<void> {
    const cfg = this.config(rule);
    const worse = worseFor(rule);
    const seen = new Set<string>();
    const changes: { fp: Fingerprint; events: LifecycleEvent[]; reason: string }[] = [];
    for (const ev of evaluations) {
      seen.add(ev.fingerprint);
      let fp = known.get(ev.fingerprint);
      if (!fp) {
        fp = track(ev.fingerprint, ev.service, ev.labels);
        known.set(ev.fingerprint, fp);
      }
      const before = JSON.stringify(fp.state);
      const observed = observe(
        fp.state,
        {
          at: now,
          observedAt: ev.observedAt,
          value: ev.value,
          breached: ev.breached,
          cleared: ev.cleared,
          noData: ev.state === "no_data",
        },
        cfg,
        worse,
      );
      const ticked = tick(observed.state, now, cfg, worse);
      fp.state = ticked.state;
      // The message says what the alert's value says: both follow the latest evaluation with a value.
      const message = alertMessage(rule, ev);
      if (ev.value !== null && fp.state.alert && fp.state.resolvedAt === null) fp.message = message;
      const events = [...observed.events, ...ticked.events];
      if (events.length || JSON.stringify(fp.state) !== before || fp.syncedAt === 0 || behind(fp)) {
        changes.push({ fp, events, reason: message });
      }
    }
    // The alerts this pass fires are opened together, then each carried out in turn.
    await this.openFired(rule, changes);
    for (const { fp, events, reason } of changes) {
      await this.apply(fp, events, now, reason);
      this.save(fp);
    }
    for (const fp of known.values()) {
      if (seen.has(fp.fingerprint) || !complete) continue;
      // A series the evaluations no longer cover has no data: its timers stop, as for stale data.
      const missing = { at: now, observedAt: null, value: null, breached: false, cleared: false, noData: true };
      const observed = observe(fp.state, missing, cfg, worse);
      const ticked = tick(observed.state, now, cfg, worse);
      fp.state = ticked.state;
      await this.apply(fp, [...observed.events, ...ticked.events], now);
      // A fingerprint with no data, no alert and nothing pending is forgotten.
      if (fp.state.phase === "ok" && !fp.state.alert && !fp.held.length) this.forget(fp);
      else this.save(fp);
    }
    for (const fp of known.values()) {
      if (await this.escalate(fp, now)) this.save(fp);
      if (await this.releaseHeld(fp, now)) this.save(fp);
    }
    await this.flushGroups(now);
    await this.notePending(known);
    await this.rearm(now);
  }

  /**
   * Keeps alert_rules.pending_since (the rules list's "pending") at the earliest pending series
   * of the rule, written only when it changes.
   */
  private async notePending(known: ReadonlyMap<string, Fingerprint>): Promise<void> {
    const rule = this.rule;
    if (!rule) return;
    const since = earliestPending([...known.values()].map((fp) => fp.state));
    const sql = this.ctx.storage.sql;
    const row = sql.exec<{ pending_written: number }>("SELECT pending_written FROM config").toArray()[0];
    if (!row || row.pending_written === (since ?? 0)) return;
    try {
      await setPendingSince(this.env.DB, rule.id, since);
      sql.exec("UPDATE config SET pending_written = ?", since ?? 0);
    } catch (err) {
      console.error(`rule ${rule.id}: pending state not written`, err);
    }
  }

  /** The buffer as the evaluator's series windows. */
  private windows(rule: Rule): { series: SeriesWindow[]; denominator: SeriesWindow[] } {
    const rows = this.ctx.storage.sql
      .exec<{
        series_key: string;
        metric: string;
        service: string;
        labels: string;
        ts: number;
        value: number;
        message: string | null;
      }>("SELECT series_key, metric, service, labels, ts, value, message FROM buffer ORDER BY series_key, ts")
      .toArray();
    const byKey = new Map<string, { metric: string; window: SeriesWindow & { samples: Sample[] } }>();
    for (const r of rows) {
      let entry = byKey.get(r.series_key);
      if (!entry) {
        const labels = JSON.parse(r.labels) as Labels;
        entry = { metric: r.metric, window: { service: r.service, labels, samples: [] } };
        byKey.set(r.series_key, entry);
      }
      const sample: Sample = {
        metric: r.metric,
        service: r.service,
        labels: entry.window.labels,
        ts: r.ts,
        value: r.value,
      };
      if (r.message !== null) sample.message = r.message;
      entry.window.samples.push(sample);
    }
    const series: SeriesWindow[] = [];
    const denominator: SeriesWindow[] = [];
    for (const { metric, window } of byKey.values()) {
      (metric === rule.metricName ? series : denominator).push(window);
    }
    return { series, denominator };
  }

  private buffer(samples: readonly Sample[]): void {
    const sql = this.ctx.storage.sql;
    for (const s of samples) {
      sql.exec(`INSERT OR REPLACE INTO buffer (${SAMPLE_ROW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`, ...sampleRow(s));
    }
  }

  /** Drops samples older than the rule's lookback, keeping the latest of every series. */
  private prune(now: number): void {
    if (!this.rule) return;
    const cutoff = now - lookbackSeconds(this.rule) * 1000;
    this.ctx.storage.sql.exec(
      `DELETE FROM buffer WHERE ts < ? AND ts < (SELECT max(ts) FROM buffer b WHERE b.series_key = buffer.series_key)`,
      cutoff,
    );
  }

  /** Loads the latest sample of every matching series, and the lookback window, from the series store. */
  private async refresh(now: number): Promise<void> {
    const rule = this.rule;
    if (!rule) return;
    // Series-evaluated rules keep no samples here: they pull evaluations from the families.
    if (evaluatedBySeries(rule)) {
      this.refreshedAt = now;
      return;
    }
    const index = seriesIndex(this.env);
    const lookbackMs = lookbackSeconds(rule) * 1000;
    const found: Sample[] = [];
    for (const metric of ruleMetrics(rule)) {
      const latest = await index.list(rule.service === null ? { metric } : { metric, service: rule.service });
      const mine = latest.filter((s) => matchesRule(rule, s));
      found.push(...mine);
      if (lookbackMs > 0) {
        const services = [...new Set(mine.map((s) => s.service))];
        const windows = await Promise.all(
          services.map((svc) => familyStub(this.env, metric, svc).sinceAll(now - lookbackMs)),
        );
        found.push(...windows.flat().filter((s) => matchesRule(rule, s)));
      }
    }
    this.buffer(found);
    this.refreshedAt = now;
    this.ctx.storage.sql.exec("UPDATE config SET refreshed_at = ? WHERE id = 1", now);
  }

  // ------------------------------------------------------------------ effects

  /** Carries out lifecycle events: core decides what they do (stepEvents), this carries out the effects. */
  private async apply(fp: Fingerprint, events: readonly LifecycleEvent[], now: number, reason?: string): Promise<void> {
    const stepped = stepEvents(fp, events, reason);
    Object.assign(fp, stepped.tracked);
    const changed = await this.carryOut(fp, stepped.effects, now);
    // Deduplicated breaches: last and peak value, count and message, at most every SYNC_MS
    // (the alarm comes back for a change held back).
    if (now - fp.syncedAt >= SYNC_MS && (await this.sync(fp, now))) {
      // Shown with the change announced above (for a change alone it waits for the next one).
      if (changed) await publishAlerts(this.env);
    }
    if (changed) fp.syncedAt = now;
  }

  /**
   * Carries out a fingerprint's effects in order: D1 rows and timeline, the dashboard (which
   * hears of each change of the active alerts as soon as it is in D1, before its
   * notifications are planned), notifications. True when the active alerts changed.
   */
  private async carryOut(fp: Fingerprint, effects: readonly Effect[], now: number): Promise<boolean> {
    const rule = this.rule;
    let changed = false;
    for (const effect of effects) {
      switch (effect.type) {
        case "open": {
          if (!rule) break;
          // Opened with the pass's other alerts when it opens several (openFired), else here.
          const opened =
            this.pass?.opened.get(fp.fingerprint) ??
            (await openAlerts(this.env, rule.id, [this.toOpen(rule, fp, effect)])).get(fp.fingerprint);
          if (!opened) break;
          this.pass?.opened.delete(fp.fingerprint);
          fp.alertId = opened.id;
          if (opened.row) this.pass?.rows.set(opened.id, opened.row);
          if (opened.adopted) console.warn(`rule ${rule.id}: alert ${opened.id} was open already; carried on`);
          // The new row holds the alert's value, peak, count and message as it fired.
          fp.syncedAt = now;
          fp.written = JSON.stringify(rowValues(fp));
          break;
        }
        case "write":
          await this.write(fp, effect.changes, effect.timeline);
          break;
        case "announce":
          changed = true;
          await this.announce();
          break;
        case "notify":
          await this.notify(
            fp,
            effect.event,
            effect.occurrence,
            effect.step,
            now,
            false,
            effect.correctsResolved === true,
          );
          break;
      }
    }
    return changed;
  }

  /** The alert row an "open" effect asks for. */
  private toOpen(rule: Rule, fp: Fingerprint, open: Extract<Effect, { type: "open" }>): AlertToOpen {
    return {
      ruleId: rule.id,
      service: fp.service,
      fingerprint: fp.fingerprint,
      labels: fp.labels,
      severity: rule.severity,
      value: open.value,
      message: open.message,
      observedAt: open.observedAt,
      triggeredAt: open.triggeredAt,
      timeline: open.timeline,
    };
  }

  /** Opens the alerts of every fingerprint that fires in this pass, in one round trip when several do. */
  private async openFired(
    rule: Rule,
    changes: readonly { fp: Fingerprint; events: readonly LifecycleEvent[]; reason: string }[],
  ): Promise<void> {
    const firing = changes.flatMap((c) => {
      const open = openingOf(c.fp, c.events, c.reason);
      return open ? [this.toOpen(rule, c.fp, open)] : [];
    });
    if (firing.length < 2 || !this.pass) return;
    for (let i = 0; i < firing.length; i += OPEN_CHUNK) {
      const part = firing.slice(i, i + OPEN_CHUNK);
      for (const [fingerprint, opened] of await openAlerts(this.env, rule.id, part)) {
        this.pass.opened.set(fingerprint, opened);
      }
    }
  }

  /** Writes the open alert's current values to its row when it is behind; true when written. */
  private async sync(fp: Fingerprint, now: number): Promise<boolean> {
    const values = rowValues(fp);
    if (!values || !behind(fp)) return false;
    await this.write(fp, values, []);
    fp.syncedAt = now;
    fp.written = JSON.stringify(values);
    return true;
  }

  private async write(fp: Fingerprint, changes: AlertChanges, timeline: TimelineEntry[]): Promise<void> {
    if (fp.alertId === null) return;
    if (Object.keys(changes).length) this.pass?.rows.delete(fp.alertId);
    const statements = alertStatements(this.env, fp.alertId, changes, timeline);
    if (statements.length) await this.env.DB.batch(statements);
  }

  /**
   * One notifying event: decided by core (silences, dependencies, the hourly limit; a
   * notified alert's resolve always goes), then enqueued as jobs or recorded as held.
   */
  private async notify(
    fp: Fingerprint,
    event: NotifyEvent,
    occurrence: string,
    step: number,
    now: number,
    retry = false,
    correctsResolved = false,
  ): Promise<boolean> {
    const rule = this.rule;
    if (!rule || fp.alertId === null) return false;
    // The notification quotes the alert's current value and message, not those of the last sync.
    await this.sync(fp, now);
    const row = await this.alertRow(fp.alertId);
    if (!row) return false;
    const labels = alertLabels({
      ruleId: rule.id,
      ruleName: rule.ruleName,
      service: fp.service,
      severity: rule.severity,
      labels: fp.labels,
    });
    const silence =
      event === "resolved" ? { ids: [], until: null } : silencedBy(await this.passSilences(now), labels, now);
    const parents =
      rule.dependsOn.length && event !== "resolved"
        ? inhibitedBy(rule.dependsOn, await this.passHealth(now), fp.service)
        : [];
    const log = this.ctx.storage.sql
      .exec<{ at: number }>("SELECT at FROM notify_log ORDER BY at")
      .toArray()
      .map((r) => r.at);
    const key = groupKeyOf(event, step, correctsResolved);
    const plan = planNotification({
      event,
      occurrence,
      step,
      now,
      retry,
      correctsResolved,
      firingWasNotified: row.firing_notified === 1,
      silence,
      inhibitedBy: parents,
      log,
      maxPerHour: rule.maxAlertsPerHour,
      storm: key ? this.stormState(key) : null,
      held: fp.held,
    });
    switch (plan.action) {
      case "join":
        // Told with the group's next notification (flushGroups); its timeline says so then.
        this.saveStorm(plan.key, plan.storm);
        this.ctx.storage.sql.exec(
          "INSERT OR REPLACE INTO storm_members (event, fingerprint, alert_id, joined_at) VALUES (?, ?, ?, ?)",
          plan.key,
          fp.fingerprint,
          fp.alertId,
          now,
        );
        return true;
      case "send": {
        if (plan.storm) this.saveStorm(plan.storm.key, plan.storm.state);
        const targets = await this.targetsFor(step);
        const jobs = planJobs({
          alert: snapshotOf(row, rule.ruleName),
          event,
          occurrence,
          step,
          adminIds: await this.passRecipients(targets.recipients),
          channels: targets.channels,
          slack: slackRoutingOf(this.env),
          // When the jobs really leave, not when the evaluation began: delivery latency is measured from it.
          now: Date.now(),
        });
        this.pass?.rows.delete(fp.alertId);
        // The outbox: the jobs are written in the batch that records the notification, then
        // enqueued; a crash in between leaves them to the sweeper, not lost.
        await enqueueDurably(
          this.env,
          jobs,
          Date.now(),
          alertStatements(
            this.env,
            fp.alertId,
            plan.firingNotified === (row.firing_notified === 1) ? {} : { firing_notified: plan.firingNotified ? 1 : 0 },
            [{ type: "notified", at: now, details: { event, occurrence, step, jobs: jobs.length } }],
          ),
        );
        if (plan.log) {
          const sql = this.ctx.storage.sql;
          sql.exec("DELETE FROM notify_log");
          for (const at of plan.log) sql.exec("INSERT INTO notify_log (at) VALUES (?)", at);
        }
        return true;
      }
      case "skip":
        // A resolve or acknowledgement of an alert nobody was told about stays quiet.
        return false;
      case "withheld":
        if (plan.timeline) await this.write(fp, {}, [plan.timeline]);
        if (plan.hold) fp.held.push(plan.hold);
        return false;
    }
  }

  private stormState(key: GroupKey): StormState {
    const row = this.ctx.storage.sql
      .exec<{ state: string }>("SELECT state FROM storms WHERE event = ?", key)
      .toArray()[0];
    return row ? (JSON.parse(row.state) as StormState) : calm();
  }

  /** A group's state is kept while it is open; a calm one is forgotten. */
  private saveStorm(key: GroupKey, state: StormState): void {
    if (state.group === null && state.recent.length === 0) {
      this.ctx.storage.sql.exec("DELETE FROM storms WHERE event = ?", key);
      return;
    }
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO storms (event, state) VALUES (?, ?)", key, JSON.stringify(state));
  }

  private stormMembers(key: GroupKey): { fingerprint: string; alert_id: number }[] {
    return this.ctx.storage.sql
      .exec<{ fingerprint: string; alert_id: number }>(
        "SELECT fingerprint, alert_id FROM storm_members WHERE event = ? ORDER BY joined_at",
        key,
      )
      .toArray();
  }

  /** The groups with a state or waiting members (the table's `event` column holds the group key). */
  private stormKeys(): GroupKey[] {
    return this.ctx.storage.sql
      .exec<{ event: GroupKey }>("SELECT event FROM storms UNION SELECT event FROM storm_members")
      .toArray()
      .map((r) => r.event);
  }

  /**
   * Sends each storm group's notification once it is due (all of them with `force`, when
   * the rule stops): members whose alert changed meanwhile are left out (a firing one that
   * resolved, a resolved one whose series fires again), so the group never tells what is no
   * longer true. Then closes groups gone idle.
   */
  private async flushGroups(now: number, force = false): Promise<void> {
    const rule = this.rule;
    if (!rule) return;
    // The rule's fingerprints, read once for every group due.
    let fps: Map<string, Fingerprint> | null = null;
    for (const key of this.stormKeys()) {
      let state = this.stormState(key);
      const pending = this.stormMembers(key);
      const due = flushDue(state, pending.length);
      if (due !== null && (force || due <= now)) {
        fps ??= new Map(this.loadAll().map((fp) => [fp.fingerprint, fp]));
        const tracked = fps;
        const still = pending.filter((m) => stillTrue(key, m.alert_id, tracked.get(m.fingerprint)));
        const ruleStillOpen = [...tracked.values()].some(
          (fp) => fp.state.alert !== null && fp.state.resolvedAt === null,
        );
        if (still.length) await this.sendGroup(rule, key, state, still, now, ruleStillOpen);
        this.ctx.storage.sql.exec(
          "DELETE FROM storm_members WHERE event = ? AND fingerprint IN (SELECT value FROM json_each(?))",
          key,
          JSON.stringify(pending.map((m) => m.fingerprint)),
        );
        if (still.length) state = flushed(state, now, still.length);
      }
      this.saveStorm(key, settle(state, now, this.stormMembers(key).length));
    }
  }

  /** One grouped notification: a job per recipient and channel, written with every member's timeline entry. */
  private async sendGroup(
    rule: Rule,
    key: GroupKey,
    state: StormState,
    members: readonly { alert_id: number }[],
    now: number,
    ruleStillOpen: boolean,
  ): Promise<void> {
    const rows = await alertsByIds(
      this.env,
      members.map((m) => m.alert_id),
    );
    if (!rows.length) return;
    // An escalation step's group goes to that step's recipients and channels.
    const { event, step } = parseGroupKey(key);
    const targets = await this.targetsFor(step);
    const plan = planGroup({
      ruleId: rule.id,
      ruleName: rule.ruleName,
      severity: rule.severity,
      key,
      state,
      now,
      members: rows.map((r) => ({
        alertId: r.id,
        service: r.service,
        labels: JSON.parse(r.labels) as Labels,
        value: r.metric_value,
      })),
      worse: worseFor(rule),
      link: alertsLink(this.env, rule.id, event),
      channels: targets.channels,
      ruleStillOpen,
    });
    const worst = rows.find((r) => r.id === plan.worstAlertId) ?? (rows[0] as AlertRow);
    const { occurrence, notice } = plan;
    const jobs = planJobs({
      alert: snapshotOf(worst, rule.ruleName),
      event,
      occurrence,
      step,
      adminIds: await this.passRecipients(targets.recipients),
      channels: plan.channels,
      slack: slackRoutingOf(this.env),
      now: Date.now(),
    }).map((job) => ({ ...job, notice }));
    const statements = groupNotifiedStatements(
      this.env.DB,
      rows.map((r) => r.id),
      now,
      event === "firing",
      { event, occurrence, step, jobs: jobs.length, group: rows.length },
    );
    await enqueueDurably(this.env, jobs, Date.now(), statements);
    for (const r of rows) this.pass?.rows.delete(r.id);
    // The group counts once against the hourly limit.
    this.ctx.storage.sql.exec("INSERT INTO notify_log (at) VALUES (?)", now);
  }

  /** Sends held notifications whose silence or inhibition may have ended; true when something changed. */
  private async releaseHeld(fp: Fingerprint, now: number): Promise<boolean> {
    const { retry, held } = dueHeld(fp, now);
    if (held.length === fp.held.length) return false;
    fp.held = held;
    for (const h of retry) await this.notify(fp, h.event, h.occurrence, h.step, now, true, h.correctsResolved === true);
    return true;
  }

  /** Escalation steps, reminders and acknowledgement timeouts due now (core decides); true when something changed. */
  private async escalate(fp: Fingerprint, now: number): Promise<boolean> {
    if (!fp.escalation || fp.escalation.resolved) return false;
    const stepped = escalate(fp, await this.loadPolicy(), now);
    if (!stepped) return false;
    Object.assign(fp, stepped.tracked);
    await this.carryOut(fp, stepped.effects, now);
    return true;
  }

  /** Recipients and channels of a notification: the policy step's, else every admin on the rule's channels. */
  private async targetsFor(
    step: number,
  ): Promise<{ recipients: { adminIds?: number[]; roles?: string[] } | null; channels: string[] }> {
    const rule = this.rule;
    const policy = await this.loadPolicy();
    const s = policy?.steps[Math.min(step, policy.steps.length - 1)];
    const channels = notifyChannels(rule?.notificationChannels ?? [], s ? s.channels : null);
    return { recipients: s ? s.targets : null, channels };
  }

  private async loadPolicy(): Promise<EscalationPolicy | null> {
    if (this.policy !== undefined) return this.policy;
    const row = await loadPolicy(this.env, this.rule?.escalationPolicyId ?? null);
    this.policy = row
      ? toPolicy({
          steps: JSON.parse(row.steps) as unknown[],
          repeat_count: row.repeat_count,
          repeat_interval_minutes: row.repeat_interval_minutes,
          ack_timeout_minutes: row.ack_timeout_minutes,
        } as Parameters<typeof toPolicy>[0])
      : null;
    return this.policy;
  }

  /** Resolves every open alert and sends held resolve notices, once each (rule disabled or deleted). */
  private async closeAll(now: number, note: string): Promise<void> {
    for (const fp of this.loadAll()) {
      if (this.rule) {
        const closed = closeForStop(fp.state, now, note);
        fp.state = closed.state;
        await this.apply(fp, closed.events, now);
      }
      this.forget(fp);
    }
    // The rule stops: what its groups hold goes now.
    await this.flushGroups(now, true);
  }

  // ------------------------------------------------------------------ storage

  private byAlert(alertId: number): Fingerprint | null {
    return this.loadAll().find((fp) => fp.alertId === alertId) ?? null;
  }

  private loadAll(): Fingerprint[] {
    return this.ctx.storage.sql
      .exec<FingerprintRow>("SELECT * FROM fingerprints")
      .toArray()
      .map((r) => ({
        fingerprint: r.fingerprint,
        service: r.service,
        labels: JSON.parse(r.labels) as Labels,
        state: JSON.parse(r.state) as FingerprintState,
        alertId: r.alert_id,
        escalation: r.escalation ? (JSON.parse(r.escalation) as EscalationProgress) : null,
        held: r.held ? (JSON.parse(r.held) as HeldNotification[]) : [],
        syncedAt: r.synced_at,
        pendingAt: r.pending_at,
        message: r.message ?? null,
        written: r.written ?? null,
      }));
  }

  private save(fp: Fingerprint): void {
    this.ctx.storage.sql.exec(
      `INSERT OR REPLACE INTO fingerprints
         (fingerprint, service, labels, state, alert_id, escalation, held, synced_at, pending_at, message, written)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      fp.fingerprint,
      fp.service,
      JSON.stringify(fp.labels),
      JSON.stringify(fp.state),
      fp.alertId,
      fp.escalation ? JSON.stringify(fp.escalation) : null,
      fp.held.length ? JSON.stringify(fp.held) : null,
      fp.syncedAt,
      fp.pendingAt,
      fp.message,
      fp.written,
    );
  }

  private forget(fp: Fingerprint): void {
    this.ctx.storage.sql.exec("DELETE FROM fingerprints WHERE fingerprint = ?", fp.fingerprint);
  }

  /** The alarm at the earliest deadline: lifecycle timers, absence, escalation, held notifications, the backstop. */
  private async rearm(now: number): Promise<void> {
    const rule = this.rule;
    if (!rule) return;
    const tracked = this.loadAll();
    const others: (number | null)[] = [];
    for (const key of this.stormKeys()) {
      const state = this.stormState(key);
      others.push(flushDue(state, this.stormMembers(key).length), idleAt(state));
    }
    if (rule.kind === "absence") {
      const latest = this.ctx.storage.sql
        .exec<{ ts: number }>("SELECT max(ts) AS ts FROM buffer GROUP BY series_key")
        .toArray();
      for (const { ts } of latest) others.push(ts + rule.params.absentForSeconds * 1000);
    }
    const escalating = tracked.some((t) => t.escalation && !t.escalation.resolved);
    const at = nextWake({
      now,
      backstopMs: evaluatedBySeries(rule) ? SERIES_BACKSTOP_MS : BACKSTOP_MS,
      config: this.config(rule),
      tracked,
      syncMs: SYNC_MS,
      policy: escalating ? await this.loadPolicy() : null,
      others,
    });
    await this.ctx.storage.setAlarm(at);
  }
}

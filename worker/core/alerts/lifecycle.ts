/**
 * The life of one alert series (a rule × fingerprint): pending → firing → resolving →
 * resolved, with dedup, cooldown re-opens, a flapping hold and delayed resolve notices.
 * Pure and JSON-serialisable: the AlertRule Durable Object stores the state, passes time
 * in, acts on the returned events and sets its alarm to `nextDeadline`.
 *
 * Observations arrive in time order. A hysteresis band (neither breached nor cleared)
 * extends the last decisive condition, like a Schmitt trigger: a pending breach keeps
 * counting towards `forSeconds`, a clear keeps counting towards the resolve. No fresh data
 * (`noData`) decides nothing and completes no timer: a pending breach is dropped (stale
 * data never fires), a resolving alert goes back to firing (stale data never resolves),
 * and an open alert stays open, with its last value, until fresh data clears it.
 */

export interface FlappingConfig {
  /** Flips older than this no longer count. */
  windowSeconds: number;
  /** This many breach<->clear flips within the window mean the series is flapping. */
  minTransitions: number;
  /** While flapping, an open alert resolves only once the condition has been clear this long. */
  stableSeconds: number;
}

export interface LifecycleConfig {
  /** The breach must hold this long before firing (0: fire on the first breach). */
  forSeconds: number;
  /** The condition must be clear this long before resolving (0: at once). */
  resolveForSeconds: number;
  /** A breach within this long after a resolve re-opens the same alert. */
  cooldownMinutes: number;
  /** Default: DEFAULT_FLAPPING. */
  flapping?: FlappingConfig;
}

export const DEFAULT_FLAPPING: FlappingConfig = { windowSeconds: 600, minTransitions: 6, stableSeconds: 300 };

/**
 * The hold on the resolve notice of a young or recently flipped alert, so a quick re-open
 * cancels it (see resolveNoticeDelay).
 */
export const RESOLVE_NOTICE_DELAY_MS = 60_000;
/** An alert that has been open at least this long counts as a stable incident... */
export const STABLE_FIRING_MS = 5 * 60_000;
/** ...unless it re-opened, flapped or its condition flipped more than in and out within this long. */
export const RECENT_FLIP_MS = 10 * 60_000;

/** One evaluation of the rule for a fingerprint. */
export interface Observation {
  /** Evaluation time (epoch ms). */
  at: number;
  /** Time of the sample that decided it (null: no data). */
  observedAt: number | null;
  value: number | null;
  /** The firing condition holds (wins when both flags are set). */
  breached: boolean;
  /** The resolve condition holds (!breached without hysteresis). */
  cleared: boolean;
  /** The evaluation had no fresh data (neither flag set): pending and resolving timers stop. */
  noData?: boolean;
}

export interface OpenAlert {
  /** When it first fired (triggered_at). */
  openedAt: number;
  /** observed_at of the breaching sample that fired it. */
  observedAt: number;
  /** The latest value seen while open, breaching or not. */
  lastValue: number | null;
  /** The most extreme breaching value seen while open (direction via `worse`). */
  peakValue: number | null;
  /** Breach observations while open (dedup count), the firing one included. */
  breaches: number;
  acknowledged: boolean;
  /** Times re-opened within cooldown. */
  reopened: number;
  /** When it last re-opened (absent: never). */
  reopenedAt?: number;
}

export type Condition = "breached" | "cleared";

export interface FingerprintState {
  /** resolving: clear, but resolve_for not yet elapsed (or held open by flapping). */
  phase: "ok" | "pending" | "firing" | "resolving";
  pendingSince: number | null;
  clearSince: number | null;
  /** The open alert (phase firing|resolving), or the last resolved one while its cooldown runs. */
  alert: OpenAlert | null;
  /** When `alert` was resolved (null while open). */
  resolvedAt: number | null;
  /** When the resolve notice goes out unless the alert re-opens first. */
  resolveNoticeDue: number | null;
  /** Times of breach<->clear flips within the flapping window (only the newest minTransitions are kept: all the decision needs). */
  transitions: number[];
  flapping: boolean;
  /** The last decisive condition: what a flip is measured against. */
  condition: Condition | null;
  /** The latest breaching sample: what an alert fired by `tick` reports. */
  lastBreach: { value: number | null; observedAt: number } | null;
  /**
   * The resolved `alert` was resolved by hand with force while its series still breached:
   * its notice waits until the series stops breaching and is dropped if a new alert opens
   * first, and the next breach opens a new alert rather than re-opening it. Absent: false.
   */
  forcedResolve?: boolean;
  /** When flapping last ended (absent: never); a resolve soon after is held like a young one. */
  flappingEndedAt?: number;
}

export type LifecycleEvent =
  | { type: "pending"; at: number; value: number | null }
  | { type: "pending_cleared"; at: number; value: number | null }
  /**
   * A new alert: notify "firing". `afterForcedResolve`: it replaces an alert resolved by
   * force while breaching, so its firing notification must reach people (no hourly limit).
   */
  | { type: "fired"; at: number; value: number | null; observedAt: number; afterForcedResolve?: true }
  /**
   * The same alert re-opened within cooldown: no new firing notification, unless
   * `resolveNoticeSent`: people were already told it was over, so they must hear it is back.
   */
  | { type: "reopened"; at: number; value: number | null; observedAt: number; resolveNoticeSent: boolean }
  /**
   * State + timeline; the notification waits for `resolve_notice`. `by`: who, for a manual
   * resolve; `forced`: by hand with force while the series still breached.
   */
  | { type: "resolved"; at: number; value: number | null; auto: boolean; by?: string; note?: string; forced?: true }
  /** The resolve notification may go out now. */
  | { type: "resolve_notice"; at: number }
  | { type: "flapping_started"; at: number }
  | { type: "flapping_stopped"; at: number }
  | { type: "acknowledged"; at: number; by: string; note?: string };

export interface LifecycleResult {
  state: FingerprintState;
  events: LifecycleEvent[];
}

/** Whether value `a` is more extreme than `b` (the direction of the rule's operator). */
export type Worse = (a: number, b: number) => boolean;

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const defaultWorse: Worse = (a, b) => a > b;
const flappingOf = (cfg: LifecycleConfig) => cfg.flapping ?? DEFAULT_FLAPPING;
const cooldownEnd = (resolvedAt: number, cfg: LifecycleConfig) => resolvedAt + cfg.cooldownMinutes * MINUTE;

export const isOpen = (s: FingerprintState) => s.phase === "firing" || s.phase === "resolving";

export function initialState(): FingerprintState {
  return {
    phase: "ok",
    pendingSince: null,
    clearSince: null,
    alert: null,
    resolvedAt: null,
    resolveNoticeDue: null,
    transitions: [],
    flapping: false,
    condition: null,
    lastBreach: null,
  };
}

/** A working copy: the functions never mutate the state they are given. */
function copy(s: FingerprintState): FingerprintState {
  return {
    ...s,
    alert: s.alert && { ...s.alert },
    transitions: [...s.transitions],
    lastBreach: s.lastBreach && { ...s.lastBreach },
  };
}

/** Flips still inside the window at `now`, newest minTransitions only. */
function recentFlips(transitions: number[], now: number, f: FlappingConfig): number[] {
  const from = now - f.windowSeconds * SECOND;
  const recent = transitions.filter((t) => t > from);
  return recent.slice(Math.max(0, recent.length - f.minTransitions));
}

function foldValue(alert: OpenAlert, value: number | null, breached: boolean, worse: Worse) {
  if (value === null) return;
  alert.lastValue = value;
  if (breached && (alert.peakValue === null || worse(value, alert.peakValue))) alert.peakValue = value;
}

/** Opens the alert: re-opens the resolved one while its cooldown runs, else a new one. */
function open(s: FingerprintState, at: number, cfg: LifecycleConfig, worse: Worse, events: LifecycleEvent[]) {
  const value = s.lastBreach?.value ?? null;
  const observedAt = s.lastBreach?.observedAt ?? at;
  const prev = s.alert;
  const forced = s.forcedResolve === true;
  if (prev && !forced && s.resolvedAt !== null && at < cooldownEnd(s.resolvedAt, cfg)) {
    const resolveNoticeSent = s.resolveNoticeDue === null;
    prev.reopened += 1;
    prev.reopenedAt = at;
    prev.breaches += 1;
    // An ack survives a blip nobody was told about; after a "resolved" notice the
    // alert is news again, so escalation restarts.
    if (resolveNoticeSent) prev.acknowledged = false;
    foldValue(prev, value, true, worse);
    events.push({ type: "reopened", at, value, observedAt, resolveNoticeSent });
  } else {
    // A resolved alert replaced before its notice went out (cooldown shorter than the
    // notice delay) is still announced, before the new one; unless it was resolved by force
    // while breaching: the breach never ended, so its last word stays "firing".
    if (prev && s.resolveNoticeDue !== null && !forced) events.push({ type: "resolve_notice", at });
    s.alert = {
      openedAt: at,
      observedAt,
      lastValue: value,
      peakValue: value,
      breaches: 1,
      acknowledged: false,
      reopened: 0,
    };
    events.push({ type: "fired", at, value, observedAt, ...(forced && prev && { afterForcedResolve: true as const }) });
  }
  s.forcedResolve = false;
  s.phase = "firing";
  s.pendingSince = null;
  s.clearSince = null;
  s.resolvedAt = null;
  s.resolveNoticeDue = null;
}

/**
 * How long the resolve notice of the open alert waits when it resolves at `at`: not at all
 * for a stable incident (open at least STABLE_FIRING_MS, no re-open, flapping or flip other
 * than its own breach and clear within RECENT_FLIP_MS), RESOLVE_NOTICE_DELAY_MS otherwise, so
 * a young or wobbly alert that comes back at once is not announced as over.
 */
export function resolveNoticeDelay(s: FingerprintState, at: number): number {
  const a = s.alert;
  if (!a) return RESOLVE_NOTICE_DELAY_MS;
  const recent = (t: number | undefined) => t !== undefined && t > at - RECENT_FLIP_MS;
  const young = at - a.openedAt < STABLE_FIRING_MS;
  // The incident's own flips: into the breach (absent for a series' first) and out of it.
  const flips = s.transitions.filter((t) => recent(t)).length;
  const wobbly = s.flapping || recent(a.reopenedAt) || recent(s.flappingEndedAt) || flips > 2;
  return young || wobbly ? RESOLVE_NOTICE_DELAY_MS : 0;
}

function resolve(
  s: FingerprintState,
  at: number,
  events: LifecycleEvent[],
  manual?: { by: string; note?: string; forced?: boolean },
) {
  const value = s.alert?.lastValue ?? null;
  const delay = manual ? 0 : resolveNoticeDelay(s, at);
  s.phase = "ok";
  s.pendingSince = null;
  s.clearSince = null;
  s.resolvedAt = at;
  s.resolveNoticeDue = at + delay;
  s.forcedResolve = manual?.forced === true;
  events.push({
    type: "resolved",
    at,
    value,
    auto: !manual,
    ...(manual && { by: manual.by }),
    ...(manual?.note !== undefined && { note: manual.note }),
    ...(manual?.forced === true && { forced: true as const }),
  });
}

/**
 * `clearHistory`: when flapping ends because the series settled, counting starts afresh;
 * otherwise the old flips would call the next single blip flapping again.
 */
function stopFlapping(s: FingerprintState, at: number, events: LifecycleEvent[], clearHistory: boolean) {
  s.flapping = false;
  s.flappingEndedAt = at;
  if (clearHistory) s.transitions = [];
  events.push({ type: "flapping_stopped", at });
}

/** A notice waiting for its series to stop breaching (resolved by force while it breached). */
const noticeWaitsForClear = (s: FingerprintState) => s.forcedResolve === true && s.condition === "breached";

/** Emits the resolve notice once due (and, after a forced resolve, once the series stopped breaching). */
function noticeIfDue(s: FingerprintState, now: number, events: LifecycleEvent[]) {
  if (s.resolveNoticeDue !== null && now >= s.resolveNoticeDue && !noticeWaitsForClear(s)) {
    events.push({ type: "resolve_notice", at: now });
    s.resolveNoticeDue = null;
  }
}

/** Work due by `now` whatever the condition: pruning flips, the resolve notice, the end of cooldown. */
function housekeep(s: FingerprintState, now: number, cfg: LifecycleConfig, events: LifecycleEvent[]) {
  s.transitions = recentFlips(s.transitions, now, flappingOf(cfg));
  noticeIfDue(s, now, events);
  // The resolved alert stays until its notice is out, so the notice still has its alert.
  if (s.resolvedAt !== null && s.resolveNoticeDue === null && now >= cooldownEnd(s.resolvedAt, cfg)) {
    s.alert = null;
    s.resolvedAt = null;
    s.forcedResolve = false;
  }
}

/** The phase's own timers: for_seconds, resolve_for, flapping stability. */
function phaseTimers(s: FingerprintState, now: number, cfg: LifecycleConfig, worse: Worse, events: LifecycleEvent[]) {
  const f = flappingOf(cfg);
  if (s.phase === "pending" && s.pendingSince !== null && now >= s.pendingSince + cfg.forSeconds * SECOND) {
    open(s, now, cfg, worse, events);
  }
  if (s.phase === "resolving" && s.clearSince !== null) {
    if (s.flapping && now >= s.clearSince + f.stableSeconds * SECOND) stopFlapping(s, now, events, true);
    if (!s.flapping && now >= s.clearSince + cfg.resolveForSeconds * SECOND) resolve(s, now, events);
  }
  // Breaching steadily: flapping ends once the old flips leave the window.
  if (s.flapping && s.phase === "firing" && s.transitions.length < f.minTransitions) {
    stopFlapping(s, now, events, false);
  }
}

/** Applies one evaluation. `worse(a, b)`: a is more extreme than b (default a > b). */
export function observe(
  state: FingerprintState,
  obs: Observation,
  cfg: LifecycleConfig,
  worse: Worse = defaultWorse,
): LifecycleResult {
  const s = copy(state);
  const events: LifecycleEvent[] = [];
  const { at, value } = obs;
  const f = flappingOf(cfg);
  housekeep(s, at, cfg, events);

  const condition: Condition | null = obs.breached ? "breached" : obs.cleared ? "cleared" : null;
  if (condition !== null) {
    if (s.condition !== null && s.condition !== condition) s.transitions = recentFlips([...s.transitions, at], at, f);
    s.condition = condition;
  }

  if (condition === "breached") {
    s.lastBreach = { value, observedAt: obs.observedAt ?? at };
    if (s.phase === "ok") {
      if (cfg.forSeconds <= 0) open(s, at, cfg, worse, events);
      else {
        s.phase = "pending";
        s.pendingSince = at;
        events.push({ type: "pending", at, value });
      }
    } else if (isOpen(s) && s.alert) {
      // Dedup: a breach while open only updates the alert (and ends a resolving stretch).
      s.alert.breaches += 1;
      foldValue(s.alert, value, true, worse);
      s.phase = "firing";
      s.clearSince = null;
    }
  } else if (condition === null && obs.noData) {
    if (s.phase === "pending") {
      s.phase = "ok";
      s.pendingSince = null;
      events.push({ type: "pending_cleared", at, value: null });
    } else if (s.phase === "resolving") {
      s.phase = "firing";
      s.clearSince = null;
    }
  } else {
    if (condition === "cleared" && s.phase === "pending") {
      s.phase = "ok";
      s.pendingSince = null;
      events.push({ type: "pending_cleared", at, value });
    } else if (condition === "cleared" && s.phase === "firing") {
      s.phase = "resolving";
      s.clearSince = at;
    }
    if (isOpen(s) && s.alert) foldValue(s.alert, value, false, worse);
    // A forced resolve's notice held while the series breached goes once it stops.
    noticeIfDue(s, at, events);
  }

  // Before the timers, so the flip that makes it flapping already holds the alert open.
  if (!s.flapping && isOpen(s) && s.transitions.length >= f.minTransitions) {
    s.flapping = true;
    events.push({ type: "flapping_started", at });
  }
  phaseTimers(s, at, cfg, worse, events);
  return { state: s, events };
}

/**
 * Timers only (no new data): fires a pending alert whose for_seconds elapsed, resolves
 * one whose resolve_for elapsed, emits a due resolve notice, ends cooldown (drops the
 * resolved alert) and re-checks flapping. `worse` matters only when the timer re-opens
 * an alert (for its peak value).
 */
export function tick(
  state: FingerprintState,
  now: number,
  cfg: LifecycleConfig,
  worse: Worse = defaultWorse,
): LifecycleResult {
  const s = copy(state);
  const events: LifecycleEvent[] = [];
  housekeep(s, now, cfg, events);
  phaseTimers(s, now, cfg, worse, events);
  return { state: s, events };
}

/** The next time `tick` would do something, or null. A time in the past means "now". */
export function nextDeadline(s: FingerprintState, cfg: LifecycleConfig): number | null {
  const f = flappingOf(cfg);
  const due: number[] = [];
  if (s.resolveNoticeDue !== null) {
    // Held until the series stops breaching: that takes new data, not a timer.
    if (!noticeWaitsForClear(s)) due.push(s.resolveNoticeDue);
  } else if (s.resolvedAt !== null) due.push(cooldownEnd(s.resolvedAt, cfg));
  if (s.phase === "pending" && s.pendingSince !== null) due.push(s.pendingSince + cfg.forSeconds * SECOND);
  if (s.phase === "resolving" && s.clearSince !== null) {
    due.push(s.clearSince + (s.flapping ? f.stableSeconds : cfg.resolveForSeconds) * SECOND);
  }
  if (s.flapping && s.phase === "firing") {
    // The oldest of the newest minTransitions flips leaving the window drops the count below the minimum.
    const n = s.transitions.length;
    const oldest = n >= f.minTransitions ? s.transitions[n - f.minTransitions] : undefined;
    // Fewer flips than the minimum (the config changed since): due now.
    due.push(oldest === undefined ? (s.transitions.at(-1) ?? 0) : oldest + f.windowSeconds * SECOND);
  }
  return due.length ? Math.min(...due) : null;
}

/** Acknowledges the open alert; no-op (no events) when nothing is open or it is already acknowledged. */
export function acknowledge(state: FingerprintState, now: number, by: string, note?: string): LifecycleResult {
  if (!isOpen(state) || !state.alert || state.alert.acknowledged) return { state, events: [] };
  const s = copy(state);
  if (s.alert) s.alert.acknowledged = true;
  return { state: s, events: [{ type: "acknowledged", at: now, by, ...(note !== undefined && { note }) }] };
}

/** Why a manual resolve was refused: the rule's latest evaluation of the series says breach. */
export interface StillBreaching {
  reason: "still_breaching";
  /** The latest value seen (null: none). */
  value: number | null;
}

/**
 * Whether the open alert's series is still breaching: its last decisive evaluation is a
 * breach (a value inside the hysteresis band, or missing data, does not end it).
 */
export function stillBreaching(state: FingerprintState): StillBreaching | null {
  if (!isOpen(state) || !state.alert || state.condition !== "breached") return null;
  return { reason: "still_breaching", value: state.alert.lastValue ?? state.lastBreach?.value ?? null };
}

/**
 * Resolves the open alert by hand (auto=false). It also ends flapping.
 *
 * While the series still breaches the resolve is refused (`refused`, no change) unless
 * `force`: a "resolved" that the data contradicts would be the last word people hear.
 * Forced, the alert resolves, but its notice waits until the series stops breaching, and the
 * next breach opens a new alert (new id) whose firing always notifies (`afterForcedResolve`);
 * that drops the waiting notice, so nobody's last message is a false "resolved".
 *
 * Otherwise (the series no longer breaches) it is announced at once, and the cooldown runs
 * as after an automatic resolve: a breach within it re-opens this alert.
 */
export function resolveManually(
  state: FingerprintState,
  now: number,
  by: string,
  note?: string,
  opts: { force?: boolean } = {},
): LifecycleResult & { refused?: StillBreaching } {
  if (!isOpen(state) || !state.alert) return { state, events: [] };
  const breaching = stillBreaching(state);
  if (breaching && !opts.force) return { state, events: [], refused: breaching };
  const s = copy(state);
  const events: LifecycleEvent[] = [];
  if (s.flapping) stopFlapping(s, now, events, true);
  resolve(s, now, events, { by, ...(note !== undefined && { note }), forced: breaching !== null });
  return { state: s, events };
}

/**
 * The rule stops being evaluated (disabled or deleted): an open alert resolves with `note`
 * and is announced at once; a resolved one whose notice is still held is announced now. At
 * most one resolve notice per alert occurrence either way: one already sent is not repeated.
 */
export function closeForStop(state: FingerprintState, now: number, note: string): LifecycleResult {
  const s = copy(state);
  const events: LifecycleEvent[] = [];
  if (isOpen(s) && s.alert) {
    if (s.flapping) stopFlapping(s, now, events, true);
    resolve(s, now, events, { by: "engine", note });
  }
  if (s.resolveNoticeDue !== null) {
    events.push({ type: "resolve_notice", at: now });
    s.resolveNoticeDue = null;
  }
  return { state: s, events };
}

/** When the earliest of these series started pending (breaching, `for_seconds` not yet over); null when none is. */
export function earliestPending(states: readonly Pick<FingerprintState, "phase" | "pendingSince">[]): number | null {
  let since: number | null = null;
  for (const s of states) {
    if (s.phase === "pending" && s.pendingSince !== null)
      since = since === null ? s.pendingSince : Math.min(since, s.pendingSince);
  }
  return since;
}

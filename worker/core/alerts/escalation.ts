/**
 * Escalation of one alert as a pure schedule: which steps, reminders and
 * acknowledgement timeouts are due at a given time, given what was already done.
 *
 * All times are offsets from `firedAt`:
 * - Round r (r = 0..repeatCount) runs every step again: step i of round r is due at
 *   r × cycle + afterMinutes_i, where cycle = last + gap, `last` is the largest
 *   afterMinutes and gap = repeatIntervalMinutes ?? last, at least 1 minute. So the
 *   next round starts `gap` after the previous round's last step (plus the first
 *   step's afterMinutes): steps at 0 and 15 min without an interval run at 0, 15,
 *   30, 45, 60, 75, … for as many rounds as asked.
 * - Reminders, while unacknowledged and with repeatIntervalMinutes set, begin once the
 *   rounds are over: reminder n is due n × repeatIntervalMinutes after the last round's
 *   last step, so the cadence stays even and reminders never double a step. With a
 *   single step at 0 and no repeats this is every interval after firedAt.
 * - Acknowledging stops steps and reminders (even ones overdue). With ackTimeoutMinutes
 *   set, an acknowledged alert still unresolved at acknowledgedAt + ackTimeout yields one
 *   `ack_timeout`; the CALLER then re-triggers: it clears the acknowledgement and sets a
 *   new firedAt, and escalation restarts from step 0 of round 0.
 * - A resolved alert has nothing due.
 *
 * Action keys are stable, so the engine can record them in `done` and build
 * notification idempotency keys from them: `step:<i>:r<round>@<firedAt>`,
 * `reminder:<n>@<firedAt>`, `ack_timeout:<acknowledgedAt>`. Step and reminder keys
 * carry firedAt so that a restart after an ack timeout never collides with the first
 * escalation's keys.
 */

export interface EscalationStep {
  afterMinutes: number;
  channels: string[];
  targets: { adminIds?: number[]; roles?: string[] };
}

export interface EscalationPolicy {
  steps: EscalationStep[];
  repeatCount: number;
  repeatIntervalMinutes: number | null;
  ackTimeoutMinutes: number | null;
}

/** What has been done for one alert. */
export interface EscalationProgress {
  firedAt: number;
  acknowledgedAt: number | null;
  resolved: boolean;
  /** Keys of actions already issued. */
  done: string[];
}

export type EscalationAction =
  | {
      kind: "step";
      key: string;
      step: number;
      round: number;
      at: number;
      channels: string[];
      targets: EscalationStep["targets"];
    }
  | { kind: "reminder"; key: string; n: number; at: number }
  | { kind: "ack_timeout"; key: string; at: number };

const MINUTE = 60_000;

/** Minutes from the start of one round to the start of the next (see the module comment). */
export function cycleMinutes(policy: EscalationPolicy): number {
  const last = Math.max(0, ...policy.steps.map((s) => s.afterMinutes));
  return last + Math.max(1, policy.repeatIntervalMinutes ?? last);
}

/**
 * Actions due at `now` and not yet in `p.done`, in time order, and the time of the next
 * one (null when nothing more will happen without a change of state). After a late
 * wake-up every overdue step is returned, but only the latest overdue reminder: the
 * ones it supersedes are dropped rather than sent in a burst.
 */
export function dueActions(
  policy: EscalationPolicy,
  p: EscalationProgress,
  now: number,
): { due: EscalationAction[]; next: number | null } {
  if (p.resolved) return { due: [], next: null };
  const done = new Set(p.done);

  if (p.acknowledgedAt !== null) {
    if (policy.ackTimeoutMinutes === null) return { due: [], next: null };
    const at = p.acknowledgedAt + Math.max(0, policy.ackTimeoutMinutes) * MINUTE;
    const key = `ack_timeout:${p.acknowledgedAt}`;
    if (done.has(key)) return { due: [], next: null };
    return at <= now ? { due: [{ kind: "ack_timeout", key, at }], next: null } : { due: [], next: at };
  }

  const due: EscalationAction[] = [];
  let next: number | null = null;
  const later = (at: number) => {
    if (next === null || at < next) next = at;
  };

  const cycle = cycleMinutes(policy);
  let lastStepAt = p.firedAt;
  for (let round = 0; round <= policy.repeatCount; round++) {
    for (const [i, step] of policy.steps.entries()) {
      const at = p.firedAt + (round * cycle + step.afterMinutes) * MINUTE;
      lastStepAt = Math.max(lastStepAt, at);
      const key = `step:${i}:r${round}@${p.firedAt}`;
      if (done.has(key)) continue;
      if (at > now) later(at);
      else
        due.push({ kind: "step", key, step: i, round, at, channels: [...step.channels], targets: copy(step.targets) });
    }
  }

  if (policy.repeatIntervalMinutes !== null) {
    const every = Math.max(1, policy.repeatIntervalMinutes) * MINUTE;
    const n = Math.max(0, Math.floor((now - lastStepAt) / every));
    const key = `reminder:${n}@${p.firedAt}`;
    if (n >= 1 && !done.has(key)) due.push({ kind: "reminder", key, n, at: lastStepAt + n * every });
    later(lastStepAt + (n + 1) * every);
  }

  due.sort((a, b) => a.at - b.at);
  return { due, next };
}

function copy(t: EscalationStep["targets"]): EscalationStep["targets"] {
  return {
    ...(t.adminIds ? { adminIds: [...t.adminIds] } : {}),
    ...(t.roles ? { roles: [...t.roles] } : {}),
  };
}

/** An escalation policy as stored in D1 and spoken by the API (snake_case). */
export interface EscalationPolicyWire {
  steps: readonly {
    after_minutes: number;
    channels: readonly string[];
    targets: { admin_ids?: readonly number[]; roles?: readonly string[] };
  }[];
  repeat_count: number;
  /** Absent in rows written before reminders existed. */
  repeat_interval_minutes?: number | null;
  ack_timeout_minutes?: number | null;
}

/** The policy in the engine's terms; absent reminder and timeout settings mean none. */
export function toPolicy(row: EscalationPolicyWire): EscalationPolicy {
  return {
    steps: row.steps.map((s) => ({
      afterMinutes: s.after_minutes,
      channels: [...s.channels],
      targets: copy({ adminIds: s.targets.admin_ids?.slice(), roles: s.targets.roles?.slice() }),
    })),
    repeatCount: row.repeat_count,
    repeatIntervalMinutes: row.repeat_interval_minutes ?? null,
    ackTimeoutMinutes: row.ack_timeout_minutes ?? null,
  };
}

/**
 * The channels a notification goes out on: the escalation step's, limited to the rule's
 * own (a rule kept to email never pages by SMS through a shared policy); the rule's when
 * there is no step. Step order is kept.
 */
export function notifyChannels(ruleChannels: readonly string[], stepChannels: readonly string[] | null): string[] {
  if (stepChannels === null) return [...ruleChannels];
  return stepChannels.filter((c) => ruleChannels.includes(c));
}

/**
 * Scores critical pages against labelled incidents: precision, recall, false positives per
 * week per administrator and detection delay.
 *
 * - A critical page is a true positive when it goes out while an incident affecting its
 *   service is active, or within `graceMs` after it ended (an alert whose window still holds
 *   the incident's tail); otherwise it is a false positive.
 * - An incident that deserves a critical page is caught when a critical page on one of its
 *   services goes out in [start, end + grace); its delay runs from its labelled start.
 *   Incidents starting outside the scored stretch are not counted (their pages still match).
 * - Per administrator: every critical page reaches each on-call administrator once, so
 *   false positives per week per administrator = false-positive pages per week (one
 *   administrator gets each; `admins` only says who is counted, not a divisor).
 */
import type { Page } from "./replay";
import type { BenignEvent, LabelledIncident } from "./scenario";

const WEEK = 7 * 24 * 3600_000;
export const DEFAULT_GRACE_MS = 10 * 60_000;

export interface ScoredPage extends Page {
  /** The incident it is about (true positive), or null (false positive). */
  incident: LabelledIncident | null;
  /** For a false positive: the non-incidents around it (why it may have fired). */
  benign: BenignEvent[];
}

export interface IncidentOutcome {
  incident: LabelledIncident;
  /** The first critical page about it, null when none went out. */
  firstPage: Page | null;
  delayMs: number | null;
}

export interface KindSummary {
  kind: string;
  deserves: LabelledIncident["deserves"];
  count: number;
  caught: number;
  medianDelayMs: number | null;
}

export interface QualityScore {
  pages: ScoredPage[];
  truePositives: number;
  falsePositives: number;
  /** TP / (TP + FP); null without pages. */
  precision: number | null;
  /** Critical-worthy incidents caught / all of them; null without any. */
  recall: number | null;
  falsePositivesPerWeekPerAdmin: number;
  delays: { medianMs: number | null; p90Ms: number | null; maxMs: number | null };
  /** Outcomes of the incidents that deserve a critical page. */
  critical: IncidentOutcome[];
  /** Warning-level incidents that got a critical page anyway (over-paging, still true positives). */
  overPaged: IncidentOutcome[];
  byKind: KindSummary[];
}

/** Nearest-rank quantile of sorted numbers. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

const affects = (i: LabelledIncident, service: string) => i.services.includes(service);

/** The incident a page is about: one affecting its service, active when it went out or ended at most `graceMs` before. */
export function incidentOf(
  page: Pick<Page, "service" | "at">,
  incidents: readonly LabelledIncident[],
  graceMs = DEFAULT_GRACE_MS,
): LabelledIncident | null {
  return incidents.find((i) => affects(i, page.service) && i.start <= page.at && page.at < i.end + graceMs) ?? null;
}

export function scoreQuality(input: {
  pages: readonly Page[];
  incidents: readonly LabelledIncident[];
  benign?: readonly BenignEvent[];
  from: number;
  to: number;
  graceMs?: number;
}): QualityScore {
  const grace = input.graceMs ?? DEFAULT_GRACE_MS;
  const { from, to } = input;
  const critical = input.pages.filter((p) => p.severity === "critical" && p.at >= from && p.at < to);
  const pages: ScoredPage[] = critical.map((p) => {
    const incident = incidentOf(p, input.incidents, grace);
    const benign = incident
      ? []
      : (input.benign ?? []).filter(
          (b) =>
            b.services.includes(p.service) && b.start - grace <= p.at && p.at < b.end + grace && b.kind !== "weekend",
        );
    return { ...p, incident, benign };
  });
  const truePositives = pages.filter((p) => p.incident).length;
  const falsePositives = pages.length - truePositives;

  const outcome = (i: LabelledIncident): IncidentOutcome => {
    const firstPage =
      pages.find((p) => p.incident && affects(i, p.service) && i.start <= p.at && p.at < i.end + grace) ?? null;
    return { incident: i, firstPage, delayMs: firstPage ? firstPage.at - i.start : null };
  };
  const scored = input.incidents.filter((i) => i.start >= from && i.start < to);
  const criticalOutcomes = scored.filter((i) => i.deserves === "critical").map(outcome);
  const overPaged = scored
    .filter((i) => i.deserves !== "critical")
    .map(outcome)
    .filter((o) => o.firstPage);
  const delays = criticalOutcomes.flatMap((o) => (o.delayMs === null ? [] : [o.delayMs])).sort((a, b) => a - b);

  const kinds = new Map<string, IncidentOutcome[]>();
  for (const i of scored) {
    const list = kinds.get(i.kind) ?? [];
    list.push(outcome(i));
    kinds.set(i.kind, list);
  }
  const byKind = [...kinds].map(([kind, outcomes]): KindSummary => {
    const kindDelays = outcomes.flatMap((o) => (o.delayMs === null ? [] : [o.delayMs])).sort((a, b) => a - b);
    return {
      kind,
      deserves: outcomes[0]?.incident.deserves ?? "critical",
      count: outcomes.length,
      caught: outcomes.filter((o) => o.firstPage).length,
      medianDelayMs: quantile(kindDelays, 0.5),
    };
  });
  byKind.sort((a, b) =>
    a.deserves === b.deserves ? a.kind.localeCompare(b.kind) : a.deserves === "critical" ? -1 : 1,
  );

  const caught = criticalOutcomes.filter((o) => o.firstPage).length;
  const weeks = (to - from) / WEEK;
  return {
    pages,
    truePositives,
    falsePositives,
    precision: pages.length ? truePositives / pages.length : null,
    recall: criticalOutcomes.length ? caught / criticalOutcomes.length : null,
    falsePositivesPerWeekPerAdmin: weeks > 0 ? falsePositives / weeks : 0,
    delays: { medianMs: quantile(delays, 0.5), p90Ms: quantile(delays, 0.9), maxMs: delays.at(-1) ?? null },
    critical: criticalOutcomes,
    overPaged,
    byKind,
  };
}

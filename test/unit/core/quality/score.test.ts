import { describe, expect, it } from "vitest";
import type { Page } from "../../../../worker/core/quality/replay";
import type { BenignEvent, LabelledIncident } from "../../../../worker/core/quality/scenario";
import { incidentOf, quantile, scoreQuality } from "../../../../worker/core/quality/score";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const T0 = Date.UTC(2026, 2, 1, 16);

const incident = (
  id: string,
  startMin: number,
  minutes: number,
  over: Partial<LabelledIncident> = {},
): LabelledIncident => ({
  id,
  kind: "ecpay",
  title: id,
  start: T0 + startMin * MINUTE,
  end: T0 + (startMin + minutes) * MINUTE,
  services: ["ecpay"],
  deserves: "critical",
  source: "scenario",
  ...over,
});

const page = (atMin: number, over: Partial<Page> = {}): Page => ({
  ruleId: 1,
  ruleName: "r",
  severity: "critical",
  service: "ecpay",
  fingerprint: "f",
  at: T0 + atMin * MINUTE,
  kind: "fired",
  value: 1,
  reason: "",
  ...over,
});

const score = (pages: Page[], incidents: LabelledIncident[], benign: BenignEvent[] = [], days = 7) =>
  scoreQuality({ pages, incidents, benign, from: T0, to: T0 + days * DAY });

describe("scoreQuality", () => {
  it("counts a page during an incident on its service as a true positive, with its delay", () => {
    const s = score([page(12)], [incident("a", 10, 10)]);
    expect(s.truePositives).toBe(1);
    expect(s.falsePositives).toBe(0);
    expect(s.precision).toBe(1);
    expect(s.recall).toBe(1);
    expect(s.critical[0]?.delayMs).toBe(2 * MINUTE);
    expect(s.delays).toEqual({ medianMs: 2 * MINUTE, p90Ms: 2 * MINUTE, maxMs: 2 * MINUTE });
  });

  it("accepts a page within the grace after the incident ended, not after it", () => {
    const inGrace = score([page(29)], [incident("a", 10, 10)]);
    expect(inGrace.truePositives).toBe(1);
    const late = score([page(30)], [incident("a", 10, 10)]);
    expect(late.truePositives).toBe(0);
    expect(late.falsePositives).toBe(1);
    expect(late.recall).toBe(0);
  });

  it("counts a page on another service, or before the incident, as a false positive", () => {
    const s = score([page(12, { service: "redis" }), page(5)], [incident("a", 10, 10)]);
    expect(s.falsePositives).toBe(2);
    expect(s.precision).toBe(0);
    expect(s.critical[0]?.firstPage).toBeNull();
    expect(s.recall).toBe(0);
  });

  it("ignores warning pages and pages outside the scored stretch", () => {
    const s = score([page(12, { severity: "warning" }), page(-30), page(8 * 24 * 60)], [incident("a", 10, 10)]);
    expect(s.pages).toHaveLength(0);
    expect(s.recall).toBe(0);
    expect(s.precision).toBeNull();
  });

  it("takes the first page as the detection and counts later ones as true positives", () => {
    const s = score([page(11), page(15, { ruleId: 2 })], [incident("a", 10, 10)]);
    expect(s.truePositives).toBe(2);
    expect(s.critical[0]?.delayMs).toBe(MINUTE);
  });

  it("puts warning-level incidents outside recall but lists critical pages on them", () => {
    const s = score([page(12)], [incident("w", 10, 10, { deserves: "warning" }), incident("c", 100, 10)]);
    expect(s.recall).toBe(0);
    expect(s.truePositives).toBe(1);
    expect(s.overPaged.map((o) => o.incident.id)).toEqual(["w"]);
  });

  it("gives false positives per week per administrator and names the non-incident around each", () => {
    const deploy: BenignEvent = {
      id: "deploy@d1",
      kind: "deploy",
      title: "deploy",
      start: T0 + 100 * MINUTE,
      end: T0 + 102 * MINUTE,
      services: ["ecpay"],
    };
    const s = score([page(101), page(2000), page(3000), page(4000)], [], [deploy], 14);
    expect(s.falsePositives).toBe(4);
    expect(s.falsePositivesPerWeekPerAdmin).toBe(2);
    expect(s.pages[0]?.benign.map((b) => b.id)).toEqual(["deploy@d1"]);
    expect(s.pages[1]?.benign).toEqual([]);
  });

  it("summarises incidents by kind with caught counts and median delay", () => {
    const s = score(
      [page(11), page(101), page(203, { service: "api" })],
      [
        incident("a", 10, 10),
        incident("b", 100, 10),
        incident("c", 200, 10, { kind: "api", services: ["api"] }),
        incident("d", 300, 5),
      ],
    );
    expect(s.byKind).toEqual([
      { kind: "api", deserves: "critical", count: 1, caught: 1, medianDelayMs: 3 * MINUTE },
      { kind: "ecpay", deserves: "critical", count: 3, caught: 2, medianDelayMs: MINUTE },
    ]);
    expect(s.recall).toBe(0.75);
  });

  it("matches a page to an incident by service and time", () => {
    const incidents = [incident("a", 10, 10, { services: ["database", "api"] })];
    expect(incidentOf({ service: "api", at: T0 + 15 * MINUTE }, incidents)?.id).toBe("a");
    expect(incidentOf({ service: "ecpay", at: T0 + 15 * MINUTE }, incidents)).toBeNull();
  });

  it("takes nearest-rank quantiles", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBe(9);
    expect(quantile([], 0.5)).toBeNull();
  });
});

// npm run bench:quality: how well the demo's alerting pages, measured on 30 days of the demo
// shop with labelled incidents. Pure and offline (no product instance): the scenario
// (worker/core/quality/scenario.ts) builds the series the product would have stored (the
// shop's minute pushes, derived metrics, the seeded monitors' health probes at their own
// intervals, the Celery scrape) with the shop's scheduled incidents, extra 3 a.m. outages,
// slow degradations and partial outages, and non-incidents (deploys, dips, a flapping health
// endpoint, weekends, the daily peak). Labels are ground truth by construction: the generator
// records the window of every incident it injects. The replay (worker/core/quality/replay.ts)
// evaluates the demo's seeded rules (scripts/lib/seed.mjs, as `npm start` seeds them) plus
// anomaly rules on the shop's key metrics with the engine's own evaluation and alert
// lifecycle, each time a sample arrives. The scorer (worker/core/quality/score.ts) prints,
// for critical pages: precision, recall, false positives per week per administrator and the
// detection delay from incident start, next to the targets (precision ≥ 98 %, recall ≥ 95 %,
// FP/week/admin < 5, median delay ≤ 60 s), then every false positive and every miss.
// Assumption: every critical page reaches each on-call administrator once, so FP/week/admin
// is false-positive pages per week.
// Deterministic: the same output every run. Exits non-zero on errors only.
import "./check-node.mjs";
import { rowToRule } from "../worker/db/rules.ts";
import { ANOMALY_RULES } from "../worker/core/quality/rules.ts";
import { replayRules } from "../worker/core/quality/replay.ts";
import { buildScenario, localTime, SCENARIO_DAYS } from "../worker/core/quality/scenario.ts";
import { incidentOf, scoreQuality } from "../worker/core/quality/score.ts";
import { printTable, runBench } from "./lib/bench.mjs";
import { DEMO_RULES, demoMonitors } from "./lib/seed.mjs";

const TARGET_PRECISION = 0.98;
const TARGET_RECALL = 0.95;
const TARGET_FP_PER_WEEK = 5;
const TARGET_MEDIAN_DELAY_S = 60;

/** A seeded rule's API body as the rule engine sees it: the API's defaults (routes/rules.ts RuleFields), then the stored row's mapping. */
function seededRule(id, body) {
  return rowToRule({
    id,
    ruleName: body.rule_name,
    description: body.description ?? "",
    metricName: body.metric_name,
    service: body.service ?? null,
    labels: body.labels ?? {},
    kind: body.kind ?? "threshold",
    comparisonOperator: body.comparison_operator ?? ">",
    thresholdValue: body.threshold_value,
    forSeconds: body.for_seconds ?? 0,
    resolveForSeconds: body.resolve_for_seconds ?? 0,
    resolveThresholdValue: body.resolve_threshold_value ?? null,
    dependsOn: body.depends_on ?? [],
    params: body.params ?? {},
    severity: body.severity,
    notificationChannels: body.notification_channels,
    cooldownMinutes: body.cooldown_minutes ?? 15,
    maxAlertsPerHour: body.max_alerts_per_hour ?? 4,
    escalationPolicyId: body.escalation_policy_id ?? null,
    isActive: true,
  });
}

/**
 * The seeded monitors as the probe runner reads them (the API body is the stored config).
 */
const monitors = demoMonitors("http://localhost:8787")
  .filter((m) => m.kind === "http")
  .map((m, i) => ({
    id: i + 1,
    service: m.service,
    kind: m.kind,
    intervalSeconds: m.interval_seconds,
    config: m,
  }));

const pct = (x) => (x === null ? "-" : `${(100 * x).toFixed(1)} %`);
const secs = (ms) => (ms === null || ms === undefined ? "-" : `${Math.round(ms / 1000)} s`);
const met = (ok) => (ok ? "met" : "MISSED");

async function main() {
  const scenario = buildScenario({ monitors });
  const rules = [...DEMO_RULES.map((body, i) => seededRule(i + 1, body)), ...ANOMALY_RULES];
  const { pages, alertsByRule } = replayRules(rules, scenario.series, scenario.from, scenario.to);
  const score = scoreQuality({
    pages,
    incidents: scenario.incidents,
    benign: scenario.benign,
    from: scenario.from,
    to: scenario.to,
  });

  const samples = scenario.series.reduce((n, s) => n + s.ts.length, 0);
  console.log(
    `bench:quality: ${SCENARIO_DAYS} days from ${localTime(scenario.from)} (Asia/Taipei), ${scenario.series.length} series, ` +
      `${samples.toLocaleString("en-US")} samples; ${rules.length} rules (seeded + anomaly); ` +
      `health probes every ${monitors.map((m) => `${m.intervalSeconds} s (${m.service})`).join(", ")}\n`,
  );

  console.log("Rules (notifications: alerts fired, and re-opened after their resolve went out, in the scored month)");
  printTable(
    [
      ["rule", "severity", "metric", "alerts", "notifications", "about an incident", "outside incidents"],
      ...rules.map((r) => {
        const mine = pages.filter((p) => p.ruleId === r.id);
        const about = mine.filter((p) => incidentOf(p, scenario.incidents)).length;
        return [
          r.ruleName,
          r.severity,
          `${r.metricName}{${r.service ?? "*"}}`,
          alertsByRule.get(r.id) ?? 0,
          mine.length,
          about,
          mine.length - about,
        ];
      }),
    ],
    (i) => i <= 2,
  );

  console.log("\nIncidents by kind (labelled in the scored month)");
  printTable(
    [
      ["kind", "deserves", "count", "caught (critical page)", "median delay"],
      ...score.byKind.map((k) => [k.kind, k.deserves, k.count, k.caught, secs(k.medianDelayMs)]),
    ],
    (i) => i <= 1,
  );
  const benignKinds = new Map();
  for (const b of scenario.benign)
    if (b.start >= scenario.from) benignKinds.set(b.kind, (benignKinds.get(b.kind) ?? 0) + 1);
  console.log(`Non-incidents: ${[...benignKinds].map(([k, n]) => `${k} ×${n}`).join(", ")}`);
  const noise = scenario.probeNoise;
  console.log(
    `Probe noise: ${noise.runs.toLocaleString("en-US")} health probe runs, ${noise.blips} timed out at their first location, ` +
      `${noise.recordedDown} at every location of their confirmation policy (recorded down)`,
  );

  const { delays } = score;
  console.log("\nCritical pages");
  printTable([
    ["measure", "value", "target", ""],
    ["pages", score.pages.length, "", ""],
    ["true positives", score.truePositives, "", ""],
    ["false positives", score.falsePositives, "", ""],
    ["precision", pct(score.precision), "≥ 98 %", met((score.precision ?? 0) >= TARGET_PRECISION)],
    [
      "recall",
      `${pct(score.recall)} (${score.critical.filter((o) => o.firstPage).length}/${score.critical.length})`,
      "≥ 95 %",
      met((score.recall ?? 0) >= TARGET_RECALL),
    ],
    [
      "false positives / week / admin",
      score.falsePositivesPerWeekPerAdmin.toFixed(2),
      "< 5",
      met(score.falsePositivesPerWeekPerAdmin < TARGET_FP_PER_WEEK),
    ],
    [
      "detection delay median",
      secs(delays.medianMs),
      "≤ 60 s",
      met(delays.medianMs !== null && delays.medianMs <= TARGET_MEDIAN_DELAY_S * 1000),
    ],
    ["detection delay p90", secs(delays.p90Ms), "", ""],
    ["detection delay max", secs(delays.maxMs), "", ""],
    ["warning-level incidents paged critical", score.overPaged.length, "", ""],
  ]);

  const fps = score.pages.filter((p) => !p.incident);
  console.log(`\nFalse positives (${fps.length})`);
  if (fps.length) {
    printTable(
      [
        ["at (Taipei)", "rule", "service", "value", "around", "reason"],
        ...fps.map((p) => [
          localTime(p.at),
          p.ruleName,
          p.service,
          p.value === null ? "-" : String(Math.round(p.value * 1000) / 1000),
          p.benign.map((b) => b.id).join(", ") || "-",
          p.reason,
        ]),
      ],
      (i) => i !== 3,
    );
  }
  const misses = score.critical.filter((o) => !o.firstPage);
  console.log(`\nMissed critical-worthy incidents (${misses.length})`);
  if (misses.length) {
    printTable(
      [
        ["start (Taipei)", "minutes", "kind", "what"],
        ...misses.map((o) => [
          localTime(o.incident.start),
          Math.round((o.incident.end - o.incident.start) / 60_000),
          o.incident.kind,
          o.incident.title,
        ]),
      ],
      (i) => i !== 1,
    );
  }
  return [];
}

runBench("bench:quality", main);

/**
 * Prometheus scrapes: GET the exposition, parse it (allowlist applied), and return the
 * exporter's samples unchanged plus the scrape's own probe_up / probe_latency_ms.
 */
import { parseExposition } from "../core/prometheus/parse";
import { expositionToSamples } from "../core/prometheus/to-samples";
import {
  describeParseErrors,
  evaluateScrapeResponse,
  MAX_SCRAPE_BYTES,
  probeSamples,
  type ProbeResult,
  type ScrapeConfig,
} from "../core/probe";
import type { Sample } from "../core/series";
import type { TargetPolicy } from "../core/net/target";
import { fetchTarget } from "./http";

export interface ScrapeRun {
  result: ProbeResult;
  /** The exporter's samples: its metric names and labels, the monitor's service. */
  samples: Sample[];
}

/** Scrapes once. Never throws; a failed fetch or parse is probe_up 0 with the reason. */
export async function scrape(
  monitor: { id: number; service: string },
  config: ScrapeConfig,
  targets: TargetPolicy,
): Promise<ScrapeRun> {
  const ts = Date.now();
  const outcome = await fetchTarget(
    { ...config, headers: { accept: "text/plain;version=0.0.4;q=0.9, */*;q=0.1", ...config.headers } },
    MAX_SCRAPE_BYTES,
    targets,
  );
  const verdict = evaluateScrapeResponse(outcome);
  if (outcome.kind === "error" || (!verdict.up && !outcome.truncated)) {
    return { result: { ts, outcome, verdict }, samples: [] };
  }
  // A truncated body ends mid-line: parse up to its last complete line.
  const text = outcome.truncated ? outcome.body.slice(0, outcome.body.lastIndexOf("\n") + 1) : outcome.body;
  const parsed = parseExposition(text, { allow: config.allowlist ? new Set(config.allowlist) : null });
  const { samples } = expositionToSamples(parsed, { service: monitor.service, now: ts });
  const parseProblem = describeParseErrors(parsed.errors);
  const result: ProbeResult = {
    ts,
    outcome,
    verdict: verdict.up && parseProblem ? { up: false, message: parseProblem } : verdict,
  };
  return { result, samples };
}

/** Every sample of a scrape run: the exporter's and the scrape's own. */
export function scrapeSamples(monitor: { id: number; service: string }, run: ScrapeRun): Sample[] {
  return [...run.samples, ...probeSamples(monitor, run.result)];
}

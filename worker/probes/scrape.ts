/**
 * Prometheus scrapes: GET the exposition, parse it (allowlist applied), and return the
 * exporter's samples unchanged plus the scrape's own probe_up / probe_latency_ms and
 * scrape_parse_errors (malformed lines: their samples are left out, the others kept).
 */
import { parseExposition } from "../core/prometheus/parse";
import { expositionToSamples } from "../core/prometheus/to-samples";
import {
  countParseErrors,
  evaluateScrapeResponse,
  MAX_SCRAPE_BYTES,
  probeSamples,
  type ProbeResult,
  type ScrapeConfig,
  scrapeVerdict,
} from "../core/probe";
import type { Sample } from "../core/series";
import type { TargetPolicy } from "../core/net/target";
import { fetchTarget } from "./http";

export interface ScrapeRun {
  result: ProbeResult;
  /** The exporter's samples: its metric names and labels, the monitor's service. */
  samples: Sample[];
  /** Lines of the exposition refused as malformed; null when no body was parsed. */
  parseErrors: number | null;
}

/**
 * Scrapes once. Never throws; a failed fetch, or a body with not one valid sample, is
 * probe_up 0 with the reason; malformed lines among good ones leave it up, named in its message.
 */
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
    return { result: { ts, outcome, verdict }, samples: [], parseErrors: null };
  }
  // A truncated body ends mid-line: parse up to its last complete line.
  const text = outcome.truncated ? outcome.body.slice(0, outcome.body.lastIndexOf("\n") + 1) : outcome.body;
  const parsed = parseExposition(text, { allow: config.allowlist ? new Set(config.allowlist) : null });
  const { samples } = expositionToSamples(parsed, { service: monitor.service, now: ts });
  const result: ProbeResult = {
    ts,
    outcome,
    verdict: scrapeVerdict(verdict, {
      samples: parsed.samples.length,
      errors: parsed.errors,
      filtered: config.allowlist !== null,
    }),
  };
  return { result, samples, parseErrors: countParseErrors(parsed.errors) };
}

/** Every sample of a scrape run: the exporter's and the scrape's own. */
export function scrapeSamples(monitor: { id: number; service: string }, run: ScrapeRun): Sample[] {
  const own = probeSamples(monitor, run.result);
  if (run.parseErrors !== null) {
    own.push({
      metric: "scrape_parse_errors",
      service: monitor.service,
      labels: { monitor: String(monitor.id) },
      value: run.parseErrors,
      ts: run.result.ts,
    });
  }
  return [...run.samples, ...own];
}

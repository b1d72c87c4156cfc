/** Which stores answer a history query in this deployment: D1 always, Analytics Engine when configured. */
import { sourceResolution } from "../../core/history";
import { parseRetention } from "../../core/rollup";
import { AnalyticsEngineReader, aeConfigFromEnv } from "./ae";
import { D1HistoryReader } from "./d1";
import type { HistorySources } from "./reader";

/**
 * D1 answers what its rollups of the bucket's source resolution still hold
 * (retention from the RETENTION_* variables); anything older goes to AE.
 */
export function historySources(env: Env, now: number, bucketSeconds: number): HistorySources {
  const retention = parseRetention(env);
  const kept = sourceResolution(bucketSeconds) === 3600 ? retention.hourMs : retention.minuteMs;
  const ae = aeConfigFromEnv(env);
  return {
    local: new D1HistoryReader(env.DB, now),
    coveredFrom: now - kept,
    longRange: ae ? new AnalyticsEngineReader(ae) : null,
  };
}

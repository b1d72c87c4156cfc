/**
 * The deployment's safe-target policy (core/net/target.ts) from its settings:
 * ALLOW_PRIVATE_TARGETS, the product's own origins (the request's, DASHBOARD_URL,
 * DEMO_BASE_URL) and demo mode.
 */
import { ALLOW_SETTING, type TargetPolicy, targetPolicy } from "../core/net/target";

/** Unreadable setting entries already logged by this isolate, so each is logged once. */
const warned = new Set<string>();

/** The policy probes and monitor writes check URLs against; `requestOrigin` when serving a request. */
export function targetPolicyOf(env: Env, requestOrigin?: string): TargetPolicy {
  const { invalid, ...policy } = targetPolicy({
    allow: env.ALLOW_PRIVATE_TARGETS,
    ownOrigins: [requestOrigin, env.DASHBOARD_URL, env.DEMO_BASE_URL],
    demoMode: env.DEMO_MODE === "1",
  });
  for (const entry of invalid) {
    if (warned.has(entry)) continue;
    warned.add(entry);
    console.warn(`${ALLOW_SETTING}: "${entry}" is neither a network, an address nor a host name; ignored`);
  }
  return policy;
}

/** Cron glue for probes (being built). */
export async function runScheduledProbes(_env: Env, _now: number): Promise<void> {}
export async function watchProbeRunners(_env: Env, _now: number): Promise<void> {}

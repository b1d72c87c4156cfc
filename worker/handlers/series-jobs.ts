/** Cron glue for the series store (being built). */
export async function recordDerivedMetrics(_env: Env, _now: number): Promise<void> {}
export async function runRetention(_env: Env, _now: number): Promise<void> {}

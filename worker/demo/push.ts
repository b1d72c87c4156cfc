/** Demo shop metrics pushed every minute in demo mode (being built). */
export async function pushDemoMetrics(_env: Env, _now: number): Promise<void> {}

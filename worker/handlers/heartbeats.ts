/** Cron glue for heartbeats (being built). */
export async function checkHeartbeats(_env: Env, _now: number): Promise<void> {}

/** The per-minute cron: refreshes the live dashboard's service health. */
import { readMonitorHealth, toServiceHealthWire } from "../routes/health";

export async function handleScheduled(
  controller: ScheduledController,
  env: Env,
  _ctx: ExecutionContext,
): Promise<void> {
  const services = await readMonitorHealth(env, controller.scheduledTime);
  await env.DASHBOARD_HUB.getByName("main").publish("services", services.map(toServiceHealthWire));
}

/**
 * ProbeRunner: owns the alarm loop of the monitors faster than the per-minute
 * cron. It records which monitors it runs; the cron watchdog re-arms it.
 */
import { DurableObject } from "cloudflare:workers";

export class ProbeRunner extends DurableObject<Env> {
  /** Sets the monitors this runner is responsible for. */
  async assign(monitorIds: number[]): Promise<void> {
    await this.ctx.storage.put(
      "monitors",
      [...new Set(monitorIds)].sort((a, b) => a - b),
    );
  }

  async assigned(): Promise<number[]> {
    return (await this.ctx.storage.get<number[]>("monitors")) ?? [];
  }
}

/**
 * AlertRule: one Durable Object per rule, named by the rule id. It keeps the
 * rule's current definition (pushed on every write through the API) in its
 * SQLite storage; evaluation and the alert lifecycle build on this state.
 */
import { DurableObject } from "cloudflare:workers";
import type { Rule } from "../worker/core/rules/types";

export class AlertRule extends DurableObject<Env> {
  /** Replaces the rule's definition; null when the rule was deleted. */
  async configure(rule: Rule | null): Promise<void> {
    if (rule) await this.ctx.storage.put("rule", rule);
    else await this.ctx.storage.deleteAll();
  }

  async definition(): Promise<Rule | null> {
    return (await this.ctx.storage.get<Rule>("rule")) ?? null;
  }
}

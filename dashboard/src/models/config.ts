/**
 * Configuration the live pages read: the dashboard settings (metric cards, service display
 * names) and the alert rules (which colour the cards). Loaded once per session and on demand.
 */
import { signal } from "@preact/signals";
import { HttpError } from "../lib/api";
import { type CardConfig, DEFAULT_CARDS, DEFAULT_SERVICE_NAMES } from "../lib/overview";
import type { RuleSummary } from "../lib/types";
import { api } from "./session";

export interface DashboardSettings {
  cards: CardConfig[];
  service_names: Record<string, string>;
}

export const settings = signal<DashboardSettings>({ cards: DEFAULT_CARDS, service_names: DEFAULT_SERVICE_NAMES });
export const rules = signal<RuleSummary[]>([]);

/** Loads the settings; the defaults stay when the server has none to give. */
export async function loadSettings(): Promise<void> {
  try {
    const got = await api.get<Partial<DashboardSettings>>("/api/admin/monitoring/dashboard");
    settings.value = {
      cards: Array.isArray(got.cards) ? got.cards : DEFAULT_CARDS,
      service_names: { ...DEFAULT_SERVICE_NAMES, ...got.service_names },
    };
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
  }
}

/** Loads the alert rules (their thresholds colour the metric cards). */
export async function loadRules(): Promise<void> {
  try {
    rules.value = (await api.get<{ rules: RuleSummary[] }>("/api/admin/monitoring/rules?limit=500")).rules;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
  }
}

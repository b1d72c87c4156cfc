/**
 * Configuration the live pages read: the dashboard settings (metric cards, service display
 * names) and the alert rules (which colour the cards). Loaded once per session and on demand.
 */
import { signal } from "@preact/signals";
import { HttpError } from "../lib/api";
import type { DashboardSettings, RuleSummary } from "../lib/types";
import { api } from "./session";

/** The dashboard settings; until they are loaded, no cards and services under their ids. */
export const settings = signal<DashboardSettings>({ cards: [], service_names: {}, updated_at: null });
let settingsLoaded = false;
export const rules = signal<RuleSummary[]>([]);

/** Loads the settings (the server answers its defaults until an admin saves some). */
export async function loadSettings(): Promise<void> {
  try {
    settings.value = await api.get<DashboardSettings>("/api/admin/monitoring/dashboard");
    settingsLoaded = true;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
  }
}

/** Loads the settings unless this session already has them. */
export const ensureSettings = () => (settingsLoaded ? Promise.resolve() : loadSettings());

/** Loads the alert rules (their thresholds colour the metric cards). */
export async function loadRules(): Promise<void> {
  try {
    rules.value = (await api.get<{ rules: RuleSummary[] }>("/api/admin/monitoring/rules?limit=500")).rules;
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
  }
}

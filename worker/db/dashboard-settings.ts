/** The dashboard settings row: read (defaults until saved) and saved with one upsert. */
import { eq } from "drizzle-orm";
import { type DashboardSettings, defaultDashboardSettings, type MetricCard } from "../core/dashboard-settings";
import type { Db } from "./client";
import { dashboardSettings } from "./schema";

const ROW_ID = 1;

/** Settings with when they were saved; `updatedAt` is null for defaults never stored. */
export interface StoredDashboardSettings {
  settings: DashboardSettings;
  updatedAt: number | null;
}

type Row = typeof dashboardSettings.$inferSelect;

const fromRow = (row: Row): StoredDashboardSettings => ({
  settings: { cards: row.cards as MetricCard[], serviceNames: row.serviceNames },
  updatedAt: row.updatedAt,
});

export async function loadDashboardSettings(db: Db): Promise<StoredDashboardSettings> {
  const [row] = await db.select().from(dashboardSettings).where(eq(dashboardSettings.id, ROW_ID)).limit(1);
  return row ? fromRow(row) : { settings: defaultDashboardSettings(), updatedAt: null };
}

export async function saveDashboardSettings(
  db: Db,
  settings: DashboardSettings,
  adminId: number,
  now: number,
): Promise<StoredDashboardSettings> {
  const values = { cards: settings.cards, serviceNames: settings.serviceNames, updatedBy: adminId, updatedAt: now };
  const [row] = await db
    .insert(dashboardSettings)
    .values({ id: ROW_ID, ...values })
    .onConflictDoUpdate({ target: dashboardSettings.id, set: values })
    .returning();
  if (!row) throw new Error("saving dashboard settings returned no row");
  return fromRow(row);
}

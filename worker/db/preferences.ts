/**
 * Per-admin notification preferences: the stored row, or defaults derived
 * from the admin when none is stored; saved with one upsert.
 */
import { eq } from "drizzle-orm";
import type { Severity } from "../core/rules/types";
import type { AdminIdentity } from "./auth";
import type { Db } from "./client";
import { adminNotificationPreferences } from "./schema";

export interface NotificationPreferences {
  email: string | null;
  phone: string | null;
  slackMemberId: string | null;
  emailEnabled: boolean;
  smsEnabled: boolean;
  slackEnabled: boolean;
  severities: Severity[];
  /** "HH:MM" local to `timezone`; both null means no quiet hours. */
  quietHoursStart: string | null;
  quietHoursEnd: string | null;
  timezone: string;
  criticalBypassesQuietHours: boolean;
}

/** Preferences with when they were saved; `updatedAt` is null for defaults never stored. */
export interface StoredPreferences {
  preferences: NotificationPreferences;
  updatedAt: number | null;
}

type PreferencesRow = typeof adminNotificationPreferences.$inferSelect;

/** What an admin gets before saving anything: email to their own address, critical and warning only. */
export function defaultPreferences(admin: Pick<AdminIdentity, "email" | "timezone">): NotificationPreferences {
  return {
    email: admin.email,
    phone: null,
    slackMemberId: null,
    emailEnabled: true,
    smsEnabled: false,
    slackEnabled: false,
    severities: ["critical", "warning"],
    quietHoursStart: null,
    quietHoursEnd: null,
    timezone: admin.timezone,
    criticalBypassesQuietHours: true,
  };
}

const fromRow = ({ adminId: _adminId, updatedAt, severities, ...rest }: PreferencesRow): StoredPreferences => ({
  preferences: { ...rest, severities: severities as Severity[] },
  updatedAt,
});

export async function loadPreferences(db: Db, admin: AdminIdentity): Promise<StoredPreferences> {
  const [row] = await db
    .select()
    .from(adminNotificationPreferences)
    .where(eq(adminNotificationPreferences.adminId, admin.adminId))
    .limit(1);
  return row ? fromRow(row) : { preferences: defaultPreferences(admin), updatedAt: null };
}

export async function savePreferences(
  db: Db,
  adminId: number,
  preferences: NotificationPreferences,
  now: number,
): Promise<StoredPreferences> {
  const values = { ...preferences, updatedAt: now };
  const [row] = await db
    .insert(adminNotificationPreferences)
    .values({ adminId, ...values })
    .onConflictDoUpdate({ target: adminNotificationPreferences.adminId, set: values })
    .returning();
  if (!row) throw new Error("saving notification preferences returned no row");
  return fromRow(row);
}

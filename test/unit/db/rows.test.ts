import { getTableColumns } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { AlertRow, AlertStatus } from "../../../worker/db/alerts";
import type { RawRow } from "../../../worker/db/rows";
import { alertEvents, alertHistory, escalationPolicies, silences } from "../../../worker/db/schema";

/** The table's SQL column names, as drizzle declares them. */
const columnsOf = (table: SQLiteTable) =>
  Object.values(getTableColumns(table))
    .map((c) => c.name)
    .sort();

/** One entry per key of the row type: the type checker insists on every key and no other. */
type Keys<Row> = Record<keyof Row, true>;
const keys = (row: Record<string, true>) => Object.keys(row).sort();

describe("row types derived from the schema (db/rows)", () => {
  it("key every table's rows by its SQL column names (a JSON column by its property in snake_case), with stored values", () => {
    const alert: Keys<AlertRow> = {
      id: true,
      alert_rule_id: true,
      service: true,
      fingerprint: true,
      labels: true,
      metric_value: true,
      peak_value: true,
      breach_count: true,
      reopen_count: true,
      flapping: true,
      firing_notified: true,
      alert_severity: true,
      status: true,
      message: true,
      observed_at: true,
      triggered_at: true,
      acknowledged_at: true,
      acknowledged_by: true,
      resolved_at: true,
      auto_resolved: true,
      resolution_notes: true,
      escalation_step: true,
      notifications_sent: true,
      notification_attempts: true,
      notifications_failed: true,
    };
    const event: Keys<RawRow<typeof alertEvents>> = {
      id: true,
      alert_id: true,
      at: true,
      type: true,
      actor: true,
      value: true,
      note: true,
      details: true,
    };
    const silence: Keys<RawRow<typeof silences>> = {
      id: true,
      matchers: true,
      recurrence: true,
      starts_at: true,
      ends_at: true,
      created_by: true,
      comment: true,
      created_at: true,
      updated_at: true,
    };
    const policy: Keys<RawRow<typeof escalationPolicies>> = {
      id: true,
      name: true,
      description: true,
      steps: true,
      repeat_count: true,
      repeat_interval_minutes: true,
      ack_timeout_minutes: true,
      created_at: true,
      updated_at: true,
    };
    expect(keys(alert)).toEqual(columnsOf(alertHistory));
    expect(keys(event)).toEqual(columnsOf(alertEvents));
    expect(keys(silence)).toEqual(columnsOf(silences));
    expect(keys(policy)).toEqual(columnsOf(escalationPolicies));
    // Values as D1 returns them: booleans 0/1, JSON as its text, enums as their union.
    expectTypeOf<AlertRow["labels"]>().toEqualTypeOf<string>();
    expectTypeOf<AlertRow["flapping"]>().toEqualTypeOf<number>();
    expectTypeOf<AlertRow["acknowledged_by"]>().toEqualTypeOf<number | null>();
    expectTypeOf<AlertRow["status"]>().toEqualTypeOf<AlertStatus>();
    expectTypeOf<AlertStatus>().toEqualTypeOf<"firing" | "acknowledged" | "resolved">();
    expectTypeOf<RawRow<typeof silences>["recurrence"]>().toEqualTypeOf<string | null>();
    expectTypeOf<RawRow<typeof alertEvents>["details"]>().toEqualTypeOf<string | null>();
  });
});

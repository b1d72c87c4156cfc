/**
 * Row types for statements written in SQL rather than through drizzle, derived from the
 * schema so a column added, renamed or narrowed there shows up in every store that reads it.
 */
import type { Column } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

/** What D1 hands back for a column: booleans as 0/1 and JSON as its text (drizzle would convert them). */
type RawValue<C extends Column> =
  | (C["_"]["columnType"] extends "SQLiteBoolean"
      ? number
      : C["_"]["columnType"] extends "SQLiteTextJson"
        ? string
        : C["_"]["data"])
  | (C["_"]["notNull"] extends true ? never : null);

/** `alertRuleId` → `alert_rule_id`. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Rest}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Rest>}`
  : S;

/**
 * A column's SQL name: its literal name, or for a column declared through a helper that
 * widened it to `string` (schema.ts's `json`) the snake_case of its property, the naming
 * the schema follows throughout.
 */
type ColumnName<K extends string, C extends Column> = string extends C["_"]["name"] ? SnakeCase<K> : C["_"]["name"];

/** A row of `T` as `SELECT *` reads it: keyed by column name (snake_case), values as stored. */
export type RawRow<T extends SQLiteTable> = {
  [K in keyof T["_"]["columns"] & string as ColumnName<K, T["_"]["columns"][K]>]: RawValue<T["_"]["columns"][K]>;
};

/**
 * The store of `silences`, beside the CRUD routes (routes/silences, through drizzle): the
 * silences the engine reads, the ones the alert and Slack actions create, and the mapping
 * of a stored silence to the one core matches alerts with.
 */
import type { Silence } from "../core/alerts/silence";
import type { RawRow } from "./rows";
import type { silences } from "./schema";

type SilenceRow = RawRow<typeof silences>;

/** A matcher as stored (snake_case, as the API takes it). */
export interface StoredMatcher {
  name: string;
  value: string;
  is_regex?: boolean;
  is_equal?: boolean;
}

/** A stored silence (matchers and recurrence parsed, still snake_case) as core reads it. */
export function toCoreSilence(row: {
  id: number;
  matchers: unknown;
  startsAt: number;
  endsAt: number;
  recurrence: unknown;
}): Silence {
  const matchers = (Array.isArray(row.matchers) ? row.matchers : []) as StoredMatcher[];
  const rec = row.recurrence as {
    weekdays: number[];
    start: string;
    duration_minutes: number;
    timezone: string;
  } | null;
  return {
    id: row.id,
    matchers: matchers.map((m) => ({
      name: m.name,
      value: m.value,
      isRegex: m.is_regex ?? false,
      isEqual: m.is_equal ?? true,
    })),
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    recurrence: rec
      ? { weekdays: rec.weekdays, start: rec.start, durationMinutes: rec.duration_minutes, timezone: rec.timezone }
      : null,
  };
}

/** Silences that have not ended, as core reads them. */
export async function loadSilences(env: Pick<Env, "DB">, now: number): Promise<Silence[]> {
  const rows = await env.DB.prepare(
    "SELECT id, matchers, starts_at, ends_at, recurrence FROM silences WHERE ends_at > ?",
  )
    .bind(now)
    .all<Pick<SilenceRow, "id" | "matchers" | "starts_at" | "ends_at" | "recurrence">>();
  return rows.results.map((r) =>
    toCoreSilence({
      id: r.id,
      matchers: JSON.parse(r.matchers),
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      recurrence: r.recurrence ? JSON.parse(r.recurrence) : null,
    }),
  );
}

/** Creates a one-off silence (no recurrence) from `startsAt` to `endsAt`; answers its id. */
export async function insertSilence(
  env: Pick<Env, "DB">,
  silence: { matchers: readonly StoredMatcher[]; startsAt: number; endsAt: number; createdBy: number; comment: string },
): Promise<number | null> {
  const row = await env.DB.prepare(
    `INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment, recurrence)
     VALUES (?, ?, ?, ?, ?, NULL) RETURNING id`,
  )
    .bind(JSON.stringify(silence.matchers), silence.startsAt, silence.endsAt, silence.createdBy, silence.comment)
    .first<{ id: number }>();
  return row?.id ?? null;
}

/**
 * Rows written per sample: what a deployment pays for most (Durable Object SQLite bills
 * every row an INSERT, UPDATE or DELETE touches). A family of 100 series gets one sample per
 * series a second for two minutes, as a pushing client sends them; the family's and the
 * SeriesIndex's statements are tallied from their cursors (`rowsWritten`), the minutes'
 * roll-up and flush included. The bound keeps a per-series write from creeping back in.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { MetricSeries } from "../../durable-objects/metric-series";
import type { SeriesIndex } from "../../durable-objects/series-index";
import type { Sample } from "../../worker/core/series";
import { familyStub, seriesIndex } from "../../worker/lib/series";

const SERIES = 100;
const SECONDS = 120;
/**
 * At one sample a second: its raw row and unique-index entry (2), the SeriesIndex's row (1),
 * and the minute's row, roll-up and flush spread over its 60 samples (about 0.2). Its deletion
 * a day later (2 more) falls outside the test. Measured 3.18; the same code updating the
 * series' latest value on every write (as it did) measured 4.18, and marking each sample's
 * minute as well 6.17.
 */
const MAX_ROWS_PER_SAMPLE = 3.5;

/** Makes every statement of an object's storage count the rows it writes into `tally`. */
async function tallyWrites(stub: DurableObjectStub<MetricSeries> | DurableObjectStub<SeriesIndex>) {
  return runInDurableObject(stub as DurableObjectStub<MetricSeries>, (_instance: unknown, state) => {
    const sql = state.storage.sql as SqlStorage & { tally?: SqlStorageCursor<Record<string, SqlStorageValue>>[] };
    const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
    const exec = sql.exec.bind(sql);
    sql.exec = ((query: string, ...bindings: unknown[]) => {
      const cursor = exec(query, ...bindings);
      cursors.push(cursor);
      return cursor;
    }) as typeof sql.exec;
    sql.tally = cursors;
  });
}

async function rowsWritten(stub: DurableObjectStub<MetricSeries> | DurableObjectStub<SeriesIndex>) {
  return runInDurableObject(stub as DurableObjectStub<MetricSeries>, (_instance: unknown, state) => {
    const sql = state.storage.sql as SqlStorage & { tally?: SqlStorageCursor<Record<string, SqlStorageValue>>[] };
    return (sql.tally ?? []).reduce((sum, c) => sum + c.rowsWritten, 0);
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("rows written per sample", () => {
  it(`stays at most ${MAX_ROWS_PER_SAMPLE} for ${SERIES} series at one sample a second, roll-ups included`, async () => {
    const metric = `rows_written_${Date.now()}`;
    const family = familyStub(env, metric, "svc");
    const index = seriesIndex(env);
    // Live samples: the clock (Date, which the objects share with the test) moves with them. It
    // runs ahead of the real one, so the objects' alarms (real time) only run when the test says.
    const start = Math.floor(Date.now() / 60_000) * 60_000 + 10 * 60_000;
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(start - 500);
    // The object exists before its storage is instrumented.
    const at = (i: number, ts: number): Sample => ({
      metric,
      service: "svc",
      labels: { series: String(i) },
      value: i,
      ts,
    });
    await family.record(Array.from({ length: SERIES }, (_, i) => at(i, start - 1000)));
    await tallyWrites(family);
    await tallyWrites(index);
    for (let s = 0; s < SECONDS; s++) {
      vi.setSystemTime(start + s * 1000 + 500);
      await family.record(Array.from({ length: SERIES }, (_, i) => at(i, start + s * 1000)));
      // The index hears from a busy family once a second: as the alarm or a later record does it.
      await runInDurableObject(family, (instance: MetricSeries) =>
        (instance as unknown as { pushLatest(): Promise<boolean> }).pushLatest(),
      );
    }
    // The two minutes are closed: roll them up and flush them (an alarm runs whenever it is set for).
    vi.setSystemTime(start + SECONDS * 1000 + 61_000);
    for (let i = 0; i < 3; i++) await runDurableObjectAlarm(family);
    const samples = SERIES * SECONDS;
    const written = { family: await rowsWritten(family), index: await rowsWritten(index) };
    const perSample = (written.family + written.index) / samples;
    console.log(
      `rows written per sample: ${perSample.toFixed(2)} (family ${(written.family / samples).toFixed(2)}, ` +
        `index ${(written.index / samples).toFixed(2)}) over ${samples} samples`,
    );
    expect(written.family).toBeGreaterThan(samples);
    expect(perSample).toBeLessThanOrEqual(MAX_ROWS_PER_SAMPLE);
  });
});

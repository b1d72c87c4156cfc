/**
 * The SeriesIndex's publish marks: a change carries its update's seq and the rows above the
 * last published seq are the next delta (one row write per change). An object from before
 * kept its marks in a `pending` table; they move onto the rows, unpublished changes intact.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { MetricSeries } from "../../durable-objects/metric-series";
import type { DashboardHub } from "../../durable-objects/dashboard-hub";
import { migratePendingMarks, type SeriesIndex } from "../../durable-objects/series-index";
import { type LatestValueRow, seriesKey } from "../../worker/core/series";
import { familyStub, seriesIndex } from "../../worker/lib/series";

describe("SeriesIndex publish marks", () => {
  it("moves an older object's pending marks onto its rows: published up to before the oldest", async () => {
    const stub = env.SERIES_INDEX.getByName(`migrate-${Date.now()}`);
    const after = await runInDurableObject(stub, (_index: SeriesIndex, state) => {
      const sql = state.storage.sql;
      // The schema as it was.
      sql.exec(`
        DROP TABLE latest; DROP TABLE state;
        CREATE TABLE latest (
          series_key TEXT PRIMARY KEY, metric TEXT NOT NULL, service TEXT NOT NULL, labels TEXT NOT NULL,
          value REAL NOT NULL, ts INTEGER NOT NULL, message TEXT, updated_at INTEGER NOT NULL);
        CREATE TABLE pending (series_key TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, published_at INTEGER);
        INSERT INTO state (id, seq, published_at) VALUES (1, 9, 0);
        INSERT INTO latest VALUES ('a', 'm', 's', '{}', 1, 1, NULL, 0), ('b', 'm', 's', '{}', 2, 1, NULL, 0),
          ('c', 'm', 's', '{}', 3, 1, NULL, 0);
        INSERT INTO pending VALUES ('b', 7), ('c', 9);
      `);
      migratePendingMarks(sql);
      return {
        rows: sql.exec("SELECT series_key, seq FROM latest ORDER BY series_key").toArray(),
        state: sql.exec("SELECT seq, published_seq FROM state").one(),
        pending: sql.exec("SELECT name FROM sqlite_master WHERE name = 'pending'").toArray(),
        unpublished: sql
          .exec("SELECT series_key FROM latest WHERE seq > (SELECT published_seq FROM state) ORDER BY series_key")
          .toArray(),
      };
    });
    expect(after.rows).toEqual([
      { series_key: "a", seq: 0 },
      { series_key: "b", seq: 7 },
      { series_key: "c", seq: 9 },
    ]);
    expect(after.state).toEqual({ seq: 9, published_seq: 6 });
    expect(after.pending).toEqual([]);
    expect(after.unpublished).toEqual([{ series_key: "b" }, { series_key: "c" }]);
  });

  it("writes one row per change and publishes each change once", async () => {
    const stub = env.SERIES_INDEX.getByName(`marks-${Date.now()}`);
    const now = Date.now();
    const sample = (series: string, ts: number) => ({
      metric: "index_marks",
      service: "svc",
      labels: { series },
      value: ts,
      ts,
    });
    await stub.update([sample("a", now), sample("b", now)]);
    // An older sample changes nothing and marks nothing.
    await stub.update([sample("a", now - 1000)]);
    const marks = await runInDurableObject(stub, (_index: SeriesIndex, state) =>
      state.storage.sql.exec("SELECT seq FROM latest ORDER BY series_key").toArray(),
    );
    expect(marks).toEqual([{ seq: 1 }, { seq: 1 }]);
    const published = await runInDurableObject(stub, async (index: SeriesIndex, state) => {
      await index.alarm();
      return state.storage.sql.exec("SELECT seq, published_seq FROM state").one();
    });
    expect(published).toEqual({ seq: 2, published_seq: 2 });
    await stub.update([sample("b", now + 1000)]);
    const next = await runInDurableObject(stub, (_index: SeriesIndex, state) =>
      state.storage.sql.exec("SELECT series_key FROM latest WHERE seq > (SELECT published_seq FROM state)").toArray(),
    );
    expect(next).toEqual([{ series_key: 'index_marks|svc|series="b"' }]);
  });

  it("skips the metrics delta while no dashboard listens; a socket opened afterwards has the change in its snapshot", async () => {
    const hub = env.DASHBOARD_HUB.getByName("main");
    const stub = env.SERIES_INDEX.getByName(`listening-${Date.now()}`);
    const hubSeq = () => runInDurableObject(hub, async (_h, state) => (await state.storage.get<number>("seq")) ?? 0);
    const now = Date.now();
    const sample = { metric: "index_listening", service: "svc", labels: {}, value: 7, ts: now };
    expect(await hub.listening()).toBe(false);
    const before = await hubSeq();
    await stub.update([sample]);
    await runInDurableObject(stub, (index: SeriesIndex) => index.alarm());
    // Published (marked) without a delta.
    expect(await hubSeq()).toBe(before);
    expect(
      await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT published_seq FROM state").one()),
    ).toEqual({ published_seq: 1 });
    // A health reading still publishes the services topic (the hub keeps it for snapshots).
    await stub.update([{ metric: "probe_up", service: "svc-listening", labels: { monitor: "0" }, value: 1, ts: now }]);
    await runInDurableObject(stub, (index: SeriesIndex) => index.alarm());
    expect(await hubSeq()).toBe(before + 1);
    const topics = await runInDurableObject(hub, async (_h, state) => [...(await state.storage.list()).keys()]);
    expect(topics).toContain("topic:services");
    // The main index is what snapshots read (this test's index publishes to the same hub).
    await seriesIndex(env).update([sample]);
    // A socket being opened listens already (its snapshot is read before it is accepted):
    // asked while the hub's fetch waits for the snapshot.
    const whileOpening = await runInDurableObject(hub, async (instance: DashboardHub) => {
      const opened = instance.fetch(new Request("http://hub/ws", { headers: { upgrade: "websocket" } }));
      const listening = instance.listening();
      const socket = (await opened).webSocket;
      socket?.accept();
      socket?.close(1000, "done");
      return listening;
    });
    expect(whileOpening).toBe(true);
    const ws = (await hub.fetch("http://hub/ws", { headers: { upgrade: "websocket" } })).webSocket;
    if (!ws) throw new Error("no socket");
    type Wire = { metric: string; value: number };
    const messages: { type: string; topic?: string; data?: Wire[]; state?: { metrics?: Wire[] } }[] = [];
    ws.addEventListener("message", (e) => messages.push(JSON.parse(e.data as string)));
    ws.accept();
    try {
      await vi.waitUntil(() => messages.length > 0, { timeout: 2000 });
      expect(messages[0]?.type).toBe("snapshot");
      const shown = messages[0]?.state?.metrics?.filter((m) => m.metric === "index_listening");
      expect(shown?.map((m) => m.value)).toEqual([7]);
      // With a listener, the next change goes out as a delta.
      await stub.update([{ ...sample, value: 8, ts: now + 1 }]);
      await runInDurableObject(stub, (index: SeriesIndex) => index.alarm());
      const published = () =>
        messages
          .flatMap((m) => (m.topic === "metrics" ? (m.data ?? []) : []))
          .filter((d) => d.metric === "index_listening");
      await vi.waitUntil(() => published().some((d) => d.value === 8), { timeout: 2000 });
      expect(await hubSeq()).toBeGreaterThan(before);
    } finally {
      ws.close(1000, "done");
    }
  });
});

describe("a family's pushes to the index", () => {
  it("writes no per-series mark, and a rebuilt object sends every series once", async () => {
    const metric = `index_push_${Date.now()}`;
    const family = familyStub(env, metric, "svc");
    const now = Date.now();
    const names = ["a", "b", "c"];
    // Values that need all 17 digits, and a message, arrive exactly as stored.
    const values = [0.1 + 0.2, 1 / 3, 2 ** 60 + 0.5];
    await family.record(
      names.map((series, i) => ({ metric, service: "svc", labels: { series }, value: values[i] as number, ts: now })),
    );
    const keys = names.map((series) => seriesKey(metric, "svc", { series }));
    await vi.waitFor(async () => expect((await seriesIndex(env).get(keys)).every((s) => s !== null)).toBe(true));
    expect((await seriesIndex(env).get(keys)).map((s) => [s?.value, s?.labels])).toEqual(
      names.map((series, i) => [values[i], { series }]),
    );
    // The index forgets them; a rebuilt family object (a restart) sends them all again at its first push.
    await seriesIndex(env).remove(keys);
    const marks = await runInDurableObject(family, async (_live: MetricSeries, state) => {
      const rebuilt = new MetricSeries(state, env) as unknown as { pushLatest(): Promise<boolean> };
      expect(await rebuilt.pushLatest()).toBe(true);
      return state.storage.sql.exec("SELECT indexed_ts FROM series").toArray();
    });
    expect(marks).toEqual([{ indexed_ts: null }, { indexed_ts: null }, { indexed_ts: null }]);
    expect((await seriesIndex(env).get(keys)).map((s) => s?.value)).toEqual(values);
  });
});

describe("SeriesIndex latest values", () => {
  it("takes a held series' newer value as its key and value only, and adds no series from them", async () => {
    const stub = env.SERIES_INDEX.getByName(`values-${Date.now()}`);
    const now = Date.now();
    const metric = "index_values";
    const key = (series: string) => seriesKey(metric, "svc", { series });
    // More series than one statement takes.
    const names = Array.from({ length: 30 }, (_, i) => `s${i}`);
    await stub.update(names.map((series) => ({ metric, service: "svc", labels: { series }, value: 1, ts: now })));
    await stub.updateRows("[]", [
      ...names.map((series, i): LatestValueRow => [key(series), i, now + 1000, i === 29 ? "slow" : null]),
      [key("z"), 5, now + 1000, null],
    ]);
    const got = await stub.get([...names.map(key), key("z")]);
    expect(got.map((s) => s?.value ?? null)).toEqual([...names.map((_, i) => i), null]);
    expect(got[29]).toEqual({
      metric,
      service: "svc",
      labels: { series: "s29" },
      value: 29,
      ts: now + 1000,
      message: "slow",
    });
    // An older value changes nothing.
    await stub.updateRows("[]", [[key("s3"), 300, now, null]]);
    expect((await stub.get([key("s3")]))[0]?.value).toBe(3);
  });

  it("a family sends a series whole once, then its key and latest value", async () => {
    const metric = `index_slim_${Date.now()}`;
    const family = familyStub(env, metric, "svc");
    const now = Date.now();
    const at = (series: string, value: number, ts: number) => ({
      metric,
      service: "svc",
      labels: { series },
      value,
      ts,
    });
    const sent: [string, LatestValueRow[]][] = [];
    await runInDurableObject(family, (live: MetricSeries) => {
      const inside = live as unknown as { env: Env };
      const index = inside.env.SERIES_INDEX;
      inside.env = {
        ...inside.env,
        SERIES_INDEX: {
          getByName: (name: string) => {
            const stub = index.getByName(name);
            return {
              updateRows: (rows: string, values: LatestValueRow[]) => {
                sent.push([rows, values]);
                return stub.updateRows(rows, values);
              },
            };
          },
        } as unknown as Env["SERIES_INDEX"],
      };
    });
    const pushes = async (samples: ReturnType<typeof at>[]) => {
      await family.record(samples);
      await runInDurableObject(family, (live: MetricSeries) =>
        (live as unknown as { pushLatest(): Promise<boolean> }).pushLatest(),
      );
    };
    await pushes([at("a", 1, now - 2000)]);
    await pushes([at("a", 2, now - 1000), at("b", 7, now - 1000)]);
    const parse = (json: string) => (JSON.parse(json) as unknown[][]).map((r) => r[0]);
    const key = (series: string) => seriesKey(metric, "svc", { series });
    expect(sent.map(([rows, values]) => [parse(rows), values.map((v) => v[0])])).toEqual([
      [[key("a")], []],
      [[key("b")], [key("a")]],
    ]);
    expect((await seriesIndex(env).get([key("a"), key("b")])).map((s) => s?.value)).toEqual([2, 7]);
  });
});

describe("a family written about once a second", () => {
  const MINUTE = 60_000;

  it("sends its latest values from the write and arms no alarm for them; a write early in the interval leaves them to the alarm", async () => {
    const metric = `index_inline_${Date.now()}`;
    const family = familyStub(env, metric, "svc");
    const key = seriesKey(metric, "svc", { series: "a" });
    const setIndexedAt = (at: number) =>
      runInDurableObject(family, (live: MetricSeries) => {
        (live as unknown as { indexedAt: number }).indexedAt = at;
      });
    const alarm = () => runInDurableObject(family, (_live: MetricSeries, state) => state.storage.getAlarm());
    const write = (value: number) =>
      family.record([{ metric, service: "svc", labels: { series: "a" }, value, ts: Date.now() }]);
    await write(1);
    await vi.waitFor(async () => expect((await seriesIndex(env).get([key]))[0]?.value).toBe(1));

    // The last update started 950 ms ago (a collector's next batch, a little early): sent now.
    await setIndexedAt(Date.now() - 950);
    await write(2);
    // The only wake-up is the minute's roll-up, not one at the interval's end for the index.
    expect((await alarm()) as number).toBeGreaterThan(Date.now() + 2_000);
    await vi.waitFor(async () => expect((await seriesIndex(env).get([key]))[0]?.value).toBe(2));

    // 500 ms in: the alarm sends it at the interval's end.
    const at = Date.now() - 500;
    await setIndexedAt(at);
    await write(3);
    expect(await alarm()).toBe(at + 1_000);
    expect((await seriesIndex(env).get([key]))[0]?.value).toBe(2);
    expect((await alarm()) as number).toBeLessThan(Date.now() + MINUTE);
  });
});

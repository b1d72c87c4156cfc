import { describe, expect, it } from "vitest";
import {
  type ExpositionSample,
  countParseErrors,
  formatOfContentType,
  MAX_LISTED_ERRORS,
  type ParseResult,
  parseExposition,
} from "../../../../worker/core/prometheus/parse";
import { FIXTURES, fixture, sampleLines } from "./fixtures";

/** The one sample with this name and these labels (exactly), failing the test otherwise. */
function find(result: ParseResult, name: string, labels: Record<string, string> = {}): ExpositionSample {
  const found = result.samples.filter(
    (s) => s.name === name && JSON.stringify(sorted(s.labels)) === JSON.stringify(sorted(labels)),
  );
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0] as ExpositionSample;
}
const sorted = (labels: Record<string, string>) =>
  Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const named = (result: ParseResult, name: string) => result.samples.filter((s) => s.name === name);

describe("parseExposition on real-world expositions", () => {
  it.each(FIXTURES)("%s parses with no errors, one sample per sample line", (name) => {
    const text = fixture(name);
    const result = parseExposition(text);
    expect(result.errors).toEqual([]);
    expect(result.samples).toHaveLength(sampleLines(text).length);
    expect(result.format).toBe(name === "openmetrics.txt" ? "openmetrics" : "prometheus");
  });

  it("celery-exporter: gauges, counters, histograms and Python's separate _created gauges", () => {
    const result = parseExposition(fixture("celery-exporter.prom"));
    expect(find(result, "celery_workers", { namespace: "celery" })).toMatchObject({
      value: 3,
      type: "gauge",
      timestampMs: null,
    });
    const failed = { name: "shop.tasks.charge_card", namespace: "celery", state: "FAILURE" };
    expect(find(result, "celery_tasks_total", failed)).toMatchObject({ value: 17, type: "counter" });
    const inf = find(result, "celery_task_runtime_bucket", {
      le: "+Inf",
      name: "shop.tasks.charge_card",
      namespace: "celery",
    });
    expect(inf).toMatchObject({ value: 1271, type: "histogram" });
    expect(named(result, "celery_task_runtime_bucket")).toHaveLength(24);
    expect(named(result, "celery_task_runtime_sum").map((s) => s.type)).toEqual(["histogram", "histogram"]);
    expect(
      find(result, "celery_task_runtime_sum", { name: "shop.tasks.send_receipt", namespace: "celery" }).value,
    ).toBeCloseTo(11.0928, 4);
    expect(named(result, "celery_task_runtime_created").map((s) => s.type)).toEqual(["gauge", "gauge"]);
    expect(find(result, "celery_tasks_created", { ...failed, state: "RECEIVED" }).value).toBe(1_700_001_234.5);
    expect(named(result, "celery_worker_up").map((s) => s.value)).toEqual([1, 1, 0]);
  });

  it("flower: histogram suffixes resolve to the family", () => {
    const result = parseExposition(fixture("flower.prom"));
    const labels = { task: "shop.tasks.charge_card", worker: "celery@worker-1" };
    expect(find(result, "flower_task_runtime_seconds_count", labels)).toMatchObject({ value: 636, type: "histogram" });
    expect(find(result, "flower_worker_online", { worker: "celery@worker-2" })).toMatchObject({
      value: 0,
      type: "gauge",
    });
  });

  it("postgres_exporter: pg_up, pg_stat_database_*, Go summaries and untyped", () => {
    const result = parseExposition(fixture("postgres-exporter.prom"));
    expect(find(result, "pg_up")).toMatchObject({ value: 1, type: "gauge", labels: {} });
    const shop = { datid: "16384", datname: "shop", server: "db.internal:5432" };
    expect(find(result, "pg_stat_database_xact_commit", shop)).toMatchObject({ value: 31_427_761, type: "counter" });
    expect(find(result, "pg_stat_database_blks_hit", shop).value).toBe(984_710_298);
    expect(find(result, "pg_stat_database_numbackends", shop)).toMatchObject({ value: 23, type: "gauge" });
    expect(find(result, "go_gc_duration_seconds", { quantile: "0.5" })).toMatchObject({
      value: 6.2349e-5,
      type: "summary",
    });
    expect(find(result, "go_gc_duration_seconds_count")).toMatchObject({ value: 247, type: "summary" });
    const stat = named(result, "pg_static")[0];
    expect(stat?.type).toBe("unknown");
    expect(stat?.labels.version).toBe(
      "PostgreSQL 15.4 (Debian 15.4-1.pgdg120+1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit",
    );
  });

  it("redis_exporter: redis_up, clients, memory, per-command counters", () => {
    const result = parseExposition(fixture("redis-exporter.prom"));
    expect(find(result, "redis_up").value).toBe(1);
    expect(find(result, "redis_connected_clients").value).toBe(42);
    expect(find(result, "redis_memory_used_bytes")).toMatchObject({ value: 43_161_576, type: "gauge" });
    expect(find(result, "redis_commands_total", { cmd: "get" })).toMatchObject({ value: 1_582_904, type: "counter" });
    expect(find(result, "redis_commands_latencies_usec_bucket", { cmd: "get", le: "+Inf" }).type).toBe("histogram");
    expect(named(result, "redis_instance_info")[0]?.labels.redis_version).toBe("7.2.3");
  });

  it("node_exporter: escaped backslashes in label values, large floats", () => {
    const result = parseExposition(fixture("node-exporter.prom"));
    const units = named(result, "node_systemd_unit_state").map((s) => s.labels.name);
    expect(units[0]).toBe(String.raw`dev-disk-by\x2dlabel-cloudimg\x2drootfs.device`);
    expect(find(result, "node_cpu_seconds_total", { cpu: "1", mode: "idle" })).toMatchObject({
      value: 2_417_914.27,
      type: "counter",
    });
    expect(find(result, "process_virtual_memory_max_bytes").value).toBe(18_446_744_073_709_552_000);
    expect(
      find(result, "node_os_info", {
        build_id: "",
        id: "debian",
        id_like: "",
        image_id: "",
        image_version: "",
        name: "Debian GNU/Linux",
        pretty_name: "Debian GNU/Linux 12 (bookworm)",
        variant: "",
        variant_id: "",
        version: "12 (bookworm)",
        version_codename: "bookworm",
        version_id: "12",
      }).value,
    ).toBe(1);
  });

  it("Python prometheus_client: _total counters, _created gauges, histogram and count-only summary", () => {
    const result = parseExposition(fixture("python-client.prom"));
    expect(find(result, "payments_total", { outcome: "declined", provider: "ecpay" })).toMatchObject({
      value: 211,
      type: "counter",
    });
    expect(find(result, "payments_created", { outcome: "ok", provider: "ecpay" })).toMatchObject({
      value: 1_700_000_887.3021,
      type: "gauge",
    });
    const buckets = named(result, "request_latency_seconds_bucket");
    expect(buckets.map((s) => s.labels.le)).toEqual([
      "0.005",
      "0.01",
      "0.025",
      "0.05",
      "0.075",
      "0.1",
      "0.25",
      "0.5",
      "0.75",
      "1.0",
      "2.5",
      "5.0",
      "7.5",
      "10.0",
      "+Inf",
    ]);
    expect(new Set(buckets.map((s) => s.type))).toEqual(new Set(["histogram"]));
    expect(find(result, "inventory_sync_seconds_count")).toMatchObject({ value: 48, type: "summary" });
    expect(
      find(result, "python_info", {
        implementation: "CPython",
        major: "3",
        minor: "11",
        patchlevel: "6",
        version: "3.11.6",
      }).type,
    ).toBe("gauge");
  });

  it("Go client: summary quantiles, NaN for an empty window", () => {
    const result = parseExposition(fixture("go-client.prom"));
    const orders = { handler: "/api/orders", method: "GET" };
    expect(find(result, "api_request_duration_seconds", { ...orders, quantile: "0.99" })).toMatchObject({
      value: 0.241977913,
      type: "summary",
    });
    expect(find(result, "api_request_duration_seconds_count", orders)).toMatchObject({
      value: 104_511,
      type: "summary",
    });
    const refunds = named(result, "api_request_duration_seconds").filter((s) => s.labels.handler === "/api/refunds");
    expect(refunds).toHaveLength(3);
    expect(refunds.every((s) => Number.isNaN(s.value))).toBe(true);
    expect(find(result, "go_info", { version: "go1.21.5" }).value).toBe(1);
  });

  it("federation output: millisecond timestamps, untyped, recording-rule names with colons", () => {
    const result = parseExposition(fixture("federate.prom"));
    expect(find(result, "up", { instance: "api-2:9100", job: "node" })).toMatchObject({
      value: 0,
      timestampMs: 1_700_001_234_571,
      type: "unknown",
    });
    expect(find(result, "job:http_requests:rate5m", { job: "api" })).toMatchObject({
      value: 182.4,
      timestampMs: 1_700_001_230_000,
    });
  });

  it("OpenMetrics: seconds timestamps become ms, exemplars ignored, every family type", () => {
    const result = parseExposition(fixture("openmetrics.txt"));
    expect(result.format).toBe("openmetrics");
    const failure = { name: "shop.tasks.charge_card", state: "FAILURE" };
    expect(find(result, "celery_tasks_total", failure)).toEqual({
      name: "celery_tasks_total",
      labels: failure,
      value: 17,
      timestampMs: 1_700_001_234_567,
      type: "counter",
    });
    expect(find(result, "celery_tasks_created", failure)).toMatchObject({ value: 1_700_001_234.5, type: "counter" });
    expect(find(result, "http_request_duration_seconds_bucket", { path: "/checkout", le: "0.1" })).toMatchObject({
      value: 1044,
      type: "histogram",
      timestampMs: null,
    });
    expect(find(result, "http_request_duration_seconds_created", { path: "/checkout" }).type).toBe("histogram");
    expect(find(result, "rpc_duration_seconds", { service: "inventory", quantile: "0.99" }).type).toBe("summary");
    expect(find(result, "queue_wait_seconds_gcount", { queue: "emails" })).toMatchObject({
      value: 3,
      type: "gaugehistogram",
    });
    expect(find(result, "shop_build_info", { version: "2.14.1", revision: "9f1c3e2", branch: "main" }).type).toBe(
      "info",
    );
    expect(named(result, "feature_flags").map((s) => [s.labels.feature_flags, s.value, s.type])).toEqual([
      ["new_checkout", 1, "stateset"],
      ["legacy_checkout", 0, "stateset"],
    ]);
    expect(find(result, "cache_entries", { cache: "sessions" }).type).toBe("unknown");
    expect(find(result, "redis_memory_used_bytes").type).toBe("gauge");
  });
});

describe("parseExposition: the 0.0.4 text format", () => {
  it('unescapes \\\\, \\" and \\n in label values', () => {
    const result = parseExposition(String.raw`m{a="x\\y",b="say \"hi\"",c="line1\nline2",d="\\n"} 1`);
    expect(result.errors).toEqual([]);
    expect(result.samples[0]?.labels).toEqual({ a: "x\\y", b: 'say "hi"', c: "line1\nline2", d: "\\n" });
  });

  it("keeps other escape sequences literally, as Prometheus does", () => {
    const result = parseExposition(String.raw`m{a="tab\there",b="b\\a\z",c="\foo",d="x\\",e="\f"} 1`);
    expect(result.errors).toEqual([]);
    expect(result.samples[0]?.labels).toEqual({ a: "tab\\there", b: "b\\a\\z", c: "\\foo", d: "x\\", e: "\\f" });
  });

  it("reads a bare # HELP or # TYPE as a comment and a # HELP without text as help", () => {
    const result = parseExposition("# HELP\n# TYPE\n# HELP m\n# HELP   m   \n# TYPE m gauge\nm 1");
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => [s.name, s.type])).toEqual([["m", "gauge"]]);
  });

  it("takes gauge_histogram, untyped and the OpenMetrics types", () => {
    const types = ["gauge_histogram", "gaugehistogram", "untyped", "unknown", "info", "stateset", "summary"];
    const text = types.map((t, i) => `# TYPE m${i} ${t}\nm${i} 1`).join("\n");
    const result = parseExposition(text);
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => s.type)).toEqual([
      "gaugehistogram",
      "gaugehistogram",
      "unknown",
      "unknown",
      "info",
      "stateset",
      "summary",
    ]);
  });

  it("takes labels without a comma between them, a trailing comma, and {,}", () => {
    const result = parseExposition('a{x="1" y="2"} 1\nb{x="1"y="2",} 2\nc{,} 3\nd{ , } 4\ne{x="1",} 5');
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => [s.name, s.labels])).toEqual([
      ["a", { x: "1", y: "2" }],
      ["b", { x: "1", y: "2" }],
      ["c", {}],
      ["d", {}],
      ["e", { x: "1" }],
    ]);
  });

  it("reads NaN, ±Inf in every spelling, and scientific notation", () => {
    const lines = [
      "NaN",
      "nan",
      "+Inf",
      "-Inf",
      "Inf",
      "inf",
      "+Infinity",
      "1.5e3",
      "-2E-2",
      ".5",
      "5.",
      "+7",
      "-0.25e+2",
      "0",
    ];
    const result = parseExposition(lines.map((v, i) => `m{i="${i}"} ${v}`).join("\n"));
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => s.value)).toEqual([
      Number.NaN,
      Number.NaN,
      Infinity,
      -Infinity,
      Infinity,
      Infinity,
      Infinity,
      1500,
      -0.02,
      0.5,
      5,
      7,
      -25,
      0,
    ]);
  });

  it("refuses numbers JavaScript would accept but the format does not", () => {
    const bad = ["0x10", "1_000", "-NaN", "1e", "e5", "--1", "1.2.3", "Infinite", "", "+", "."];
    const result = parseExposition(bad.map((v) => `m ${v}`).join("\n"));
    expect(result.samples).toEqual([]);
    expect(result.errors).toHaveLength(bad.length);
  });

  it("reads integer millisecond timestamps and refuses fractional ones", () => {
    const result = parseExposition("a 1 1700000000123\nb 2 -5\nc 3 1700000000.5\nd 4 +12");
    expect(result.format).toBe("prometheus");
    expect(result.samples.map((s) => [s.name, s.timestampMs])).toEqual([
      ["a", 1_700_000_000_123],
      ["b", -5],
      ["d", 12],
    ]);
    expect(result.errors).toEqual([{ line: 3, reason: 'invalid timestamp "1700000000.5"' }]);
  });

  it("parses CRLF line endings exactly as LF", () => {
    for (const name of FIXTURES) {
      const text = fixture(name);
      const crlf = parseExposition(text.replaceAll("\n", "\r\n"));
      expect(crlf, name).toEqual(parseExposition(text));
    }
    expect(
      parseExposition('m{a="b"} 1\r\n\r\n# TYPE x gauge\r\nx 2\r\n').samples.map((s) => [s.name, s.value, s.type]),
    ).toEqual([
      ["m", 1, "unknown"],
      ["x", 2, "gauge"],
    ]);
  });

  it("tolerates leading and trailing blanks and blanks between tokens", () => {
    const result = parseExposition(
      '  m 1 \t\n\tn{ a = "1" , b="2", }   2   1000  \no{} 3\np{a="1"}4\n# TYPE q gauge   \nq 5\n',
    );
    expect(result.errors).toEqual([]);
    expect(result.samples.map((s) => [s.name, s.labels, s.value, s.timestampMs])).toEqual([
      ["m", {}, 1, null],
      ["n", { a: "1", b: "2" }, 2, 1000],
      ["o", {}, 3, null],
      ["p", { a: "1" }, 4, null],
      ["q", {}, 5, null],
    ]);
    expect(result.samples[4]?.type).toBe("gauge");
  });

  it("refuses a line with a duplicate label, keeping the others", () => {
    const result = parseExposition('ok 1\nm{a="1",b="2",a="3"} 1\nok 2');
    expect(result.samples.map((s) => s.value)).toEqual([1, 2]);
    expect(result.errors).toEqual([{ line: 2, reason: "duplicate label a" }]);
  });

  it.each([
    ["1metric 1", 'invalid metric name at "1"'],
    ["metric-name 1", 'invalid character "-" in metric name metric'],
    ["métrique 1", 'invalid character "é" in metric name m'],
    ['m{1a="x"} 1', 'invalid label name at "1"'],
    ['m{a-b="x"} 1', "expected = after label a"],
    ['m{a:b="x"} 1', "expected = after label a"],
    ["m{,,} 1", 'invalid label name at ","'],
    ['m{,a="1"} 1', 'invalid label name at ","'],
    ['m{a="1",,b="2"} 1', 'invalid label name at ","'],
    ["m{a=x} 1", 'expected " to open the value of label a'],
    ['m{a="x" 1} 1', "expected , or } after label a"],
    ["# TYPE 1bad counter", "invalid metric name in # TYPE"],
    ["# HELP bad-name text", "invalid metric name in # HELP"],
    ["# TYPE m histogramm", 'unknown metric type "histogramm" in # TYPE m'],
    ["# TYPE m gauge extra", "unexpected text after # TYPE m gauge"],
  ])("refuses bad names and declarations: %s", (line, reason) => {
    const result = parseExposition(`ok 1\n${line}\nok 2`);
    expect(result.samples.map((s) => s.name)).toEqual(["ok", "ok"]);
    expect(result.errors).toEqual([{ line: 2, reason }]);
  });

  it.each([
    ["m", "missing value"],
    ['m{a="b"}', "missing value"],
    ["m   \t", "missing value"],
    ["m 1 2 3", "unexpected text after the timestamp"],
    ["m 1x", 'invalid value "1x"'],
    ["m 1 abc", 'invalid timestamp "abc"'],
    ["m 1 #x", "unexpected text after the value"],
    ['m{a="b} 1', "unterminated label value"],
    [String.raw`m{a="b\"} 1`, "unterminated label value"],
    ['m{a="b\\', "unterminated label value"],
    ['m{a="b"', "unterminated label set"],
    ['m{a="b",', "unterminated label set"],
    ["m{a", "unterminated label set"],
    ["m 1 1e3", 'invalid timestamp "1e3"'],
    [`m 1 ${"9".repeat(400)}`, `timestamp "${"9".repeat(40)}…" out of range`],
  ])("refuses a malformed sample line: %s", (line, reason) => {
    const result = parseExposition(`ok 1\n${line}\nok 2`);
    expect(result.samples.map((s) => s.value)).toEqual([1, 2]);
    expect(result.errors).toEqual([{ line: 2, reason }]);
  });

  it("numbers lines from 1, counting comments and blank lines", () => {
    const result = parseExposition("# HELP a x\n\n# random comment\na 1\nbad line here\n\n\nb{ 2");
    expect(result.errors.map((e) => e.line)).toEqual([5, 8]);
  });

  it("types suffixed samples only by suffixes their family's type allows", () => {
    const text = [
      "# TYPE g gauge",
      "g_sum 1",
      "# TYPE s summary",
      "s_bucket 1",
      "s_sum 2",
      "# TYPE h histogram",
      "h_created 3",
      "h_total 4",
      "# TYPE c_total counter",
      "c_total 5",
      "undeclared_bucket 6",
    ].join("\n");
    expect(parseExposition(text).samples.map((s) => `${s.name}:${s.type}`)).toEqual([
      "g_sum:unknown",
      "s_bucket:unknown",
      "s_sum:summary",
      "h_created:histogram",
      "h_total:unknown",
      "c_total:counter",
      "undeclared_bucket:unknown",
    ]);
  });

  it("applies a # TYPE to the samples after it and refuses a second one", () => {
    const result = parseExposition("m 1\n# TYPE m gauge\nm 2\n# TYPE m counter\nm 3");
    expect(result.samples.map((s) => s.type)).toEqual(["unknown", "gauge", "gauge"]);
    expect(result.errors).toEqual([{ line: 4, reason: "second # TYPE for m" }]);
  });

  it("keeps labels that collide with Object.prototype as plain keys", () => {
    const result = parseExposition(
      'm{__proto__="x",constructor="y",toString="z"} 1\nn{constructor="a",constructor="b"} 1',
    );
    expect(Object.entries(result.samples[0]?.labels ?? {})).toEqual([
      ["__proto__", "x"],
      ["constructor", "y"],
      ["toString", "z"],
    ]);
    expect(result.errors).toEqual([{ line: 2, reason: "duplicate label constructor" }]);
  });

  it("lists at most MAX_LISTED_ERRORS errors, then sums up the rest in one entry", () => {
    const result = parseExposition(Array.from({ length: 1000 }, () => "garbage!").join("\n") + "\nok 1");
    expect(result.samples).toHaveLength(1);
    expect(result.errors).toHaveLength(MAX_LISTED_ERRORS + 1);
    expect(result.errors.at(-1)).toEqual({
      line: MAX_LISTED_ERRORS + 1,
      reason: `${1000 - MAX_LISTED_ERRORS} more malformed lines not listed`,
    });
  });

  it("handles empty and comment-only input", () => {
    expect(parseExposition("")).toEqual({ samples: [], errors: [], format: "prometheus" });
    expect(parseExposition("\n\n# just a comment\n#\n")).toEqual({ samples: [], errors: [], format: "prometheus" });
  });
});

describe("parseExposition: OpenMetrics", () => {
  it("is detected by # EOF, converts decimal-second timestamps to ms", () => {
    const result = parseExposition("a 1 1700000000.123\nb 2 1700000000\nc 3 1.7e9\nd 4\n# EOF\n");
    expect(result).toMatchObject({ format: "openmetrics", errors: [] });
    expect(result.samples.map((s) => s.timestampMs)).toEqual([
      1_700_000_000_123,
      1_700_000_000_000,
      1_700_000_000_000,
      null,
    ]);
  });

  it("is detected without # EOF by a counter family whose samples end in _total", () => {
    const result = parseExposition("# TYPE jobs counter\njobs_total 5 1700000000.25\njobs_created 1.7e9");
    expect(result.format).toBe("openmetrics");
    expect(result.samples.map((s) => [s.name, s.type, s.timestampMs])).toEqual([
      ["jobs_total", "counter", 1_700_000_000_250],
      ["jobs_created", "counter", null],
    ]);
    // A 0.0.4 counter named with its _total is not a hint.
    expect(parseExposition("# TYPE jobs_total counter\njobs_total 5 1700000000250").samples[0]?.timestampMs).toBe(
      1_700_000_000_250,
    );
  });

  it("reports anything after # EOF once and stops; trailing blank lines are fine", () => {
    expect(parseExposition("a 1\n# EOF\n\n  \n").errors).toEqual([]);
    const result = parseExposition("a 1\n# EOF\nb 2\nc 3\n# EOF\n");
    expect(result.samples.map((s) => s.name)).toEqual(["a"]);
    expect(result.errors).toEqual([{ line: 3, reason: "content after # EOF" }]);
    const comment = parseExposition("a 1\n# EOF\n# HELP a late\n");
    expect(comment.errors).toEqual([{ line: 3, reason: "content after # EOF" }]);
  });

  it("ignores valid exemplars and refuses malformed ones", () => {
    const result = parseExposition(
      [
        "# TYPE h histogram",
        'h_bucket{le="1"} 2 # {trace_id="abc"} 0.5 1700000000.001',
        // A point at another time: a histogram of its own, which has no other bucket.
        'h_bucket{le="+Inf"} 3 1700000001 # {} 7',
        'h_bucket{le="2"} 3 # trace_id="abc" 0.5',
        'h_bucket{le="3"} 3 # {trace_id="abc"}',
        'h_bucket{le="4"} 3 # {trace_id="abc"} x',
        'h_bucket{le="5"} 3 # {trace_id="abc"} 1 2 3',
        'h_bucket{le="6"} 3 # {trace_id="abc} 1',
        "# EOF",
      ].join("\n"),
    );
    expect(result.samples.map((s) => [s.labels.le, s.value, s.timestampMs])).toEqual([
      ["1", 2, null],
      ["+Inf", 3, 1_700_000_001_000],
    ]);
    expect(result.errors.map((e) => [e.line, e.reason])).toEqual([
      [2, "h: no +Inf bucket"],
      [4, "unexpected text after the value"],
      [5, "exemplar: missing value"],
      [6, 'exemplar: invalid value "x"'],
      [7, "unexpected text after the exemplar"],
      [8, "exemplar: unterminated label value"],
    ]);
  });

  it("accepts # UNIT and checks its metric name", () => {
    const result = parseExposition(
      "# TYPE t_seconds gauge\n# UNIT t_seconds seconds\n# UNIT 9x seconds\n# UNIT t_seconds sec-onds\nt_seconds 1\n# EOF",
    );
    expect(result.samples).toHaveLength(1);
    expect(result.errors).toEqual([
      { line: 3, reason: "invalid metric name in # UNIT" },
      { line: 4, reason: "invalid unit in # UNIT t_seconds" },
    ]);
  });
});

describe("parseExposition options", () => {
  it("format: the Content-Type's, else detected; OpenMetrics is held to its rules", () => {
    expect(formatOfContentType("application/openmetrics-text; version=1.0.0; charset=utf-8")).toBe("openmetrics");
    expect(formatOfContentType(" Application/OpenMetrics-Text")).toBe("openmetrics");
    expect(formatOfContentType("text/plain; version=0.0.4")).toBeUndefined();
    expect(formatOfContentType(null)).toBeUndefined();
    const text = 'a{x="1" y="2"} 1\nb 2';
    expect(parseExposition(text).errors).toEqual([]);
    const strict = parseExposition(text, { format: "openmetrics" });
    expect(strict.samples.map((s) => s.name)).toEqual(["b"]);
    expect(strict.errors).toEqual([
      { line: 1, reason: "expected , or } after label x" },
      { line: 3, reason: "missing # EOF at the end of an OpenMetrics exposition" },
    ]);
    expect(countParseErrors(strict.errors)).toBe(2);
  });

  const text = fixture("python-client.prom");

  it("allow keeps samples whose family or sample name is listed", () => {
    const result = parseExposition(text, {
      allow: new Set(["request_latency_seconds", "payments_total", "process_open_fds"]),
    });
    expect(result.errors).toEqual([]);
    const names = new Set(result.samples.map((s) => s.name));
    expect(names).toEqual(
      new Set([
        "request_latency_seconds_bucket",
        "request_latency_seconds_count",
        "request_latency_seconds_sum",
        "payments_total",
        "process_open_fds",
      ]),
    );
    expect(result.samples).toHaveLength(15 + 1 + 1 + 3 + 1);
    // The OpenMetrics counter family keeps its _total and _created samples.
    const om = parseExposition(fixture("openmetrics.txt"), { allow: new Set(["celery_tasks"]) });
    expect(om.samples.map((s) => s.name)).toEqual([
      "celery_tasks_total",
      "celery_tasks_created",
      "celery_tasks_total",
      "celery_tasks_created",
    ]);
  });

  it("allow null or absent keeps everything; an empty set keeps nothing", () => {
    const all = parseExposition(text).samples.length;
    expect(parseExposition(text, { allow: null }).samples).toHaveLength(all);
    expect(parseExposition(text, { allow: new Set() }).samples).toEqual([]);
  });

  it("maxSamples stops with an error at the first sample over the limit", () => {
    const result = parseExposition("a 1\nb 2\n# c\nc 3\nd 4", { maxSamples: 2 });
    expect(result.samples.map((s) => s.name)).toEqual(["a", "b"]);
    expect(result.errors).toEqual([{ line: 4, reason: "more than 2 samples: the rest of the exposition is ignored" }]);
    expect(parseExposition("a 1\nb 2", { maxSamples: 2 }).errors).toEqual([]);
  });

  it("maxSamples counts only samples the allow-list keeps, and defaults to 50,000", () => {
    const filtered = parseExposition("a 1\nb 2\na 3\nb 4\na 5", { maxSamples: 2, allow: new Set(["a"]) });
    expect(filtered.samples.map((s) => s.value)).toEqual([1, 3]);
    expect(filtered.errors.map((e) => e.line)).toEqual([5]);
    const big = Array.from({ length: 50_001 }, (_, i) => `m{i="${i}"} ${i}`).join("\n");
    const result = parseExposition(big);
    expect(result.samples).toHaveLength(50_000);
    expect(result.errors).toEqual([
      { line: 50_001, reason: "more than 50000 samples: the rest of the exposition is ignored" },
    ]);
  });
});

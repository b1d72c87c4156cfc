import { describe, expect, it } from "vitest";
import { MAX_LISTED_ERRORS, type ParseResult, parseExposition } from "../../../../worker/core/prometheus/parse";
import { FIXTURES, fixture } from "./fixtures";
import { mulberry32 } from "../../../../worker/core/random";

const rng = mulberry32;

// An independent reference for a valid sample line, written from the grammar with regular
// expressions (fine here: inputs are short). The parser must never yield a sample it rejects.
// 0.0.4 as Prometheus reads it: blanks between tokens, commas between labels optional, a
// trailing comma, `{,}`. OpenMetrics: single spaces, no blanks in label sets, no stray commas.
const B = "[ \\t]";
const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*${B}*=${B}*"(?:[^"\\\\]|\\\\.)*"`;
const LABELS = `\\{${B}*(?:,${B}*|${LABEL}(?:${B}*,?${B}*${LABEL})*(?:${B}*,)?${B}*)?\\}`;
const OM_LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\]|\\\\.)*"`;
const OM_LABELS = `\\{(?:${OM_LABEL}(?:,${OM_LABEL})*)?\\}`;
const DECIMAL = "[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?";
const VALUE = `(?:${DECIMAL}|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN])`;
function sampleLine(timestamp: string): RegExp {
  const exemplar = `${B}+#${B}+${LABELS}${B}+${VALUE}(?:${B}+${timestamp})?`;
  return new RegExp(
    `^${B}*(${NAME})(?:${B}*(${LABELS})${B}*|${B}+)(${VALUE})(?:${B}+(${timestamp}))?(?:${exemplar})?${B}*$`,
  );
}
const OM_SAMPLE = new RegExp(
  `^(${NAME})(${OM_LABELS})? (${VALUE})(?: (${DECIMAL}))?(?: # ${OM_LABELS} ${VALUE}(?: ${DECIMAL})?)?$`,
);
const REFERENCE = { prometheus: sampleLine("[+-]?[0-9]+"), openmetrics: OM_SAMPLE };
const EOF_LINE = /^# EOF$/;

interface Expected {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number | null;
}

function reference(line: string, format: ParseResult["format"]): Expected | null {
  const m = REFERENCE[format].exec(line);
  if (!m) return null;
  const [, name = "", labelText = "", valueText = "", tsText] = m;
  const labels: Record<string, string> = {};
  for (const [, key = "", raw = ""] of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"/g))
    labels[key] = raw.replace(/\\(.)/g, (escape, c: string) =>
      c === "n" ? "\n" : c === "\\" || c === '"' ? c : escape,
    );
  const lower = valueText.toLowerCase();
  const value =
    lower === "nan"
      ? Number.NaN
      : lower.includes("inf")
        ? lower.startsWith("-")
          ? -Infinity
          : Infinity
        : Number(valueText);
  const timestampMs =
    tsText === undefined ? null : format === "openmetrics" ? Math.round(Number(tsText) * 1000) : Number(tsText);
  return { name, labels, value, timestampMs };
}

const same = (s: Expected, e: Expected) =>
  s.name === e.name &&
  Object.is(s.value, e.value) &&
  s.timestampMs === e.timestampMs &&
  JSON.stringify(Object.entries(s.labels)) === JSON.stringify(Object.entries(e.labels));

/**
 * Parses `text` and checks the invariants: samples are, in order, a subsequence of the lines
 * the reference accepts (before any # EOF); every non-comment line before # EOF yields a
 * sample or an error; after # EOF at most one error and nothing else.
 */
function check(text: string): ParseResult {
  const result = parseExposition(text);
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const eof = lines.findIndex((l) => EOF_LINE.test(l));
  expect(eof < 0 || result.format === "openmetrics", "# EOF means OpenMetrics").toBe(true);
  const before = eof >= 0 ? lines.slice(0, eof) : lines;

  let next = 0;
  for (const sample of result.samples) {
    let matched = false;
    while (next < before.length && !matched) {
      const expected = reference(before[next] ?? "", result.format);
      next++;
      matched = expected !== null && same(sample, expected);
    }
    expect(matched, `sample ${JSON.stringify(sample)} from no valid line of ${JSON.stringify(text)}`).toBe(true);
    expect(["counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"]).toContain(
      sample.type,
    );
  }

  // Unless errors were summed up: each sample line before # EOF is accounted for, and after it
  // the first non-blank line is the one error.
  const listed = result.errors.length <= MAX_LISTED_ERRORS;
  const isSampleLine = (l: string) => /[^ \t]/.test(l) && !/^[ \t]*#/.test(l);
  const sampleLineNumbers = new Set(before.flatMap((l, i) => (isSampleLine(l) ? [i + 1] : [])));
  const sampleErrors = new Set(result.errors.filter((e) => sampleLineNumbers.has(e.line)).map((e) => e.line)).size;
  // OpenMetrics reports a histogram's whole-family rules on a line that also yielded its sample,
  // so there a sample line may count twice; 0.0.4 lines yield exactly one of the two.
  const accounted = result.samples.length + sampleErrors;
  const exact = result.format === "prometheus" ? accounted : Math.min(accounted, sampleLineNumbers.size);
  expect(listed ? exact : sampleLineNumbers.size, JSON.stringify(text)).toBe(sampleLineNumbers.size);
  expect(result.samples.length, JSON.stringify(text)).toBeLessThanOrEqual(sampleLineNumbers.size);
  const afterEof = eof < 0 ? -1 : lines.findIndex((l, i) => i > eof && /[^ \t]/.test(l));
  const late = listed && eof >= 0 ? result.errors.filter((e) => e.line > eof + 1) : [];
  expect(late, JSON.stringify(text)).toEqual(
    listed && afterEof >= 0 ? [{ line: afterEof + 1, reason: "content after # EOF" }] : [],
  );
  return result;
}

const fixtureLines = FIXTURES.flatMap((name) => fixture(name).split("\n")).filter((l) => l !== "" && l !== "# EOF");
const ALPHABET = 'abcxyz_:019 \t\t{}{}""""==,,\\\\##.eE+-InfNa\n\n\r';
const NAMES = ["m", "a_b", ":x", "up", "m_total", "1x", "m-", ""];
const BLANKS = [" ", " ", " ", "\t", "  ", ""];
const LABEL_PARTS = [
  'a="x"',
  'le="+Inf"',
  'b="\\""',
  'c="\\\\"',
  'd="\\n"',
  'e = "1"',
  'e="\\t"',
  "a=",
  '"x"',
  'a="',
  '1a=""',
];
const VALUES = ["1", "0.5", "NaN", "+Inf", "-inf", "1e3", "-2.5E-3", ".", "-", "x", "0x1"];
const TIMESTAMPS = ["1700000000123", "-5", "1.7e9", "1700000000.5", "+1", "", "a"];
const DIRECTIVES = [
  "# EOF",
  "# TYPE m counter",
  "# TYPE m_total gauge",
  "# TYPE m histogram",
  "# HELP m x",
  "# UNIT m s",
  "#",
];

describe("parseExposition under random input", () => {
  it("never throws, and yields samples only from valid lines, for random printable ASCII", () => {
    const random = rng(1);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    const printable = () => String.fromCharCode(32 + Math.floor(random() * 95));
    let samples = 0;
    for (let n = 0; n < 3000; n++) {
      let text = "";
      for (let i = Math.floor(random() * 120); i > 0; i--) text += random() < 0.6 ? pick([...ALPHABET]) : printable();
      samples += check(text).samples.length;
    }
    // Lines laid out as the grammar's slots, each filled from grammar tokens or random characters:
    // valid lines often enough to give the check teeth, and near misses of every kind.
    const slot = (tokens: readonly string[]) => (random() < 0.9 ? pick(tokens) : printable());
    for (let n = 0; n < 3000; n++) {
      const lines = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
        if (random() < 0.15) return slot(DIRECTIVES);
        let line = slot(NAMES);
        if (random() < 0.6) {
          line += "{";
          for (let i = Math.floor(random() * 3); i > 0; i--) line += slot(LABEL_PARTS) + (random() < 0.8 ? "," : "");
          line += slot(["}", "}", "}", "", " }"]);
        }
        line += slot(BLANKS) + slot(VALUES);
        if (random() < 0.4) line += slot(BLANKS) + slot(TIMESTAMPS);
        if (random() < 0.1) line += slot([" # {", ' # {a="1"} 2', " # ", " #x"]);
        return line + (random() < 0.2 ? slot(BLANKS) : "");
      });
      samples += check(lines.join(random() < 0.2 ? "\r\n" : "\n")).samples.length;
    }
    expect(samples).toBeGreaterThan(500);
  });

  it("never throws, and yields samples only from valid lines, for random bytes decoded as UTF-8", () => {
    const random = rng(2);
    const decoder = new TextDecoder("utf-8");
    for (let n = 0; n < 3000; n++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 200) }, () => Math.floor(random() * 256));
      check(decoder.decode(bytes));
    }
    // Valid lines carrying random UTF-8 inside label values still parse.
    for (let n = 0; n < 500; n++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => 0x80 + Math.floor(random() * 128));
      const label = decoder.decode(bytes).replaceAll("\\", "\\\\").replaceAll('"', '\\"');
      const result = check(`m{a="${label}"} ${n}`);
      expect(result.samples.map((s) => s.labels.a)).toEqual([decoder.decode(bytes)]);
    }
  });

  it("never throws, and yields samples only from valid lines, for mutated fixture lines", () => {
    const random = rng(3);
    const int = (n: number) => Math.floor(random() * n);
    const inserts = ['"', "{", "}", "\\", ",", "=", " ", "#", "\t", "\r", "\n", "# EOF", "é", "\u{1F600}", "\0"];
    const mutate = (line: string): string => {
      const at = int(line.length + 1);
      switch (int(4)) {
        case 0:
          return line.slice(0, at);
        case 1:
          return line.slice(0, at) + String.fromCharCode(int(128)) + line.slice(at + 1);
        case 2:
          return line.slice(0, at) + (inserts[int(inserts.length)] ?? "") + line.slice(at);
        default:
          return line.slice(0, at) + line.slice(at + 1 + int(5));
      }
    };
    let samples = 0;
    let errors = 0;
    let openMetrics = 0;
    for (let n = 0; n < 6000; n++) {
      const lines = Array.from({ length: 1 + int(6) }, () => {
        let line = fixtureLines[int(fixtureLines.length)] ?? "";
        for (let m = int(4); m > 0; m--) line = mutate(line);
        return line;
      });
      if (random() < 0.25) lines.splice(int(lines.length + 1), 0, "# EOF");
      const result = check(lines.join(random() < 0.2 ? "\r\n" : "\n"));
      samples += result.samples.length;
      errors += result.errors.length;
      if (result.format === "openmetrics") openMetrics++;
    }
    expect(samples).toBeGreaterThan(3000);
    expect(errors).toBeGreaterThan(5000);
    expect(openMetrics).toBeGreaterThan(1000);
  });
});

describe("parseExposition cost", () => {
  const time = (f: () => void) => {
    const start = performance.now();
    f();
    return performance.now() - start;
  };

  it("stays linear on adversarial lines of about a megabyte", () => {
    const n = 200_000;
    const inputs = [
      `m{${'a="",'.repeat(n)}`,
      `m{a="${"\\\\".repeat(n)}`,
      `m{a="${'\\"'.repeat(n)}"} 1`,
      `${"a".repeat(5 * n)} 1`,
      `m ${"1".repeat(5 * n)}`,
      `m 1 ${"9".repeat(5 * n)}`,
      `# TYPE ${"a".repeat(5 * n)}`,
      "{".repeat(5 * n),
      '"'.repeat(5 * n),
      "\n".repeat(5 * n),
      " \t".repeat(3 * n),
      `m 1 # {${'a="",'.repeat(n)}} 1`,
    ];
    for (const input of inputs) {
      let result: ParseResult | undefined;
      const ms = time(() => (result = parseExposition(input)));
      expect(ms, input.slice(0, 20)).toBeLessThan(500);
      expect(result?.errors.length ?? 0).toBeLessThanOrEqual(MAX_LISTED_ERRORS + 1);
    }
  });

  it("parses a 10,000-line exposition in well under a second, as 0.0.4 and as OpenMetrics", () => {
    const lines: string[] = [
      "# HELP http_request_duration_seconds Request latency.",
      "# TYPE http_request_duration_seconds histogram",
    ];
    const les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"];
    for (let route = 0; lines.length < 10_000; route++) {
      const labels = `method="GET",route="/api/v1/orders/${route}",status="200"`;
      for (const [i, le] of les.entries())
        lines.push(`http_request_duration_seconds_bucket{${labels},le="${le}"} ${route * 10 + i}`);
      lines.push(
        `http_request_duration_seconds_sum{${labels}} ${route * 1.25e-2}`,
        `http_request_duration_seconds_count{${labels}} ${route * 10 + 9}`,
      );
    }
    const text = lines.slice(0, 10_000).join("\n");
    parseExposition(text); // warm up the JIT once, as a long-lived Worker isolate would be
    let result: ParseResult | undefined;
    const ms = time(() => (result = parseExposition(text)));
    expect(result?.errors).toEqual([]);
    expect(result?.samples).toHaveLength(9_998);
    expect(ms).toBeLessThan(1000);
    // As OpenMetrics, with every family rule checked (whole histograms: no line cut off).
    const openMetrics = `${lines.join("\n")}\n# EOF\n`;
    parseExposition(openMetrics);
    const omMs = time(() => (result = parseExposition(openMetrics)));
    expect(result?.format).toBe("openmetrics");
    expect(result?.errors).toEqual([]);
    expect(result?.samples).toHaveLength(lines.length - 2);
    expect(omMs).toBeLessThan(1000);
  });
});

/**
 * Prometheus text format 0.0.4 and OpenMetrics 1.0 parser: a hand-rolled scanner, linear in
 * the input (no regular expressions); a malformed line is reported by number and yields nothing.
 *
 * The two formats are held to different standards. 0.0.4 is read the way Prometheus itself
 * reads it: blanks anywhere between tokens, unknown escapes kept literally, a bare `# HELP`,
 * labels without commas between them and a trailing comma (`{,}`). OpenMetrics is checked
 * against its specification (the OpenMetrics parser test suite passes): single spaces,
 * no stray comments or blank lines, `# EOF` required, and the family rules that
 * openmetrics-rules.ts checks.
 */
import { OpenMetricsRules } from "./openmetrics-rules";

export type MetricType =
  | "counter"
  | "gauge"
  | "histogram"
  | "gaugehistogram"
  | "summary"
  | "info"
  | "stateset"
  | "unknown";

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Epoch ms (OpenMetrics seconds are converted); null when the line has no timestamp. */
  timestampMs: number | null;
  /** The declared type of the sample's family; "unknown" when undeclared. */
  type: MetricType;
}

export interface ParseResult {
  samples: ExpositionSample[];
  errors: { line: number; reason: string }[];
  format: "prometheus" | "openmetrics";
}

export interface ParseOptions {
  /** Family or sample names to keep; null or absent keeps all. */
  allow?: ReadonlySet<string> | null;
  /** Samples kept before parsing stops with an error; default DEFAULT_MAX_SAMPLES. */
  maxSamples?: number;
  /** The format, when the Content-Type said it; absent: detectFormat decides. */
  format?: ParseResult["format"];
}

/** The format a Content-Type names: OpenMetrics for application/openmetrics-text, else none. */
export function formatOfContentType(contentType: string | null | undefined): ParseResult["format"] | undefined {
  return contentType?.trim().toLowerCase().startsWith("application/openmetrics-text") ? "openmetrics" : undefined;
}

export const DEFAULT_MAX_SAMPLES = 50_000;
/** Errors listed one by one; further ones are summed up in one closing entry, so garbage stays cheap. */
export const MAX_LISTED_ERRORS = 100;

const SUMMED_UP = /^(\d+) more malformed lines not listed$/;

/** Whether an error is the closing entry that sums up the errors past MAX_LISTED_ERRORS. */
export const isSummedUp = (error: { reason: string }): boolean => SUMMED_UP.test(error.reason);

/** How many lines a parse refused, the ones its closing entry sums up included. */
export function countParseErrors(errors: readonly { line: number; reason: string }[]): number {
  let count = 0;
  for (const e of errors) {
    const more = SUMMED_UP.exec(e.reason);
    count += more ? Number(more[1]) : 1;
  }
  return count;
}

/** The types OpenMetrics declares. */
const OPENMETRICS_TYPES: ReadonlyMap<string, MetricType> = new Map<string, MetricType>([
  ["counter", "counter"],
  ["gauge", "gauge"],
  ["histogram", "histogram"],
  ["gaugehistogram", "gaugehistogram"],
  ["summary", "summary"],
  ["info", "info"],
  ["stateset", "stateset"],
  ["unknown", "unknown"],
]);
/** 0.0.4 adds `untyped`; `gauge_histogram` is how some clients spell the gauge histogram. */
const PROMETHEUS_TYPES: ReadonlyMap<string, MetricType> = new Map<string, MetricType>([
  ...OPENMETRICS_TYPES,
  ["untyped", "unknown"],
  ["gauge_histogram", "gaugehistogram"],
]);

/** Sample-name suffixes that belong to a family of each type (OpenMetrics §MetricFamily). */
export const FAMILY_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ["_total", "_created"],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  gaugehistogram: ["_bucket", "_gsum", "_gcount"],
  summary: ["_sum", "_count", "_created"],
  info: ["_info"],
  gauge: [],
  stateset: [],
  unknown: [],
};
export const ALL_SUFFIXES = ["_bucket", "_sum", "_count", "_created", "_total", "_gsum", "_gcount", "_info"];

const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const LOWER_N = 110;
const LBRACE = 123;
const RBRACE = 125;

const isBlank = (c: number) => c === SPACE || c === TAB;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** Character classes of names, as bits per ASCII code: [a-zA-Z_] [0-9] [:]. */
const LABEL_START = 1;
const LABEL_CHAR = 2;
const METRIC_START = 4;
const METRIC_CHAR = 8;
const NAME_CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  if (letter) NAME_CLASSES[c] = LABEL_START | LABEL_CHAR | METRIC_START | METRIC_CHAR;
  else if (isDigit(c)) NAME_CLASSES[c] = LABEL_CHAR | METRIC_CHAR;
  else if (c === 58) NAME_CLASSES[c] = METRIC_START | METRIC_CHAR;
}
const is = (c: number, bits: number) => c < 128 && ((NAME_CLASSES[c] ?? 0) & bits) !== 0;

/** An error reason, told apart from scanned strings by type. */
interface Invalid {
  reason: string;
}
const invalid = (reason: string): Invalid => ({ reason });

function show(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** A cursor over one line, text[pos, end); the line break is not part of it. */
class Cursor {
  pos = 0;
  end = 0;
  constructor(
    readonly text: string,
    /** OpenMetrics: tokens are separated by exactly one space. */
    readonly strict: boolean,
  ) {}

  reset(start: number, end: number): void {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The current character code, or -1 at the end of the line. */
  peek(): number {
    return this.pos < this.end ? this.text.charCodeAt(this.pos) : -1;
  }

  /** Skips spaces and tabs; true when there were any. */
  skipBlanks(): boolean {
    const start = this.pos;
    while (this.pos < this.end && isBlank(this.text.charCodeAt(this.pos))) this.pos++;
    return this.pos > start;
  }

  /**
   * A separator between tokens: any run of blanks in 0.0.4; exactly one space in OpenMetrics,
   * where anything else leaves the cursor on the offending blank (false).
   */
  separator(): boolean {
    if (!this.strict) return this.skipBlanks();
    if (this.peek() !== SPACE) return false;
    this.pos++;
    return !isBlank(this.peek());
  }

  /** Blanks inside a label set: allowed in 0.0.4, none in OpenMetrics. */
  labelBlanks(): void {
    if (!this.strict) this.skipBlanks();
  }

  /** A name whose first character has class `first` and the others class `rest`; null if none. */
  name(first: number, rest: number): string | null {
    const { text, end } = this;
    const start = this.pos;
    if (start >= end || !is(text.charCodeAt(start), first)) return null;
    let pos = start + 1;
    while (pos < end && is(text.charCodeAt(pos), rest)) pos++;
    this.pos = pos;
    return text.slice(start, pos);
  }

  /** Everything up to the next blank or the end of the line. */
  token(): string {
    const start = this.pos;
    while (this.pos < this.end && !isBlank(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /**
   * A label value after its opening quote, through the closing quote, unescaped: `\\`, `\"` and
   * `\n` are decoded; any other backslash is kept literally, as both formats' parsers do.
   */
  quoted(): string | Invalid {
    const { text, end } = this;
    let out = "";
    let start = this.pos;
    while (this.pos < end) {
      const c = text.charCodeAt(this.pos);
      if (c === QUOTE) {
        out += text.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c === BACKSLASH) {
        if (this.pos + 1 >= end) break;
        const next = text.charCodeAt(this.pos + 1);
        const decoded = next === BACKSLASH ? "\\" : next === QUOTE ? '"' : next === LOWER_N ? "\n" : null;
        if (decoded === null) {
          // Unknown escape: both characters stay as written.
          this.pos += 2;
          continue;
        }
        out += text.slice(start, this.pos) + decoded;
        this.pos += 2;
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    return invalid("unterminated label value");
  }
}

/** Calls visit(start, end, lineNumber) per line (CR of CRLF excluded) until it returns false. */
function forEachLine(text: string, visit: (start: number, end: number, line: number) => boolean): void {
  const length = text.length;
  let start = 0;
  let line = 0;
  while (start < length) {
    let newline = text.indexOf("\n", start);
    if (newline === -1) newline = length;
    line++;
    const end = newline > start && text.charCodeAt(newline - 1) === CR ? newline - 1 : newline;
    if (!visit(start, end, line)) return;
    start = newline + 1;
  }
}

/**
 * A number as both formats write it: decimal with optional sign, fraction and exponent,
 * or (case-insensitive) Inf, Infinity with optional sign, NaN. Null when it is not one.
 */
export function parseNumber(token: string, specials: boolean): number | null {
  const length = token.length;
  let i = 0;
  const first = token.charCodeAt(0);
  const signed = first === 43 || first === 45;
  if (signed) i = 1;
  if (i < length && !isDigit(token.charCodeAt(i)) && token.charCodeAt(i) !== 46) {
    if (!specials) return null;
    const word = token.slice(i).toLowerCase();
    if (word === "inf" || word === "infinity") return first === 45 ? -Infinity : Infinity;
    return word === "nan" && !signed ? Number.NaN : null;
  }
  const digitsFrom = i;
  while (i < length && isDigit(token.charCodeAt(i))) i++;
  let digits = i - digitsFrom;
  if (i < length && token.charCodeAt(i) === 46) {
    const fractionFrom = ++i;
    while (i < length && isDigit(token.charCodeAt(i))) i++;
    digits += i - fractionFrom;
  }
  if (digits === 0) return null;
  if (i < length && (token.charCodeAt(i) | 32) === 101) {
    i++;
    const sign = token.charCodeAt(i);
    if (sign === 43 || sign === 45) i++;
    const exponentFrom = i;
    while (i < length && isDigit(token.charCodeAt(i))) i++;
    if (i === exponentFrom) return null;
  }
  return i === length ? Number(token) : null;
}

/** A timestamp as written: 0.0.4 integer milliseconds, OpenMetrics decimal seconds. */
function parseTimestamp(token: string, openMetrics: boolean): number | Invalid {
  let written: number | null = null;
  if (openMetrics) written = parseNumber(token, false);
  else {
    let i = token.charCodeAt(0) === 43 || token.charCodeAt(0) === 45 ? 1 : 0;
    const digitsFrom = i;
    while (i < token.length && isDigit(token.charCodeAt(i))) i++;
    if (i === token.length && i > digitsFrom) written = Number(token);
  }
  if (written === null) return invalid(`invalid timestamp ${show(token)}`);
  const ms = openMetrics ? Math.round(written * 1000) : written;
  return Number.isFinite(ms) ? written : invalid(`timestamp ${show(token)} out of range`);
}

/** OpenMetrics caps an exemplar's label set at 128 characters (names and values, in code points). */
const MAX_EXEMPLAR_LABEL_CHARS = 128;

/** `{name="value",…}` after its opening brace, through the closing brace, into `into`. */
function parseLabels(cur: Cursor, into: Record<string, string>): Invalid | null {
  cur.labelBlanks();
  // 0.0.4 takes a lone comma for an empty set, as Prometheus does.
  if (!cur.strict && cur.peek() === COMMA) {
    cur.pos++;
    cur.skipBlanks();
    if (cur.peek() !== RBRACE) return invalid(`invalid label name at ${show(",")}`);
  }
  for (;;) {
    cur.labelBlanks();
    const c = cur.peek();
    if (c === RBRACE) {
      cur.pos++;
      return null;
    }
    if (c === -1) return invalid("unterminated label set");
    const name = cur.name(LABEL_START, LABEL_CHAR);
    if (name === null) return invalid(`invalid label name at ${show(String.fromCharCode(c))}`);
    cur.labelBlanks();
    if (cur.peek() !== EQUALS) return invalid(cur.done ? "unterminated label set" : `expected = after label ${name}`);
    cur.pos++;
    cur.labelBlanks();
    if (cur.peek() !== QUOTE) return invalid(`expected " to open the value of label ${name}`);
    cur.pos++;
    const value = cur.quoted();
    if (typeof value !== "string") return value;
    if (name in into) return invalid(`duplicate label ${name}`);
    into[name] = value;
    cur.labelBlanks();
    const separator = cur.peek();
    if (separator === COMMA) {
      cur.pos++;
      // OpenMetrics has no trailing comma.
      if (cur.strict && cur.peek() === RBRACE) return invalid(`trailing comma after label ${name}`);
    } else if (separator === RBRACE) {
      cur.pos++;
      return null;
    } else if (!cur.strict && is(separator, LABEL_START)) {
      // 0.0.4 as Prometheus reads it: the comma between two labels may be missing.
      continue;
    } else return invalid(separator === -1 ? "unterminated label set" : `expected , or } after label ${name}`);
  }
}

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // a low surrogate completes the pair already counted
  }
  return n;
}

/** ` # {labels} value [timestamp]` after the sample, from the `#`: checked, then discarded. */
function skipExemplar(cur: Cursor, openMetrics: boolean): Invalid | null {
  cur.pos++;
  if (!cur.separator() || cur.peek() !== LBRACE) return invalid("unexpected text after the value");
  cur.pos++;
  const labels = Object.create(null) as Record<string, string>;
  const error = parseLabels(cur, labels);
  if (error) return invalid(`exemplar: ${error.reason}`);
  if (cur.strict) {
    let chars = 0;
    for (const name in labels) chars += name.length + codePoints(labels[name] ?? "");
    if (chars > MAX_EXEMPLAR_LABEL_CHARS)
      return invalid(`exemplar: labels longer than ${MAX_EXEMPLAR_LABEL_CHARS} characters`);
  }
  if (!cur.separator() || cur.done) return invalid("exemplar: missing value");
  const token = cur.token();
  if (parseNumber(token, true) === null) return invalid(`exemplar: invalid value ${show(token)}`);
  if (cur.done) return null;
  if (!cur.separator()) return invalid("unexpected text after the exemplar");
  if (cur.done) return cur.strict ? invalid("trailing blank after the exemplar") : null;
  const timestamp = parseTimestamp(cur.token(), openMetrics);
  if (typeof timestamp !== "number") return invalid(`exemplar: ${timestamp.reason}`);
  if (!cur.strict) cur.skipBlanks();
  return cur.done ? null : invalid("unexpected text after the exemplar");
}

interface ScannedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** The timestamp as written: 0.0.4 milliseconds, OpenMetrics seconds. */
  timestamp: number | null;
  exemplar: boolean;
  /** OpenMetrics: the series as written, `name{labels}` (its label sets have no blanks). */
  series: string;
}

/** `name[{labels}] value [timestamp] [# exemplar]`, from the first non-blank character. */
function parseSample(cur: Cursor, openMetrics: boolean): ScannedSample | Invalid {
  const from = cur.pos;
  const name = cur.name(METRIC_START, METRIC_CHAR);
  if (name === null) return invalid(`invalid metric name at ${show(String.fromCharCode(cur.peek()))}`);
  // Null prototype: a label named __proto__ or constructor is a plain key here.
  const labels = Object.create(null) as Record<string, string>;
  let series = "";
  if (cur.strict) {
    const braced = cur.peek() === LBRACE;
    if (braced) {
      cur.pos++;
      const error = parseLabels(cur, labels);
      if (error) return error;
    }
    series = cur.text.slice(from, cur.pos);
    if (cur.done) return invalid("missing value");
    const at = cur.peek();
    if (!cur.separator()) {
      if (isBlank(at)) return invalid("expected one space before the value");
      if (braced) return invalid("expected a space after the labels");
      return invalid(`invalid character ${show(String.fromCharCode(at))} in metric name ${name}`);
    }
  } else {
    const blank = cur.skipBlanks();
    if (cur.peek() === LBRACE) {
      cur.pos++;
      const error = parseLabels(cur, labels);
      if (error) return error;
      cur.skipBlanks();
    } else if (!blank && !cur.done) {
      return invalid(`invalid character ${show(String.fromCharCode(cur.peek()))} in metric name ${name}`);
    }
  }
  if (cur.done) return invalid("missing value");
  const valueToken = cur.token();
  const value = parseNumber(valueToken, true);
  if (value === null) return invalid(`invalid value ${show(valueToken)}`);
  let timestamp: number | null = null;
  if (cur.done) return { name, labels, value, timestamp, exemplar: false, series };
  if (!cur.separator()) return invalid("expected one space after the value");
  if (cur.done)
    return cur.strict
      ? invalid("trailing blank after the value")
      : { name, labels, value, timestamp, exemplar: false, series };
  if (cur.peek() !== HASH) {
    const written = parseTimestamp(cur.token(), openMetrics);
    if (typeof written !== "number") return written;
    timestamp = written;
    if (!cur.done) {
      if (!cur.separator()) return invalid("expected one space after the timestamp");
      if (cur.done)
        return cur.strict
          ? invalid("trailing blank after the timestamp")
          : { name, labels, value, timestamp, exemplar: false, series };
    }
  }
  if (cur.done) return { name, labels, value, timestamp, exemplar: false, series };
  if (cur.peek() !== HASH) return invalid("unexpected text after the timestamp");
  const error = skipExemplar(cur, openMetrics);
  return error ?? { name, labels, value, timestamp, exemplar: true, series };
}

type Directive =
  | { kind: "comment" }
  | { kind: "help"; name: string }
  | { kind: "unit"; name: string; unit: string }
  | { kind: "type"; name: string; type: MetricType }
  | Invalid;

const COMMENT: Directive = { kind: "comment" };

/** Whether text[start, end) is the line `# EOF`, exactly as OpenMetrics writes it. */
const isEof = (text: string, start: number, end: number) => end - start === 5 && text.startsWith("# EOF", start);

/**
 * A line starting with `#` (after blanks): HELP, TYPE, UNIT, EOF or a plain comment.
 * OpenMetrics has no plain comments, and writes its directives with single spaces.
 */
function parseDirective(cur: Cursor): Directive {
  const strict = cur.strict;
  const other = (reason: string): Directive => (strict ? invalid(reason) : COMMENT);
  cur.pos++;
  if (!cur.separator()) return other("a comment is not allowed in OpenMetrics");
  const word = cur.token();
  // The end marker is exactly `# EOF` (isEof); anything else spelled with EOF is not it.
  if (word === "EOF") return other("malformed # EOF");
  if (word !== "HELP" && word !== "TYPE" && word !== "UNIT") return other(`unknown directive # ${show(word)}`);
  // 0.0.4: `# HELP` or `# TYPE` alone is a comment, as Prometheus reads it.
  if (!cur.separator()) return cur.done && !strict ? COMMENT : invalid(`invalid metric name in # ${word}`);
  const name = cur.name(METRIC_START, METRIC_CHAR);
  if (name === null || (!cur.done && !isBlank(cur.peek()))) return invalid(`invalid metric name in # ${word}`);
  if (strict) {
    // The name is always followed by one space and the rest (a HELP text or unit may be empty).
    if (cur.peek() !== SPACE) return invalid(`expected a space after # ${word} ${name}`);
    cur.pos++;
  } else cur.skipBlanks();
  // The docstring is free text; 0.0.4 lets it be absent.
  if (word === "HELP") return { kind: "help", name };
  if (word === "UNIT") {
    const unit = cur.name(METRIC_CHAR, METRIC_CHAR) ?? "";
    if (!strict) cur.skipBlanks();
    return cur.done ? { kind: "unit", name, unit } : invalid(`invalid unit in # UNIT ${name}`);
  }
  const typeWord = cur.token();
  const type = (strict ? OPENMETRICS_TYPES : PROMETHEUS_TYPES).get(typeWord);
  if (type === undefined) return invalid(`unknown metric type ${show(typeWord)} in # TYPE ${name}`);
  if (!strict) cur.skipBlanks();
  return cur.done ? { kind: "type", name, type } : invalid(`unexpected text after # TYPE ${name} ${typeWord}`);
}

/**
 * OpenMetrics when a line is `# EOF`, or when a family declared `counter` without the
 * `_total` suffix has samples named `<family>_total` (OpenMetrics naming); else 0.0.4.
 */
export function detectFormat(text: string): ParseResult["format"] {
  const cur = new Cursor(text, false);
  const counterTotals = new Set<string>();
  let eof = false;
  forEachLine(text, (start, end) => {
    if (isEof(text, start, end)) {
      eof = true;
      return false;
    }
    cur.reset(start, end);
    cur.skipBlanks();
    if (cur.peek() !== HASH) return true;
    const directive = parseDirective(cur);
    if ("kind" in directive) {
      if (directive.kind === "type" && directive.type === "counter" && !directive.name.endsWith("_total"))
        counterTotals.add(`${directive.name}_total`);
    }
    return true;
  });
  if (eof) return "openmetrics";
  if (counterTotals.size === 0) return "prometheus";
  let totals = false;
  forEachLine(text, (start, end) => {
    cur.reset(start, end);
    cur.skipBlanks();
    const name = cur.name(METRIC_START, METRIC_CHAR);
    totals = name !== null && counterTotals.has(name);
    return !totals;
  });
  return totals ? "openmetrics" : "prometheus";
}

export interface Family {
  name: string;
  type: MetricType;
  /** The suffix the sample name adds to the family name ("" for none). */
  suffix: string;
}

/** The declared family a sample name belongs to: itself, or its name without a suffix its type allows. */
function resolveFamily(name: string, types: ReadonlyMap<string, MetricType>): Family {
  const exact = types.get(name);
  if (exact !== undefined) return { name, type: exact, suffix: "" };
  for (const suffix of ALL_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = types.get(base);
    if (type !== undefined && FAMILY_SUFFIXES[type].includes(suffix)) return { name: base, type, suffix };
  }
  return { name, type: "unknown", suffix: "" };
}

/**
 * Parses a scrape body. Every malformed line yields one error and no sample; parsing goes
 * on with the next line, except after `# EOF` (one error, then stop) and past maxSamples.
 * OpenMetrics family rules broken across lines (a histogram whose count is not its +Inf
 * bucket, say) are reported on the family's last line, its samples kept.
 */
export function parseExposition(text: string, options: ParseOptions = {}): ParseResult {
  const allow = options.allow ?? null;
  const maxSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
  const format = options.format ?? detectFormat(text);
  const openMetrics = format === "openmetrics";
  const samples: ExpositionSample[] = [];
  const errors: ParseResult["errors"] = [];
  let unlisted = 0;
  let firstUnlisted = 0;
  const fail = (line: number, reason: string) => {
    if (errors.length < MAX_LISTED_ERRORS) errors.push({ line, reason });
    else if (unlisted++ === 0) firstUnlisted = line;
  };
  const types = new Map<string, MetricType>();
  const families = new Map<string, Family>();
  const rules = openMetrics ? new OpenMetricsRules(fail) : null;
  const cur = new Cursor(text, openMetrics);
  let afterEof = false;
  let lastLine = 0;
  let stopped = false;

  forEachLine(text, (start, end, line) => {
    lastLine = line;
    cur.reset(start, end);
    if (!openMetrics || afterEof) cur.skipBlanks();
    if (cur.done) {
      // Blank lines after # EOF are the body's trailing newlines; before it OpenMetrics has none.
      if (openMetrics && !afterEof) fail(line, "blank line");
      return true;
    }
    if (afterEof) {
      fail(line, "content after # EOF");
      return false;
    }
    if (isEof(text, start, end)) {
      afterEof = true;
      return true;
    }
    if (openMetrics && isBlank(cur.peek())) {
      fail(line, "line starts with a blank");
      return true;
    }
    if (cur.peek() === HASH) {
      const directive = parseDirective(cur);
      if (!("kind" in directive)) fail(line, directive.reason);
      else if (directive.kind === "type") {
        if (types.has(directive.name)) fail(line, `second # TYPE for ${directive.name}`);
        else if (!rules || rules.metadata(line, directive, types)) {
          types.set(directive.name, directive.type);
          families.clear();
        }
      } else if (directive.kind !== "comment") rules?.metadata(line, directive, types);
      return true;
    }
    const scanned = parseSample(cur, openMetrics);
    if (!("name" in scanned)) {
      fail(line, scanned.reason);
      return true;
    }
    let family = families.get(scanned.name);
    if (family === undefined) {
      family = resolveFamily(scanned.name, types);
      families.set(scanned.name, family);
    }
    if (rules) {
      const problem = rules.sample(line, scanned, family);
      if (problem !== null) {
        fail(line, problem);
        return true;
      }
    }
    if (allow && !allow.has(family.name) && !allow.has(scanned.name)) return true;
    if (samples.length >= maxSamples) {
      errors.push({ line, reason: `more than ${maxSamples} samples: the rest of the exposition is ignored` });
      stopped = true;
      return false;
    }
    samples.push({
      name: scanned.name,
      labels: scanned.labels,
      value: scanned.value,
      timestampMs:
        scanned.timestamp === null || !openMetrics ? scanned.timestamp : Math.round(scanned.timestamp * 1000),
      type: family.type,
    });
    return true;
  });

  if (rules && !stopped) {
    rules.finish();
    if (!afterEof) fail(lastLine + 1, "missing # EOF at the end of an OpenMetrics exposition");
  }
  // Family rules are checked when the family ends, after its later lines: back in line order.
  if (rules) errors.sort((a, b) => a.line - b.line);
  if (unlisted > 0) errors.push({ line: firstUnlisted, reason: `${unlisted} more malformed lines not listed` });
  return { samples, errors, format };
}

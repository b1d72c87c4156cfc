/**
 * Prometheus text format 0.0.4 and OpenMetrics 1.0 parser: a hand-rolled scanner, linear in
 * the input (no regular expressions); a malformed line is reported by number and yields nothing.
 */

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
}

export const DEFAULT_MAX_SAMPLES = 50_000;
/** Errors listed one by one; further ones are summed up in one closing entry, so garbage stays cheap. */
export const MAX_LISTED_ERRORS = 100;

const DECLARED_TYPES: ReadonlyMap<string, MetricType> = new Map<string, MetricType>([
  ["counter", "counter"],
  ["gauge", "gauge"],
  ["histogram", "histogram"],
  ["gaugehistogram", "gaugehistogram"],
  ["summary", "summary"],
  ["info", "info"],
  ["stateset", "stateset"],
  ["unknown", "unknown"],
  ["untyped", "unknown"],
]);

/** Sample-name suffixes that belong to a family of each type (OpenMetrics §MetricFamily). */
const FAMILY_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ["_total", "_created"],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  gaugehistogram: ["_bucket", "_gsum", "_gcount"],
  summary: ["_sum", "_count", "_created"],
  info: ["_info"],
  gauge: [],
  stateset: [],
  unknown: [],
};
const ALL_SUFFIXES = ["_bucket", "_sum", "_count", "_created", "_total", "_gsum", "_gcount", "_info"];

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
  constructor(readonly text: string) {}

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

  /** A label value after its opening quote, through the closing quote, unescaped. */
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
        let decoded: string;
        if (next === BACKSLASH) decoded = "\\";
        else if (next === QUOTE) decoded = '"';
        else if (next === LOWER_N) decoded = "\n";
        else return invalid(`invalid escape sequence ${show(text.slice(this.pos, this.pos + 2))} in label value`);
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
function parseNumber(token: string, specials: boolean): number | null {
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

/** 0.0.4: integer milliseconds; OpenMetrics: decimal seconds. Returned as epoch ms. */
function parseTimestamp(token: string, openMetrics: boolean): number | Invalid {
  let ms: number | null = null;
  if (openMetrics) {
    const seconds = parseNumber(token, false);
    if (seconds !== null) ms = Math.round(seconds * 1000);
  } else {
    let i = token.charCodeAt(0) === 43 || token.charCodeAt(0) === 45 ? 1 : 0;
    const digitsFrom = i;
    while (i < token.length && isDigit(token.charCodeAt(i))) i++;
    if (i === token.length && i > digitsFrom) ms = Number(token);
  }
  if (ms === null) return invalid(`invalid timestamp ${show(token)}`);
  return Number.isFinite(ms) ? ms : invalid(`timestamp ${show(token)} out of range`);
}

/** `{name="value",…}` after its opening brace, through the closing brace, into `into`. */
function parseLabels(cur: Cursor, into: Record<string, string>): Invalid | null {
  for (;;) {
    cur.skipBlanks();
    const c = cur.peek();
    if (c === RBRACE) {
      cur.pos++;
      return null;
    }
    if (c === -1) return invalid("unterminated label set");
    const name = cur.name(LABEL_START, LABEL_CHAR);
    if (name === null) return invalid(`invalid label name at ${show(String.fromCharCode(c))}`);
    cur.skipBlanks();
    if (cur.peek() !== EQUALS) return invalid(cur.done ? "unterminated label set" : `expected = after label ${name}`);
    cur.pos++;
    cur.skipBlanks();
    if (cur.peek() !== QUOTE) return invalid(`expected " to open the value of label ${name}`);
    cur.pos++;
    const value = cur.quoted();
    if (typeof value !== "string") return value;
    if (name in into) return invalid(`duplicate label ${name}`);
    into[name] = value;
    cur.skipBlanks();
    const separator = cur.peek();
    if (separator === COMMA) cur.pos++;
    else if (separator === RBRACE) {
      cur.pos++;
      return null;
    } else return invalid(separator === -1 ? "unterminated label set" : `expected , or } after label ${name}`);
  }
}

/** ` # {labels} value [timestamp]` after the sample, from the `#`: checked, then discarded. */
function skipExemplar(cur: Cursor, openMetrics: boolean): Invalid | null {
  cur.pos++;
  if (!cur.skipBlanks() || cur.peek() !== LBRACE) return invalid("unexpected text after the value");
  cur.pos++;
  const labels = parseLabels(cur, Object.create(null) as Record<string, string>);
  if (labels) return invalid(`exemplar: ${labels.reason}`);
  if (!cur.skipBlanks() || cur.done) return invalid("exemplar: missing value");
  const token = cur.token();
  if (parseNumber(token, true) === null) return invalid(`exemplar: invalid value ${show(token)}`);
  cur.skipBlanks();
  if (!cur.done) {
    const timestamp = parseTimestamp(cur.token(), openMetrics);
    if (typeof timestamp !== "number") return invalid(`exemplar: ${timestamp.reason}`);
    cur.skipBlanks();
  }
  return cur.done ? null : invalid("unexpected text after the exemplar");
}

interface ScannedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number | null;
}

/** `name[{labels}] value [timestamp] [# exemplar]`, from the first non-blank character. */
function parseSample(cur: Cursor, openMetrics: boolean): ScannedSample | Invalid {
  const name = cur.name(METRIC_START, METRIC_CHAR);
  if (name === null) return invalid(`invalid metric name at ${show(String.fromCharCode(cur.peek()))}`);
  // Null prototype: a label named __proto__ or constructor is a plain key here.
  const labels = Object.create(null) as Record<string, string>;
  const blank = cur.skipBlanks();
  if (cur.peek() === LBRACE) {
    cur.pos++;
    const error = parseLabels(cur, labels);
    if (error) return error;
    cur.skipBlanks();
  } else if (!blank && !cur.done) {
    return invalid(`invalid character ${show(String.fromCharCode(cur.peek()))} in metric name ${name}`);
  }
  if (cur.done) return invalid("missing value");
  const valueToken = cur.token();
  const value = parseNumber(valueToken, true);
  if (value === null) return invalid(`invalid value ${show(valueToken)}`);
  let timestampMs: number | null = null;
  cur.skipBlanks();
  if (!cur.done && cur.peek() !== HASH) {
    const timestamp = parseTimestamp(cur.token(), openMetrics);
    if (typeof timestamp !== "number") return timestamp;
    timestampMs = timestamp;
    cur.skipBlanks();
  }
  if (!cur.done) {
    if (cur.peek() !== HASH) return invalid("unexpected text after the timestamp");
    const error = skipExemplar(cur, openMetrics);
    if (error) return error;
  }
  return { name, labels, value, timestampMs };
}

type Directive =
  | { kind: "comment" }
  | { kind: "eof" }
  | { kind: "help" | "unit"; name: string }
  | { kind: "type"; name: string; type: MetricType }
  | Invalid;

const COMMENT: Directive = { kind: "comment" };

/** A line starting with `#` (after blanks): HELP, TYPE, UNIT, EOF or a plain comment. */
function parseDirective(cur: Cursor): Directive {
  cur.pos++;
  if (!cur.skipBlanks()) return COMMENT;
  const word = cur.token();
  if (word === "EOF") {
    cur.skipBlanks();
    return cur.done ? { kind: "eof" } : COMMENT;
  }
  if (word !== "HELP" && word !== "TYPE" && word !== "UNIT") return COMMENT;
  cur.skipBlanks();
  const name = cur.name(METRIC_START, METRIC_CHAR);
  if (name === null || (!cur.done && !isBlank(cur.peek()))) return invalid(`invalid metric name in # ${word}`);
  cur.skipBlanks();
  if (word === "HELP") return { kind: "help", name };
  if (word === "UNIT") {
    cur.name(METRIC_CHAR, METRIC_CHAR);
    cur.skipBlanks();
    return cur.done ? { kind: "unit", name } : invalid(`invalid unit in # UNIT ${name}`);
  }
  const typeWord = cur.token();
  const type = DECLARED_TYPES.get(typeWord);
  if (type === undefined) return invalid(`unknown metric type ${show(typeWord)} in # TYPE ${name}`);
  cur.skipBlanks();
  return cur.done ? { kind: "type", name, type } : invalid(`unexpected text after # TYPE ${name} ${typeWord}`);
}

/**
 * OpenMetrics when a line is `# EOF`, or when a family declared `counter` without the
 * `_total` suffix has samples named `<family>_total` (OpenMetrics naming); else 0.0.4.
 */
export function detectFormat(text: string): ParseResult["format"] {
  const cur = new Cursor(text);
  const counterTotals = new Set<string>();
  let eof = false;
  forEachLine(text, (start, end) => {
    cur.reset(start, end);
    cur.skipBlanks();
    if (cur.peek() !== HASH) return true;
    const directive = parseDirective(cur);
    if ("kind" in directive) {
      if (directive.kind === "eof") eof = true;
      else if (directive.kind === "type" && directive.type === "counter" && !directive.name.endsWith("_total"))
        counterTotals.add(`${directive.name}_total`);
    }
    return !eof;
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

interface Family {
  name: string;
  type: MetricType;
}

/** The declared family a sample name belongs to: itself, or its name without a suffix its type allows. */
function resolveFamily(name: string, types: ReadonlyMap<string, MetricType>): Family {
  const exact = types.get(name);
  if (exact !== undefined) return { name, type: exact };
  for (const suffix of ALL_SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = types.get(base);
    if (type !== undefined && FAMILY_SUFFIXES[type].includes(suffix)) return { name: base, type };
  }
  return { name, type: "unknown" };
}

/**
 * Parses a scrape body. Every malformed line yields one error and no sample; parsing goes
 * on with the next line, except after `# EOF` (one error, then stop) and past maxSamples.
 */
export function parseExposition(text: string, options: ParseOptions = {}): ParseResult {
  const allow = options.allow ?? null;
  const maxSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
  const format = detectFormat(text);
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
  const cur = new Cursor(text);
  let afterEof = false;

  forEachLine(text, (start, end, line) => {
    cur.reset(start, end);
    cur.skipBlanks();
    if (cur.done) return true;
    if (afterEof) {
      fail(line, "content after # EOF");
      return false;
    }
    if (cur.peek() === HASH) {
      const directive = parseDirective(cur);
      if (!("kind" in directive)) fail(line, directive.reason);
      else if (directive.kind === "eof") afterEof = true;
      else if (directive.kind === "type") {
        if (types.has(directive.name)) fail(line, `second # TYPE for ${directive.name}`);
        else {
          types.set(directive.name, directive.type);
          families.clear();
        }
      }
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
    if (allow && !allow.has(family.name) && !allow.has(scanned.name)) return true;
    if (samples.length >= maxSamples) {
      errors.push({ line, reason: `more than ${maxSamples} samples: the rest of the exposition is ignored` });
      return false;
    }
    samples.push({
      name: scanned.name,
      labels: scanned.labels,
      value: scanned.value,
      timestampMs: scanned.timestampMs,
      type: family.type,
    });
    return true;
  });

  if (unlisted > 0) errors.push({ line: firstUnlisted, reason: `${unlisted} more malformed lines not listed` });
  return { samples, errors, format };
}

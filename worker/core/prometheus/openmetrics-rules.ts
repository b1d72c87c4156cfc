/**
 * The OpenMetrics rules that span lines, checked as the parser goes (one pass, state per
 * family): metadata before samples and at most once, families and histogram groups kept
 * together, timestamps not going back, per-type values and labels (counters never negative
 * or NaN, `le` and `quantile` numbers, info 1, stateset 0 or 1), exemplars only where the
 * format allows them, and whole histograms (+Inf bucket, _count equal to it, _sum with _count).
 * 0.0.4 has none of these rules, so this runs for OpenMetrics only.
 */
import { ALL_SUFFIXES, FAMILY_SUFFIXES, type Family, type MetricType, parseNumber } from "./parse";

export type Metadata =
  | { kind: "help"; name: string }
  | { kind: "unit"; name: string; unit: string }
  | { kind: "type"; name: string; type: MetricType };

export interface CheckedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** As written (seconds); null when absent. */
  timestamp: number | null;
  exemplar: boolean;
  /** The series as written, `name{labels}`: the same series written the same way each time. */
  series: string;
}

/** One histogram's or summary's points at one timestamp: its label set without le/quantile. */
interface Group {
  key: string;
  lastLine: number;
  buckets: number;
  lastLe: number;
  lastBucket: number;
  inf: number | null;
  negative: boolean;
  count: number | null;
  sum: number | null;
}

interface FamilyState {
  name: string;
  type: MetricType | null;
  help: boolean;
  unit: string | null;
  samples: number;
  groups: Set<string>;
  group: Group | null;
  /** Per series, the timestamp of its last point (null: written without one). */
  series: Map<string, number | null>;
}

const GROUPED: ReadonlySet<MetricType> = new Set(["histogram", "gaugehistogram", "summary"]);
/** Types whose samples always carry a suffix after the family name. */
const SUFFIXED: ReadonlySet<MetricType> = new Set(["counter", "histogram", "gaugehistogram", "info"]);

const badCount = (v: number) => Number.isNaN(v) || v < 0;

/** A label set but one label as a key, names sorted; each value's length keeps keys apart. */
function labelKey(labels: Record<string, string>, without: string): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) {
    if (name === without) continue;
    const value = labels[name] ?? "";
    key += `${name}=${value.length}:${value}`;
  }
  return key;
}

export class OpenMetricsRules {
  private current: FamilyState | null = null;
  /** Families whose lines are over: any later line of theirs is out of place. */
  private readonly closed = new Set<string>();

  constructor(private readonly fail: (line: number, reason: string) => void) {}

  /** A HELP, TYPE or UNIT line; false when it is refused (the parser then ignores it). */
  metadata(line: number, m: Metadata, types: ReadonlyMap<string, MetricType>): boolean {
    const family = this.enter(m.name);
    const word = m.kind.toUpperCase();
    const refuse = (reason: string) => {
      this.fail(line, reason);
      return false;
    };
    if (family === null) return refuse(`# ${word} ${m.name} is apart from the family's other lines`);
    if (family.samples > 0) return refuse(`# ${word} ${m.name} after the family's samples`);
    if (m.kind === "help") {
      if (family.help) return refuse(`second # HELP for ${m.name}`);
      family.help = true;
      return true;
    }
    if (m.kind === "unit") {
      if (family.unit !== null) return refuse(`second # UNIT for ${m.name}`);
      if (m.unit !== "" && !m.name.endsWith(`_${m.unit}`))
        return refuse(`the name ${m.name} does not end with its unit _${m.unit}`);
      if (family.type === "info" || family.type === "stateset")
        return refuse(`a family of type ${family.type} has no unit`);
      family.unit = m.unit;
      return true;
    }
    if (m.type === "info" || m.type === "stateset") {
      if (family.unit) return refuse(`a family of type ${m.type} has no unit`);
    }
    // A family's sample names must not be another family's name, either way round.
    for (const suffix of FAMILY_SUFFIXES[m.type]) {
      if (types.has(m.name + suffix)) return refuse(`${m.name}${suffix} is already a family`);
    }
    for (const suffix of ALL_SUFFIXES) {
      if (!m.name.endsWith(suffix)) continue;
      const base = types.get(m.name.slice(0, -suffix.length));
      if (base !== undefined && FAMILY_SUFFIXES[base].includes(suffix))
        return refuse(`${m.name} is a sample name of the family ${m.name.slice(0, -suffix.length)}`);
    }
    family.type = m.type;
    return true;
  }

  /** A well-formed sample line; the reason it is refused, or null. */
  sample(line: number, s: CheckedSample, family: Family): string | null {
    const state = this.enter(family.name);
    if (state === null) return `samples of ${family.name} are apart from the family's other lines`;
    const { type, suffix } = family;
    if (SUFFIXED.has(type) && suffix === "") return `${s.name} lacks the suffix that samples of a ${type} carry`;
    const problem = valueProblem(s, family) ?? (s.exemplar ? exemplarProblem(family) : null);
    if (problem !== null) return problem;

    const previous = state.series.get(s.series);
    if (previous !== undefined) {
      if ((previous === null) !== (s.timestamp === null)) return `${s.name} mixes points with and without timestamps`;
      if (previous !== null && s.timestamp !== null && s.timestamp < previous)
        return `${s.name}: timestamp goes back from ${previous} to ${s.timestamp}`;
    }

    if (GROUPED.has(type)) {
      const key = `${labelKey(s.labels, type === "summary" ? "quantile" : "le")}@${s.timestamp ?? ""}`;
      if (state.group?.key !== key) {
        if (state.group) this.finishGroup(state);
        if (state.groups.has(key)) return `${s.name}: the points of one ${type} are apart`;
        state.groups.add(key);
        state.group = {
          key,
          lastLine: line,
          buckets: 0,
          lastLe: -Infinity,
          lastBucket: 0,
          inf: null,
          negative: false,
          count: null,
          sum: null,
        };
      }
      const group = state.group as Group;
      if (suffix === "_bucket") {
        const le = parseNumber(s.labels.le ?? "", true) as number;
        if (group.buckets > 0 && le <= group.lastLe) return `${s.name}: buckets out of order (le ${s.labels.le})`;
        if (group.buckets > 0 && s.value < group.lastBucket) return `${s.name}: bucket counts decrease`;
        group.buckets++;
        group.lastLe = le;
        group.lastBucket = s.value;
        if (le < 0) group.negative = true;
        if (le === Infinity) group.inf = s.value;
      } else if (suffix === "_count" || suffix === "_gcount") group.count = s.value;
      else if (suffix === "_sum" || suffix === "_gsum") group.sum = s.value;
      group.lastLine = line;
    }
    state.series.set(s.series, s.timestamp);
    state.samples++;
    return null;
  }

  /** At the end of the exposition. */
  finish(): void {
    if (this.current) this.close(this.current);
    this.current = null;
  }

  /** The family's state, opening it (and closing the one before); null if it was closed already. */
  private enter(name: string): FamilyState | null {
    if (this.current?.name === name) return this.current;
    if (this.closed.has(name)) return null;
    if (this.current) this.close(this.current);
    this.current = {
      name,
      type: null,
      help: false,
      unit: null,
      samples: 0,
      groups: new Set(),
      group: null,
      series: new Map(),
    };
    return this.current;
  }

  private close(state: FamilyState): void {
    if (state.group) this.finishGroup(state);
    this.closed.add(state.name);
  }

  /** Whole-histogram rules, reported on the group's last line. */
  private finishGroup(state: FamilyState): void {
    const group = state.group;
    state.group = null;
    if (group === null || state.type === "summary" || state.type === null) return;
    const gauge = state.type === "gaugehistogram";
    const [count, sum] = gauge ? ["_gcount", "_gsum"] : ["_count", "_sum"];
    const fail = (reason: string) => this.fail(group.lastLine, `${state.name}: ${reason}`);
    if (group.inf === null) fail("no +Inf bucket");
    else if (group.count !== null && group.count !== group.inf) fail(`${count} differs from the +Inf bucket`);
    if ((group.count === null) !== (group.sum === null))
      fail(group.sum === null ? `${count} without ${sum}` : `${sum} without ${count}`);
    if (!gauge && group.negative && group.sum !== null) fail("_sum with negative buckets");
    if (gauge && group.sum !== null && group.sum < 0 && !group.negative)
      fail("negative _gsum without negative buckets");
  }
}

/** The value and label rules of a sample of its family's type. */
function valueProblem(s: CheckedSample, { type, suffix }: Family): string | null {
  const v = s.value;
  switch (type) {
    case "counter":
      return suffix === "_total" && badCount(v) ? `${s.name}: a counter is never negative or NaN` : null;
    case "histogram":
    case "gaugehistogram":
      if (suffix === "_bucket") {
        const written = s.labels.le;
        if (written === undefined) return `${s.name}: a bucket needs an le label`;
        const le = parseNumber(written, true);
        if (le === null || Number.isNaN(le)) return `${s.name}: le ${JSON.stringify(written)} is not a number`;
        if (le === Infinity && written !== "+Inf") return `${s.name}: the infinite bucket is written le="+Inf"`;
      }
      if (suffix === "_gsum") return Number.isNaN(v) ? `${s.name}: _gsum is NaN` : null;
      return badCount(v) ? `${s.name}: ${suffix.slice(1)} is never negative or NaN` : null;
    case "summary": {
      if (suffix !== "") return badCount(v) ? `${s.name}: ${suffix.slice(1)} is never negative or NaN` : null;
      const written = s.labels.quantile;
      const q = written === undefined ? null : parseNumber(written, true);
      if (q === null || Number.isNaN(q) || q < 0 || q > 1)
        return `${s.name}: a quantile sample needs a quantile label between 0 and 1`;
      return v < 0 ? `${s.name}: a quantile is never negative` : null;
    }
    case "info":
      return v === 1 ? null : `${s.name}: an info value is 1`;
    case "stateset":
      if (!(s.name in s.labels)) return `${s.name}: a stateset sample needs a label named ${s.name}`;
      return v === 0 || v === 1 ? null : `${s.name}: a stateset value is 0 or 1`;
    default:
      return null;
  }
}

function exemplarProblem({ type, suffix }: Family): string | null {
  const allowed =
    (type === "counter" && suffix === "_total") ||
    ((type === "histogram" || type === "gaugehistogram") && suffix === "_bucket");
  return allowed ? null : "an exemplar belongs only on a counter's _total or a histogram's _bucket";
}

/**
 * The JSONPath subset HTTP monitors check (`$.a.b[0].c`, `$['key with.dots']`, `$.items[-1]`):
 * member access by dot or bracket, and array indexes (negative counts from the end).
 */

export type PathSegment = string | number;

export type ParsedPath = { ok: true; segments: PathSegment[] } | { ok: false; error: string };

const NAME = /^[A-Za-z_$][\w$-]*/;
const INDEX = /^\[(-?\d+)\]/;
const QUOTED = /^\[\s*(['"])((?:\\.|(?!\1)[^\\])*)\1\s*\]/;

/**
 * Parses a path starting with `$`.
 *
 * @example parseJsonPath("$.checks['db'].ok") // { ok: true, segments: ["checks", "db", "ok"] }
 */
export function parseJsonPath(path: string): ParsedPath {
  if (!path.startsWith("$")) return { ok: false, error: 'must start with "$"' };
  const segments: PathSegment[] = [];
  let rest = path.slice(1);
  while (rest.length > 0) {
    const at = path.length - rest.length;
    if (rest.startsWith(".")) {
      const name = NAME.exec(rest.slice(1));
      if (!name) return { ok: false, error: `expected a member name at position ${at + 1}` };
      segments.push(name[0]);
      rest = rest.slice(1 + name[0].length);
      continue;
    }
    const index = INDEX.exec(rest);
    if (index) {
      segments.push(Number(index[1]));
      rest = rest.slice(index[0].length);
      continue;
    }
    const quoted = QUOTED.exec(rest);
    if (quoted) {
      segments.push((quoted[2] ?? "").replace(/\\(.)/g, "$1"));
      rest = rest.slice(quoted[0].length);
      continue;
    }
    return { ok: false, error: `unexpected "${rest[0]}" at position ${at}` };
  }
  return { ok: true, segments };
}

export type Selected = { found: true; value: unknown } | { found: false };

/** The value at `segments` inside `root`, or not found (a missing member, an index out of range). */
export function selectJsonPath(root: unknown, segments: readonly PathSegment[]): Selected {
  let current: unknown = root;
  for (const segment of segments) {
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return { found: false };
      const i = segment < 0 ? current.length + segment : segment;
      if (i < 0 || i >= current.length) return { found: false };
      current = current[i];
    } else {
      if (typeof current !== "object" || current === null || Array.isArray(current)) return { found: false };
      if (!Object.hasOwn(current, segment)) return { found: false };
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return { found: true, value: current };
}

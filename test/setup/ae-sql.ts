/**
 * A local stand-in for the Analytics Engine SQL API (POST /accounts/{id}/analytics_engine/sql):
 * checks the method, path, bearer token and that the body is SQL, runs the subset of
 * ClickHouse SQL the history reader emits over points seeded by the tests, and answers
 * in AE's JSON format `{meta, data, rows}`. Provides `aeSqlPort`.
 *
 * Test control: `PUT /__test/accounts/{id}` with `{token, dataset, points}` replaces an
 * account's data; `GET /__test/accounts/{id}/queries` lists the SQL it received.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

/** One stored data point, as `writeDataPoint` would have stored it. */
export interface AePoint {
  /** Epoch ms. */
  timestamp: number;
  sample_interval: number;
  index1: string;
  blobs: string[];
  doubles: number[];
}

interface Account {
  token: string;
  dataset: string;
  points: AePoint[];
  queries: string[];
}

class SqlError extends Error {}

/** Splits on `sep` outside parentheses and quotes. */
function splitTopLevel(text: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === "'") quoted = false;
      continue;
    }
    if (ch === "'") quoted = true;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0) {
      const m = sep.exec(text.slice(i));
      if (m && m.index === 0) {
        parts.push(text.slice(start, i).trim());
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter(Boolean);
}

/** Reads ClickHouse string literals: 'a', 'it\'s'. */
function parseStrings(list: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^'\\]|\\.)*)'\s*(?:,|$)/gy;
  const text = list.trim();
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < text.length && (m = re.exec(text))) {
    out.push((m[1] ?? "").replace(/\\(.)/g, "$1"));
    while (text[re.lastIndex] === " ") re.lastIndex++;
  }
  if (re.lastIndex < text.length) throw new SqlError(`cannot read string list: ${list}`);
  return out;
}

type RowFn = (p: AePoint) => number | string;
type Column =
  | { kind: "key"; alias: string; type: string; of: RowFn }
  | { kind: "agg"; alias: string; type: string; of: (ps: AePoint[]) => number | string | null };

function field(name: string): RowFn {
  const m = /^(blob|double)(\d+)$/.exec(name);
  if (name === "index1") return (p) => p.index1;
  if (name === "_sample_interval") return (p) => p.sample_interval;
  if (!m) throw new SqlError(`unknown column ${name}`);
  const i = Number(m[2]) - 1;
  return m[1] === "blob" ? (p) => p.blobs[i] ?? "" : (p) => p.doubles[i] ?? 0;
}

/** ClickHouse's quantileExactWeighted: the first value whose cumulative weight reaches ceil(total × level). */
function quantileExactWeighted(level: number, pairs: [number, number][]): number | null {
  const sorted = pairs.filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, w]) => n + w, 0);
  if (!total) return null;
  const threshold = Math.ceil(total * level);
  let acc = 0;
  for (const [v, w] of sorted) {
    acc += w;
    if (acc >= threshold) return v;
  }
  return sorted.at(-1)?.[0] ?? null;
}

function column(item: string): Column {
  const m = /^(.*)\s+AS\s+(\w+)$/is.exec(item);
  if (!m) throw new SqlError(`every selected expression needs an alias: ${item}`);
  const expr = (m[1] ?? "").trim();
  const alias = m[2] ?? "";
  let g: RegExpExecArray | null;
  if ((g = /^toUnixTimestamp\(toStartOfInterval\(timestamp,\s*INTERVAL\s+'(\d+)'\s+SECOND\)\)$/i.exec(expr))) {
    const size = Number(g[1]) * 1000;
    return { kind: "key", alias, type: "UInt32", of: (p) => Math.floor(p.timestamp / size) * (size / 1000) };
  }
  if ((g = /^SUM\(_sample_interval\)$/i.exec(expr))) {
    // 64-bit integers are quoted in ClickHouse's JSON output.
    return { kind: "agg", alias, type: "UInt64", of: (ps) => String(ps.reduce((n, p) => n + p.sample_interval, 0)) };
  }
  if ((g = /^SUM\(_sample_interval\s*\*\s*(double\d+)\)$/i.exec(expr))) {
    const f = field(g[1] ?? "");
    return {
      kind: "agg",
      alias,
      type: "Float64",
      of: (ps) => ps.reduce((n, p) => n + p.sample_interval * Number(f(p)), 0),
    };
  }
  if ((g = /^(MIN|MAX)\((double\d+)\)$/i.exec(expr))) {
    const f = field(g[2] ?? "");
    const pick = (g[1] ?? "").toUpperCase() === "MIN" ? Math.min : Math.max;
    return {
      kind: "agg",
      alias,
      type: "Float64",
      of: (ps) => (ps.length ? pick(...ps.map((p) => Number(f(p)))) : null),
    };
  }
  if ((g = /^quantileExactWeighted\(([\d.]+)\)\((double\d+),\s*_sample_interval\)$/i.exec(expr))) {
    const level = Number(g[1]);
    const f = field(g[2] ?? "");
    return {
      kind: "agg",
      alias,
      type: "Float64",
      of: (ps) =>
        quantileExactWeighted(
          level,
          ps.map((p) => [Number(f(p)), p.sample_interval]),
        ),
    };
  }
  throw new SqlError(`unsupported expression: ${expr}`);
}

function condition(text: string): (p: AePoint) => boolean {
  let g: RegExpExecArray | null;
  if ((g = /^timestamp\s*(>=|>|<=|<)\s*toDateTime\((\d+)\)$/i.exec(text))) {
    const at = Number(g[2]) * 1000;
    const op = g[1];
    return (p) =>
      op === ">="
        ? p.timestamp >= at
        : op === ">"
          ? p.timestamp > at
          : op === "<="
            ? p.timestamp <= at
            : p.timestamp < at;
  }
  if ((g = /^(blob\d+|index1)\s*=\s*('.*')$/is.exec(text))) {
    const f = field(g[1] ?? "");
    const [value] = parseStrings(g[2] ?? "");
    return (p) => f(p) === value;
  }
  if ((g = /^(blob\d+|index1)\s+IN\s*\((.*)\)$/is.exec(text))) {
    const f = field(g[1] ?? "");
    const values = new Set(parseStrings(g[2] ?? ""));
    return (p) => values.has(String(f(p)));
  }
  throw new SqlError(`unsupported condition: ${text}`);
}

/** Runs one query over an account's points; throws SqlError for anything outside the subset. */
export function runQuery(sql: string, account: Pick<Account, "dataset" | "points">) {
  const m =
    /^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+GROUP BY\s+([\w\s,]+?))?(?:\s+ORDER BY\s+([\w\s,]+?))?(?:\s+FORMAT\s+(\w+))?\s*;?\s*$/is.exec(
      sql,
    );
  if (!m) throw new SqlError("cannot parse the query");
  const [, items = "", dataset, where, groupBy, orderBy, format] = m;
  if (format && format.toUpperCase() !== "JSON") throw new SqlError(`unsupported format ${format}`);
  if (dataset !== account.dataset) throw new SqlError(`unknown dataset ${dataset}`);
  const columns = splitTopLevel(items, /^,/).map(column);
  const filters = where ? splitTopLevel(where, /^\s+AND\s+/i).map(condition) : [];
  const groupNames = groupBy ? groupBy.split(",").map((s) => s.trim()) : [];
  for (const name of groupNames) {
    if (!columns.some((c) => c.kind === "key" && c.alias === name)) throw new SqlError(`cannot group by ${name}`);
  }
  for (const c of columns) {
    if (c.kind === "key" && !groupNames.includes(c.alias)) throw new SqlError(`${c.alias} must be grouped by`);
  }
  const selected = account.points.filter((p) => filters.every((f) => f(p)));
  const groups = new Map<string, AePoint[]>();
  for (const p of selected) {
    const key = JSON.stringify(columns.filter((c) => c.kind === "key").map((c) => c.of(p)));
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  if (!groupNames.length && !groups.size) groups.set("[]", []);
  const data = [...groups.values()].map((ps) => {
    const row: Record<string, unknown> = {};
    for (const c of columns) row[c.alias] = c.kind === "key" ? (ps[0] ? c.of(ps[0]) : null) : c.of(ps);
    return row;
  });
  const order = orderBy ? orderBy.split(",").map((s) => s.trim()) : [];
  data.sort((a, b) => {
    for (const name of order) {
      const [x, y] = [Number(a[name]), Number(b[name])];
      if (x !== y) return x - y;
    }
    return 0;
  });
  return {
    meta: columns.map((c) => ({ name: c.alias, type: c.type })),
    data,
    rows: data.length,
    rows_before_limit_at_least: data.length,
  };
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));

/** Cloudflare API error envelope. */
const apiError = (res: ServerResponse, status: number, message: string) =>
  json(res, status, { success: false, errors: [{ code: status * 10, message }], messages: [], result: null });

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });

export default async function setup(project: TestProject) {
  const accounts = new Map<string, Account>();

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const body = await readBody(req);

    const control = /^\/__test\/accounts\/([^/]+)(\/queries)?$/.exec(path);
    if (control) {
      const id = decodeURIComponent(control[1] ?? "");
      if (control[2]) return json(res, 200, { queries: accounts.get(id)?.queries ?? [] });
      if (req.method !== "PUT") return apiError(res, 405, "use PUT");
      const seed = JSON.parse(body) as { token: string; dataset: string; points: AePoint[] };
      accounts.set(id, { token: seed.token, dataset: seed.dataset, points: seed.points, queries: [] });
      return json(res, 200, { ok: true, points: seed.points.length });
    }

    const api = /^(?:\/client\/v4)?\/accounts\/([^/]+)\/analytics_engine\/sql$/.exec(path);
    if (!api) return apiError(res, 404, `no route for ${path}`);
    if (req.method !== "POST") return apiError(res, 405, "method not allowed");
    const account = accounts.get(decodeURIComponent(api[1] ?? ""));
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer ")) return apiError(res, 400, "missing bearer token");
    if (!account || auth !== `Bearer ${account.token}`) return apiError(res, 403, "Authentication error");
    if (!/^\s*SELECT\s/i.test(body)) return apiError(res, 400, "the body must be an SQL SELECT statement");
    account.queries.push(body);
    try {
      return json(res, 200, runQuery(body, account));
    } catch (err) {
      if (err instanceof SqlError) return apiError(res, 422, err.message);
      return apiError(res, 500, String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("aeSqlPort", (server.address() as AddressInfo).port);
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

declare module "vitest" {
  export interface ProvidedContext {
    aeSqlPort: number;
  }
}

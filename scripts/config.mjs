// npm run config -- export FILE
// npm run config -- import FILE [--dry-run] [--prune]
// Configuration as code against a running Edge Monitor (EDGE_MONITOR_URL, default
// http://localhost:8787) with an API token (EDGE_MONITOR_TOKEN; `npm run admin:token`
// prints one). `export` writes the configuration document to FILE ("-": stdout);
// `import` sends FILE and prints what changes (with --dry-run, what would change).
// Exits 1 on an error (the API's field errors are printed), 2 on bad arguments.
import "./check-node.mjs";
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

const SECTIONS = ["service_names", "escalation_policies", "monitors", "rules", "silences"];

function usage(message) {
  console.error(`config: ${message}`);
  console.error("usage: npm run config -- export FILE | import FILE [--dry-run] [--prune]");
  process.exit(2);
}

let opts;
let positionals;
try {
  ({ values: opts, positionals } = parseArgs({
    allowPositionals: true,
    options: { "dry-run": { type: "boolean", default: false }, prune: { type: "boolean", default: false } },
  }));
} catch (err) {
  usage(err.message);
}
const [command, file] = positionals;
if (!["export", "import"].includes(command)) usage("say export or import");
if (!file) usage(`${command} needs a FILE`);

const base = (process.env.EDGE_MONITOR_URL ?? "http://localhost:8787").replace(/\/+$/, "");
const token = process.env.EDGE_MONITOR_TOKEN;
if (!token) usage("set EDGE_MONITOR_TOKEN to an API token (npm run admin:token -- --email you@example.com)");
const API = `${base}/api/admin/monitoring/config`;

async function request(method, url, body) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body,
    });
  } catch (err) {
    throw new Error(`cannot reach ${base}: ${err.cause?.message ?? err.message}`, { cause: err });
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not the API's JSON (a proxy's page): reported below by status.
  }
  if (!res.ok) {
    const lines = [`${method} ${url} answered ${res.status}: ${json?.message ?? text.slice(0, 200)}`];
    for (const d of json?.details ?? []) lines.push(`  ${d.field ?? "(document)"}: ${d.reason}`);
    throw new Error(lines.join("\n"));
  }
  return json;
}

const show = (value) => JSON.stringify(value);

/** The diff as lines: + created, ~ updated (each field from → to), - deleted, then counts. */
function diffLines(diff) {
  const lines = [];
  for (const section of SECTIONS) {
    const d = diff[section];
    if (!d) continue;
    for (const key of d.create) lines.push(`+ ${section}: ${key}`);
    for (const u of d.update) {
      lines.push(`~ ${section}: ${u.key}`);
      for (const c of u.changes) lines.push(`    ${c.field}: ${show(c.from)} → ${show(c.to)}`);
    }
    for (const key of d.delete) lines.push(`- ${section}: ${key}`);
  }
  const count = (kind) => SECTIONS.reduce((n, s) => n + (diff[s]?.[kind]?.length ?? 0), 0);
  lines.push(
    `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete, ${count("unchanged")} unchanged`,
  );
  return lines;
}

try {
  if (command === "export") {
    const doc = await request("GET", API);
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (file === "-") process.stdout.write(text);
    else {
      await writeFile(file, text);
      const counts = SECTIONS.map(
        (s) => `${Array.isArray(doc[s]) ? doc[s].length : Object.keys(doc[s] ?? {}).length} ${s}`,
      );
      console.log(`Wrote ${file}: ${counts.join(", ")}.`);
    }
  } else {
    const body = file === "-" ? await new Response(process.stdin).text() : await readFile(file, "utf8");
    const query = new URLSearchParams({
      ...(opts["dry-run"] ? { dry_run: "1" } : {}),
      ...(opts.prune ? { prune: "1" } : {}),
    });
    const result = await request("POST", `${API}/import${query.size ? `?${query}` : ""}`, body);
    for (const line of diffLines(result.diff)) console.log(line);
    for (const note of result.notes ?? []) console.log(`note: ${note}`);
    console.log(
      result.dry_run
        ? "Dry run: nothing was changed."
        : result.applied
          ? "Applied."
          : "Nothing to change: the configuration already matches.",
    );
  }
} catch (err) {
  console.error(`config: ${err.message}`);
  if (process.env.DEBUG) console.error(err);
  process.exit(1);
}

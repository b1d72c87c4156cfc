// npm run admin:token -- --email E --role owner|admin|viewer [--name N] [--remote] [--persist-to DIR]
// Creates the admin if missing and prints a new API token as the last line.
import "./check-node.mjs";
import { parseArgs } from "node:util";
import { applyMigrations, issueAdminToken } from "./lib/admin.mjs";

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      email: { type: "string" },
      role: { type: "string", default: "admin" },
      name: { type: "string", default: "" },
      remote: { type: "boolean", default: false },
      "persist-to": { type: "string" },
    },
  }));
} catch (err) {
  console.error(`admin:token: ${err.message}`);
  process.exit(2);
}

try {
  const target = { remote: opts.remote, persistTo: opts["persist-to"] };
  if (!opts.remote) applyMigrations(target);
  const { token, role } = issueAdminToken({ email: opts.email, role: opts.role, name: opts.name, ...target });
  if (role !== opts.role)
    console.log(`Note: ${opts.email} already exists with role ${role}; its role was not changed.`);
  console.log(
    `New API token for ${opts.email} (${role}) on the ${opts.remote ? "remote" : "local"} database. It is shown only once:`,
  );
  console.log(token);
} catch (err) {
  console.error(`admin:token: ${err.message.split("\n")[0]}`);
  if (process.env.DEBUG) console.error(err);
  process.exit(1);
}

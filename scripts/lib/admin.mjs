// Creates an admin if missing and issues a new API token for it, through `wrangler d1 execute`.
import { hashSecret, newAdminToken, secretPrefix } from "./secrets.mjs";
import { d1Target, sqlString, wrangler } from "./wrangler.mjs";

export const ROLES = ["viewer", "admin", "owner"];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Ensures the admin exists (an existing admin keeps its role) and returns a new token.
 * `replaceTokenNamed` revokes the admin's earlier tokens of that name first.
 */
export function issueAdminToken({
  email,
  role,
  name = "",
  tokenName = "cli",
  replaceTokenNamed,
  remote = false,
  persistTo,
}) {
  if (!EMAIL.test(email ?? "")) throw new Error(`--email must be an email address (got ${JSON.stringify(email)})`);
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")} (got ${JSON.stringify(role)})`);
  const address = sqlString(email.toLowerCase());
  const token = newAdminToken();
  const adminId = `(SELECT id FROM admin_users WHERE email = ${address})`;
  const statements = [
    `INSERT INTO admin_users (email, name, role) VALUES (${address}, ${sqlString(name)}, ${sqlString(role)}) ON CONFLICT (email) DO NOTHING;`,
    replaceTokenNamed
      ? `UPDATE api_tokens SET revoked_at = CAST(unixepoch('subsec') * 1000 AS INTEGER) WHERE admin_id = ${adminId} AND kind = 'token' AND name = ${sqlString(replaceTokenNamed)} AND revoked_at IS NULL;`
      : "",
    `INSERT INTO api_tokens (admin_id, kind, name, token_hash, prefix) VALUES (${adminId}, 'token', ${sqlString(tokenName)}, ${sqlString(hashSecret(token))}, ${sqlString(secretPrefix(token))});`,
    `SELECT role FROM admin_users WHERE email = ${address};`,
  ];
  const out = wrangler([
    "d1",
    "execute",
    "DB",
    ...d1Target({ remote, persistTo }),
    "--json",
    "--command",
    statements.join("\n"),
  ]);
  const results = JSON.parse(out);
  const actualRole = results.at(-1)?.results?.[0]?.role;
  return { token, role: actualRole ?? role };
}

/** Applies pending D1 migrations (a no-op when all are applied). */
export function applyMigrations({ remote = false, persistTo } = {}) {
  wrangler(["d1", "migrations", "apply", "DB", ...d1Target({ remote, persistTo })]);
}

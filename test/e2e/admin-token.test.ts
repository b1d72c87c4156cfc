/**
 * `npm run admin:token` against a local D1 of its own: creates the admin if
 * missing, prints a new token as the last line, stores only its hash.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const persistTo = mkdtempSync(path.join(tmpdir(), "em-admin-token-"));
afterAll(() => rmSync(persistTo, { recursive: true, force: true }));

const run = (script: string, args: string[]) =>
  spawnSync(process.execPath, [script, ...args], { cwd: ROOT, encoding: "utf8" });
const adminToken = (...args: string[]) => run("scripts/admin-token.mjs", [...args, "--persist-to", persistTo]);

function query(sql: string): Record<string, unknown>[] {
  const wrangler = path.join(ROOT, "node_modules/wrangler/bin/wrangler.js");
  const res = run(wrangler, ["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql]);
  expect(res.status, res.stderr).toBe(0);
  return (JSON.parse(res.stdout) as { results: Record<string, unknown>[] }[])[0]?.results ?? [];
}

describe("admin:token", () => {
  it("creates the admin, prints a token as the last line and stores only its hash", () => {
    const res = adminToken("--email", "Ops@Example.com", "--role", "admin");
    expect(res.status, res.stderr).toBe(0);
    const token = res.stdout.trim().split("\n").at(-1) ?? "";
    expect(token).toMatch(/^emt_[\w-]{43}$/);

    const [admin] = query("SELECT id, email, role FROM admin_users WHERE email = 'ops@example.com'");
    expect(admin).toMatchObject({ email: "ops@example.com", role: "admin" });
    const rows = query(`SELECT * FROM api_tokens WHERE admin_id = ${Number(admin?.id)}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.token_hash).toBe(createHash("sha256").update(token).digest("hex"));
    expect(JSON.stringify(rows)).not.toContain(token);
  }, 60_000);

  it("keeps an existing admin's role and adds another token", () => {
    const res = adminToken("--email", "ops@example.com", "--role", "owner");
    expect(res.status).toBe(0);
    expect(res.stdout).toContain("already exists with role admin");
    expect(query("SELECT role FROM admin_users WHERE email = 'ops@example.com'")).toEqual([{ role: "admin" }]);
    expect(query("SELECT COUNT(*) AS n FROM api_tokens")).toEqual([{ n: 2 }]);
  }, 60_000);

  it("refuses bad arguments with a one-line reason", () => {
    for (const args of [
      ["--email", "not-an-email", "--role", "admin"],
      ["--email", "a@b.co", "--role", "superuser"],
      ["--email", "a@b.co", "--bogus"],
    ]) {
      const res = adminToken(...args);
      expect(res.status, args.join(" ")).not.toBe(0);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(/^admin:token: /);
    }
  }, 60_000);
});

/**
 * The Python package's own unit tests (integrations/python/tests, stdlib unittest against a
 * local HTTP stand-in), run with Debian's /usr/bin/python3 so that `npm test` runs them too.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PYTHON } from "../../../scripts/lib/python.mjs";

const PACKAGE = path.resolve(import.meta.dirname, "../../../integrations/python");
/** Fewer would mean discovery lost some of them. */
const AT_LEAST = 40;

describe("integrations/python", () => {
  it("passes its unit tests", () => {
    const res = spawnSync(PYTHON, ["-m", "unittest", "discover", "-s", "tests", "-t", "."], {
      cwd: PACKAGE,
      encoding: "utf8",
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
      timeout: 120_000,
    });
    if (res.error) throw new Error(`${PYTHON} could not run: ${res.error.message} (npm test installs it)`);
    const ran = Number(/Ran (\d+) tests?/.exec(res.stderr)?.[1] ?? 0);
    expect(res.status, res.stderr.slice(-4000)).toBe(0);
    expect(ran, res.stderr.slice(-2000)).toBeGreaterThanOrEqual(AT_LEAST);
    expect(res.stderr).toMatch(/\nOK\s*$/);
  }, 150_000);
});

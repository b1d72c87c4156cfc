// What the Python integration's end-to-end test runs on: Debian's /usr/bin/python3 with
// Celery, redis-py, Flask and Django, and redis-server. `scripts/ensure-python.mjs` installs
// them; the test says what is missing when they are not there.
import { spawnSync } from "node:child_process";
import { isExecutable } from "./apt.mjs";

export const PYTHON = "/usr/bin/python3";
export const REDIS_SERVER = "/usr/bin/redis-server";
export const PYTHON_MODULES = ["celery", "redis", "flask", "django"];
export const DEBIAN_PACKAGES = [
  "python3",
  "python3-celery",
  "python3-redis",
  "python3-flask",
  "python3-django",
  "redis-server",
];

/** What of the stack is missing, in a phrase; null when all of it is there. */
export function pythonStackProblem() {
  if (!isExecutable(REDIS_SERVER)) return `${REDIS_SERVER} is missing`;
  if (!isExecutable(PYTHON)) return `${PYTHON} is missing`;
  const probe = spawnSync(PYTHON, ["-c", `import ${PYTHON_MODULES.join(", ")}`], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    const why = probe.error?.message ?? probe.stderr.trim().split("\n").at(-1);
    return `${PYTHON} cannot import ${PYTHON_MODULES.join(", ")} (${why})`;
  }
  return null;
}

// Makes sure what the Python integration's end-to-end test runs is installed: Debian's
// /usr/bin/python3 with Celery, redis-py, Flask and Django, and redis-server. Instant when
// they are; otherwise installs Debian's packages with apt-get (root only). The Python
// package itself needs none of them (integrations/python has no dependencies).
import { spawnSync } from "node:child_process";
import { ensureDebianPackages, isExecutable } from "./lib/apt.mjs";

export const PYTHON = "/usr/bin/python3";
export const REDIS_SERVER = "/usr/bin/redis-server";
const MODULES = ["celery", "redis", "flask", "django"];

const present = () =>
  isExecutable(REDIS_SERVER) &&
  isExecutable(PYTHON) &&
  spawnSync(PYTHON, ["-c", `import ${MODULES.join(", ")}`], { stdio: "ignore" }).status === 0;

ensureDebianPackages({
  tool: "ensure-python",
  what: `${PYTHON} with ${MODULES.join(", ")}, and ${REDIS_SERVER}`,
  packages: ["python3", "python3-celery", "python3-redis", "python3-flask", "python3-django", "redis-server"],
  present,
});

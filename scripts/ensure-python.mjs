// Makes sure what the Python integration's end-to-end test runs is installed (scripts/lib/python.mjs).
// Instant when it is; otherwise installs Debian's packages with apt-get (root only). The
// Python package itself needs none of them (integrations/python has no dependencies).
import { ensureDebianPackages } from "./lib/apt.mjs";
import { DEBIAN_PACKAGES, PYTHON, PYTHON_MODULES, pythonStackProblem, REDIS_SERVER } from "./lib/python.mjs";

ensureDebianPackages({
  tool: "ensure-python",
  what: `${PYTHON} with ${PYTHON_MODULES.join(", ")}, and ${REDIS_SERVER}`,
  packages: DEBIAN_PACKAGES,
  present: () => pythonStackProblem() === null,
});

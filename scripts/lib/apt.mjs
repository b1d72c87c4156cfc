// Installs Debian packages the tests need, once: a no-op when `present()` already holds;
// otherwise `apt-get install` (root only, refreshing the package lists when they lack a
// candidate or are stale). Exits the process with a message saying what to install by hand
// when it cannot.
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";

export const isExecutable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * @param {{ tool: string, what: string, packages: string[], present: () => boolean }} need
 *   `tool` names the calling script in messages, `what` says what is missing.
 */
export function ensureDebianPackages({ tool, what, packages, present }) {
  if (present()) return;
  const fail = (why) => {
    console.error(
      `${tool}: ${what} is missing and ${why}; install Debian's packages by hand (apt-get install ${packages.join(" ")}) and retry.`,
    );
    process.exit(1);
  };
  if (process.platform !== "linux") fail(`this is ${process.platform}, not a Debian-like Linux`);
  if (typeof process.getuid !== "function" || process.getuid() !== 0)
    fail("this process is not root, so it cannot apt-get install it");
  const aptGet = ["/usr/bin/apt-get", "/bin/apt-get"].find(isExecutable);
  if (!aptGet) fail("apt-get is not available");

  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (args) => spawnSync(aptGet, args, { stdio: "inherit", env }).status === 0;
  // No lists at all after a fresh image, or lists without these packages: update first.
  const hasCandidates = () => {
    const lists = "/var/lib/apt/lists";
    if (!existsSync(lists) || !readdirSync(lists).some((f) => f.endsWith("_Packages") || f.includes("_Packages.")))
      return false;
    return packages.every((p) => {
      const res = spawnSync("apt-cache", ["policy", p], { encoding: "utf8", env });
      return res.status === 0 && /Candidate:\s*(?!\(none\))\S+/.test(res.stdout);
    });
  };
  const install = () => run(["install", "-y", "--no-install-recommends", ...packages]);

  console.log(`${tool}: installing Debian's ${packages.join(", ")} (one-time)`);
  let updated = false;
  if (!hasCandidates()) {
    if (!run(["update"])) fail("apt-get update failed");
    updated = true;
  }
  // Stale lists point at package versions the mirror no longer has: refresh once and retry.
  let ok = install();
  if (!ok && !updated) ok = run(["update"]) && install();
  if (!ok || !present()) fail(`apt-get install -y --no-install-recommends ${packages.join(" ")} failed`);
  console.log(`${tool}: ${what} is ready`);
}

// Makes sure the headless Chromium the end-to-end tests drive exists at /usr/bin/chromium.
// Instant when it is already installed; otherwise installs Debian's `chromium` package
// with apt-get (root only). Playwright's own browser download is never used.
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";

const CHROMIUM = "/usr/bin/chromium";

const fail = (why) => {
  console.error(
    `ensure-chromium: ${CHROMIUM} is missing and ${why}; install Debian's chromium package (apt-get install chromium) and retry.`,
  );
  process.exit(1);
};

const isExecutable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

if (isExecutable(CHROMIUM)) process.exit(0);

if (process.platform !== "linux") fail(`this is ${process.platform}, not a Debian-like Linux`);
if (typeof process.getuid !== "function" || process.getuid() !== 0)
  fail("this process is not root, so it cannot apt-get install it");
const aptGet = ["/usr/bin/apt-get", "/bin/apt-get"].find(isExecutable);
if (!aptGet) fail("apt-get is not available");

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
const run = (args) => spawnSync(aptGet, args, { stdio: "inherit", env }).status === 0;

/** True when the package lists know a `chromium` candidate (no lists at all after a fresh image). */
const hasCandidate = () => {
  const lists = "/var/lib/apt/lists";
  if (!existsSync(lists) || !readdirSync(lists).some((f) => f.endsWith("_Packages") || f.includes("_Packages.")))
    return false;
  const res = spawnSync("apt-cache", ["policy", "chromium"], { encoding: "utf8", env });
  return res.status === 0 && /Candidate:\s*(?!\(none\))\S+/.test(res.stdout);
};

const install = () => run(["install", "-y", "--no-install-recommends", "chromium"]);

console.log(`ensure-chromium: installing Debian's chromium into ${CHROMIUM} (one-time)`);
let updated = false;
if (!hasCandidate()) {
  if (!run(["update"])) fail("apt-get update failed");
  updated = true;
}
// Stale lists point at package versions the mirror no longer has: refresh once and retry.
let ok = install();
if (!ok && !updated) ok = run(["update"]) && install();
if (!ok || !isExecutable(CHROMIUM)) fail("apt-get install -y --no-install-recommends chromium failed");
console.log(`ensure-chromium: ${CHROMIUM} is ready`);

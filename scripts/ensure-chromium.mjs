// Makes sure the headless Chromium the end-to-end tests drive exists at /usr/bin/chromium.
// Instant when it is already installed; otherwise installs Debian's `chromium` package
// with apt-get (root only). Playwright's own browser download is never used.
import { ensureDebianPackages, isExecutable } from "./lib/apt.mjs";

const CHROMIUM = "/usr/bin/chromium";

ensureDebianPackages({
  tool: "ensure-chromium",
  what: CHROMIUM,
  packages: ["chromium"],
  present: () => isExecutable(CHROMIUM),
});

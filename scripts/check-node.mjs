// Refuses, in one line, to run on a Node.js older than wrangler needs.
// Imported first by every script; also runnable on its own (`node scripts/check-node.mjs`).
export const MINIMUM = [22, 12];

/** The one-line refusal for a Node.js `version` (e.g. "20.20.2") that is too old, or null. */
export function nodeVersionProblem(version) {
  const [major, minor] = version.split(".").map(Number);
  if (major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1])) return null;
  return (
    `Edge Monitor needs Node.js >= ${MINIMUM.join(".")} but this is v${version}. ` +
    "Run it through npm (`npm start`, `npm test`), which uses the Node 22 installed by `npm install`, or install Node 22 (see .nvmrc)."
  );
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  console.error(problem);
  process.exit(1);
}

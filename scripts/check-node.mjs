// Refuses, in one line, to run on a Node.js older than wrangler needs.
// Imported first by every script; also runnable on its own (`node scripts/check-node.mjs`).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `Edge Monitor needs Node.js >= 22.12 but this is ${process.version}. ` +
      "Run it through npm (`npm start`, `npm test`), which uses the Node 22 installed by `npm install`, or install Node 22 (see .nvmrc).",
  );
  process.exit(1);
}

/**
 * The dashboard: Vite + Preact, served by the Worker as static assets from
 * dist/client (wrangler.toml [assets], SPA fallback). Built by `npm start` with
 * `vite build --config dashboard/vite.config.ts` from the repository root.
 * `vite` (dev) proxies the API and the socket to `wrangler dev` on :8787.
 */
import { fileURLToPath } from "node:url";
import { preact } from "@preact/preset-vite";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const worker = process.env.WORKER_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL("../dist/client", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    proxy: {
      "/api": worker,
      "/healthz": worker,
      "/ws": { target: worker, ws: true },
    },
  },
});

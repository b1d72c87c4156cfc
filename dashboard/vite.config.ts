/**
 * The dashboard: Vite + Preact, served by the Worker as static assets from
 * dist/client (wrangler.toml [assets], SPA fallback). Built by `npm start` with
 * `vite build --config dashboard/vite.config.ts` from the repository root.
 * `vite` (dev) proxies the API and the socket to `wrangler dev` on :8787; put its origin
 * (http://localhost:5173) in ALLOWED_ORIGINS (.dev.vars) so that the dashboard's writes
 * and socket pass the Origin check (core/origin.ts) whichever origin the Worker sees.
 */
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { preact } from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";
import { headersFile } from "../worker/core/security-headers";

/** The most JavaScript (gzip) the browser may need before the first page shows; charts load with their page. */
const INITIAL_JS_LIMIT_BYTES = 100 * 1024;

const gz = (code: string) => gzipSync(code).length;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/**
 * Prints the gzip size of the JavaScript a first visit loads (the entry and its static imports)
 * and of each lazily loaded chunk, and fails the build above INITIAL_JS_LIMIT_BYTES.
 */
function bundleSize(): Plugin {
  return {
    name: "edge-monitor:bundle-size",
    apply: "build",
    generateBundle(_options, bundle) {
      const chunks = new Map(
        Object.values(bundle)
          .filter((o) => o.type === "chunk")
          .map((c) => [c.fileName, c]),
      );
      const initial = new Set<string>();
      const visit = (name: string) => {
        const chunk = chunks.get(name);
        if (!chunk || initial.has(name)) return;
        initial.add(name);
        for (const imported of chunk.imports) visit(imported);
      };
      for (const chunk of chunks.values()) if (chunk.isEntry) visit(chunk.fileName);
      let total = 0;
      for (const name of initial) total += gz(chunks.get(name)?.code ?? "");
      const lazy = [...chunks.values()]
        .filter((c) => !initial.has(c.fileName))
        .map((c) => `${c.fileName} ${kb(gz(c.code))}`);
      console.log(
        `dashboard bundle: initial JavaScript ${kb(total)} gzip (limit ${kb(INITIAL_JS_LIMIT_BYTES)})` +
          (lazy.length ? `; loaded with their page: ${lazy.join(", ")}` : ""),
      );
      if (total > INITIAL_JS_LIMIT_BYTES)
        this.error(`the initial JavaScript is ${kb(total)} gzip, over the ${kb(INITIAL_JS_LIMIT_BYTES)} limit`);
    },
  };
}

/**
 * Writes `_headers` next to the build: the security headers (worker/core/security-headers.ts)
 * that Workers static assets and Pages add to every dashboard file they serve.
 */
function securityHeaders(): Plugin {
  return {
    name: "edge-monitor:security-headers",
    apply: "build",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "_headers", source: headersFile() });
    },
  };
}

const root = fileURLToPath(new URL(".", import.meta.url));
const worker = process.env.WORKER_URL ?? "http://127.0.0.1:8787";

export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  plugins: [preact(), bundleSize(), securityHeaders()],
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

/**
 * A local HTTP server standing in for outside providers during workerd tests.
 * It serves a Cloudflare Access JWKS at /cdn-cgi/access/certs (the matching
 * private key is handed to the tests) so Access JWTs are verified for real.
 *
 * Notification providers: a request to /sink/<name>/… is recorded (method, path, headers,
 * body) and answered 200, or as a test set with POST /__sink/<name>/mode
 * `{status, retryAfter?, body?, delayMs?, match?}` (Slack-shaped for slack-bot…, see
 * defaultAnswer); a mode with `match` only applies to
 * requests whose body contains it, so tests sharing a provider do not disturb each other.
 * GET /__sink/<name> returns the records.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import type { TestProject } from "vitest/node";

export default async function setup(project: TestProject) {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "test-key", alg: "RS256", use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: "test-key", alg: "RS256" };
  const records = new Map<string, SinkRecord[]>();
  const modes = new Map<string, SinkMode[]>();
  const server = createServer(async (req, res) => {
    if (req.url === "/cdn-cgi/access/certs") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    const url = new URL(req.url ?? "/", "http://sink");
    const control = /^\/__sink\/([^/]+)(\/mode)?$/.exec(url.pathname);
    if (control?.[1]) {
      const name = control[1];
      if (control[2] && req.method === "POST") {
        modes.set(name, [JSON.parse(await readBody(req)) as SinkMode, ...(modes.get(name) ?? [])]);
        res.writeHead(204).end();
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(records.get(name) ?? []));
      }
      return;
    }
    const sink = /^\/sink\/([^/]+)/.exec(url.pathname);
    if (sink?.[1]) {
      const name = sink[1];
      const body = await readBody(req);
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
      );
      records.set(name, [
        ...(records.get(name) ?? []),
        { method: req.method ?? "", path: url.pathname, headers, body },
      ]);
      const mode = (modes.get(name) ?? []).find((m) => !m.match || body.includes(m.match));
      if (mode?.delayMs) await new Promise((r) => setTimeout(r, mode.delayMs));
      const status = mode?.status ?? 200;
      res.writeHead(status, {
        "content-type": "application/json",
        ...(mode?.retryAfter !== undefined ? { "retry-after": String(mode.retryAfter) } : {}),
      });
      res.end(mode?.body ?? (status < 300 ? defaultAnswer(name, records.get(name)?.length ?? 0) : ""));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("sinkPort", (server.address() as AddressInfo).port);
  project.provide("accessPrivateJwk", JSON.stringify(privateJwk));
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface SinkRecord {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface SinkMode {
  status: number;
  retryAfter?: number;
  body?: string;
  delayMs?: number;
  match?: string;
}

/**
 * A success answer in the provider's shape: the Slack Web API's `{ok, channel, ts}` (each
 * message its own ts) for sinks named slack-bot…, else `{id}`.
 */
function defaultAnswer(name: string, n: number): string {
  if (name.startsWith("slack-bot")) {
    return JSON.stringify({ ok: true, channel: "D0SINK", ts: `${1764151900 + n}.${String(n).padStart(6, "0")}` });
  }
  return JSON.stringify({ id: `${name}-${n}` });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

declare module "vitest" {
  export interface ProvidedContext {
    sinkPort: number;
    accessPrivateJwk: string;
  }
}

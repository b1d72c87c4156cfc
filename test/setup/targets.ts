/**
 * Local HTTP targets for the probe and scrape tests (workerd fetches 127.0.0.1).
 * Provides `targetsPort`, and `closedPort`: a port nothing listens on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

/** A Prometheus exposition as a node exporter or a Celery exporter would serve it. */
export const METRICS_TEXT = `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 1027
http_requests_total{method="POST",code="500"} 3
# HELP queue_depth Tasks waiting.
# TYPE queue_depth gauge
queue_depth{queue="celery"} 42
# HELP process_open_fds Open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 17
`;

const JSON_BODY = (status: string) => ({
  status,
  checks: { db: { ok: true, latency_ms: 4 }, redis: { ok: status === "ok", latency_ms: 1 } },
  items: [{ name: "a" }, { name: "b", tags: ["x", "y"] }],
  "weird key": { "dotted.name": 7 },
});

/** Hits per `/count?key=` and `/flaky?key=` key, read back (without counting) at `/hits?key=`. */
const hits = new Map<string, number>();

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const q = url.searchParams;
  switch (url.pathname) {
    case "/up":
      return send(res, 200, "ok");
    case "/down":
      return send(res, 503, "service unavailable");
    case "/status":
      return send(res, Number(q.get("code") ?? 200), `status ${q.get("code")}`);
    case "/slow": {
      const timer = setTimeout(() => send(res, 200, "ok"), Number(q.get("ms") ?? 1000));
      res.on("close", () => clearTimeout(timer));
      return;
    }
    case "/keyword":
      return send(
        res,
        200,
        q.get("variant") === "error"
          ? "status=degraded; last error: broker unreachable"
          : "status=ok; queue=healthy; workers=4",
      );
    case "/json":
      return send(res, 200, JSON.stringify(JSON_BODY(q.get("status") ?? "ok")), {
        "content-type": "application/json",
      });
    case "/badjson":
      return send(res, 200, '{"status": "ok", "checks": {', { "content-type": "application/json" });
    case "/redirect":
      return send(res, 302, "", { location: "/up" });
    case "/goto":
      // A redirect anywhere: `to` is the Location, `code` the status (default 302).
      return send(res, Number(q.get("code") ?? 302), "", { location: q.get("to") ?? "/up" });
    case "/metrics":
      return send(
        res,
        200,
        q.get("malformed") === "one"
          ? METRICS_TEXT.replace(
              'queue_depth{queue="celery"} 42',
              'queue_depth{queue="celery"} 42\nqueue_depth{queue="x" 1',
            )
          : q.get("malformed")
            ? `${METRICS_TEXT}this line is not a sample\nqueue_depth{queue="x" 1\n`
            : METRICS_TEXT,
        { "content-type": "text/plain; version=0.0.4" },
      );
    case "/count": {
      const key = q.get("key") ?? "";
      hits.set(key, (hits.get(key) ?? 0) + 1);
      const timer = setTimeout(() => send(res, 200, "ok"), Number(q.get("ms") ?? 0));
      res.on("close", () => clearTimeout(timer));
      return;
    }
    case "/flaky": {
      // The first `fail` requests of a key answer 503, later ones 200: a failure seen
      // by the first location only, when the next request is another location's.
      const key = q.get("key") ?? "";
      const n = (hits.get(key) ?? 0) + 1;
      hits.set(key, n);
      return n <= Number(q.get("fail") ?? 1) ? send(res, 503, "blip") : send(res, 200, "ok");
    }
    case "/hits":
      return send(res, 200, String(hits.get(q.get("key") ?? "") ?? 0));
    case "/echo":
      return send(res, 200, JSON.stringify({ method: req.method, headers: req.headers, body: await readBody(req) }), {
        "content-type": "application/json",
      });
    case "/hangup":
      req.socket.destroy();
      return;
    default:
      return send(res, 404, "not found");
  }
}

/**
 * A port nothing listens on, so connecting to it is refused: bound, then released. Taken
 * below Linux's ephemeral range (32768 up), which every server of the tests binds in (port
 * 0): a released ephemeral port could be handed to the next one (it was, the TLS targets').
 */
async function unusedPortBelowEphemeral(): Promise<number> {
  const first = 20_000 + Math.floor(Math.random() * 10_000);
  for (let port = first; port < first + 100; port++) {
    const probe = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    return port;
  }
  throw new Error(`no free port in ${first}–${first + 99}`);
}

export default async function setup(project: TestProject) {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const closedPort = await unusedPortBelowEphemeral();

  project.provide("targetsPort", (server.address() as AddressInfo).port);
  project.provide("closedPort", closedPort);
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

declare module "vitest" {
  export interface ProvidedContext {
    targetsPort: number;
    closedPort: number;
  }
}

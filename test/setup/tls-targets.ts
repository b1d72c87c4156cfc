/**
 * Local https targets for the certificate check: self-signed certificates made with the
 * openssl CLI at setup (nothing private is committed), served over TLS 1.3 and 1.2.
 * Provides `tlsTargets`: per target its port and the certificate's notAfter (epoch ms),
 * as Node reads it; and `silentPort`, a TCP server that accepts and never answers.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { TestProject } from "vitest/node";

export interface TlsTarget {
  port: number;
  notAfter: number;
}

interface Pem {
  key: string;
  cert: string;
}

function openssl(dir: string, args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** A self-signed certificate for `cn`, valid `days` from now (-1: expired yesterday). */
function selfSigned(dir: string, name: string, key: "rsa" | "ec", days: number, cn: string): Pem {
  const keyArgs =
    key === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  const subject = ["-subj", `/CN=${cn}`, "-addext", `subjectAltName=DNS:${cn}`];
  if (days > 0) {
    openssl(dir, [
      "req",
      "-x509",
      ...keyArgs,
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      String(days),
      ...subject,
    ]);
  } else {
    // `req -x509` wants positive days; `x509 -req -days -1` signs one that ended a day ago.
    openssl(dir, ["req", "-new", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, ...subject]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-signkey",
      `${name}.key`,
      "-days",
      String(days),
      "-out",
      `${name}.crt`,
    ]);
  }
  return { key: readFileSync(join(dir, `${name}.key`), "utf8"), cert: readFileSync(join(dir, `${name}.crt`), "utf8") };
}

async function listen(options: SecureContextOptions & Record<string, unknown>): Promise<Server> {
  const server = createServer(options, (_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "tls-targets-"));
  const rsa = selfSigned(dir, "rsa", "rsa", 30, "rsa.test");
  const ecdsa = selfSigned(dir, "ecdsa", "ec", 400, "localhost");
  const expired = selfSigned(dir, "expired", "ec", -1, "expired.test");
  rmSync(dir, { recursive: true, force: true });

  const tls12 = { maxVersion: "TLSv1.2" as const };
  const servers: Record<string, [Pem, Server]> = {
    rsa13: [rsa, await listen({ ...rsa })],
    rsa12: [rsa, await listen({ ...rsa, ...tls12 })],
    ecdsa13: [ecdsa, await listen({ ...ecdsa })],
    ecdsa12: [ecdsa, await listen({ ...ecdsa, ...tls12 })],
    expired13: [expired, await listen({ ...expired })],
    // TLS_AES_256_GCM_SHA384 only: the SHA-384 key schedule.
    aes256: [rsa, await listen({ ...rsa, ciphers: "TLS_AES_256_GCM_SHA384" })],
    // No x25519: a TLS 1.3 server answers our x25519 share with a HelloRetryRequest.
    p256only: [rsa, await listen({ ...rsa, ecdhCurve: "P-256", minVersion: "TLSv1.3" })],
    // The RSA certificate by default, the ECDSA one for SNI "localhost".
    sni: [
      rsa,
      await listen({
        ...rsa,
        SNICallback: (name: string, cb: (err: Error | null, ctx?: ReturnType<typeof createSecureContext>) => void) =>
          cb(null, createSecureContext(name === "localhost" ? ecdsa : rsa)),
      }),
    ],
  };

  const targets: Record<string, TlsTarget> = {};
  for (const [name, [pem, server]] of Object.entries(servers)) {
    targets[name] = {
      port: (server.address() as AddressInfo).port,
      notAfter: Date.parse(new X509Certificate(pem.cert).validTo),
    };
  }
  targets.sniLocalhost = {
    port: targets.sni?.port ?? 0,
    notAfter: Date.parse(new X509Certificate(ecdsa.cert).validTo),
  };
  project.provide("tlsTargets", targets);

  const held = new Set<Socket>();
  const silent = createTcpServer((socket) => {
    held.add(socket);
    socket.on("close", () => held.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  project.provide("silentPort", (silent.address() as AddressInfo).port);

  return async () => {
    for (const socket of held) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => silent.close(() => resolve())),
      ...Object.values(servers).map(
        ([, server]) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    ]);
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    tlsTargets: Record<string, TlsTarget>;
    silentPort: number;
  }
}

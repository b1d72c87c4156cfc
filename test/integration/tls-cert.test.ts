import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import type { ProbeMonitor } from "../../worker/core/probe";
import { probeMonitor, runMonitor } from "../../worker/handlers/probes";
import { readSeries } from "../../worker/lib/series";
import { readServerCertificate } from "../../worker/probes/tls-cert";

const targets = inject("tlsTargets");
const DAY_MS = 86_400_000;

function target(name: string) {
  const t = targets[name];
  if (!t) throw new Error(`no TLS target ${name}`);
  return t;
}

const url = (name: string, host = "127.0.0.1") => `https://${host}:${target(name).port}/`;

describe("readServerCertificate", () => {
  it.each([
    ["rsa13", 30],
    ["rsa12", 30],
    ["ecdsa13", 400],
    ["ecdsa12", 400],
    ["aes256", 30],
    ["expired13", -1],
  ])("reads the leaf certificate's notAfter from %s (%i days)", async (name, days) => {
    const before = Date.now();
    const reading = await readServerCertificate(url(name), 5000);
    expect(reading).toEqual({ notAfter: target(name).notAfter });
    const left = (target(name).notAfter - before) / DAY_MS;
    expect(Math.abs(left - days)).toBeLessThanOrEqual(1);
  });

  it("sends SNI for a host name and none for an IP literal", async () => {
    expect(await readServerCertificate(url("sni", "localhost"), 5000)).toEqual({
      notAfter: target("sniLocalhost").notAfter,
    });
    expect(await readServerCertificate(url("sni"), 5000)).toEqual({ notAfter: target("sni").notAfter });
    expect(target("sni").notAfter).not.toBe(target("sniLocalhost").notAfter);
  });

  it("names a HelloRetryRequest for a group other than x25519", async () => {
    expect(await readServerCertificate(url("p256only"), 5000)).toEqual({
      error: "the server asked for a secp256r1 key share (HelloRetryRequest); the certificate check offers x25519 only",
    });
  });

  it("says a plain-http server did not answer with TLS", async () => {
    const reading = await readServerCertificate(`https://127.0.0.1:${inject("targetsPort")}/`, 5000);
    expect(reading).toEqual({ error: 'the server did not answer with TLS (it sent "HTTP/1.1 400 Bad Request")' });
  });

  it("fails on a closed port and on a bad URL, without throwing", async () => {
    const closed = await readServerCertificate(`https://127.0.0.1:${inject("closedPort")}/`, 5000);
    expect(closed).toMatchObject({ error: expect.stringMatching(/^connection failed: /) });
    expect(await readServerCertificate("not a url", 5000)).toEqual({ error: "invalid URL: not a url" });
  });

  it("gives up after the timeout on a server that never answers", async () => {
    const started = Date.now();
    const reading = await readServerCertificate(`https://127.0.0.1:${inject("silentPort")}/`, 300);
    expect(reading).toEqual({ error: "timeout after 300 ms" });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("HTTP monitor on https", () => {
  let nextId = 5000;
  const monitor = (name: string, intervalSeconds = 60): ProbeMonitor => ({
    id: nextId++,
    service: "tls",
    kind: "http",
    intervalSeconds,
    config: { url: url(name), timeout_ms: 5000 },
  });
  const days = (samples: { metric: string; value: number }[]) =>
    samples.find((s) => s.metric === "probe_cert_days_left")?.value;

  it("stores probe_cert_days_left beside probe_up, whatever the fetch of a self-signed certificate does", async () => {
    const since = Date.now() - 1000;
    const m = monitor("ecdsa13");
    await runMonitor(env, m);
    const labels = { monitor: String(m.id) };
    const [sample] = await readSeries(env, "probe_cert_days_left", "tls", labels, since);
    expect(Math.abs((sample?.value ?? 0) - 400)).toBeLessThanOrEqual(1);
    expect(await readSeries(env, "probe_up", "tls", labels, since)).toHaveLength(1);
  });

  it("reads the certificate on a first run and on the first slot of an hour only", async () => {
    const m = monitor("rsa12", 30);
    const hour = 3_600_000 * 500_000;
    const first = await probeMonitor(env, m, { at: hour + 30_000, intervalMs: 30_000, first: true });
    expect(Math.abs((days(first) ?? 0) - 30)).toBeLessThanOrEqual(1);
    expect(days(await probeMonitor(env, m, { at: hour + 30_000, intervalMs: 30_000, first: false }))).toBeUndefined();
    expect(days(await probeMonitor(env, m, { at: hour, intervalMs: 30_000, first: false }))).toBeDefined();
  });

  it("records no sample and leaves probe_up alone when the certificate cannot be read", async () => {
    const m = { ...monitor("rsa13"), config: { url: `https://127.0.0.1:${inject("closedPort")}/`, timeout_ms: 2000 } };
    const samples = await probeMonitor(env, m);
    expect(days(samples)).toBeUndefined();
    expect(samples.find((s) => s.metric === "probe_up")).toMatchObject({ value: 0, message: "connection refused" });
  });

  it("reads no certificate for plain http", async () => {
    const m = { ...monitor("rsa13"), config: { url: `http://127.0.0.1:${inject("targetsPort")}/up` } };
    const samples = await probeMonitor(env, m);
    expect(samples.find((s) => s.metric === "probe_up")).toMatchObject({ value: 1 });
    expect(days(samples)).toBeUndefined();
  });
});

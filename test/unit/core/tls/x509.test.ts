import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCertificate, parseTime } from "../../../../worker/core/tls/x509";

const dir = mkdtempSync(join(tmpdir(), "x509-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
const RSA = ["-newkey", "rsa:2048"];

/** A self-signed certificate from the openssl CLI (keys stay in a temp dir), as PEM. */
function certificate(name: string, key: string[], days: number, subject: string, extra: string[] = []): string {
  const out = join(dir, `${name}.crt`);
  const common = [...key, "-nodes", "-keyout", join(dir, `${name}.key`), "-subj", subject, "-utf8", ...extra];
  if (days > 0) {
    execFileSync("openssl", ["req", "-x509", ...common, "-days", String(days), "-out", out], { stdio: "pipe" });
  } else {
    const csr = join(dir, `${name}.csr`);
    execFileSync("openssl", ["req", "-new", ...common, "-out", csr], { stdio: "pipe" });
    const sign = ["x509", "-req", "-in", csr, "-signkey", join(dir, `${name}.key`), "-days", String(days), "-out", out];
    execFileSync("openssl", sign, { stdio: "pipe" });
  }
  return readFileSync(out, "utf8");
}

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

/** What Node's own X.509 parser says, to compare with. */
function reference(pem: string) {
  const x = new X509Certificate(pem);
  const cn = /(?:^|\n)CN=(.*)/.exec(x.subject)?.[1] ?? null;
  const dns = (x.subjectAltName ?? "")
    .split(", ")
    .filter((n) => n.startsWith("DNS:"))
    .map((n) => n.slice(4));
  return { notBefore: Date.parse(x.validFrom), notAfter: Date.parse(x.validTo), subjectCommonName: cn, dnsNames: dns };
}

describe("parseCertificate", () => {
  const san = ["-addext", "subjectAltName=DNS:shop.example,DNS:*.shop.example,IP:127.0.0.1"];

  it.each([
    ["an RSA certificate valid 30 days", RSA, 30, san, ["shop.example", "*.shop.example"]],
    ["an ECDSA P-256 certificate valid 400 days", EC, 400, san, ["shop.example", "*.shop.example"]],
    ["one ending after 2049 (GeneralizedTime)", EC, 10_000, [], []],
    ["an expired one", EC, -1, [], []],
  ])("reads %s as Node does", (_label, key, days, extra, dnsNames) => {
    const pem = certificate(`c${days}`, key, days, "/O=Edge/CN=shop.example", extra);
    const parsed = parseCertificate(der(pem));
    expect(parsed).toEqual({ ok: true, value: { ...reference(pem), dnsNames } });
    const notAfter = parsed.ok ? parsed.value.notAfter : Number.NaN;
    expect(Math.round((notAfter - Date.now()) / 86_400_000)).toBe(days);
  });

  it("decodes a UTF-8 common name and takes the most specific one", () => {
    const pem = certificate("utf8", EC, 10, "/CN=outer/O=Zürich AG/CN=Zürich Läden");
    expect(parseCertificate(der(pem))).toMatchObject({ ok: true, value: { subjectCommonName: "Zürich Läden" } });
  });

  it("refuses a certificate with bytes missing or added", () => {
    const bytes = der(certificate("cut", EC, 10, "/CN=cut.example"));
    expect(parseCertificate(bytes.subarray(0, bytes.length - 1))).toMatchObject({ ok: false });
    expect(parseCertificate(new Uint8Array([...bytes, 0]))).toMatchObject({ ok: false });
    expect(parseCertificate(new Uint8Array(0))).toMatchObject({ ok: false });
  });
});

describe("parseTime", () => {
  const text = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
  const UTC = 0x17;
  const GENERALIZED = 0x18;

  it("reads UTCTime with the RFC 5280 century window", () => {
    expect(parseTime(UTC, text("491231235959Z"))).toBe(Date.UTC(2049, 11, 31, 23, 59, 59));
    expect(parseTime(UTC, text("500101000000Z"))).toBe(Date.UTC(1950, 0, 1));
    expect(parseTime(UTC, text("240229120000Z"))).toBe(Date.UTC(2024, 1, 29, 12));
  });

  it("reads GeneralizedTime", () => {
    expect(parseTime(GENERALIZED, text("20540413202056Z"))).toBe(Date.UTC(2054, 3, 13, 20, 20, 56));
    expect(parseTime(GENERALIZED, text("99991231235959Z"))).toBe(Date.UTC(9999, 11, 31, 23, 59, 59));
  });

  it("refuses dates that do not exist and forms RFC 5280 does not allow", () => {
    for (const bad of [
      "230229000000Z",
      "241301000000Z",
      "240431000000Z",
      "240101240000Z",
      "2401010000Z",
      "240101000000",
    ]) {
      expect(parseTime(UTC, text(bad))).toBeNull();
    }
    expect(parseTime(GENERALIZED, text("20240101000000.5Z"))).toBeNull();
    expect(parseTime(GENERALIZED, text("20240101000000+0100"))).toBeNull();
    expect(parseTime(0x04, text("20240101000000Z"))).toBeNull();
  });
});

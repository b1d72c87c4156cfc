/**
 * Brute-force limits through the real Worker: failed logins, bearer tokens and ingest keys
 * counted per client address and per account (the secret's prefix) in the AuthGuard
 * object; 429 with Retry-After once over the allowance, before the credential is looked at
 * (a correct token is refused too); the lockout holds for an isolate that never saw the
 * failures (its cache forgotten, or the failures counted straight into the object) and
 * after the object restarts; a success clears the account; the self-metric counts. And an
 * ingest key's per-minute limit held by the object, across isolates and a restart.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { clientNetwork, DEFAULT_GUARD_LIMITS, subjectKey } from "../../worker/core/auth-guard";
import { parseExposition } from "../../worker/core/prometheus/parse";
import { forgetGuardCache, guardStub } from "../../worker/lib/auth-guard";
import { forgetLeases } from "../../worker/lib/key-limit";
import { secretPrefix } from "../../worker/lib/secrets";
import { callJson, createAdmin, type TestAdmin } from "./helpers";

const BASE = "/api/admin/monitoring";
const LOGIN = "/api/auth/session";

let admin: TestAdmin;
let ingestKey: string;
let n = 0;
const run = Math.floor(Math.random() * 0xffff).toString(16);

/** A client address in a /64 no other test uses (failures count per /64). */
const address = () => `2001:db8:${run}:${(++n).toString(16)}::1`;
/** The subject an address's failures are counted under. */
const addrSubject = (realm: string, ip: string) => subjectKey(realm, "addr", clientNetwork(ip));
/** A wrong token: under `prefix` when given (an attack on a known token's account), else its own. */
const wrongToken = (prefix = `emt_${run}${(++n).toString(36)}`.slice(0, 10)) =>
  `${prefix}${"x".repeat(10)}${++n}`.padEnd(47, "y");

type Path = "self" | "export";

/** A request as a client at `ip` sends it, through `SELF` or the Worker's fetch export (two request paths). */
async function send(path: Path, method: string, url: string, ip: string, init: { token?: string; body?: unknown }) {
  const headers = new Headers({ "cf-connecting-ip": ip });
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  const req = new Request(`http://localhost${url}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return path === "self" ? SELF.fetch(req) : exports.default.fetch(req);
}

const login = (token: string, ip: string, path: Path = "self") => send(path, "POST", LOGIN, ip, { body: { token } });
const me = (token: string, ip: string, path: Path = "export") => send(path, "GET", "/api/admin/me", ip, { token });
const push = (key: string, ip: string, samples: unknown[]) =>
  send("self", "POST", "/api/ingest", ip, { token: key, body: { samples } });

/** The stored record of a subject, straight from its shard's storage. */
const recordOf = (subject: string) =>
  runInDurableObject(
    guardStub(env, subject),
    (_o, state) =>
      state.storage.sql
        .exec<{ failures: number; lockouts: number; locked_until: number }>(
          "SELECT failures, lockouts, locked_until FROM failures WHERE subject = ?",
          subject,
        )
        .toArray()[0] ?? null,
  );

/** Restarts an object: its in-memory state is gone, its storage stays. */
async function restart(stub: DurableObjectStub) {
  await runInDurableObject(stub, (_o, state) => {
    try {
      state.abort("restarted by the test");
    } catch {
      // abort throws to end the current call
    }
  }).catch(() => {});
}

async function counter(name: string, kind: string): Promise<number> {
  const res = await send("self", "GET", "/metrics", address(), { token: ingestKey });
  expect(res.status).toBe(200);
  const samples = parseExposition(await res.text()).samples;
  return samples.find((s) => s.name === name && s.labels.kind === kind)?.value ?? 0;
}

beforeAll(async () => {
  admin = await createAdmin("admin");
  const res = await callJson<{ key: string }>("POST", `${BASE}/keys`, {
    token: admin.token,
    body: { name: `guard ${run}`, scope: "ingest" },
  });
  if (res.status !== 201) throw new Error(`creating the ingest key answered ${res.status}`);
  ingestKey = res.body.key;
});

describe("brute-force limits", () => {
  it("locks an address out after 10 failed logins across two request paths: 429 with Retry-After, even for the right token", async () => {
    const ip = address();
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) {
      const res = await login(wrongToken(), ip, i % 2 ? "export" : "self");
      expect(res.status, `failure ${i + 1}`).toBe(401);
    }
    const locked = await login(wrongToken(), ip, "export");
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: string }).error).toBe("rate_limited");
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(29);
    expect(Number(locked.headers.get("retry-after"))).toBeLessThanOrEqual(30);
    // The right token from the locked address: refused before it is looked at.
    expect((await login(admin.token, ip, "self")).status).toBe(429);
    // Bearer tokens share the realm (both present an admin token).
    expect((await me(admin.token, ip)).status).toBe(429);
    // Another address is not affected.
    expect((await login(admin.token, address())).status).toBe(200);
    expect(await recordOf(addrSubject("admin", ip))).toMatchObject({ lockouts: 1 });
  });

  it("holds the lockout for an isolate that never saw the failures, and after the object restarts", async () => {
    const ip = address();
    const subject = addrSubject("admin", ip);
    // Failures counted by some other isolate: straight into the object.
    const stub = guardStub(env, subject);
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) {
      await stub.fail([subject], DEFAULT_GUARD_LIMITS);
    }
    forgetGuardCache();
    const first = await me(admin.token, ip);
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toMatch(/^\d+$/);
    await restart(stub);
    forgetGuardCache();
    expect((await me(admin.token, ip, "self")).status).toBe(429);
    expect((await login(admin.token, ip, "export")).status).toBe(429);
    expect(await recordOf(subject)).toMatchObject({ lockouts: 1 });
  });

  it("lets a client seen clean pass without a round trip; a lockout counted elsewhere stops it at its next failure", async () => {
    const ip = address();
    const subject = addrSubject("admin", ip);
    forgetGuardCache();
    expect((await me(admin.token, ip)).status).toBe(200); // checked once, then known clean here
    const stub = guardStub(env, subject);
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) await stub.fail([subject], DEFAULT_GUARD_LIMITS);
    // Within CLEAN_TTL_MS this isolate does not ask: the good token passes (the documented window)…
    expect((await me(admin.token, ip)).status).toBe(200);
    // …but a failure is always counted in the object, which answers "locked", and the isolate remembers.
    expect((await login(wrongToken(), ip)).status).toBe(429);
    expect((await me(admin.token, ip)).status).toBe(429);
  });

  it("locks an account (a token's prefix) after 5 failures from many addresses; a success after the lockout clears it", async () => {
    const victim = await createAdmin("viewer");
    const prefix = secretPrefix(victim.token);
    const account = subjectKey("admin", "acct", prefix);
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAccount; i++) {
      const res = i % 2 ? await me(wrongToken(prefix), address()) : await login(wrongToken(prefix), address());
      expect(res.status, `failure ${i + 1}`).toBe(401);
    }
    // The right token, from a fresh address and a fresh isolate: still refused until Retry-After.
    forgetGuardCache();
    const refused = await me(victim.token, address());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await login(victim.token, address(), "self")).status).toBe(429);
    // The lockout over (moved into the past in storage): the right token gets in and the record goes.
    await runInDurableObject(guardStub(env, account), (_o, state) => {
      state.storage.sql.exec("UPDATE failures SET locked_until = ? WHERE subject = ?", Date.now() - 1, account);
    });
    forgetGuardCache();
    expect((await me(victim.token, address())).status).toBe(200);
    await vi.waitUntil(async () => (await recordOf(account)) === null, { timeout: 5000, interval: 20 });
  });

  it("after a lockout, the next failure locks again for twice as long", async () => {
    const ip = address();
    const subject = addrSubject("admin", ip);
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) await login(wrongToken(), ip);
    await runInDurableObject(guardStub(env, subject), (_o, state) => {
      state.storage.sql.exec("UPDATE failures SET locked_until = ? WHERE subject = ?", Date.now() - 1, subject);
    });
    forgetGuardCache();
    expect((await login(wrongToken(), ip)).status).toBe(401);
    const again = await login(wrongToken(), ip);
    expect(again.status).toBe(429);
    expect(Number(again.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(Number(again.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(await recordOf(subject)).toMatchObject({ lockouts: 2 });
  });

  it("never counts an expired or revoked token: a forgotten script does not lock its address out", async () => {
    const old = await createAdmin("viewer");
    await env.DB.prepare("UPDATE api_tokens SET revoked_at = ? WHERE prefix = ?")
      .bind(Date.now(), secretPrefix(old.token))
      .run();
    const ip = address();
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress + 2; i++) {
      expect((await (i % 2 ? me(old.token, ip) : login(old.token, ip))).status, `try ${i + 1}`).toBe(401);
    }
    expect((await me(admin.token, ip)).status).toBe(200);
    expect(await recordOf(addrSubject("admin", ip))).toBeNull();
  });

  it("counts an IPv6 client by its /64: a fresh address in it is still locked out", async () => {
    const net = `2001:db8:${run}:ffff`;
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) {
      expect((await login(wrongToken(), `${net}::${i + 1}`)).status).toBe(401);
    }
    expect((await login(admin.token, `${net}:1:2:3:4`)).status).toBe(429);
    expect((await login(admin.token, `2001:db8:${run}:fffe::1`)).status).toBe(200);
  });

  it("locks out unknown ingest keys apart from the admin realm, and counts failures and lockouts in /metrics", async () => {
    const failuresBefore = await counter("edge_monitor_auth_failures_total", "ingest");
    const lockoutsBefore = await counter("edge_monitor_auth_lockouts_total", "ingest");
    const ip = address();
    const sample = { metric: `guard_${run}`, service: "api", value: 1 };
    for (let i = 0; i < DEFAULT_GUARD_LIMITS.perAddress; i++) {
      expect((await push(`emk_${run}${i}`.padEnd(47, "z"), ip, [sample])).status).toBe(401);
    }
    const locked = await push(ingestKey, ip, [sample]);
    expect(locked.status).toBe(429);
    expect(locked.headers.get("retry-after")).toMatch(/^\d+$/);
    // The admin realm at that address is untouched.
    expect((await me(admin.token, ip)).status).toBe(200);
    await vi.waitUntil(
      async () =>
        (await counter("edge_monitor_auth_failures_total", "ingest")) >= failuresBefore + 10 &&
        (await counter("edge_monitor_auth_lockouts_total", "ingest")) >= lockoutsBefore + 1,
      { timeout: 5000, interval: 50 },
    );
  });
});

describe("the per-key ingest rate limit", () => {
  it("holds across isolates and a restart of the key's object", async () => {
    const res = await callJson<{ id: number; key: string }>("POST", `${BASE}/keys`, {
      token: admin.token,
      body: { name: `guard limited ${run}`, scope: "ingest", rate_limit_per_minute: 10 },
    });
    expect(res.status).toBe(201);
    const start = Date.now() - 60_000;
    const batch = (count: number, offset: number) =>
      Array.from({ length: count }, (_, i) => ({
        metric: `guard_limited_${run}`,
        service: "api",
        value: offset + i,
        ts: start + offset + i,
      }));
    const ip = address();
    expect((await push(res.body.key, ip, batch(6, 0))).status).toBe(202);
    forgetLeases(); // another isolate
    expect((await push(res.body.key, ip, batch(4, 6))).status).toBe(202);
    forgetLeases();
    await restart(env.AUTH_GUARD.getByName(`ingest-key:${res.body.id}`));
    const over = await push(res.body.key, ip, batch(1, 10));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThanOrEqual(5);
  });
});

/**
 * Origin checks (core/origin.ts) through the real Worker: a request riding on the session
 * cookie that changes state, or opens the dashboard socket, must come from the dashboard's
 * own origin or a configured one; bearer calls, collection and Slack are not affected.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { call, callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const KEYS = "/api/admin/monitoring/keys";
const SELF = "http://localhost"; // the origin of the helpers' requests
const EVIL = "https://evil.example";

let admin: TestAdmin;
let cookie: string;

beforeAll(async () => {
  admin = await createAdmin("admin");
  const login = await call("POST", "/api/auth/session", { body: { token: admin.token }, headers: { origin: SELF } });
  cookie = login.headers.get("set-cookie")?.split(";")[0] ?? "";
  if (login.status !== 200 || !cookie.startsWith("em_session=")) throw new Error(`login answered ${login.status}`);
});

const keyCount = async () =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM ingest_keys").first<{ n: number }>())?.n ?? 0;

/** Creates an ingest key with the session cookie and `headers`. */
const createKey = (headers: Record<string, string>) =>
  callJson<ErrorBody>("POST", KEYS, {
    headers: { cookie, ...headers },
    body: { name: "origin-test", scope: "ingest" },
  });

describe("cookie-authenticated writes", () => {
  it("refuses a foreign Origin with a 403 naming it, and writes nothing", async () => {
    const before = await keyCount();
    const res = await createKey({ origin: EVIL });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: "forbidden",
      message: expect.stringContaining(EVIL),
      details: [{ field: "Origin", reason: expect.stringContaining("ALLOWED_ORIGINS") }],
    });
    expect(await keyCount()).toBe(before);
  });

  it("refuses Origin: null and a request with neither Origin nor Sec-Fetch-Site", async () => {
    const opaque = await createKey({ origin: "null" });
    expect(opaque.status).toBe(403);
    expect(opaque.body.message).toContain("Origin: null");
    const bare = await createKey({});
    expect(bare.status).toBe(403);
    expect(bare.body.message).toContain("Origin header");
    expect((await createKey({ "sec-fetch-site": "cross-site" })).status).toBe(403);
  });

  it("accepts the dashboard's own origin, and Sec-Fetch-Site: same-origin when Origin is absent", async () => {
    expect((await createKey({ origin: SELF })).status).toBe(201);
    expect((await createKey({ "sec-fetch-site": "same-origin" })).status).toBe(201);
  });

  it("checks every write method, and logging out too; reads are not checked", async () => {
    const created = await callJson<{ id: number }>("POST", KEYS, {
      token: admin.token,
      body: { name: "origin-methods", scope: "ingest" },
    });
    const path = `${KEYS}/${created.body.id}`;
    for (const method of ["PUT", "PATCH", "DELETE"]) {
      const res = await call(method, path, {
        headers: { cookie, origin: EVIL },
        body: method === "DELETE" ? undefined : { name: "x" },
      });
      expect({ method, status: res.status }).toEqual({ method, status: 403 });
    }
    expect((await call("DELETE", "/api/auth/session", { headers: { cookie, origin: EVIL } })).status).toBe(403);
    expect((await call("GET", path, { headers: { cookie, origin: EVIL } })).status).toBe(200);
    // The session survived the forged logout.
    expect((await call("GET", "/api/admin/me", { headers: { cookie } })).status).toBe(200);
  });

  it("treats a Cloudflare Access assertion like the cookie: checked before it is even verified", async () => {
    const res = await call("POST", KEYS, {
      headers: { "cf-access-jwt-assertion": "any.jwt.value", origin: EVIL },
      body: { name: "x", scope: "ingest" },
    });
    expect(res.status).toBe(403);
  });

  it("accepts an origin from ALLOWED_ORIGINS or DASHBOARD_URL, and only those", async () => {
    const send = async (origin: string, settings: Partial<Env>) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${SELF}${KEYS}`, {
          method: "POST",
          headers: { cookie, origin, "content-type": "application/json" },
          body: JSON.stringify({ name: "origin-configured", scope: "ingest" }),
        }),
        { ...env, ...settings },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res.status;
    };
    const pages = { ALLOWED_ORIGINS: "https://monitor.pages.dev, https://other.example" };
    expect(await send("https://monitor.pages.dev", pages)).toBe(201);
    expect(await send("https://other.example", pages)).toBe(201);
    expect(await send(EVIL, pages)).toBe(403);
    expect(await send("https://monitor.pages.dev", {})).toBe(403);
    expect(await send("https://monitor.example.com", { DASHBOARD_URL: "https://monitor.example.com/alerts" })).toBe(
      201,
    );
  });
});

describe("not affected", () => {
  it("lets a bearer-token call from a foreign origin through", async () => {
    const res = await callJson("POST", KEYS, {
      token: admin.token,
      headers: { origin: EVIL, cookie },
      body: { name: "origin-bearer", scope: "ingest" },
    });
    expect(res.status).toBe(201);
    expect(
      (
        await call("POST", KEYS, {
          token: admin.token,
          headers: { origin: "null" },
          body: { name: "b", scope: "ingest" },
        })
      ).status,
    ).toBe(201);
  });

  it("lets login through from anywhere (it carries no cookie), and heartbeats and Slack keep their own checks", async () => {
    const login = await call("POST", "/api/auth/session", { body: { token: admin.token }, headers: { origin: EVIL } });
    expect(login.status).toBe(200);

    const monitor = await callJson<{ heartbeat_url: string }>("POST", "/api/admin/monitoring/monitors", {
      token: admin.token,
      body: { name: "Origin job", service: "origin-svc", kind: "heartbeat", period_seconds: 300, grace_seconds: 60 },
    });
    expect(monitor.status).toBe(201);
    const ping = await call("POST", new URL(monitor.body.heartbeat_url).pathname, {
      headers: { cookie, origin: EVIL },
    });
    expect(ping.status).toBe(200);

    // Unsigned, so refused, but by Slack's signature check, not by the Origin check.
    const slack = await callJson<ErrorBody>("POST", "/slack/commands", {
      headers: { cookie, origin: EVIL, "content-type": "application/x-www-form-urlencoded" },
      body: "command=%2Fmonitor&text=status",
    });
    expect(slack.status).not.toBe(403);
  });
});

describe("the dashboard socket", () => {
  const upgrade = (headers: Record<string, string>) =>
    call("GET", "/ws", { headers: { upgrade: "websocket", ...headers } });

  it("refuses the upgrade with the cookie from a foreign origin, from Origin: null and without Origin", async () => {
    for (const origin of [EVIL, "null", undefined]) {
      const res = await upgrade(origin ? { cookie, origin } : { cookie });
      expect({ origin, status: res.status }).toEqual({ origin, status: 403 });
      expect(((await res.json()) as ErrorBody).message).toMatch(/^The dashboard socket/);
    }
  });

  it("upgrades (101) with the cookie from the dashboard's own origin, and a bearer token from anywhere", async () => {
    const callers: Record<string, string>[] = [
      { cookie, origin: SELF },
      { authorization: `Bearer ${admin.token}`, origin: EVIL },
    ];
    for (const headers of callers) {
      const res = await upgrade(headers);
      expect(res.status).toBe(101);
      const ws = res.webSocket;
      if (!ws) throw new Error("no socket");
      const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data))));
      ws.accept();
      expect(JSON.parse(await first)).toMatchObject({ type: "snapshot" });
      ws.close();
    }
  });
});

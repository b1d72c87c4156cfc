/**
 * Safe targets through the real Worker: monitor writes (API and configuration import)
 * refuse private, loopback, metadata and own-origin URLs with a 400 on `url`, and probes
 * refuse them at fetch time, also when a target redirects there. The suite's env allows
 * 127.0.0.1 (the local targets); `closed` is a deployment without ALLOW_PRIVATE_TARGETS.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { ProbeMonitor } from "../../worker/core/probe";
import type { Sample } from "../../worker/core/series";
import { probeMonitor } from "../../worker/handlers/probes";
import worker from "../../worker/index";
import { createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const API = "/api/admin/monitoring";
const base = `http://127.0.0.1:${inject("targetsPort")}`;
const closed: Env = { ...env, ALLOW_PRIVATE_TARGETS: undefined };

let admin: TestAdmin;

beforeAll(async () => {
  admin = await createAdmin("admin");
});

/** A request into the Worker with the env `e`, from `origin`. */
async function send<T = Record<string, unknown>>(
  e: Env,
  method: string,
  path: string,
  body: unknown,
  origin = "http://localhost",
): Promise<{ status: number; body: T }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
    e,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as T };
}

let n = 0;
const monitor = (url: string, kind = "http") => ({ name: `Target ${++n}`, service: "shop", kind, url });

/** The URLs the hardening issue found accepted, and more spellings of the same. */
const REFUSED: [string, RegExp][] = [
  ["http://127.0.0.1/", /loopback address 127\.0\.0\.1/],
  ["http://localhost:8080/", /localhost resolves to a loopback address/],
  ["http://[::1]/", /loopback address ::1/],
  ["http://0.0.0.0/", /unspecified address 0\.0\.0\.0/],
  ["http://2130706433/", /loopback address 127\.0\.0\.1/],
  ["http://0177.0.0.1/", /loopback address 127\.0\.0\.1/],
  ["http://0x7f.1/", /loopback address 127\.0\.0\.1/],
  ["http://127.0.0.1./", /loopback address 127\.0\.0\.1/],
  ["http://evil.example@127.0.0.1/", /loopback address 127\.0\.0\.1/],
  ["http://10.0.0.5:9090/metrics", /private address 10\.0\.0\.5/],
  ["http://192.168.1.1/", /private address 192\.168\.1\.1/],
  ["http://100.64.0.1/", /carrier-grade NAT address/],
  ["http://169.254.169.254/latest/meta-data/", /cloud metadata address 169\.254\.169\.254/],
  ["http://[::ffff:169.254.169.254]/", /cloud metadata address 169\.254\.169\.254 \(IPv4-mapped/],
  ["http://metadata.google.internal/computeMetadata/v1/", /metadata\.google\.internal is a cloud metadata host/],
  ["http://[fd00:ec2::254]/", /cloud metadata address fd00:ec2::254/],
];

describe("monitor writes", () => {
  it.each(REFUSED)("refuse %s with a 400 on url, for http and prometheus monitors", async (url, reason) => {
    for (const kind of ["http", "prometheus"]) {
      const res = await send<ErrorBody>(closed, "POST", `${API}/monitors`, monitor(url, kind));
      expect(res.status, kind).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.details).toEqual([
        { field: "url", reason: expect.stringMatching(new RegExp(`^refused: .*${reason.source}`)) },
      ]);
    }
  });

  it("accept public targets, and a private one once ALLOW_PRIVATE_TARGETS lists it", async () => {
    for (const url of ["https://example.com/health", "https://1.1.1.1/", "https://[2606:4700::1111]/"]) {
      expect((await send(closed, "POST", `${API}/monitors`, monitor(url))).status, url).toBe(201);
    }
    const res = await send(closed, "POST", `${API}/monitors`, monitor("http://10.1.2.3:9100/metrics", "prometheus"));
    expect(res.status).toBe(400);
    const opted = { ...env, ALLOW_PRIVATE_TARGETS: "10.0.0.0/8, metadata.google.internal" };
    expect(
      (await send(opted, "POST", `${API}/monitors`, monitor("http://10.1.2.3:9100/metrics", "prometheus"))).status,
    ).toBe(201);
    expect((await send(opted, "POST", `${API}/monitors`, monitor("http://metadata.google.internal/"))).status).toBe(
      201,
    );
    expect((await send(opted, "POST", `${API}/monitors`, monitor("http://192.168.1.1/"))).status).toBe(400);
    // The suite's own setting: its local targets on 127.0.0.1 only.
    expect((await send(env, "POST", `${API}/monitors`, monitor(`${base}/up`))).status).toBe(201);
    expect((await send(env, "POST", `${API}/monitors`, monitor("http://[::1]/"))).status).toBe(400);
  });

  it("refuse a change of url to a refused target, keeping the stored one", async () => {
    const created = await send<{ id: number }>(closed, "POST", `${API}/monitors`, monitor("https://shop.example.com/"));
    expect(created.status).toBe(201);
    const res = await send<ErrorBody>(closed, "PUT", `${API}/monitors/${created.body.id}`, {
      url: "http://169.254.169.254/",
    });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "url", reason: expect.stringMatching(/cloud metadata address/) }]);
    const stored = await send<{ url: string }>(closed, "GET", `${API}/monitors/${created.body.id}`, undefined);
    expect(stored.body.url).toBe("https://shop.example.com/");
  });

  it("refuse the product's own origin, even where its address is allowed", async () => {
    const local = { ...env, ALLOW_PRIVATE_TARGETS: "localhost, 127.0.0.0/8" };
    const res = await send<ErrorBody>(local, "POST", `${API}/monitors`, monitor(`http://localhost${API}/users`));
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([{ field: "url", reason: "refused: is the product's own origin (localhost:80)" }]);
    const dashboard = { ...env, DASHBOARD_URL: "https://monitor.example.com" };
    const viaDashboard = await send<ErrorBody>(
      dashboard,
      "POST",
      `${API}/monitors`,
      monitor(`https://monitor.example.com${API}/users`),
    );
    expect(viaDashboard.body.details).toEqual([
      { field: "url", reason: "refused: is the product's own origin (monitor.example.com:443)" },
    ]);
  });

  it("accept the product's own /demo/* targets in demo mode only", async () => {
    const demo = { ...closed, DEMO_MODE: "1", DEMO_BASE_URL: "http://127.0.0.1:8787" };
    const origin = "http://localhost:8787";
    for (const url of ["http://localhost:8787/demo/ecpay/health", "http://127.0.0.1:8787/demo/metrics"]) {
      expect((await send(demo, "POST", `${API}/monitors`, monitor(url), origin)).status, url).toBe(201);
      expect((await send(closed, "POST", `${API}/monitors`, monitor(url), origin)).status, url).toBe(400);
    }
    const own = await send<ErrorBody>(
      demo,
      "POST",
      `${API}/monitors`,
      monitor(`http://localhost:8787${API}/users`),
      origin,
    );
    expect(own.body.details).toEqual([
      { field: "url", reason: expect.stringMatching(/^refused: localhost resolves to a loopback address/) },
    ]);
  });

  it("refuse a configuration import with such a monitor, naming it by its path", async () => {
    const doc = {
      version: 1,
      monitors: [monitor("https://shop.example.com/ok"), monitor("http://0x7f.1/", "prometheus")],
    };
    const res = await send<ErrorBody>(closed, "POST", `${API}/config/import`, doc);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      {
        field: "monitors.1.url",
        reason: expect.stringMatching(/^refused: resolves to a loopback address 127\.0\.0\.1/),
      },
    ]);
  });
});

let nextId = 5000;
const probed = (url: string, kind: "http" | "prometheus" = "http"): ProbeMonitor => ({
  id: nextId++,
  service: "shop",
  kind,
  intervalSeconds: 60,
  config: { url },
});
const probeUp = (samples: Sample[]) => samples.find((s) => s.metric === "probe_up");

describe("probes", () => {
  it("fail when a target redirects to a refused address, naming the hop", async () => {
    const cases: [string, string][] = [
      [
        "http://169.254.169.254/latest/meta-data/",
        "redirect to http://169.254.169.254/latest/meta-data/ refused: resolves to the cloud metadata address 169.254.169.254",
      ],
      ["http://[::1]/", "redirect to http://[::1]/ refused: resolves to a loopback address ::1"],
      ["http://2130706434/", "redirect to http://127.0.0.2/ refused: resolves to a loopback address 127.0.0.2"],
      [
        "http://metadata.google.internal/",
        "redirect to http://metadata.google.internal/ refused: metadata.google.internal is a cloud metadata host",
      ],
    ];
    for (const [to, reason] of cases) {
      for (const kind of ["http", "prometheus"] as const) {
        const samples = await probeMonitor(env, probed(`${base}/goto?code=301&to=${encodeURIComponent(to)}`, kind));
        expect(probeUp(samples), `${kind} ${to}`).toMatchObject({
          value: 0,
          message: `${reason}, not allowed unless listed in ALLOW_PRIVATE_TARGETS`,
        });
        expect(samples.find((s) => s.metric === "probe_status_code")).toBeUndefined();
      }
    }
  });

  it("follow redirects between allowed targets, up to 5 hops", async () => {
    const chain = (hops: number) => {
      let url = `${base}/up`;
      for (let i = 0; i < hops; i++) url = `${base}/goto?to=${encodeURIComponent(url)}`;
      return url;
    };
    expect(probeUp(await probeMonitor(env, probed(chain(5))))).toMatchObject({ value: 1 });
    expect(probeUp(await probeMonitor(env, probed(chain(6))))).toMatchObject({
      value: 0,
      message: "more than 5 redirects",
    });
  });

  it("refuse a stored target that the API would refuse now", async () => {
    const samples = await probeMonitor(env, probed(`http://[::1]:${inject("targetsPort")}/up`));
    expect(probeUp(samples)).toMatchObject({
      value: 0,
      message: "target refused: resolves to a loopback address ::1, not allowed unless listed in ALLOW_PRIVATE_TARGETS",
    });
    const closedSamples = await probeMonitor(closed, probed(`${base}/up`));
    expect(probeUp(closedSamples)?.message).toMatch(/^target refused: resolves to a loopback address 127\.0\.0\.1/);
  });
});

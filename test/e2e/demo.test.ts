/**
 * The local default as a newcomer meets it: within a minute of `npm start`, the
 * demo shop's probes, scrape, heartbeat and pushed metrics are live in the API.
 */
import { describe, expect, inject, it } from "vitest";

const baseUrl = inject("baseUrl");
const token = inject("token");

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

type Realtime = { metrics: { metric: string; service: string; value: number }[] };
type Health = { services: { service: string; status: string }[] };

describe("demo data after npm start", () => {
  it("shows live probes, scrape, heartbeat and pushed metrics within 60 s", async () => {
    const wanted = [
      "probe_up",
      "probe_latency_ms",
      "heartbeat_ok",
      "celery_workers",
      "payments_total",
      "api_response_ms",
    ];
    const deadline = Date.now() + 60_000;
    let seen = new Set<string>();
    while (Date.now() < deadline) {
      seen = new Set((await get<Realtime>("/api/admin/monitoring/metrics/realtime")).metrics.map((m) => m.metric));
      if (wanted.every((m) => seen.has(m))) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect([...seen]).toEqual(expect.arrayContaining(wanted));
  });

  it("derives the health of every demo service", async () => {
    const services = ["api", "celery", "database", "ecpay", "email", "redis"];
    const deadline = Date.now() + 60_000;
    let health: Health = { services: [] };
    while (Date.now() < deadline) {
      health = await get<Health>("/api/admin/monitoring/health/services");
      if (services.every((s) => health.services.some((h) => h.service === s && h.status !== "unknown"))) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(health.services.map((s) => s.service)).toEqual(expect.arrayContaining(services));
    for (const s of health.services.filter((h) => services.includes(h.service))) {
      expect(s.status, s.service).not.toBe("unknown");
    }
  });
});

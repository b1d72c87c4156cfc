/** `GET/PUT /monitoring/dashboard`: defaults, partial updates validated whole, roles. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { callJson, createAdmin, type ErrorBody, type TestAdmin } from "./helpers";

const PATH = "/api/admin/monitoring/dashboard";

interface Card {
  id: string;
  title: string;
  metric: string;
  service: string;
  unit: string;
  secondary_metric: string | null;
}
interface Settings {
  cards: Card[];
  service_names: Record<string, string>;
  updated_at: string | null;
}

const DEFAULT_CARDS: Card[] = [
  {
    id: "payment-success-rate",
    title: "Payment success rate",
    metric: "payment_success_rate",
    service: "ecpay",
    unit: "%",
    secondary_metric: null,
  },
  {
    id: "api-response-p95",
    title: "API response time (p95)",
    metric: "api_response_p95_ms",
    service: "api",
    unit: "ms",
    secondary_metric: null,
  },
  {
    id: "db-connection-pool",
    title: "DB connection pool",
    metric: "db_pool_in_use",
    service: "database",
    unit: "",
    secondary_metric: "db_pool_size",
  },
];
const DEFAULT_NAMES = {
  ecpay: "ECPay Integration",
  database: "Database Connection",
  redis: "Redis Cache",
  celery: "Celery Workers",
  email: "Email Service",
  api: "Shop API",
};

let viewer: TestAdmin;
let admin: TestAdmin;
let owner: TestAdmin;

beforeAll(async () => {
  [viewer, admin, owner] = await Promise.all([createAdmin("viewer"), createAdmin("admin"), createAdmin("owner")]);
});

const get = (token?: string) => callJson<Settings & ErrorBody>("GET", PATH, { token });
const put = (body: unknown, token = admin.token) => callJson<Settings & ErrorBody>("PUT", PATH, { token, body });

const card = (id: string, extra: Partial<Card> = {}) => ({
  id,
  title: `Card ${id}`,
  metric: "probe_up",
  service: "api",
  unit: "",
  ...extra,
});

describe("dashboard settings", () => {
  it("answers the defaults until saved, to every role; 401 without credentials", async () => {
    await env.DB.prepare("DELETE FROM dashboard_settings").run();
    for (const who of [viewer, admin, owner]) {
      const res = await get(who.token);
      expect(res.status, who.role).toBe(200);
      expect(res.body).toEqual({ cards: DEFAULT_CARDS, service_names: DEFAULT_NAMES, updated_at: null });
    }
    expect((await get()).status).toBe(401);
    expect((await put({ service_names: {} }, "emt_unknown")).status).toBe(401);
  });

  it("lets admins and owners change only the fields sent; viewers get 403 and change nothing", async () => {
    await env.DB.prepare("DELETE FROM dashboard_settings").run();
    const refused = await put({ service_names: { api: "Mine" } }, viewer.token);
    expect(refused.status).toBe(403);
    expect((await get(viewer.token)).body.updated_at).toBeNull();

    const before = Date.now();
    const names = await put({ service_names: { ...DEFAULT_NAMES, api: "Storefront API", search: "Search" } });
    expect(names.status).toBe(200);
    expect(names.body.cards).toEqual(DEFAULT_CARDS);
    expect(names.body.service_names).toEqual({ ...DEFAULT_NAMES, api: "Storefront API", search: "Search" });
    expect(Date.parse(names.body.updated_at ?? "")).toBeGreaterThanOrEqual(before);

    const reordered = [
      DEFAULT_CARDS[2],
      card("queue", { title: "Celery queue", metric: "celery_queue_length", service: "celery", unit: "tasks" }),
      DEFAULT_CARDS[0],
    ];
    const cards = await put({ cards: reordered }, owner.token);
    expect(cards.status).toBe(200);
    const expected = reordered.map((c) => ({ secondary_metric: null, ...c }));
    expect(cards.body.cards).toEqual(expected);
    expect(cards.body.service_names.api).toBe("Storefront API");
    expect((await get(viewer.token)).body).toMatchObject({ cards: expected, service_names: { search: "Search" } });
  });

  it("refuses invalid settings with the field and the reason, writing nothing", async () => {
    await env.DB.prepare("DELETE FROM dashboard_settings").run();
    const cases: [unknown, string][] = [
      [{ cards: Array.from({ length: 13 }, (_, i) => card(`c${i}`)) }, "cards"],
      [{ cards: [card("a"), card("b"), card("a")] }, "cards.2.id"],
      [{ cards: [card("a", { metric: "9lives" })] }, "cards.0.metric"],
      [{ cards: [card("a", { service: "Shop API" })] }, "cards.0.service"],
      [{ cards: [card("a", { title: "  " })] }, "cards.0.title"],
      [{ cards: [card("Bad Id")] }, "cards.0.id"],
      [{ cards: [card("a", { unit: "x".repeat(21) })] }, "cards.0.unit"],
      [{ cards: [card("a", { secondary_metric: "probe_up" })] }, "cards.0.secondary_metric"],
      [{ cards: [{ ...card("a"), colour: "red" }] }, "cards.0.colour"],
      [{ cards: [{ id: "a", title: "A", service: "api", unit: "" }] }, "cards.0.metric"],
      [{ service_names: { api: "" } }, "service_names.api"],
      [{ service_names: { "Not A Service": "x" } }, "service_names.Not A Service"],
      [{ service_names: ["api"] }, "service_names"],
      [{ layout: "grid" }, "layout"],
    ];
    for (const [body, field] of cases) {
      const res = await put(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(
        res.body.details.map((d) => d.field),
        JSON.stringify(body),
      ).toContain(field);
      expect(res.body.details.every((d) => d.reason.length > 0)).toBe(true);
    }
    expect((await get(admin.token)).body).toEqual({
      cards: DEFAULT_CARDS,
      service_names: DEFAULT_NAMES,
      updated_at: null,
    });
  });

  it("accepts twelve cards and an empty list", async () => {
    const twelve = Array.from({ length: 12 }, (_, i) => card(`c${i}`));
    expect((await put({ cards: twelve })).body.cards).toHaveLength(12);
    expect((await put({ cards: [] })).body.cards).toEqual([]);
  });
});

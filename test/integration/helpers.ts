/** Helpers for workerd tests: admins with tokens, requests through the real Worker, and indexed samples. */
import { env, exports } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { Role } from "../../worker/core/roles";
import { type Labels, type Sample, seriesKey } from "../../worker/core/series";
import { addValue, emptySketch, quantile, serializeSketch } from "../../worker/core/sketch";
import { recordSamples } from "../../worker/lib/series";
import { hashSecret, newSecret, secretPrefix } from "../../worker/lib/secrets";

export interface TestAdmin {
  id: number;
  email: string;
  role: Role;
  token: string;
}

let counter = 0;

/** Inserts an admin of `role` with a fresh API token. */
export async function createAdmin(role: Role, email = `${role}${++counter}@example.com`): Promise<TestAdmin> {
  const admin = await env.DB.prepare("INSERT INTO admin_users (email, name, role) VALUES (?, ?, ?) RETURNING id")
    .bind(email, `Test ${role}`, role)
    .first<{ id: number }>();
  const token = newSecret("token");
  await env.DB.prepare(
    "INSERT INTO api_tokens (admin_id, kind, name, token_hash, prefix) VALUES (?, 'token', 'test', ?, ?)",
  )
    .bind(admin!.id, await hashSecret(token), secretPrefix(token))
    .run();
  return { id: admin!.id, email, role, token };
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Calls the Worker's fetch handler the way a client would. */
export async function call(method: string, path: string, opts: CallOptions = {}): Promise<Response> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  return exports.default.fetch(new Request(`http://localhost${path}`, { method, headers, body }));
}

/** Like `call`, and parses the JSON answer. */
export async function callJson<T = Record<string, unknown>>(method: string, path: string, opts: CallOptions = {}) {
  const res = await call(method, path, opts);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}

/** The API's error body. */
export interface ErrorBody {
  error: string;
  message: string;
  details: { field?: string; index?: number; reason: string }[];
}

/** Hex SHA-256, computed independently of the code under test. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Asserts GET, PUT (with `putBody`) and DELETE of an id that does not exist under `base` answer 404 not_found. */
export async function expectUnknownIdNotFound(base: string, token: string, putBody: Record<string, unknown>) {
  for (const [method, body] of [["GET"], ["PUT", putBody], ["DELETE"]] as const) {
    const res = await callJson<ErrorBody>(method, `${base}/999999`, { token, body });
    expect(res.status, method).toBe(404);
    expect(res.body.error).toBe("not_found");
  }
}

/**
 * Stores samples and waits until the SeriesIndex shows them: families send their latest
 * values to the index a moment after storing (INDEX_DELAY_MS), and tests of readers of the
 * index (realtime, health, the dashboard) start from there.
 */
export async function recordIndexed(samples: readonly Sample[], now = Date.now()): Promise<void> {
  await recordSamples(env, samples, now, "push");
  const newest = new Map<string, number>();
  for (const s of samples) {
    const key = seriesKey(s.metric, s.service, s.labels);
    newest.set(key, Math.max(newest.get(key) ?? Number.NEGATIVE_INFINITY, s.ts));
  }
  const keys = [...newest.keys()];
  const index = env.SERIES_INDEX.getByName("main");
  await vi.waitUntil(
    async () => (await index.get(keys)).every((s, i) => s !== null && s.ts >= (newest.get(keys[i] ?? "") ?? 0)),
    { timeout: 5_000, interval: 20 },
  );
}

/** One rollup row, inserted the way the series store writes them (the D1 contract). */
export function rollupInsert(
  metric: string,
  service: string,
  labels: Labels,
  resolution: 60 | 3600,
  start: number,
  values: number[],
) {
  const sketch = emptySketch();
  for (const v of values) addValue(sketch, v);
  return env.DB.prepare(
    `INSERT INTO system_metrics (metric_name, service, labels, series_key, resolution_seconds, bucket_start,
       count, sum, min, max, p50, p95, p99, sketch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).bind(
    metric,
    service,
    JSON.stringify(labels),
    seriesKey(metric, service, labels),
    resolution,
    start,
    values.length,
    values.reduce((a, b) => a + b, 0),
    Math.min(...values),
    Math.max(...values),
    quantile(sketch, 0.5),
    quantile(sketch, 0.95),
    quantile(sketch, 0.99),
    serializeSketch(sketch),
  );
}

/** Runs the statements in batches of 200. */
export async function insertAll(statements: D1PreparedStatement[]) {
  for (let i = 0; i < statements.length; i += 200) await env.DB.batch(statements.slice(i, i + 200));
}

/**
 * Monitors: HTTP probes, Prometheus scrapes and heartbeats, as one flat body.
 * Fields of another kind are refused by name; a kind's settings live in `config`
 * (so a new http setting such as the confirmation policy needs no migration).
 */
import { z } from "@hono/zod-openapi";
import { MONITOR_KINDS, monitors as monitorTable } from "../db/schema";
import { crudRoutes, defineResource } from "./crud";
import { MetricName, Name, ServiceName, Timestamps, TimeZone } from "./fields";
import { cronError } from "../core/cron";
import { badRequest } from "../lib/errors";
import { randomUrlSafe } from "../lib/secrets";
import { targetPolicyOf } from "../lib/targets";
import { checkTarget } from "../core/net/target";
import { syncMonitorSchedule } from "../handlers/probes";
import { defaultTimeoutMs } from "../core/probe";
import {
  confirmPolicyError,
  DEFAULT_CONFIRM_LOCATIONS,
  MAX_CONFIRM_LOCATIONS,
  readConfirmPolicy,
} from "../core/confirm";

type Kind = (typeof MONITOR_KINDS)[number];

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** fetch() refuses a request body with these methods. */
const BODYLESS_METHODS: readonly string[] = ["GET", "HEAD"];
const MAX_BODY_BYTES = 64 * 1024;

const HttpUrl = z.url({ protocol: z.regexes.httpProtocol, error: "must be an http:// or https:// URL" }).max(2048);

const HeaderSet = z
  .record(
    z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be an HTTP header name"),
    z
      .string()
      .max(8192)
      .regex(/^[^\r\n\0]*$/, "must not contain line breaks"),
  )
  .refine((headers) => Object.keys(headers).length <= 20, "at most 20 headers");

const RequestBody = z
  .string()
  .refine((body) => new TextEncoder().encode(body).length <= MAX_BODY_BYTES, `must be at most ${MAX_BODY_BYTES} bytes`);

const Expect = z
  .object({
    status: z.array(z.number().int().min(100).max(599)).min(1).max(100).default([200]),
    body_contains: z.string().min(1).max(10_000).optional(),
    body_not_contains: z.string().min(1).max(10_000).optional(),
    json_path: z
      .object({
        path: z.string().max(500).startsWith("$", 'must start with "$"'),
        equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
      })
      .strict()
      .optional(),
  })
  .strict();

const Cron = z
  .string()
  .max(200)
  .superRefine((expr, ctx) => {
    const error = cronError(expr);
    if (error) ctx.addIssue({ code: "custom", message: error });
  })
  .openapi({ example: "*/15 * * * *" });

const MonitorFields = z
  .object({
    name: Name.openapi({ example: "ECPay gateway" }),
    service: ServiceName.openapi({ example: "ecpay" }),
    kind: z.enum(MONITOR_KINDS),
    interval_seconds: z.number().int().min(1).max(3600).default(60),
    is_active: z.boolean().default(true),
    url: HttpUrl.nullish().openapi({
      description:
        "http, prometheus (required): the URL to probe or scrape. Refused (400) when it points at a loopback, private, link-local, carrier-grade NAT, multicast or metadata address or name, or at the product itself, unless ALLOW_PRIVATE_TARGETS lists it; redirects are checked the same way at each hop",
    }),
    method: z.enum(METHODS).nullish().openapi({ description: "http: default GET" }),
    headers: HeaderSet.nullish().openapi({ description: "http, prometheus: request headers, default {}" }),
    body: RequestBody.nullish().openapi({ description: "http: request body, not with GET or HEAD" }),
    timeout_ms: z.number().int().min(100).max(30_000).nullish().openapi({
      description:
        "http, prometheus: less than interval_seconds × 1000; when not set, 5000 or 80 % of the interval if shorter (800 for a 1 s monitor)",
    }),
    expect: Expect.nullish().openapi({
      description: 'http: what a healthy answer looks like, default {"status": [200]}',
    }),
    follow_redirects: z.boolean().nullish().openapi({ description: "http, prometheus: default true" }),
    confirm_locations: z
      .number()
      .int()
      .min(1)
      .max(MAX_CONFIRM_LOCATIONS)
      .nullish()
      .openapi({
        description: `http: locations that judge a failure, the first included (1: no confirmation); default ${DEFAULT_CONFIRM_LOCATIONS}`,
      }),
    confirm_quorum: z.number().int().min(1).max(MAX_CONFIRM_LOCATIONS).nullish().openapi({
      description: "http: how many of confirm_locations must see a failure for it to count; default all of them",
    }),
    metrics_allowlist: z
      .array(MetricName)
      .max(1000)
      .nullish()
      .openapi({ description: "prometheus: metric names to keep; null keeps all" }),
    period_seconds: z
      .number()
      .int()
      .min(10)
      .max(604_800)
      .nullish()
      .openapi({ description: "heartbeat: expected ping period (or cron)" }),
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .nullish()
      .openapi({ description: "heartbeat: lateness allowed before a ping counts as missed, default 0" }),
    cron: Cron.nullish().openapi({
      description: "heartbeat: 5-field cron schedule of expected pings (or period_seconds)",
    }),
    timezone: TimeZone.nullish().openapi({
      description: "heartbeat with cron: time zone of the schedule, default UTC",
    }),
  })
  .openapi("MonitorInput");

export type MonitorInput = z.output<typeof MonitorFields>;

const CONFIG_KEYS = [
  "url",
  "method",
  "headers",
  "body",
  "timeout_ms",
  "expect",
  "follow_redirects",
  "confirm_locations",
  "confirm_quorum",
  "metrics_allowlist",
  "period_seconds",
  "grace_seconds",
  "cron",
  "timezone",
] as const;
type ConfigKey = (typeof CONFIG_KEYS)[number];
type Config = { [K in ConfigKey]: NonNullable<MonitorInput[K]> | null };

const KEYS_OF: Record<Kind, readonly ConfigKey[]> = {
  http: [
    "url",
    "method",
    "headers",
    "body",
    "timeout_ms",
    "expect",
    "follow_redirects",
    "confirm_locations",
    "confirm_quorum",
  ],
  prometheus: ["url", "headers", "timeout_ms", "follow_redirects", "metrics_allowlist"],
  heartbeat: ["period_seconds", "grace_seconds", "cron", "timezone"],
};

const NO_CONFIG = Object.fromEntries(CONFIG_KEYS.map((k) => [k, null])) as Config;

/**
 * The stored settings of the input's kind, defaults applied, except an unset timeout:
 * it stays null and follows the interval (defaultTimeoutMs), so a later change of the
 * interval alone never leaves a default timeout longer than the new interval. The
 * confirmation policy likewise stays null when unset: the quorum follows the locations,
 * and both follow the product's default (core/confirm.ts).
 */
function configOf(input: MonitorInput): Partial<Config> {
  const full: Config = {
    url: input.url ?? null,
    method: input.method ?? "GET",
    headers: input.headers ?? {},
    body: input.body ?? null,
    timeout_ms: input.timeout_ms ?? null,
    expect: input.expect ?? { status: [200] },
    follow_redirects: input.follow_redirects ?? true,
    confirm_locations: input.confirm_locations ?? null,
    confirm_quorum: input.confirm_quorum ?? null,
    metrics_allowlist: input.metrics_allowlist ?? null,
    period_seconds: input.period_seconds ?? null,
    grace_seconds: input.grace_seconds ?? 0,
    cron: input.cron ?? null,
    timezone: input.cron == null ? null : (input.timezone ?? "UTC"),
  };
  return Object.fromEntries(KEYS_OF[input.kind].map((k) => [k, full[k]]));
}

const MonitorOut = MonitorFields.extend({
  id: z.number().int(),
  heartbeat_url: z.string().nullable().openapi({ description: "heartbeat: the URL the job calls; null otherwise" }),
  ...Timestamps,
}).openapi("Monitor");

type MonitorRow = typeof monitorTable.$inferSelect;

export const monitorResource = defineResource({
  noun: "Monitor",
  collection: "monitors",
  table: monitorTable,
  fields: MonitorFields,
  output: MonitorOut,
  refine: (input, issue) => {
    const keys = KEYS_OF[input.kind];
    for (const key of CONFIG_KEYS) {
      if (input[key] != null && !keys.includes(key)) {
        issue(key, `not used by ${input.kind} monitors (leave it out or send null)`);
      }
    }
    if (input.kind === "heartbeat") {
      if (input.period_seconds == null && input.cron == null) {
        issue("period_seconds", "a heartbeat monitor needs period_seconds or cron");
      } else if (input.period_seconds != null && input.cron != null) {
        issue("cron", "use period_seconds or cron, not both (send null for the other)");
      }
      if (input.timezone != null && input.cron == null) issue("timezone", "only used with cron");
      return;
    }
    if (input.url == null) issue("url", `required for ${input.kind} monitors`);
    const intervalMs = input.interval_seconds * 1000;
    if (input.timeout_ms != null && input.timeout_ms >= intervalMs) {
      issue("timeout_ms", `must be less than interval_seconds × 1000 (${intervalMs} ms)`);
    }
    const method = input.method ?? "GET";
    if (input.kind === "http" && input.body != null && BODYLESS_METHODS.includes(method)) {
      issue("body", `not allowed with method ${method}`);
    }
    if (input.kind === "http") {
      const locations = input.confirm_locations ?? DEFAULT_CONFIRM_LOCATIONS;
      const error = confirmPolicyError(locations, input.confirm_quorum ?? null);
      if (error) issue(...error);
    }
  },
  // The URL's target needs the deployment's settings and the request's origin: checked here, not in `refine`.
  check: async (input, { env, origin }) => {
    if (input.url == null) return;
    const target = checkTarget(input.url, targetPolicyOf(env, origin));
    if (!target.ok) throw badRequest([{ field: "url", reason: `refused: ${target.reason}` }], "Invalid monitor.");
  },
  toInput: rowToInput,
  toValues: (input, { existing }) => ({ values: monitorValues(input, existing) }),
  extraOutput: (row, { origin }) => ({
    ...(row.kind === "heartbeat" ? {} : { timeout_ms: effectiveTimeout(row) }),
    ...(row.kind === "http" ? effectiveConfirmation(row) : {}),
    heartbeat_url:
      row.kind === "heartbeat" && row.heartbeatSlug ? `${origin}/api/heartbeat/${row.heartbeatSlug}` : null,
  }),
  afterWrite: syncMonitorSchedule,
});

export const monitors = crudRoutes(monitorResource);

/** A validated monitor → its columns (an existing heartbeat keeps its URL). */
export function monitorValues(input: MonitorInput, existing?: MonitorRow) {
  return {
    name: input.name,
    service: input.service,
    kind: input.kind,
    config: configOf(input),
    intervalSeconds: input.interval_seconds,
    isActive: input.is_active,
    heartbeatSlug: input.kind === "heartbeat" ? (existing?.heartbeatSlug ?? newHeartbeatSlug()) : null,
  };
}

/** The writable fields of a stored monitor. */
export function rowToInput(row: MonitorRow) {
  return {
    name: row.name,
    service: row.service,
    kind: row.kind,
    interval_seconds: row.intervalSeconds,
    is_active: row.isActive,
    // `config` is written only by configOf, after validation.
    ...NO_CONFIG,
    ...(row.config as Partial<Config>),
  };
}

/** The timeout a probe or scrape runs with: its own, or the one its interval gives. */
function effectiveTimeout(row: MonitorRow): number {
  const set = (row.config as Partial<Config>).timeout_ms;
  return typeof set === "number" ? set : defaultTimeoutMs(row.intervalSeconds);
}

/** The confirmation policy an http monitor runs with: its own, or the defaults. */
function effectiveConfirmation(row: MonitorRow) {
  const policy = readConfirmPolicy(row.kind, row.config);
  return { confirm_locations: policy.locations, confirm_quorum: policy.quorum };
}

/** 24 random bytes, base64url: the unguessable path segment of a heartbeat URL. */
const newHeartbeatSlug = () => randomUrlSafe(24);

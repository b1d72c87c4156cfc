/**
 * Push ingest for holders of an ingest key: `POST /ingest` (JSON batches) and
 * `POST /ingest/prometheus` (text exposition). A batch is stored whole or refused
 * whole; 202 only once the series store has it. Refused samples are counted by reason
 * for `GET /metrics` (accepted ones by the store, lib/series.ts); a body refused before
 * its samples are known (too many bytes, not JSON, wrong media type) counts none.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  DEFAULT_SAMPLES_PER_MINUTE,
  MAX_BATCH_SAMPLES,
  MAX_BODY_BYTES,
  readEnvelope,
  type SampleProblem,
  timestampProblem,
  validateSamples,
} from "../core/ingest";
import { type DuplicateCounts, NO_DUPLICATES } from "../core/duplicates";
import { countParseErrors, formatOfContentType, MAX_LISTED_ERRORS, parseExposition } from "../core/prometheus/parse";
import { expositionToSamples } from "../core/prometheus/to-samples";
import { parseRetention } from "../core/rollup";
import type { Sample } from "../core/series";
import type { IngestKey } from "../db/ingest-keys";
import { ApiError, badRequest, type ErrorDetail } from "../lib/errors";
import { countRefused } from "../lib/counters";
import { chargeKey, refundKey } from "../lib/key-limit";
import { recordSamples } from "../lib/series";
import { requireIngestKey } from "../middleware/ingest-auth";
import { createApi, ErrorSchema, jsonResponse } from "./api";
import { MetricName, ServiceName } from "./fields";

export const ingest = createApi();

const MAX_LISTED_PROBLEMS = 100;
/** Seconds a client should wait after the series store failed. */
const STORE_RETRY_AFTER_SECONDS = 5;

// ---------------------------------------------------------------- request body

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

const tooLarge = (what: string) => new ApiError(413, `${what} The limit is ${MAX_BODY_BYTES} bytes per request.`);

/** The body as text, refusing (413) anything over `MAX_BODY_BYTES` without buffering more than that. */
async function readBodyText(req: Request): Promise<string> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) throw tooLarge(`The body is ${declared} bytes.`);
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge("The body is too large.");
    }
    chunks.push(value);
  }
  const bytes = chunks.length === 1 && chunks[0] ? chunks[0] : new Uint8Array(size);
  if (chunks.length !== 1) {
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw badRequest([{ reason: "the body is not valid UTF-8" }], "The body is not valid UTF-8 text.");
  }
}

/** 415 unless the body is one of `accepted` media types, sent without a content coding. */
function requireMediaType(c: Context, accepted: readonly string[]) {
  const type = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!accepted.includes(type)) {
    throw new ApiError(415, `Send the body as ${accepted.join(" or ")}${type ? `, not ${type}` : ""}.`);
  }
  const encoding = c.req.header("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    throw new ApiError(415, `Content-Encoding ${encoding} is not supported; send the body uncompressed.`);
  }
}

// ---------------------------------------------------------------- rate limit and storing

/** Takes `n` samples from the key's per-minute allowance (global: lib/key-limit.ts): 429, or 413 for a batch that can never fit. */
async function charge(env: Env, key: IngestKey, n: number, now: number): Promise<void> {
  const limit = key.rateLimitPerMinute ?? DEFAULT_SAMPLES_PER_MINUTE;
  const result = await chargeKey(env, key.id, limit, n, now);
  if (result.ok) return;
  if (!Number.isFinite(result.retryAfterSeconds)) {
    throw new ApiError(413, `This key may push ${limit} samples per minute; send at most that many per request.`);
  }
  throw new ApiError(429, `This key may push ${limit} samples per minute; retry in ${result.retryAfterSeconds} s.`, {
    headers: { "Retry-After": String(result.retryAfterSeconds) },
  });
}

/**
 * Charges the key, then stores: resolves only once every sample is stored (or was held
 * already: a retried batch changes nothing), with the duplicates; 503 otherwise.
 */
async function store(env: Env, key: IngestKey, samples: Sample[], now: number): Promise<DuplicateCounts> {
  if (samples.length === 0) return { ...NO_DUPLICATES };
  try {
    await charge(env, key, samples.length, now);
  } catch (err) {
    countRefused(env, err instanceof ApiError && err.status === 429 ? "rate_limited" : "too_large", samples.length);
    throw err;
  }
  try {
    return await recordSamples(env, samples, now, "push");
  } catch (err) {
    refundKey(key.id, samples.length);
    console.error("ingest: storing samples failed", err);
    throw new ApiError(503, "Storing the samples failed; the batch was not accepted. Retry it shortly.", {
      code: "unavailable",
      headers: { "Retry-After": String(STORE_RETRY_AFTER_SECONDS) },
      cause: err,
    });
  }
}

/** Raw samples older than this are refused, by the same rule the series store applies. */
const rawWindowMs = (env: Env) => parseRetention(env).rawMs;

function problemsToError(problems: SampleProblem[], invalid: number, total: number): ApiError {
  const details: ErrorDetail[] = problems.map(({ index, field, reason }) =>
    field ? { index, field, reason } : { index, reason },
  );
  const listed =
    problems.length >= MAX_LISTED_PROBLEMS ? ` Only the first ${MAX_LISTED_PROBLEMS} problems are listed.` : "";
  return badRequest(details, `${invalid} of ${total} samples are invalid; nothing was stored.${listed}`);
}

// ---------------------------------------------------------------- POST /ingest (JSON)

const security = [{ ingestKey: [] }];

ingest.openAPIRegistry.registerComponent("securitySchemes", "ingestKey", {
  type: "http",
  scheme: "bearer",
  description: 'A key with scope "ingest" or "integration", created with POST /api/admin/monitoring/keys (shown once).',
});

const errors = (codes: Record<number, string>) =>
  Object.fromEntries(
    Object.entries(codes).map(([code, description]) => [code, jsonResponse(ErrorSchema, description)]),
  );

const ingestErrors = errors({
  400: "Malformed JSON or invalid samples: every failing index, field and reason (nothing stored)",
  401: "No, unknown or revoked key",
  403: "The key is neither an ingest nor an integration key",
  413: `More than ${MAX_BATCH_SAMPLES} samples or ${MAX_BODY_BYTES} bytes`,
  415: "Unsupported Content-Type or Content-Encoding",
  429: "The key's samples-per-minute limit is exhausted; see Retry-After",
  503: "The series store failed; nothing was accepted; see Retry-After",
});

const SampleInput = z
  .object({
    metric: MetricName.openapi({ example: "payment_success_rate" }),
    service: ServiceName.openapi({ example: "ecpay" }),
    value: z.number().openapi({ example: 98.7, description: "A finite number" }),
    ts: z.union([z.number(), z.string()]).optional().openapi({
      description:
        "Epoch milliseconds or ISO 8601 with a zone; default now, the time of arrival (samples of one series without ts in one batch share it: only the first is stored). At most 5 minutes ahead, and within the raw window (24 h)",
      example: 1795713275451,
    }),
    labels: z
      .record(z.string(), z.string())
      .optional()
      .openapi({
        description: "At most 20; names are letters, digits and _, not starting with __",
        example: { region: "tw" },
      }),
  })
  .strict()
  .openapi("IngestSample");

const IngestBody = z
  .object({ samples: z.array(SampleInput).max(MAX_BATCH_SAMPLES) })
  .strict()
  .openapi("IngestBatch");

const DUPLICATES_DESCRIPTION =
  "Samples not stored because their series already has a sample at that ts (stored before, or earlier in this batch): " +
  "ingest is idempotent per series and timestamp, so a retried batch changes nothing. The first sample stays.";
const CONFLICTS_DESCRIPTION =
  "Of the duplicates, those with a different value than the one kept (the first); 0 when a batch is merely retried";
const duplicateFields = {
  duplicates: z.number().int().openapi({ description: DUPLICATES_DESCRIPTION }),
  conflicts: z.number().int().openapi({ description: CONFLICTS_DESCRIPTION }),
};

const Accepted = z
  .object({
    accepted: z
      .number()
      .int()
      .openapi({ description: "Samples in the batch, every one now held (stored now, or already: see duplicates)" }),
    ...duplicateFields,
  })
  .openapi("IngestAccepted");

// Validation is done by core/ingest.ts, not by this schema: it reads the body
// with a byte limit and reports every failing sample index at once.
ingest.openAPIRegistry.registerPath(
  createRoute({
    method: "post",
    path: "/ingest",
    tags: ["collection"],
    summary: "Push samples (a batch is stored whole or refused whole)",
    description:
      "Idempotent per (series, ts): a sample whose series (metric, service, labels) already has a sample at the same ts is not stored again, in the raw samples, the rollups or alert evaluation. An identical one (a retry) is counted in `duplicates`; one with another value also in `conflicts`, and the first value stays.",
    security,
    request: { body: { required: true, content: { "application/json": { schema: IngestBody } } } },
    responses: { 202: jsonResponse(Accepted, "Every sample is stored"), ...ingestErrors },
  }),
);

ingest.post("/ingest", requireIngestKey("ingest", "integration"), async (c) => {
  requireMediaType(c, ["application/json"]);
  const text = await readBodyText(c.req.raw);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest([{ reason: (err as Error).message }], "The body is not valid JSON.");
  }
  const envelope = readEnvelope(body);
  if (!envelope.ok) {
    throw badRequest([
      envelope.field ? { field: envelope.field, reason: envelope.reason } : { reason: envelope.reason },
    ]);
  }
  const count = envelope.items.length;
  if (count > MAX_BATCH_SAMPLES) {
    countRefused(c.env, "too_large", count);
    throw new ApiError(413, `The batch has ${count} samples; the limit is ${MAX_BATCH_SAMPLES} per request.`);
  }
  const now = Date.now();
  const result = validateSamples(envelope.items, { now, rawWindowMs: rawWindowMs(c.env) }, MAX_LISTED_PROBLEMS);
  if (!result.ok) {
    countRefused(c.env, result.outOfRange === result.invalid ? "timestamp" : "invalid", count);
    throw problemsToError(result.problems, result.invalid, count);
  }
  const repeated = await store(c.env, c.get("ingestKey"), result.samples, now);
  return c.json({ accepted: result.samples.length, ...repeated }, 202);
});

// ---------------------------------------------------------------- POST /ingest/prometheus (text)

const EXPOSITION_TYPES = ["text/plain", "application/openmetrics-text"];
const MAX_LISTED_DROPS = 100;

const PrometheusQuery = z.object({
  service: ServiceName.openapi({
    param: { name: "service", in: "query" },
    description: "The service every sample belongs to",
    example: "celery",
  }),
});

const PrometheusAccepted = z
  .object({
    accepted: z.number().int(),
    ...duplicateFields,
    dropped: z
      .number()
      .int()
      .openapi({ description: "Samples left out: NaN or ±Inf values, names a series cannot hold" }),
    dropped_details: z
      .array(z.object({ name: z.string(), reason: z.string() }))
      .openapi({ description: `Why, for the first ${MAX_LISTED_DROPS} dropped samples` }),
    refused_count: z
      .number()
      .int()
      .openapi({ description: "Malformed lines refused (their samples not stored); the other lines are stored" }),
    refused: z.array(z.object({ line: z.number().int(), reason: z.string() })).openapi({
      description: `The refused lines (1-based) and why, the first ${MAX_LISTED_ERRORS}; an entry after them sums up the rest`,
    }),
  })
  .openapi("PrometheusAccepted");

const labelText = (labels: Record<string, string>) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

ingest.openapi(
  createRoute({
    method: "post",
    path: "/ingest/prometheus",
    tags: ["collection"],
    summary: "Push a Prometheus or OpenMetrics text exposition for one service",
    description:
      "Same limits as POST /ingest, and idempotent per (series, ts) alike. `application/openmetrics-text` is checked as OpenMetrics 1.0 (# EOF required, its family rules); `text/plain` is read as Prometheus reads the 0.0.4 text format. Malformed lines are refused one by one: the other samples are stored and the answer (202) lists the refused lines with their numbers and reasons; only a body whose every sample line is malformed is refused whole (400, with the line numbers). Samples with non-finite values are dropped and counted.",
    security,
    middleware: [requireIngestKey("ingest", "integration")] as const,
    request: {
      query: PrometheusQuery,
      body: {
        required: true,
        content: {
          "text/plain": {
            schema: z
              .string()
              .openapi({ example: '# TYPE celery_queue_length gauge\ncelery_queue_length{queue="default"} 12\n' }),
          },
          "application/openmetrics-text": { schema: z.string() },
        },
      },
    },
    responses: {
      202: jsonResponse(PrometheusAccepted, "Every kept sample is stored; malformed lines are listed in `refused`"),
      ...ingestErrors,
    },
  }),
  async (c) => {
    requireMediaType(c, EXPOSITION_TYPES);
    const { service } = c.req.valid("query");
    const text = await readBodyText(c.req.raw);
    // One over the limit tells "too many" (413) apart from a body that fits.
    const parsed = parseExposition(text, {
      maxSamples: MAX_BATCH_SAMPLES + 1,
      format: formatOfContentType(c.req.header("content-type")),
    });
    if (parsed.samples.length > MAX_BATCH_SAMPLES) {
      // Parsing stops one over the limit: counted as that many.
      countRefused(c.env, "too_large", parsed.samples.length);
      throw new ApiError(
        413,
        `The exposition has more than ${MAX_BATCH_SAMPLES} samples; the limit is ${MAX_BATCH_SAMPLES} per request.`,
      );
    }
    // Each malformed line is taken for one refused sample; the good lines are stored.
    const refusedCount = countParseErrors(parsed.errors);
    countRefused(c.env, "invalid", refusedCount);
    if (refusedCount > 0 && parsed.samples.length === 0) {
      throw badRequest(
        parsed.errors.map(({ line, reason }): ErrorDetail & { line: number } => ({ line, reason })),
        "Every sample line of the exposition is malformed; nothing was stored.",
      );
    }
    const now = Date.now();
    const { samples, dropped } = expositionToSamples(parsed, { service, now });
    countRefused(c.env, "invalid", dropped.length);
    const rules = { now, rawWindowMs: rawWindowMs(c.env) };
    const late: ErrorDetail[] = [];
    for (const s of samples) {
      const problem = timestampProblem(s.ts, rules);
      if (problem && late.length < MAX_LISTED_PROBLEMS) {
        late.push({ field: `${s.metric}${labelText(s.labels)}`, reason: `timestamp ${problem}` });
      }
    }
    if (late.length > 0) {
      countRefused(c.env, "timestamp", samples.length);
      throw badRequest(late, "Some samples have timestamps outside the accepted range; nothing was stored.");
    }
    const repeated = await store(c.env, c.get("ingestKey"), samples, now);
    return c.json(
      {
        accepted: samples.length,
        ...repeated,
        dropped: dropped.length,
        dropped_details: dropped.slice(0, MAX_LISTED_DROPS),
        refused_count: refusedCount,
        refused: parsed.errors,
      },
      202,
    );
  },
);

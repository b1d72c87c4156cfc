/**
 * The one error path: routes throw `ApiError`, `app.onError` renders
 * `{"error", "message", "details"}` with the status (see API.md).
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorDetail {
  field?: string;
  index?: number;
  /** Line of a text body (Prometheus exposition) the reason refers to. */
  line?: number;
  reason: string;
}

const CODES: Partial<Record<ContentfulStatusCode, string>> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limited",
};

export class ApiError extends HTTPException {
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    message: string,
    opts: { details?: ErrorDetail[]; code?: string; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(status, { message, cause: opts.cause });
    this.code = opts.code ?? CODES[status] ?? "error";
    this.details = opts.details ?? [];
    this.headers = opts.headers ?? {};
  }
}

export const badRequest = (details: ErrorDetail[], message = "The request is invalid.") =>
  new ApiError(400, message, { details });
export const notFound = (what: string) => new ApiError(404, `${what} not found.`);
export const conflict = (message: string, details: ErrorDetail[] = []) => new ApiError(409, message, { details });

/**
 * A database UNIQUE violation (a concurrent duplicate that slipped past a
 * check) as a 409 naming the column; any other error is returned unchanged.
 */
export function asConflict(err: unknown): unknown {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const column = e.message.match(/UNIQUE constraint failed: \w+\.(\w+)/)?.[1];
    if (column)
      return conflict(`Another object already has this ${column}.`, [{ field: column, reason: "must be unique" }]);
  }
  return err;
}

/** Renders any thrown value as the API error body; unknown errors become a 500 without internals. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ApiError) {
    return Response.json(
      { error: err.code, message: err.message, details: err.details },
      { status: err.status, headers: err.headers },
    );
  }
  if (err instanceof HTTPException) {
    // Hono's own exceptions (malformed JSON, body limit) carry only a status and message.
    const status = err.status as ContentfulStatusCode;
    return Response.json(
      { error: CODES[status] ?? "error", message: err.message || "Request failed.", details: [] },
      { status },
    );
  }
  console.error("unhandled error", err);
  return Response.json({ error: "internal", message: "Internal error.", details: [] }, { status: 500 });
}

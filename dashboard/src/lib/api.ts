/**
 * A small JSON client for the same-origin API. Authentication is the HttpOnly
 * session cookie the browser sends by itself; a 401 on any authenticated call
 * is reported once through `onUnauthorized` (the session is gone: log in again).
 */
import type { ApiErrorBody } from "./types";

/** One reason the server gave, e.g. a field's validation error. */
export interface ErrorDetail {
  field?: string;
  reason: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** True when `err` is an HttpError with status 401. */
export const isUnauthorized = (err: unknown): err is HttpError => err instanceof HttpError && err.status === 401;

const isErrorBody = (v: unknown): v is ApiErrorBody =>
  typeof v === "object" && v !== null && typeof (v as ApiErrorBody).message === "string";

const isDetail = (v: unknown): v is ErrorDetail =>
  typeof v === "object" && v !== null && typeof (v as ErrorDetail).reason === "string";

/**
 * A failed save's reasons by field (the API's 400 details), for forms to show beside each
 * field; reasons without a field are under "".
 */
export function fieldErrors(err: unknown): Record<string, string> {
  const byField: Record<string, string> = {};
  if (!(err instanceof HttpError)) return byField;
  for (const d of err.details) {
    const field = d.field ?? "";
    byField[field] = byField[field] ? `${byField[field]}; ${d.reason}` : d.reason;
  }
  return byField;
}

/** Turns a failed response into an HttpError carrying the server's `message` when it sent one. */
export async function toHttpError(res: Response): Promise<HttpError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON (a proxy's error page, an empty body)
  }
  if (isErrorBody(body) && body.message) {
    return new HttpError(res.status, body.message, body.error ?? null, (body.details ?? []).filter(isDetail));
  }
  return new HttpError(res.status, `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`);
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  /** A 401 here is an expected answer (e.g. a wrong login token), not a lost session. */
  allowUnauthorized?: boolean;
  signal?: AbortSignal;
}

export interface ApiClient {
  request<T>(path: string, options?: RequestOptions): Promise<T>;
  get<T>(path: string, signal?: AbortSignal): Promise<T>;
}

export interface ApiClientOptions {
  fetch?: typeof fetch;
  onUnauthorized?: (err: HttpError) => void;
}

export function createApiClient({
  fetch: fetchImpl = (...a) => fetch(...a),
  onUnauthorized,
}: ApiClientOptions = {}): ApiClient {
  async function request<T>(
    path: string,
    { method = "GET", body, allowUnauthorized = false, signal }: RequestOptions = {},
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetchImpl(path, {
        method,
        credentials: "same-origin",
        headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw new HttpError(0, "The server could not be reached. Check your connection and try again.");
    }
    if (!res.ok) {
      const err = await toHttpError(res);
      if (err.status === 401 && !allowUnauthorized) onUnauthorized?.(err);
      throw err;
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return { request, get: (path, signal) => request(path, { signal }) };
}

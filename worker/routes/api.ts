/**
 * Shared pieces of every API sub-app: an OpenAPIHono whose validation
 * failures become one 400 shape, the error schema, and common parameters.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { parseInstant } from "../core/time";
import type { AppEnv } from "../env";
import { badRequest, type ErrorDetail } from "../lib/errors";

/** Zod issues as API error details: the dotted field path and the reason. */
export function issuesToDetails(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): ErrorDetail[] {
  const field = (path: readonly PropertyKey[]) => [...prefix, ...path].map(String).join(".") || undefined;
  return issues.flatMap((issue) =>
    // An unknown key is named itself, not only the object holding it.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ field: field([...issue.path, key]), reason: "is not a known field" }))
      : [{ field: field(issue.path), reason: issue.message }],
  );
}

/** A sub-app: Hono with OpenAPI route definitions and the project's 400 shape. */
export function createApi() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw badRequest(issuesToDetails(result.error.issues), `Invalid ${result.target}.`);
      }
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: "invalid_request" }),
    message: z.string(),
    details: z.array(
      z.object({
        field: z.string().optional(),
        index: z.number().int().optional(),
        line: z.number().int().optional(),
        reason: z.string(),
      }),
    ),
  })
  .openapi("Error");

export const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** The error responses every admin route can give. */
export const commonErrors = {
  400: errorResponse("Invalid input: each bad field and why"),
  401: errorResponse("No or unknown credentials"),
  403: errorResponse("The caller's role does not allow this"),
} as const;
export const notFoundError = { 404: errorResponse("No such object") } as const;
export const conflictError = { 409: errorResponse("Conflicts with existing data") } as const;

/** A query parameter's OpenAPI entry, with its description when one is given. */
export const queryParam = (name: string, description?: string) => ({
  param: { name, in: "query" as const },
  ...(description ? { description } : {}),
});

/**
 * The cursor of a page of a list ordered newest first by (time, id): the previous page's
 * `next_cursor`, "<epoch ms>.<id>" of its last row (`pageCursor` makes it).
 */
export const TimeIdCursor = z
  .string()
  .regex(/^\d+\.\d+$/, "must be the next_cursor of a previous page")
  .transform((v) => {
    const [at, id] = v.split(".").map(Number);
    return { at: at ?? 0, id: id ?? 0 };
  });

/** A page's `next_cursor`: the last row's time and id when more rows follow, else null. */
export const pageCursor = (more: boolean, last: { at: number; id: number } | undefined): string | null =>
  more && last ? `${last.at}.${last.id}` : null;

export const IdParams = z.object({
  id: z.coerce
    .number()
    .int()
    .positive()
    .openapi({ param: { name: "id", in: "path" }, example: 1 }),
});

/** Input instants: ISO 8601 or epoch milliseconds, as API.md promises. */
export const Instant = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const ms = parseInstant(v);
    if (ms === null) {
      ctx.addIssue({ code: "custom", message: "must be an ISO 8601 date-time or epoch milliseconds" });
      return z.NEVER;
    }
    return ms;
  })
  .openapi({ type: "string", format: "date-time", example: "2026-11-26T10:00:00Z" });

export const jsonBody = <T extends z.ZodType>(schema: T, description = "") => ({
  body: { required: true, description, content: { "application/json": { schema } } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

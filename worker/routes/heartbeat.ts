/**
 * Heartbeat pings from Celery beat tasks and cron jobs: `/heartbeat/{key}` (success),
 * `/start`, `/fail` and `/{exit_code}`, by GET or POST. The unguessable key is the credential.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HEARTBEAT_STATUSES, type HeartbeatEvent } from "../core/heartbeat";
import type { AppEnv } from "../env";
import { recordHeartbeatPing } from "../handlers/heartbeats";
import { ApiError, badRequest } from "../lib/errors";
import { createApi, ErrorSchema, jsonResponse } from "./api";

/** Largest ping body accepted (an exit code, or the tail of a job's log). */
export const HEARTBEAT_BODY_LIMIT = 10 * 1024;
/** How much of a POSTed log a failure message keeps. */
const DETAIL_CHARS = 200;
const MAX_EXIT_CODE = 255;

export const heartbeat = createApi();

heartbeat.use(
  "/heartbeat/*",
  bodyLimit({
    maxSize: HEARTBEAT_BODY_LIMIT,
    onError: () => {
      throw new ApiError(413, `The body is larger than ${HEARTBEAT_BODY_LIMIT} bytes.`);
    },
  }),
);

const Key = z.string().openapi({ param: { name: "key", in: "path" }, description: "The monitor's heartbeat key" });
const KeyParams = z.object({ key: Key });
const ExitCodeQuery = z.object({
  exit_code: z
    .string()
    .optional()
    .openapi({ description: `The job's exit code, 0–${MAX_EXIT_CODE}; non-zero means failure` }),
});
const PingOut = z.object({ ok: z.literal(true), state: z.enum(HEARTBEAT_STATUSES) }).openapi("HeartbeatPing");
const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});
const responses = {
  200: jsonResponse(PingOut, "Ping recorded; the monitor's state now"),
  400: errorResponse("Invalid exit code"),
  404: errorResponse("No active heartbeat monitor has this key"),
  413: errorResponse(`Body larger than ${HEARTBEAT_BODY_LIMIT} bytes`),
};

/** An exit code as sent, or null when absent; a 400 naming `exit_code` when it is not one. */
function exitCodeOf(raw: string | number | undefined): number | null {
  if (raw === undefined) return null;
  const text = String(raw).trim();
  const code = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(code <= MAX_EXIT_CODE)) {
    throw badRequest([{ field: "exit_code", reason: `must be an integer from 0 to ${MAX_EXIT_CODE}` }]);
  }
  return code;
}

/**
 * What a POST body says: `{"exit_code": N}`, a bare number, or any other text, kept as
 * the failure's detail (its first line).
 */
async function readBody(c: Context<AppEnv>): Promise<{ exitCode: number | null; detail?: string }> {
  if (c.req.method !== "POST") return { exitCode: null };
  const text = (await c.req.text()).trim();
  if (text === "") return { exitCode: null };
  if (/^\d+$/.test(text)) return { exitCode: exitCodeOf(text) };
  if (text.startsWith("{")) {
    try {
      const json: unknown = JSON.parse(text);
      if (json && typeof json === "object" && "exit_code" in json) {
        const v = json.exit_code;
        if (typeof v !== "number" && typeof v !== "string") {
          throw badRequest([{ field: "exit_code", reason: `must be an integer from 0 to ${MAX_EXIT_CODE}` }]);
        }
        return { exitCode: exitCodeOf(v) };
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
    }
  }
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return { exitCode: null, detail: line.slice(0, DETAIL_CHARS) };
}

type Signal = "success" | "start" | "fail";
type HeartbeatPingEvent = Exclude<HeartbeatEvent, { type: "tick" }>;

/** Records one ping: the signal, overridden by an exit code (0 success, else failure) except for a start. */
async function ping(c: Context<AppEnv>, key: string, signal: Signal, pathExitCode?: number) {
  const body = await readBody(c);
  const at = Date.now();
  const exitCode = pathExitCode ?? exitCodeOf(c.req.query("exit_code")) ?? body.exitCode;
  const event: HeartbeatPingEvent =
    signal === "start"
      ? { type: "start", at }
      : signal === "fail" || (exitCode !== null && exitCode !== 0)
        ? { type: "fail", at, exitCode, detail: body.detail }
        : { type: "success", at, ...(exitCode === 0 ? { exitCode } : {}) };
  const state = await recordHeartbeatPing(c.env, key, event);
  c.header("cache-control", "no-store");
  return c.json({ ok: true as const, state }, 200);
}

for (const method of ["get", "post"] as const) {
  heartbeat.openapi(
    createRoute({
      method,
      path: "/heartbeat/{key}/start",
      tags: ["collection"],
      summary: "The job started (its runtime is measured until the success)",
      request: { params: KeyParams },
      responses,
    }),
    (c) => ping(c, c.req.valid("param").key, "start"),
  );
  heartbeat.openapi(
    createRoute({
      method,
      path: "/heartbeat/{key}/fail",
      tags: ["collection"],
      summary: 'The job failed; POST a number, {"exit_code": N} or the log\'s first line',
      request: { params: KeyParams, query: ExitCodeQuery },
      responses,
    }),
    (c) => ping(c, c.req.valid("param").key, "fail"),
  );
  heartbeat.openapi(
    createRoute({
      method,
      path: "/heartbeat/{key}/{exit_code}",
      tags: ["collection"],
      summary: "The job finished with this exit code: 0 is a success, anything else a failure",
      request: {
        params: KeyParams.extend({ exit_code: z.string().openapi({ param: { name: "exit_code", in: "path" } }) }),
      },
      responses,
    }),
    (c) => {
      const { key, exit_code } = c.req.valid("param");
      if (!/^\d+$/.test(exit_code)) throw new ApiError(404, `No route for ${c.req.method} ${c.req.path}.`);
      return ping(c, key, "success", exitCodeOf(exit_code) ?? undefined);
    },
  );
  heartbeat.openapi(
    createRoute({
      method,
      path: "/heartbeat/{key}",
      tags: ["collection"],
      summary: "The job succeeded (or failed, with a non-zero exit_code)",
      request: { params: KeyParams, query: ExitCodeQuery },
      responses,
    }),
    (c) => ping(c, c.req.valid("param").key, "success"),
  );
}

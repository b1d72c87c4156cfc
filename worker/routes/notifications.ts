/**
 * `POST /notifications/test`: the caller sends a test through each of their own channels
 * (or those named) and gets every result back. Self-service for every role, at most one
 * test per admin every ten seconds.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { PERSONAL_CHANNELS } from "../core/notify/channels";
import { ApiError } from "../lib/errors";
import { sendTestNotifications, testWait } from "../lib/test-notify";
import { commonErrors, createApi, jsonResponse } from "./api";

const TestInput = z
  .object({
    channels: z
      .array(z.enum(PERSONAL_CHANNELS))
      .min(1, "name at least one channel, or leave channels out for all")
      .refine((xs) => new Set(xs).size === xs.length, "channels must not repeat")
      .optional()
      .openapi({ description: "Channels to test; all of email, sms and slack when left out" }),
  })
  .strict()
  .openapi("NotificationTestInput");

const TestResultOut = z
  .object({
    channel: z.enum(PERSONAL_CHANNELS),
    status: z.enum(["sent", "failed", "skipped", "not_configured"]),
    address: z.string().nullable(),
    provider_status: z.number().int().nullable(),
    provider_message_id: z.string().nullable(),
    error: z.string().nullable(),
    retryable: z.boolean(),
    duration_ms: z.number().int().nullable(),
  })
  .openapi("NotificationTestResult");

export const notifications = createApi();

notifications.openapi(
  createRoute({
    method: "post",
    path: "/notifications/test",
    tags: ["notifications"],
    summary: "Send a test notification through each of the caller's channels and report each result",
    request: {
      body: { required: false, content: { "application/json": { schema: TestInput } } },
    },
    responses: {
      200: jsonResponse(z.object({ results: z.array(TestResultOut) }), "One result per channel"),
      429: jsonResponse(z.object({}).passthrough(), "A test was sent less than ten seconds ago"),
      ...commonErrors,
    },
  }),
  async (c) => {
    const actor = c.get("actor");
    const input = c.req.header("content-type")?.includes("application/json") ? c.req.valid("json") : {};
    const now = Date.now();
    const wait = await testWait(c.env, actor.adminId, now);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      throw new ApiError(429, `A test was just sent; try again in ${seconds} s.`, {
        headers: { "retry-after": String(seconds) },
      });
    }
    const results = await sendTestNotifications(c.env, actor.adminId, input.channels ?? PERSONAL_CHANNELS, now);
    return c.json({ results }, 200);
  },
);

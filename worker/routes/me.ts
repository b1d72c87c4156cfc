/** `GET /api/admin/me`: who the caller is (any role). */
import { createRoute } from "@hono/zod-openapi";
import { commonErrors, createApi, jsonResponse } from "./api";
import { Me } from "./session";

export const me = createApi();

me.openapi(
  createRoute({
    method: "get",
    path: "/me",
    tags: ["auth"],
    summary: "The authenticated admin",
    responses: { 200: jsonResponse(Me, "The caller"), ...commonErrors },
  }),
  (c) => {
    const { adminId, email, name, role, timezone } = c.get("actor");
    return c.json({ id: adminId, email, name, role, timezone }, 200);
  },
);

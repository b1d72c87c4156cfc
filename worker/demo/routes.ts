/** The demo shop's endpoints under /demo (being built). */
import { Hono } from "hono";
import type { AppEnv } from "../env";

export const demo = new Hono<AppEnv>();

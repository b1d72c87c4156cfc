import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { demo } from "../../worker/demo/routes";
import { createAdmin, type TestAdmin } from "./helpers";

const demoEnv = { ...env, DEMO_MODE: "1", DEMO_BASE_URL: "" };

async function backfill(token: string) {
  const ctx = createExecutionContext();
  const res = await demo.request("/backfill", { method: "POST", headers: { authorization: `Bearer ${token}` } }, demoEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json<Record<string, unknown>>() };
}

describe("demo backfill", () => {
  let owner: TestAdmin;
  beforeAll(async () => {
    owner = await createAdmin("owner");
  });

  it("stores the history", { timeout: 120_000 }, async () => {
    const started = Date.now();
    const first = await backfill(owner.token);
    console.log("took", Date.now() - started, JSON.stringify(first));
    expect(first.status).toBe(200);
  });
});

import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll } from "vitest";
import { INDEX_DELAY_MS } from "../../worker/core/rollup";

// The real migrations/ files, applied to each test file's isolated D1.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Metric families send their latest values to the SeriesIndex INDEX_DELAY_MS after a
// write, on an alarm: let the last ones finish before the file's runtime is torn down.
afterAll(() => new Promise((resolve) => setTimeout(resolve, INDEX_DELAY_MS + 300)));

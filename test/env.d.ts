import type { D1Migration } from "cloudflare:test";

/** Bindings only the workerd tests have (vitest.config.ts). */
interface TestBindings {
  TEST_MIGRATIONS: D1Migration[];
  TEST_ACCESS_PRIVATE_JWK: string;
}

declare global {
  interface Env extends TestBindings {}
  namespace Cloudflare {
    interface Env extends TestBindings {}
  }
}

export declare const DEMO_OWNER: { email: string; name: string; role: "owner" };
export declare const DEMO_RULES: [Record<string, unknown>, ...Record<string, unknown>[]];
/** The demo monitors (API bodies) watching the demo shop at `baseUrl`. */
export declare function demoMonitors(baseUrl: string): Record<string, unknown>[];
export declare function seedDemo(
  baseUrl: string,
  token: string,
  fetchImpl?: (url: string, init: RequestInit) => Promise<Response>,
): Promise<string[]>;
/** The answer of POST /demo/backfill. */
export interface DemoBackfill {
  status: "completed" | "already_done";
  from: string;
  to: string;
  raw_samples: number;
  rollup_rows: number;
  alerts: number;
  duration_ms: number;
  completed_at: string;
}
export declare function backfillDemo(
  baseUrl: string,
  token: string,
  fetchImpl?: (url: string, init: RequestInit) => Promise<Response>,
): Promise<DemoBackfill>;

/** Worker entry: HTTP, cron and queue handlers, and the Durable Object classes. */
import { app } from "./app";
import { handleQueue } from "./handlers/queue";
import { handleScheduled } from "./handlers/scheduled";

export { AlertRule } from "../durable-objects/alert-rule";
export { AuthGuard } from "../durable-objects/auth-guard";
export { DashboardHub } from "../durable-objects/dashboard-hub";
export { MetricSeries } from "../durable-objects/metric-series";
export { ProbeRunner } from "../durable-objects/probe-runner";
export { Sentinel } from "../durable-objects/sentinel";
export { SeriesIndex } from "../durable-objects/series-index";

export default {
  fetch: app.fetch,
  scheduled: handleScheduled,
  queue: handleQueue,
} satisfies ExportedHandler<Env>;

/** Field schemas shared by several resources, so one name is validated one way. */
import { z } from "@hono/zod-openapi";
import { isTimeZone, toIso } from "../core/time";

export const MetricName = z
  .string()
  .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, "must be a metric name: letters, digits, _ and :, not starting with a digit")
  .max(200);

export const ServiceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]*$/, "must be lowercase letters, digits, '.', '_' or '-'")
  .max(100);

export const LabelSet = z
  .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "label names are letters, digits and _"), z.string().max(500))
  .refine((labels) => Object.keys(labels).length <= 20, "at most 20 labels");

export const Name = z.string().trim().min(1, "must not be empty").max(200);

export const TimeZone = z.string().refine(isTimeZone, "must be an IANA time zone such as Asia/Taipei");

export const Email = z
  .email("must be an email address")
  .max(320)
  .transform((e) => e.toLowerCase());

/** Stored epoch ms → ISO string in responses. */
export const iso = (ms: number) => toIso(ms) as string;

export const Timestamps = {
  created_at: z.string().openapi({ format: "date-time" }),
  updated_at: z.string().openapi({ format: "date-time" }),
};

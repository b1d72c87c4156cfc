/**
 * Ingest and heartbeat keys: the secret is shown once, in the create response;
 * the database keeps only its SHA-256 and a recognisable prefix.
 */
import { z } from "@hono/zod-openapi";
import { INGEST_SCOPES, ingestKeys } from "../db/schema";
import { hashSecret, newSecret, secretPrefix } from "../lib/secrets";
import { forgetIngestKeys } from "../middleware/ingest-auth";
import { crudRoutes } from "./crud";
import { iso, Name } from "./fields";

const KeyFields = z
  .object({
    name: Name.openapi({ example: "shop-backend" }),
    scope: z.enum(INGEST_SCOPES),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullable()
      .default(null)
      .openapi({ description: "Samples per minute; null means the global default" }),
  })
  .openapi("IngestKeyInput");

const Instant = z.string().openapi({ format: "date-time" });

const KeyOut = KeyFields.extend({
  id: z.number().int(),
  prefix: z.string().openapi({ description: "First characters of the key, to recognise it" }),
  created_by: z.number().int().nullable(),
  created_at: Instant,
  last_used_at: Instant.nullable(),
  revoked_at: Instant.nullable(),
  key: z.string().optional().openapi({ description: "The key itself: only in the create response, never again" }),
}).openapi("IngestKey");

type KeyRow = typeof ingestKeys.$inferSelect;

export const keys = crudRoutes({
  noun: "Key",
  collection: "keys",
  table: ingestKeys,
  fields: KeyFields,
  output: KeyOut,
  toInput: (row: KeyRow) => ({ name: row.name, scope: row.scope, rate_limit_per_minute: row.rateLimitPerMinute }),
  toValues: async (input, { actor, existing }) => {
    const common = { name: input.name, scope: input.scope, rateLimitPerMinute: input.rate_limit_per_minute };
    if (existing) {
      return {
        values: { ...common, keyHash: existing.keyHash, prefix: existing.prefix, createdBy: existing.createdBy },
      };
    }
    const key = newSecret("ingest");
    return {
      values: { ...common, keyHash: await hashSecret(key), prefix: secretPrefix(key), createdBy: actor.adminId },
      reveal: { key },
    };
  },
  toOutput: (row) => ({
    id: row.id,
    name: row.name,
    scope: row.scope,
    prefix: row.prefix,
    rate_limit_per_minute: row.rateLimitPerMinute,
    created_by: row.createdBy,
    created_at: iso(row.createdAt),
    last_used_at: row.lastUsedAt === null ? null : iso(row.lastUsedAt),
    revoked_at: row.revokedAt === null ? null : iso(row.revokedAt),
  }),
  // This isolate's key cache learns of changes at once; other isolates within its TTL.
  afterWrite: async () => forgetIngestKeys(),
});

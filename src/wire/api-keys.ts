import { z } from 'zod';
import { parseCidr } from '../domain/ip-ranges.ts';
import { ALL_API_SCOPES } from '../domain/scopes.ts';

const expiresAt = z.iso.datetime({ offset: true, message: 'expires_at must be an ISO 8601 date-time' });

/** /v2/api-keys on the wire. */
export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1, 'name is required').max(100),
  scopes: z
    .array(
      z.enum(ALL_API_SCOPES as [string, ...string[]], {
        message: `each scope must be one of: ${ALL_API_SCOPES.join(', ')}`,
      }),
    )
    .min(1, 'at least one scope is required')
    .transform((s) => [...new Set(s)]),
  expires_at: expiresAt.nullish(),
  allowed_ips: z
    .array(
      z
        .string()
        .max(64)
        .refine((v) => parseCidr(v) !== null, 'each entry must be an IPv4/IPv6 address or CIDR'),
    )
    .max(50)
    .nullish(),
  rate_limit: z
    .strictObject({
      hourly: z.number().int().min(1).max(100_000_000),
      burst: z.number().int().min(1).max(1_000_000),
    })
    .nullish(),
});

const isoOrNull = z.iso.datetime().nullable();
export const apiKeyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** What listings show of the key: enough to recognise it, nothing to use. */
  prefix: z.string(),
  scopes: z.array(z.string()),
  allowed_ips: z.array(z.string()).nullable(),
  status: z.enum(['active', 'expired', 'revoked', 'rotated']),
  expires_at: isoOrNull,
  created_at: z.iso.datetime(),
  last_used_at: isoOrNull,
  last_used_ip: z.string().nullable(),
  revoked_at: isoOrNull,
  replaced_by: z.string().nullable(),
  grace_until: isoOrNull,
  rate_limit: z.object({ hourly: z.number(), burst: z.number() }).nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyViewSchema>;
/** The answer to create and rotate: the view plus the key itself, shown this once. */
export const createdApiKeySchema = apiKeyViewSchema.extend({ key: z.string() });
export const apiKeyActivitySchema = z.object({
  data: z.array(
    z.object({
      at: z.iso.datetime(),
      ip: z.string(),
      method: z.string(),
      path: z.string(),
      status: z.number().int(),
      request_id: z.string(),
      client_version: z.string().nullable(),
    }),
  ),
  /** Pass as `older_than` for the next page of older entries; null when there are none. */
  older_cursor: z.string().nullable().optional(),
  /** Pass as `newer_than` for the page of newer entries before this one; null on the newest page. */
  newer_cursor: z.string().nullable().optional(),
});
export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;

/**
 * Rotating a key (the body is optional): `expires_at` gives the new key its own expiry, null for
 * none; left out, the new key keeps the old key's expiry.
 */
export const rotateApiKeySchema = z.strictObject({ expires_at: expiresAt.nullish() }).optional();
export type RotateApiKeyInput = z.infer<typeof rotateApiKeySchema>;

/** An activity page's cursor: opaque to callers (the last entry's time and id). */
const activityCursor = z.string().regex(/^\d{1,15}\.[A-Za-z0-9_-]{1,64}$/, 'must be a cursor from a previous page');

/**
 * A key's activity, newest first, by keyset pagination (`older_than` / `newer_than` a cursor from a
 * previous page), filtered by status (`2xx`, `4xx`... or an exact code), path prefix and time range.
 */
export const activityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Entries strictly before this time (kept from the first version of this endpoint). */
  before: z.iso.datetime({ offset: true }).optional(),
  older_than: activityCursor.optional(),
  newer_than: activityCursor.optional(),
  status: z
    .string()
    .regex(/^([1-5]xx|[1-5]\d\d)$/, 'must be a status class such as 4xx, or a status code such as 404')
    .optional(),
  /** Paths that start with this (`/v2/users` matches `/v2/users/123`). */
  path: z.string().min(1).max(200).startsWith('/', 'must start with /').optional(),
  /** Entries at or after this time. */
  from: z.iso.datetime({ offset: true }).optional(),
  /** Entries before this time. */
  to: z.iso.datetime({ offset: true }).optional(),
});
export type ActivityQuery = z.infer<typeof activityQuery>;

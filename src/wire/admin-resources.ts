import { z } from 'zod';
import { APPLICATION_TYPES } from '../domain/applications.ts';

const isoOrNull = z.iso.datetime().nullable();

/** Where the next page starts: opaque to callers, handed back as `cursor` (null: this was the last page). */
const nextCursor = z.string().nullable().describe('Pass as `cursor` for the next page (null: this was the last)');
const cursor = z.string().max(200).optional();
const limit = z.coerce.number().int().min(1).max(100).default(50);

/** Whose it is: the account, and its email while the account exists. */
const ownerSchema = z.object({ id: z.string(), email: z.string().nullable() });

/** An application as the operators see it: enough to find it, tell whose it is, and whether it works. */
export const adminApplicationSchema = z.object({
  client_id: z.string(),
  name: z.string(),
  type: z.enum(APPLICATION_TYPES),
  owner: ownerSchema,
  created_at: z.iso.datetime(),
  suspended_at: isoOrNull.describe('When an administrator suspended it (null: it works)'),
});
export type AdminApplication = z.infer<typeof adminApplicationSchema>;
export const adminApplicationPageSchema = z.object({ data: z.array(adminApplicationSchema), next_cursor: nextCursor });
export type AdminApplicationPage = z.infer<typeof adminApplicationPageSchema>;

export const adminApplicationsQuerySchema = z.object({
  search: z.string().trim().max(200).optional().describe('Only applications whose name or client_id contains this'),
  cursor,
  limit,
});
export type AdminApplicationsQuery = z.infer<typeof adminApplicationsQuerySchema>;

/** A live API key as the operators see it (never the key itself). */
export const adminApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  owner: ownerSchema,
  scopes: z.array(z.string()),
  created_at: z.iso.datetime(),
  last_used_at: isoOrNull,
  expires_at: isoOrNull,
});
export type AdminApiKey = z.infer<typeof adminApiKeySchema>;
export const adminApiKeyPageSchema = z.object({ data: z.array(adminApiKeySchema), next_cursor: nextCursor });
export type AdminApiKeyPage = z.infer<typeof adminApiKeyPageSchema>;

export const adminApiKeysQuerySchema = z.object({
  owner_email: z.string().trim().max(320).optional().describe("Only this account's keys"),
  cursor,
  limit,
});
export type AdminApiKeysQuery = z.infer<typeof adminApiKeysQuerySchema>;

/** What a rotation of the signing keys did, and when the new key signs. */
export const signingKeyRotationSchema = z.object({
  kid: z.string().describe('The new RS256 key: it signs access tokens (jwt format) and ID tokens'),
  added: z.array(z.object({ kid: z.string(), alg: z.string() })),
  retired: z.array(z.object({ kid: z.string(), alg: z.string(), retired_at: z.iso.datetime() })),
  dropped: z.array(z.string()),
  signs_after: z
    .literal('restart')
    .describe('The running servers keep signing with the keys they loaded: the new key signs once each restarts'),
});
export type SigningKeyRotation = z.infer<typeof signingKeyRotationSchema>;

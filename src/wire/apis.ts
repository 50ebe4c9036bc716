import { z } from 'zod';
import {
  ACCESS_TOKEN_FORMATS,
  MAX_ACCESS_TOKEN_TTL,
  MIN_ACCESS_TOKEN_TTL,
  apiIdentifierProblem,
} from '../domain/resource-servers.ts';

/** /v2/apis on the wire: APIs (resource servers) an owner registers beside the built-in /v2 API. */
const apiScopeSchema = z.strictObject({
  name: z.string().min(1, 'name is required').max(100).describe('The scope, e.g. `read:orders` (no spaces)'),
  description: z.string().trim().min(1, 'description is required').max(200).describe('Shown on the consent page'),
});

const identifier = z
  .string()
  .trim()
  .max(2000)
  .superRefine((uri, ctx) => {
    const problem = apiIdentifierProblem(uri);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('Absolute https URL naming the API: the `resource` clients send and the `aud` of its tokens');

const settings = {
  name: z.string().trim().min(1, 'name is required').max(100),
  scopes: z.array(apiScopeSchema).max(100, 'at most 100 scopes'),
  access_token_format: z
    .enum(ACCESS_TOKEN_FORMATS)
    .describe('`opaque` (checked by introspection) or `jwt` (signed, verifiable with /oauth/jwks)'),
  access_token_ttl: z
    .number()
    .int()
    .min(MIN_ACCESS_TOKEN_TTL)
    .max(MAX_ACCESS_TOKEN_TTL)
    .describe('Access token lifetime, seconds'),
};

/** RFC 9728 protected resource metadata, for the API's own server to publish. */
export const protectedResourceMetadataSchema = z.object({
  resource: z.string(),
  authorization_servers: z.array(z.string()),
  scopes_supported: z.array(z.string()),
  bearer_methods_supported: z.array(z.string()),
  resource_name: z.string(),
  dpop_signing_alg_values_supported: z.array(z.string()).optional(),
});
export type ProtectedResourceMetadata = z.infer<typeof protectedResourceMetadataSchema>;

export const apiViewSchema = z.object({
  id: z.string(),
  owner_id: z.string(),
  identifier: z.string(),
  name: z.string(),
  scopes: z.array(z.object({ name: z.string(), description: z.string() })),
  access_token_format: z.enum(ACCESS_TOKEN_FORMATS),
  access_token_ttl: z.number().int(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type ApiView = z.infer<typeof apiViewSchema>;

export const createApiSchema = z.strictObject({
  name: settings.name,
  identifier,
  scopes: settings.scopes.default([]),
  access_token_format: settings.access_token_format.optional(),
  access_token_ttl: settings.access_token_ttl.optional(),
});
/** The identifier never changes: tokens and resource servers are bound to it. */
export const updateApiSchema = z.strictObject({
  name: settings.name.optional(),
  scopes: settings.scopes.optional().describe('Replaces the scopes; removed ones leave every application'),
  access_token_format: settings.access_token_format.optional(),
  access_token_ttl: settings.access_token_ttl.optional(),
});
export const listApisQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type CreateApiInput = z.infer<typeof createApiSchema>;
export type UpdateApiInput = z.infer<typeof updateApiSchema>;
export type ListApisQuery = z.infer<typeof listApisQuery>;

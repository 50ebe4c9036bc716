import { z } from 'zod';
import { principalOf } from '../../auth/principal.ts';
import { defineRoute, listOf, type RouteSpec } from '../../api/route-spec.ts';
import type { AppContext } from '../../http/context.ts';
import { parseInput } from '../../http/validation.ts';
import {
  apiKeyActivitySchema,
  apiKeyViewSchema,
  createApiKeySchema,
  createdApiKeySchema,
  type ApiKeysService,
} from './api-keys.service.ts';

export const activityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

const auth = { sessionOrAdmin: true } as const;
const tag = 'API keys';

/**
 * /v2/api-keys: create (the key is in this response only), list, get, revoke, rotate, activity.
 * Managing keys needs a dashboard session or admin:all: a key must not be able to mint keys.
 */
export function apiKeysRoutes(apiKeys: ApiKeysService): RouteSpec[] {
  // New keys and the list are the caller's own account's; a key by id is its owner's, or anyone's with admin:all.
  const revoke = (ctx: AppContext) => apiKeys.revoke(principalOf(ctx), ctx.params['id']!);
  return [
    defineRoute({
      method: 'post',
      path: '/api-keys',
      operationId: 'createApiKey',
      summary: 'Generate a key (shown once)',
      tag,
      auth,
      body: createApiKeySchema,
      status: 201,
      response: createdApiKeySchema,
      secret: true,
      handler: (ctx) => apiKeys.create(principalOf(ctx), ctx.request.body),
    }),
    defineRoute({
      method: 'get',
      path: '/api-keys',
      operationId: 'listApiKeys',
      summary: 'List your keys',
      tag,
      auth,
      status: 200,
      response: listOf(apiKeyViewSchema),
      handler: async (ctx) => ({ data: await apiKeys.list(principalOf(ctx)) }),
    }),
    defineRoute({
      method: 'get',
      path: '/api-keys/:id',
      operationId: 'getApiKey',
      summary: 'Get a key',
      tag,
      auth,
      status: 200,
      response: apiKeyViewSchema,
      handler: (ctx) => apiKeys.get(principalOf(ctx), ctx.params['id']!),
    }),
    defineRoute({
      method: 'delete',
      path: '/api-keys/:id',
      operationId: 'revokeApiKey',
      summary: 'Revoke a key',
      tag,
      auth,
      status: 200,
      response: apiKeyViewSchema,
      handler: revoke,
    }),
    defineRoute({
      method: 'post',
      path: '/api-keys/:id/revoke',
      operationId: 'revokeApiKeyAction',
      summary: 'Revoke a key',
      tag,
      auth,
      status: 200,
      response: apiKeyViewSchema,
      handler: revoke,
    }),
    defineRoute({
      method: 'post',
      path: '/api-keys/:id/rotate',
      operationId: 'rotateApiKey',
      summary: 'Rotate: a new key; the old one works for the grace period',
      tag,
      auth,
      status: 201,
      response: createdApiKeySchema,
      secret: true,
      handler: (ctx) => apiKeys.rotate(principalOf(ctx), ctx.params['id']!),
    }),
    defineRoute({
      method: 'get',
      path: '/api-keys/:id/activity',
      operationId: 'getApiKeyActivity',
      summary: 'Recent requests made with a key',
      tag,
      auth,
      query: activityQuery,
      status: 200,
      response: apiKeyActivitySchema,
      handler: async (ctx) => {
        const q = parseInput(activityQuery, ctx.query);
        const rows = await apiKeys.activity(principalOf(ctx), ctx.params['id']!, {
          limit: q.limit,
          ...(q.before ? { before: Date.parse(q.before) } : {}),
        });
        return {
          data: rows.map((r) => ({
            at: new Date(r.at).toISOString(),
            ip: r.ip,
            method: r.method,
            path: r.path,
            status: r.status,
            request_id: r.request_id,
            client_version: r.client_version,
          })),
        };
      },
    }),
  ];
}

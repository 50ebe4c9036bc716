import {
  activityQuery,
  apiKeyActivitySchema,
  apiKeyViewSchema,
  createApiKeySchema,
  createdApiKeySchema,
  rotateApiKeySchema,
} from '../../wire/api-keys.ts';
import { listOf } from '../../wire/common.ts';
import { defineRoute, type RouteInput, type RouteSpec } from '../../wire/route.ts';
import type { ApiKeysService } from './api-keys.service.ts';

const auth = { sessionOrAdmin: true } as const;
const tag = 'API keys';

/**
 * /v2/api-keys: create (the key is in this response only), list, get, revoke, rotate, activity.
 * Managing keys needs a dashboard session or admin:all: a key must not be able to mint keys.
 */
export function apiKeysRoutes(apiKeys: ApiKeysService): RouteSpec[] {
  // New keys and the list are the caller's own account's; a key by id is its owner's, or anyone's with admin:all.
  const revoke = ({ principal, params, by }: RouteInput<unknown, unknown, { id: string }>) =>
    apiKeys.revoke(principal, params.id, by);
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
      handler: ({ principal, body, by }) => apiKeys.create(principal, body, by),
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
      handler: async ({ principal }) => ({ data: await apiKeys.list(principal) }),
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
      handler: ({ principal, params }) => apiKeys.get(principal, params.id),
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
      summary: 'Rotate: a new key (its expiry kept, or the one given); the old one works for the grace period',
      tag,
      auth,
      body: rotateApiKeySchema,
      status: 201,
      response: createdApiKeySchema,
      secret: true,
      handler: ({ principal, params, body, by }) => apiKeys.rotate(principal, params.id, body, by),
    }),
    defineRoute({
      method: 'get',
      path: '/api-keys/:id/activity',
      operationId: 'getApiKeyActivity',
      summary: 'Requests made with a key, newest first: paged by cursor, filtered by status, path and time',
      tag,
      auth,
      query: activityQuery,
      status: 200,
      response: apiKeyActivitySchema,
      handler: async ({ principal, params, query: q }) => {
        const page = await apiKeys.activityPage(principal, params.id, q);
        return {
          older_cursor: page.olderCursor,
          newer_cursor: page.newerCursor,
          data: page.rows.map((r) => ({
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

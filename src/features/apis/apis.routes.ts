import {
  apiViewSchema,
  createApiSchema,
  listApisQuery,
  protectedResourceMetadataSchema,
  updateApiSchema,
} from '../../wire/apis.ts';
import { listOf } from '../../wire/common.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { ApisService } from './apis.service.ts';

const tag = 'APIs';

/**
 * /v2/apis: the APIs (resource servers) an owner registers. Registering an API is registering what
 * applications may be granted, so the applications' scopes guard it: read:applications to read,
 * write:applications to change. Another owner's API is 403 unless admin:all.
 */
export function apisRoutes(apis: ApisService): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/apis',
      operationId: 'listApis',
      summary: "List your registered APIs (everyone's with admin:all)",
      tag,
      auth: { scopes: ['read:applications'] },
      query: listApisQuery,
      status: 200,
      response: listOf(apiViewSchema),
      handler: ({ principal, query }) => apis.list(principal, query),
    }),
    defineRoute({
      method: 'post',
      path: '/apis',
      operationId: 'createApi',
      summary: 'Register an API with its own scopes',
      tag,
      auth: { scopes: ['write:applications'] },
      body: createApiSchema,
      status: 201,
      response: apiViewSchema,
      handler: ({ principal, body }) => apis.create(principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/apis/:id',
      operationId: 'getApi',
      summary: 'Get a registered API',
      tag,
      auth: { scopes: ['read:applications'] },
      status: 200,
      response: apiViewSchema,
      handler: ({ principal, params }) => apis.get(principal, params.id),
    }),
    defineRoute({
      method: 'get',
      path: '/apis/:id/metadata',
      operationId: 'getApiMetadata',
      summary: "The API's protected resource metadata (RFC 9728), for its own server to publish",
      tag,
      auth: { scopes: ['read:applications'] },
      status: 200,
      response: protectedResourceMetadataSchema,
      handler: ({ principal, params }) => apis.metadata(principal, params.id),
    }),
    defineRoute({
      method: 'patch',
      path: '/apis/:id',
      operationId: 'updateApi',
      summary: 'Update a registered API (its identifier never changes)',
      tag,
      auth: { scopes: ['write:applications'] },
      body: updateApiSchema,
      status: 200,
      response: apiViewSchema,
      handler: ({ principal, params, body }) => apis.update(principal, params.id, body),
    }),
    defineRoute({
      method: 'delete',
      path: '/apis/:id',
      operationId: 'deleteApi',
      summary: 'Delete a registered API; its scopes leave every application',
      tag,
      auth: { scopes: ['write:applications'] },
      status: 204,
      handler: ({ principal, params }) => apis.remove(principal, params.id),
    }),
  ];
}
